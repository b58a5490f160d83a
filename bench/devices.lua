-- devices.lua - wrk script for bench/devices.sh (the device read scenarios).
--
--   wrk -t2 -c64 -d15s --latency -s bench/devices.lua http://127.0.0.1:PORT \
--       -- SCENARIO ORG_ID TOKEN SAMPLE_DIR
--
-- SCENARIO is one of
--   user-devices            GET /users/{uid}/{type}                       (a user's devices of one type)
--   device-get              GET /users/{uid}/{type}/{id}
--   diagnosis               GET /users/{uid}/{type}/{id}/diagnosis
--   comparison              GET /users/{uid}/{type}/{id}/consumption-comparison
--   fleet-page              GET /devices?limit=100&cursor=C
--   fleet-attention         GET /devices?limit=100&needs_attention=true&cursor=C
--   fleet-unauth-inverters  GET /devices?limit=100&type=inverters&authenticated=false&cursor=C
--   fleet-counts            GET /devices/counts
-- SAMPLE_DIR holds the files devices.sh collected from the running server:
--   devices-read.txt  "user_id type-path device_id", one device a line (types mixed)
--   cursors.txt       fleet cursors spread over the whole table, one a line; an empty
--                     line stands for the first page
--
-- All requests are formatted once per thread in init(), so that wrk (which
-- shares the 2 cores with the server) spends as little CPU as possible per
-- request; request() picks one at random. done() prints one machine-readable
-- line that devices.sh parses.

local prebuilt, nprebuilt = {}, 0

-- `tid` is a global: setup() sets it in each thread's state before init(), so
-- that the threads do not draw the same sequence of requests
local thread_no = 0
function setup(thread)
   thread:set("tid", thread_no)
   thread_no = thread_no + 1
end

local function read_lines(path, keep_empty)
   local t = {}
   local f = io.open(path, "r")
   if not f then return t end
   for line in f:lines() do
      if keep_empty or line ~= "" then t[#t + 1] = line end
   end
   f:close()
   return t
end

local function split(line)
   local t = {}
   for w in line:gmatch("%S+") do t[#t + 1] = w end
   return t
end

function init(args)
   local scenario, org, token, dir = args[1], args[2], args[3], args[4]
   math.randomseed(os.time() * 31 + (tonumber(tid) or 0) * 7919)
   local p = "/api/partners/v2.0/org/" .. org
   local hdr = {["Authorization"] = "Bearer " .. token}
   local function add(path)
      nprebuilt = nprebuilt + 1
      prebuilt[nprebuilt] = wrk.format("GET", path, hdr)
   end
   local dev_suffix = ({["device-get"] = "", ["diagnosis"] = "/diagnosis",
                        ["comparison"] = "/consumption-comparison"})[scenario]
   local fleet_query = ({["fleet-page"] = "limit=100",
                         ["fleet-attention"] = "limit=100&needs_attention=true",
                         ["fleet-unauth-inverters"] = "limit=100&type=inverters&authenticated=false"})[scenario]
   if scenario == "user-devices" or dev_suffix then
      local lines = read_lines(dir .. "/devices-read.txt")
      assert(#lines > 0, "no devices in " .. dir .. "/devices-read.txt")
      for i = 1, #lines do
         local f = split(lines[i])
         if scenario == "user-devices" then
            add(p .. "/users/" .. f[1] .. "/" .. f[2])
         else
            add(p .. "/users/" .. f[1] .. "/" .. f[2] .. "/" .. f[3] .. dev_suffix)
         end
      end
   elseif fleet_query then
      local cursors = read_lines(dir .. "/cursors.txt", true)
      assert(#cursors > 0, "no cursors in " .. dir .. "/cursors.txt")
      for i = 1, #cursors do
         if cursors[i] == "" then
            add(p .. "/devices?" .. fleet_query)
         else
            add(p .. "/devices?" .. fleet_query .. "&cursor=" .. cursors[i])
         end
      end
   elseif scenario == "fleet-counts" then
      add(p .. "/devices/counts")
   else
      error("unknown scenario " .. tostring(scenario))
   end
end

function request()
   return prebuilt[math.random(nprebuilt)]
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
