-- fleetdesk.lua - wrk script for bench/run.sh.
--
--   wrk -t2 -c64 -d15s --latency -s bench/fleetdesk.lua http://127.0.0.1:PORT \
--       -- SCENARIO ORG_ID TOKEN SAMPLE_DIR NONCE
--
-- SCENARIO is one of get-user, list-page, search, create, update, static.
-- SAMPLE_DIR holds the files run.sh collected from the running server:
--   ids.txt      user ids, one a line
--   cursors.txt  `next` cursors of the users list, one a line
--   terms.txt    URL-encoded search terms, one a line (each matches >= 1 user)
--   static.path  the path nginx serves the user object on (static only)
-- NONCE is unique per run, so that `create` never repeats an email.
--
-- Requests that do not depend on a counter are formatted once per thread in
-- init(), so that wrk (which shares the 2 cores with the server) spends as
-- little CPU as possible per request. done() prints one machine-readable
-- line that run.sh parses.

local scenario, base, nonce
-- `tid` is a global: setup() sets it in each thread's state before init()
local prebuilt, nprebuilt = {}, 0
local ids, nids = {}, 0
local counter = 0
local auth_hdr, json_hdr

local first_names = {"Anna", "Lukas", "Marie", "Jürgen", "Zoë", "Özlem", "Björn", "Chloé",
                     "Katharina", "Peter", "Sabine", "Mateo", "Aisha", "Kenji", "Łukasz"}

local thread_no = 0
function setup(thread)
   thread:set("tid", thread_no)
   thread_no = thread_no + 1
end

local function read_lines(path)
   local t = {}
   local f = io.open(path, "r")
   if not f then return t end
   for line in f:lines() do
      if line ~= "" then t[#t + 1] = line end
   end
   f:close()
   return t
end

local function add(method, path, body)
   local h = auth_hdr
   if body then h = json_hdr end
   nprebuilt = nprebuilt + 1
   prebuilt[nprebuilt] = wrk.format(method, path, h, body)
end

function init(args)
   scenario = args[1]
   local org, token, dir = args[2], args[3], args[4]
   nonce = args[5] or tostring(os.time())
   tid = tonumber(tid) or 0
   base = "/api/partners/v2.0/org/" .. org .. "/users"
   auth_hdr = {["Authorization"] = "Bearer " .. token}
   json_hdr = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
   -- a different sequence per thread and per run
   local seed = 0
   for i = 1, #nonce do seed = (seed * 31 + nonce:byte(i)) % 2147483647 end
   math.randomseed(seed + 7919 * (tid + 1))

   if scenario == "get-user" or scenario == "update" then
      ids = read_lines(dir .. "/ids.txt")
      nids = #ids
      assert(nids > 0, "no ids in " .. dir .. "/ids.txt")
      if scenario == "get-user" then
         for i = 1, nids do add("GET", base .. "/" .. ids[i]) end
      end
   elseif scenario == "list-page" then
      -- half of the requests read the first page, half a deeper page
      local cursors = read_lines(dir .. "/cursors.txt")
      local n = #cursors
      for i = 1, math.max(n, 1) do add("GET", base .. "?limit=100") end
      for i = 1, n do add("GET", base .. "?limit=100&cursor=" .. cursors[i]) end
   elseif scenario == "search" then
      local terms = read_lines(dir .. "/terms.txt")
      assert(#terms > 0, "no terms in " .. dir .. "/terms.txt")
      for i = 1, #terms do add("GET", base .. "?search=" .. terms[i] .. "&limit=20") end
   elseif scenario == "search-cold" then
      -- built per request in request(): a never-repeated customer-number lookup
   elseif scenario == "static" then
      local p = read_lines(dir .. "/static.path")
      add("GET", p[1])
   elseif scenario ~= "create" then
      error("unknown scenario " .. tostring(scenario))
   end
end

function request()
   if nprebuilt > 0 then
      return prebuilt[math.random(nprebuilt)]
   end
   counter = counter + 1
   if scenario == "create" then
      local u = string.format("%s-%d-%d", nonce, tid, counter)
      local body = string.format(
         '{"email":"bench.%s@example.org","external_user_id":"bench_%s",' ..
         '"first_name":"Bench","last_name":"Läufer","street_and_number":"Hauptstraße 1",' ..
         '"zip_code":"10115","town":"Berlin","country_iso2":"DE"}', u, u)
      return wrk.format("POST", base, json_hdr, body)
   end
   if scenario == "search-cold" then
      -- "cust_0" + 5 random digits: matches the 10 users cust_0NNNNN0..9, a
      -- different term almost every time, so no cached total can answer it
      local term = string.format("cust_0%05d", math.random(0, 99999))
      return wrk.format("GET", base .. "?search=" .. term .. "&limit=20", auth_hdr)
   end
   -- update
   local body = '{"first_name":"' .. first_names[math.random(#first_names)] .. '"}'
   return wrk.format("PUT", base .. "/" .. ids[math.random(nids)], json_hdr, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
