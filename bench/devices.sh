#!/usr/bin/env bash
# bench/devices.sh - the device benchmark (issue 3). Run from the repo root:
#
#   bench/devices.sh                                   # 1,000,000 users x 3 devices, 15 s per scenario
#   USERS=20000 DURATION=5 ROUNDS=1 bench/devices.sh   # a quick check
#
# 1. loads USERS users with 3 devices each (heat pump, EV, inverter), 2 days of 6-hourly
#    readings per device, into bench/data/devices.db (devices-USERS.db for another USERS)
#    with `fleetdesk demo` (timed; reused when it already holds the same counts); the demo's
#    JSON (org id, admin and integration tokens) is kept next to it in devices.json;
# 2. serves the database itself (not a copy: at 3M devices it is ~7 GB; the ingest
#    scenarios add readings to it, see below), `fleetdesk serve --access-log off`;
# 3. collects devices (id, user_id, type) from the fleet view: PAGES pages of
#    GET /devices?limit=1000 that start at random places of the table (bench/devices_sample.py;
#    a fleet cursor is base64url({"n": seq})), and fleet cursors at random places; the read
#    scenarios use READ_DEVICES of them, ingest all of them;
# 4. runs wrk -t2 -c64 (bench/devices.lua) on the read scenarios, ROUNDS rounds each,
#    interleaved, and the fleet pages also with one connection (-t1 -c1, scenarios *-c1: the
#    latency of a page without 64 requests queueing for 2 cores); measures the first (cold)
#    consumption-comparison request per type with curl;
# 5. runs batched ingest (POST /device-states with the integration token) with
#    bench/ingest.py, one run per batch shape, ROUNDS rounds each;
# 6. prints a Markdown table and the goals, writes them to bench/out/devices/latest.md and,
#    for a full run (1M users, all scenarios), appends them to bench/RESULTS.md.
#
# Environment:
#   USERS        users to load (1000000); 3 devices each
#   DURATION     seconds per scenario and round (15)
#   ROUNDS       rounds of every scenario, interleaved; the figures are medians (3)
#   THREADS      server threads (nproc)
#   PAGES        fleet pages of 1000, at random places, read for the device sample (200)
#   READ_DEVICES devices of the sample the read scenarios use (30000)
#   SCENARIOS    a subset of the read scenarios (all; see SCENARIOS_ALL below)
#   SHAPES       batch shapes DEVICESxREADINGS for ingest ("100x96 1000x8"); "" skips ingest
#   INGEST_CONC  concurrent ingest connections (4)
#   IDLE_MAX, IDLE_WAIT  before each run, wait up to IDLE_WAIT s (60) for the machine to be at
#                most IDLE_MAX % (10) busy; a run during which other processes used more than
#                IDLE_MAX % of the CPU is flagged
#   BENCH_DATA   another directory for the data set (bench/data)
#   LOAD_ONLY=1  stop after loading the data
#   RESULTS      1: append the section to bench/RESULTS.md, 0: do not (default 1 for a full run)
#
# Ingest writes readings into the served database: 15-minute readings of past days
# (days 3..40 back, outside the demo's 2 days of 6-hourly readings), device and day chosen
# from a per-run random offset, so successive runs mostly insert new rows rather than
# replace the same ones. The database grows by roughly 50 bytes per reading.
# The data ages: the demo's devices reported just before the load, so 1 hour after it the
# server's once-a-second sweep starts re-deriving their consumption (500 a second) and
# 2 hours after it marks them stale (500 a second); the report says how old the data is.
# The exit status is 0 when every measurement ran; 1 when the benchmark could not run.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
USERS=${USERS:-1000000}
DPU=3
DAYS=2
HOURS=6
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(nproc)}
PAGES=${PAGES:-200}
READ_DEVICES=${READ_DEVICES:-30000}
SCENARIOS_ALL="user-devices device-get diagnosis comparison fleet-page fleet-attention fleet-unauth-inverters fleet-counts"
SCENARIOS_ALL+=" fleet-page-c1 fleet-attention-c1 fleet-unauth-inverters-c1"
SCENARIOS=${SCENARIOS:-$SCENARIOS_ALL}
SHAPES=${SHAPES-100x96 1000x8}
INGEST_CONC=${INGEST_CONC:-4}
WRK_THREADS=2
WRK_CONNS=64
BIN=$ROOT/build/fleetdesk
DATA=$(realpath -m "${BENCH_DATA:-$ROOT/bench/data}")
OUT=$ROOT/bench/out/devices
LUA=$ROOT/bench/devices.lua
PY=/usr/bin/python3

log() { printf 'devices-bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $USERS =~ ^[0-9]+$ && $USERS -ge 1000 ]] || die "USERS must be an integer >= 1000"
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a positive integer"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive integer"
[[ $THREADS =~ ^[0-9]+$ && $THREADS -ge 1 ]] || die "THREADS must be a positive integer"
[[ $PAGES =~ ^[0-9]+$ && $PAGES -ge 1 && $PAGES -le 1000 ]] || die "PAGES must be 1..1000"
[[ $READ_DEVICES =~ ^[0-9]+$ && $READ_DEVICES -ge 1 ]] || die "READ_DEVICES must be a positive integer"
[[ $INGEST_CONC =~ ^[0-9]+$ && $INGEST_CONC -ge 1 && $INGEST_CONC -le 64 ]] || die "INGEST_CONC must be 1..64"
for s in $SCENARIOS; do
	case " $SCENARIOS_ALL " in *" $s "*) ;; *) die "unknown scenario $s" ;; esac
done
for sh in $SHAPES; do
	[[ $sh =~ ^[0-9]+x[0-9]+$ ]] || die "batch shape '$sh' is not DEVICESxREADINGS"
	d=${sh%x*} r=${sh#*x}
	{ [ "$d" -ge 1 ] && [ "$d" -le 1000 ] && [ "$r" -ge 1 ] && [ "$r" -le 96 ]; } ||
		die "batch shape $sh: 1..1000 devices, 1..96 readings (one day of 15-minute intervals)"
done

# --- tools and the binary ----------------------------------------------------
if ! command -v wrk >/dev/null || ! command -v curl >/dev/null; then
	log "installing wrk / curl"
	scripts/install-deps.sh --bench
fi
command -v wrk >/dev/null || die "wrk is not installed"
[ -x "$PY" ] || die "$PY is not installed"
log "building build/fleetdesk"
make --no-print-directory build/fleetdesk >&2 || die "the build failed"

mkdir -p "$DATA" "$OUT"

# --- 1. the data -------------------------------------------------------------
# the 1M data set is devices.db; other sizes get their own files, so that a quick run
# does not replace the 7 GB one
SUFFIX=""
[ "$USERS" = 1000000 ] || SUFFIX="-$USERS"
DB=$DATA/devices$SUFFIX.db
META=$DATA/devices$SUFFIX.json
LOADINFO=$DATA/devices$SUFFIX-load.txt
json_field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" "$2" | head -n1; }
loadinfo() { sed -n "s/^$1=//p" "$LOADINFO"; }
want_params="users=$USERS devices_per_user=$DPU reading_days=$DAYS reading_hours=$HOURS"

if [ -f "$DB" ] && [ -f "$META" ] && [ -f "$LOADINFO" ] && [ "$(loadinfo params)" = "$want_params" ] &&
	[ "$(json_field users "$META")" = "$USERS" ] && [ "$(json_field devices "$META")" = $((USERS * DPU)) ]; then
	LOAD_SECS=$(loadinfo seconds)
	LOAD_WHEN=$(loadinfo date)
	LOAD_NOTE="reused ${DB#"$ROOT"/}, loaded $LOAD_WHEN"
	log "reusing $DB ($want_params, loaded in ${LOAD_SECS}s on $LOAD_WHEN)"
else
	log "loading $USERS users x $DPU devices into $DB (7-8 minutes and ~7 GB at 1M users)"
	rm -f "$DB" "$DB"-wal "$DB"-shm "$DB".tmp "$DB".tmp-wal "$DB".tmp-shm "$META" "$LOADINFO"
	t0=$(date +%s.%N)
	# the demo JSON holds an admin and an integration token of this database: owner only
	(umask 077 && "$BIN" --db "$DB.tmp" demo --users "$USERS" --devices-per-user "$DPU" \
		--reading-days "$DAYS" --reading-hours "$HOURS" >"$META.tmp") || die "fleetdesk demo failed"
	t1=$(date +%s.%N)
	LOAD_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	LOAD_WHEN=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	for s in "" -wal -shm; do [ -e "$DB.tmp$s" ] && mv "$DB.tmp$s" "$DB$s"; done
	mv "$META.tmp" "$META"
	[ "$(json_field devices "$META")" = $((USERS * DPU)) ] ||
		die "the demo made $(json_field devices "$META") devices, not $((USERS * DPU))"
	printf 'params=%s\nseconds=%s\ndate=%s\nbytes=%s\nload=%s\n' "$want_params" "$LOAD_SECS" "$LOAD_WHEN" \
		"$(du -sb "$DB" | cut -f1)" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$LOADINFO"
	LOAD_NOTE="loaded in this run"
	log "loaded $USERS users x $DPU devices in ${LOAD_SECS}s"
fi
ORG=$(json_field org_id "$META")
TOKEN=$(json_field token "$META")
ITOKEN=$(json_field integration_token "$META")
{ [ -n "$ORG" ] && [ -n "$TOKEN" ] && [ -n "$ITOKEN" ]; } || die "cannot read org_id/token/integration_token from $META"
[ "${LOAD_ONLY:-0}" = 1 ] && exit 0
DB_BYTES=$(du -sb "$DB" | cut -f1)
[ -e "$DB-wal" ] && DB_BYTES=$((DB_BYTES + $(du -sb "$DB-wal" | cut -f1)))
DB_GB=$(awk -v b="$DB_BYTES" 'BEGIN { printf "%.1f", b / 1e9 }')

rm -rf "$OUT/sample" "$OUT"/wrk-*.txt "$OUT"/metrics-*.txt "$OUT"/ingest-*.txt
mkdir -p "$OUT/sample"
SAMPLE=$OUT/sample

SRV_PID=""
# waits (bounded) for a process of ours to exit; returns its status, or 124 on timeout
wait_exit() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			local rc=0
			wait "$pid" 2>/dev/null || rc=$?
			return "$rc"
		fi
		sleep 0.1
	done
	return 124
}
cleanup() {
	if [ -n "$SRV_PID" ]; then
		kill -TERM "$SRV_PID" 2>/dev/null || true
		wait_exit "$SRV_PID" 30 || kill -KILL "$SRV_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a free loopback port: nothing answers on it (connect is refused at once on loopback)
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# 1234567 -> 1,234,567
commas() { printf '%s' "$1" | sed -e ':a' -e 's/^\([0-9]\{1,\}\)\([0-9]\{3\}\)/\1,\2/;ta'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- 2. the server -----------------------------------------------------------
# The database itself is served, not a copy: copying ~7 GB (ext4, no reflinks) costs minutes
# of disk writes that would still be flushing during the first rounds. The read scenarios do
# not change it; ingest adds readings (see the header).
PORT=$(free_port) || die "no free port"
log "starting fleetdesk on 127.0.0.1:$PORT with $THREADS threads (serving $DB in place)"
"$BIN" serve --db "$DB" --listen "127.0.0.1:$PORT" --threads "$THREADS" --access-log off \
	2>"$OUT/server.log" &
SRV_PID=$!
HOST=http://127.0.0.1:$PORT
for ((i = 0; i < 1200; i++)); do
	kill -0 "$SRV_PID" 2>/dev/null || die "fleetdesk exited at start: $(tail -n3 "$OUT/server.log")"
	curl -sf --max-time 2 "$HOST/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf --max-time 2 "$HOST/healthz" >/dev/null || die "fleetdesk did not answer /healthz within 120 s"
API=$HOST/api/partners/v2.0/org/$ORG

# --- 3. the sample -----------------------------------------------------------
log "collecting devices ($PAGES fleet pages of 1000 at random places) and fleet cursors"
"$PY" bench/devices_sample.py "$HOST" "$ORG" "$TOKEN" "$SAMPLE" "$PAGES" >"$OUT/sample.txt" ||
	die "collecting the sample failed: $(tail -n3 "$OUT/sample.txt")"
SAMPLE_NOTE=$(cat "$OUT/sample.txt")
log "$SAMPLE_NOTE"
NDEV=$(wc -l <"$SAMPLE/devices.txt")
head -n "$READ_DEVICES" "$SAMPLE/devices.txt" >"$SAMPLE/devices-read.txt" # devices.txt is shuffled
[ "$NDEV" -gt 0 ] || die "no devices collected"
FLEET_TOTAL=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"])' "$SAMPLE/sample.json")

# one device of each type, for the single curl measurements
declare -A ONE
for t in heat-pumps electric-vehicles inverters; do
	ONE[$t]=$(awk -v t="$t" '$2 == t { print $1 "/" $2 "/" $3; exit }' "$SAMPLE/devices.txt")
	[ -n "${ONE[$t]}" ] || die "no $t in the sample"
done
# ms of one GET; prints "status ms"
curl_ms() {
	curl -sS --max-time 120 -H "Authorization: Bearer $TOKEN" -o "$OUT/one.json" -w '%{http_code} %{time_total}\n' "$1" |
		awk '{ printf "%s %.1f\n", $1, $2 * 1000 }'
}

# consumption comparison: the first request per type builds the org's distribution of
# 1M values (a scan), later ones use the cache (5 minutes)
declare -A CMP_COLD CMP_WARM
CMP_LOAD=$(loadavg)
for t in heat-pumps electric-vehicles inverters; do
	read -r st ms < <(curl_ms "$API/users/${ONE[$t]}/consumption-comparison")
	[ "$st" = 200 ] || die "consumption-comparison of a $t answered $st: $(head -c 300 "$OUT/one.json")"
	CMP_COLD[$t]=$ms
	cp "$OUT/one.json" "$OUT/comparison-$t.json"
	read -r st ms < <(curl_ms "$API/users/${ONE[$t]}/consumption-comparison")
	CMP_WARM[$t]=$ms
done
PEERS=$(sed -n 's/.*"peers": *\([0-9]*\).*/\1/p' "$OUT/comparison-heat-pumps.json")
log "comparison cold ms: hp ${CMP_COLD[heat-pumps]}, ev ${CMP_COLD[electric-vehicles]}, iv ${CMP_COLD[inverters]} (peers ${PEERS:-?})"

# the fleet pages and counts once each, to record their totals and check they answer
declare -A FLEET_TOTALS FLEET_ONE
fleet_q() {
	case $1 in
	fleet-page) echo "limit=100" ;;
	fleet-attention) echo "limit=100&needs_attention=true" ;;
	fleet-unauth-inverters) echo "limit=100&type=inverters&authenticated=false" ;;
	esac
}
for s in fleet-page fleet-attention fleet-unauth-inverters; do
	# the first page: its total, and a Link rel=next when there is more than a page
	r=$(curl -sS --max-time 60 -H "Authorization: Bearer $TOKEN" -D "$OUT/one.h" -o "$OUT/one.json" \
		-w '%{http_code} %{time_total}' "$API/devices?$(fleet_q "$s")")
	[ "${r% *}" = 200 ] || die "$s answered ${r% *}: $(head -c 300 "$OUT/one.json")"
	FLEET_TOTALS[$s]=$(tr -d '\r' <"$OUT/one.h" | sed -n 's/^X-Total-Count: *//Ip')
	FLEET_ONE[$s]=$(awk -v s="${r#* }" 'BEGIN { printf "%.1f", s * 1000 }')
	if [ "${FLEET_TOTALS[$s]:-0}" -gt 100 ]; then
		tr -d '\r' <"$OUT/one.h" | grep -qi '^Link: .*rel="next"' || die "$s: the first page of ${FLEET_TOTALS[$s]} has no Link rel=next"
	fi
done
curl -sS --max-time 60 -H "Authorization: Bearer $TOKEN" -o "$OUT/counts.json" "$API/devices/counts" ||
	die "GET /devices/counts failed"

# --- 4. the read scenarios ---------------------------------------------------
declare -A RPS P50 P99 NON2XX SOCKERR STATUSES OTHERS SRVCPU ROUNDS_RPS ROUNDS_P99 LOADS IOWAIT
metric_lines() { curl -s --max-time 10 "$HOST/metrics" | grep '^fleetdesk_http_requests_total{' || true; }
vm() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$SRV_PID/status"; }

# percentage of CPU time busy over one second, machine-wide (from /proc/stat)
cpu_busy() {
	local a b
	a=$(head -n1 /proc/stat)
	sleep 1
	b=$(head -n1 /proc/stat)
	printf '%s\n%s\n' "$a" "$b" | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; idle = $5 + $6 }
		NR == 1 { t0 = t; i0 = idle } NR == 2 { dt = t - t0; printf "%.0f", (dt > 0 ? 100 * (dt - (idle - i0)) / dt : 0) }'
}
IDLE_MAX=${IDLE_MAX:-10}
# waits (at most IDLE_WAIT s) until the machine is idle
wait_idle() {
	local i b=0
	for ((i = 0; i < ${IDLE_WAIT:-60}; i++)); do
		b=$(cpu_busy)
		[ "$b" -le "$IDLE_MAX" ] && break
	done
	[ "$b" -le "$IDLE_MAX" ] || log "warning: the machine is still $b % busy; starting $1 anyway"
}
machine_ticks() { head -n1 /proc/stat | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $2 + $3 + $4, $6 }'; }
pid_ticks() {
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}
child_ticks() { # `times` must run in this shell, not in a $(...) subshell
	times >"$OUT/.times"
	tail -n1 "$OUT/.times" | awk -v hz="$(getconf CLK_TCK)" '{ s = 0; for (i = 1; i <= 2; i++) {
		split($i, a, "m"); sub(/s$/, "", a[2]); s += a[1] * 60 + a[2] } printf "%.0f", s * hz }'
}
# runs "$@" (wrk or ingest.py) for the run $name and records the CPU shares:
# SRVCPU = server / load generator, OTHERS = everything else, in % of the machine
M0="" S0="" C0=""
cpu_start() {
	child_ticks >"$OUT/.ticks"
	C0=$(<"$OUT/.ticks")
	M0=$(machine_ticks) S0=$(pid_ticks "$SRV_PID")
}
cpu_stop() {
	local name=$1 m1 s1 c1
	m1=$(machine_ticks) s1=$(pid_ticks "$SRV_PID")
	child_ticks >"$OUT/.ticks"
	c1=$(<"$OUT/.ticks")
	OTHERS[$name]=$(awk -v a="$M0" -v b="$m1" -v ds=$((s1 - S0)) -v dc=$((c1 - C0)) 'BEGIN {
		split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]; o = (y[2] - x[2]) - ds - dc
		if (o < 0) o = 0; printf "%.0f", (dt > 0 ? 100 * o / dt : 0) }')
	SRVCPU[$name]=$(awk -v t=$((s1 - S0)) -v w=$((c1 - C0)) -v a="$M0" -v b="$m1" 'BEGIN {
		split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]; printf "%.0f/%.0f", (dt > 0 ? 100 * t / dt : 0), (dt > 0 ? 100 * w / dt : 0) }')
	IOWAIT[$name]=$(awk -v a="$M0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]
		printf "%.0f", (dt > 0 ? 100 * (y[3] - x[3]) / dt : 0) }')
}
# the statuses the server counted during a run, other than 2xx: "total[ status x n, ...]"
counted_non2xx() {
	awk '
		{ split($0, a, " "); key = a[1]; val = a[2] }
		FNR == NR { before[key] = val; next }
		{ d = val - before[key]; if (d > 0 && key !~ /status="2/ && key !~ /route="metrics"/) {
			st = key; sub(/.*status="/, "", st); sub(/".*/, "", st); n[st] += d; total += d } }
		END { printf "%d", total; for (k in n) printf "%s%s x %d", (c++ ? ", " : " "), k, n[k] }' "$1" "$2"
}

run_wrk() {
	local name=$1 scenario=$2 out=$OUT/wrk-$1.txt line
	wait_idle "$name"
	if [ "$scenario" = comparison ]; then # the warm-up: the distributions are cached
		for t in heat-pumps electric-vehicles inverters; do curl_ms "$API/users/${ONE[$t]}/consumption-comparison" >/dev/null; done
	fi
	LOADS[$name]=$(loadavg)
	log "wrk $name (${DURATION}s; load ${LOADS[$name]})"
	metric_lines >"$OUT/metrics-before-$name.txt"
	cpu_start
	local wt=$WRK_THREADS wc=$WRK_CONNS
	case $scenario in *-c1) wt=1 wc=1 scenario=${scenario%-c1} ;; esac
	timeout $((DURATION + 60)) wrk -t"$wt" -c"$wc" -d"${DURATION}s" --latency --timeout 10s \
		-s "$LUA" "$HOST" -- "$scenario" "$ORG" "$TOKEN" "$SAMPLE" >"$out" 2>&1 ||
		die "wrk $name failed: $(tail -n5 "$out")"
	cpu_stop "$name"
	metric_lines >"$OUT/metrics-after-$name.txt"
	line=$(grep '^BENCH ' "$out" | tail -n1)
	[ -n "$line" ] || die "wrk $name printed no summary: $(tail -n5 "$out")"
	local -A f=()
	local kv w counted
	for kv in ${line#BENCH }; do f[${kv%%=*}]=${kv#*=}; done
	RPS[$name]=$(awk -v r="${f[requests]}" -v d="${f[duration_us]}" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
	P50[$name]=$(awk -v u="${f[p50_us]}" 'BEGIN { printf "%.2f", u / 1000 }')
	P99[$name]=$(awk -v u="${f[p99_us]}" 'BEGIN { printf "%.2f", u / 1000 }')
	NON2XX[$name]=${f[status_errors]}
	w=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$out")
	[ -n "$w" ] && [ "$w" -gt "${NON2XX[$name]}" ] && NON2XX[$name]=$w
	SOCKERR[$name]=$((f[connect_errors] + f[read_errors] + f[write_errors] + f[timeouts]))
	counted=$(counted_non2xx "$OUT/metrics-before-$name.txt" "$OUT/metrics-after-$name.txt")
	STATUSES[$name]=""
	case $counted in *" "*) STATUSES[$name]=${counted#* } ;; esac
	[ "${counted%% *}" -gt "${NON2XX[$name]}" ] && NON2XX[$name]=${counted%% *}
	return 0
}

# --- 5. batched ingest -------------------------------------------------------
declare -A IRPS IP50 IP99 IREQ IFAILED IERR IBODY
INGEST_OFFSET=$(((RANDOM << 15 | RANDOM) % 1000000007))
run_ingest() {
	local name=$1 shape=$2 out=$OUT/ingest-$1.txt line
	wait_idle "$name"
	LOADS[$name]=$(loadavg)
	log "ingest $name (${DURATION}s, $INGEST_CONC connections; load ${LOADS[$name]})"
	cpu_start
	# a different offset per run: new (device, day) rows rather than the same ones
	INGEST_OFFSET=$((INGEST_OFFSET + 7919 * 97))
	timeout $((DURATION + 180)) "$PY" bench/ingest.py "$HOST" "$ORG" "$ITOKEN" "$SAMPLE/devices.txt" "$shape" \
		"$INGEST_CONC" "$DURATION" "$INGEST_OFFSET" >"$out" 2>&1 || die "ingest $name failed: $(tail -n5 "$out")"
	cpu_stop "$name"
	line=$(grep '^INGEST ' "$out" | tail -n1)
	[ -n "$line" ] || die "ingest $name printed no summary: $(tail -n5 "$out")"
	local -A f=()
	local kv
	for kv in ${line#INGEST }; do f[${kv%%=*}]=${kv#*=}; done
	IRPS[$name]=${f[readings_per_s]} IP50[$name]=${f[p50_ms]} IP99[$name]=${f[p99_ms]}
	IREQ[$name]=$(awk -v r="${f[requests]}" -v s="${f[seconds]}" 'BEGIN { printf "%.1f", r / s }')
	IFAILED[$name]=${f[failed]} IERR[$name]=${f[errors]} IBODY[$name]=${f[body_bytes]}
	return 0
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

T_START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# the devices were written from (load end - load time) to (load end)
AGE_NEW=$((($(date +%s) - $(date -d "$LOAD_WHEN" +%s)) / 60))
AGE_OLD=$((AGE_NEW + ${LOAD_SECS%.*} / 60))
AGE_MIN="$AGE_NEW–$AGE_OLD"
AGE_NOTE=" (the server's sweep leaves data under an hour old alone)"
[ "$AGE_OLD" -ge 60 ] && AGE_NOTE=" (so the server's sweep was re-deriving consumption figures, 500 devices a second, in the background)"
[ "$AGE_OLD" -ge 120 ] && AGE_NOTE=" (so the server's sweep was re-deriving consumption figures and marking devices stale, 500 a second each, in the background)"
LOAD_START=$(loadavg)
for ((round = 1; round <= ROUNDS; round++)); do
	for s in $SCENARIOS; do run_wrk "$s-r$round" "$s"; done
done
for ((round = 1; round <= ROUNDS; round++)); do
	for sh in $SHAPES; do run_ingest "ingest-$sh-r$round" "$sh"; done
done
T_END=$(date -u +%Y-%m-%dT%H:%M:%SZ)

for s in $SCENARIOS; do
	rps=() p50=() p99=() n2=0 se=0 oth=0 sts=""
	for ((round = 1; round <= ROUNDS; round++)); do
		name="$s-r$round"
		rps+=("${RPS[$name]}") p50+=("${P50[$name]}") p99+=("${P99[$name]}")
		n2=$((n2 + NON2XX[$name])) se=$((se + SOCKERR[$name]))
		[ "${OTHERS[$name]}" -gt "$oth" ] && oth=${OTHERS[$name]}
		sts+="${STATUSES[$name]:-}"
	done
	RPS[$s]=$(printf '%.0f' "$(median "${rps[@]}")") P50[$s]=$(median "${p50[@]}") P99[$s]=$(median "${p99[@]}")
	NON2XX[$s]=$n2 SOCKERR[$s]=$se OTHERS[$s]=$oth STATUSES[$s]=$sts
	SRVCPU[$s]=${SRVCPU[$s-r$ROUNDS]}
	ROUNDS_RPS[$s]="${rps[*]}" ROUNDS_P99[$s]="${p99[*]}"
done
for sh in $SHAPES; do
	s=ingest-$sh
	rps=() p50=() p99=() rq=() fl=0 er=0 oth=0
	for ((round = 1; round <= ROUNDS; round++)); do
		name="$s-r$round"
		rps+=("${IRPS[$name]}") p50+=("${IP50[$name]}") p99+=("${IP99[$name]}") rq+=("${IREQ[$name]}")
		fl=$((fl + IFAILED[$name])) er=$((er + IERR[$name]))
		[ "${OTHERS[$name]}" -gt "$oth" ] && oth=${OTHERS[$name]}
	done
	IRPS[$s]=$(printf '%.0f' "$(median "${rps[@]}")") IP50[$s]=$(median "${p50[@]}") IP99[$s]=$(median "${p99[@]}")
	IREQ[$s]=$(median "${rq[@]}") IFAILED[$s]=$fl IERR[$s]=$er OTHERS[$s]=$oth
	SRVCPU[$s]=${SRVCPU[$s-r$ROUNDS]} IBODY[$s]=${IBODY[$s-r1]}
	ROUNDS_RPS[$s]="${rps[*]}" ROUNDS_P99[$s]="${p99[*]}"
done

HWM_KB=$(vm VmHWM)
RSS_KB=$(vm VmRSS)
curl -s --max-time 10 "$HOST/metrics" >"$OUT/metrics-final.txt" || true
DB_BYTES_END=$(du -sb "$DB" | cut -f1)
[ -e "$DB-wal" ] && DB_BYTES_END=$((DB_BYTES_END + $(du -sb "$DB-wal" | cut -f1)))

kill -TERM "$SRV_PID"
srv_rc=0
wait_exit "$SRV_PID" 30 || srv_rc=$?
SRV_PID=""
case $srv_rc in
0) SRV_STOP="exited 0 on SIGTERM" ;;
124) SRV_STOP="did not exit within 30 s of SIGTERM (killed)" ;;
*) SRV_STOP="exited with status $srv_rc on SIGTERM" ;;
esac

# --- 6. the report -------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
verdict() { if "$@"; then echo met; else echo "**not met**"; fi; }
busy() { [ "${OTHERS[$1]:-0}" -gt "$IDLE_MAX" ]; }
clean() { [ -n "${RPS[$1]:-}" ] && [ "${NON2XX[$1]:-0}" -eq 0 ] && [ "${SOCKERR[$1]:-0}" -eq 0 ]; }
iclean() { [ -n "${IRPS[$1]:-}" ] && [ "${IFAILED[$1]:-0}" -eq 0 ] && [ "${IERR[$1]:-0}" -eq 0 ]; }
has() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }
FLAGS=()
# shellcheck disable=SC2016 # backquotes for Markdown
declare -A REQ=(
	[user-devices]='`GET /users/{uid}/{type}`'
	[device-get]='`GET /users/{uid}/{type}/{id}`'
	[diagnosis]='`GET …/{type}/{id}/diagnosis`'
	[comparison]='`GET …/{type}/{id}/consumption-comparison` (cached)'
	[fleet-page]='`GET /devices?limit=100&cursor=…`'
	[fleet-attention]='`GET /devices?limit=100&needs_attention=true&cursor=…`'
	[fleet-unauth-inverters]='`GET /devices?limit=100&type=inverters&authenticated=false&cursor=…`'
	[fleet-counts]='`GET /devices/counts`'
	[fleet-page-c1]='fleet-page, one connection'
	[fleet-attention-c1]='fleet-attention, one connection'
	[fleet-unauth-inverters-c1]='fleet-unauth-inverters, one connection'
)
row() {
	local s=$1 mark=""
	if [ "${NON2XX[$s]:-0}" -gt 0 ] || [ "${SOCKERR[$s]:-0}" -gt 0 ]; then
		mark=" ⚠"
		FLAGS+=("$s: ${NON2XX[$s]} non-2xx responses${STATUSES[$s]:+ (${STATUSES[$s]})}, ${SOCKERR[$s]} socket errors/timeouts")
	fi
	busy "$s" && mark+=" (busy)"
	printf '| %s%s | %s | %s | %s | %s | %s |\n' "$s" "$mark" "${REQ[$s]}" "$(commas "${RPS[$s]}")" "${P50[$s]}" "${P99[$s]}" "${NON2XX[$s]}"
}
irow() {
	local sh=$1 s=ingest-$1 mark=""
	iclean "$s" || {
		mark=" ⚠"
		FLAGS+=("$s: ${IFAILED[$s]} failed reports, ${IERR[$s]} failed requests (bench/out/devices/ingest-$s-r*.txt)")
	}
	busy "$s" && mark+=" (busy)"
	printf '| %s%s | %s devices × %s readings, %s kB bodies | %s | %s | %s | %s |\n' "$s" "$mark" "${sh%x*}" "${sh#*x}" \
		"$((IBODY[$s] / 1000))" "$(commas "${IRPS[$s]}")" "${IREQ[$s]}" "${IP50[$s]}" "${IP99[$s]}"
}
goal() { # text, measured, result, runs it rests on
	local text=$1 measured=$2 result=$3 s
	shift 3
	for s in "$@"; do
		if busy "$s"; then
			result+=" (suspect: other processes used the CPU)"
			break
		fi
	done
	printf '| %s | %s | %s |\n' "$text" "$measured" "$result"
}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src 2>/dev/null || COMMIT+=" + uncommitted changes in src/"
NREAD=$((USERS * DPU * (DAYS * 24 / HOURS + 1)))
CMP_MAX_COLD=0
for t in heat-pumps electric-vehicles inverters; do
	ge "${CMP_COLD[$t]}" "$CMP_MAX_COLD" && CMP_MAX_COLD=${CMP_COLD[$t]}
done
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
MHZ=$(awk -F: '/^cpu MHz/ { printf "%.1f", $2 / 1000; exit }' /proc/cpuinfo)
RAM=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1024 / 1024 }' /proc/meminfo)
pkgv() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed 's/-[^-]*$//'; }

{
	echo "## Devices, $(date -u '+%Y-%m-%d %H:%M UTC'): $(commas "$USERS") users × $DPU devices (issue 3)"
	echo
	echo "Run from $T_START to $T_END with \`$(for v in USERS DURATION ROUNDS THREADS PAGES READ_DEVICES INGEST_CONC; do printf '%s=%s ' "$v" "${!v}"; done)SHAPES=\"$SHAPES\" bench/devices.sh\`," \
		"build $COMMIT. Machine: $(nproc) vCPUs \`$MODEL\` ($MHZ GHz), $RAM GB RAM, $(uname -sr), Debian $(cat /etc/debian_version 2>/dev/null)," \
		"wrk $(pkgv wrk), SQLite $(pkgv libsqlite3-0), libmicrohttpd $(pkgv libmicrohttpd12); wrk / the ingest client and the server share the cores, all on loopback." \
		"Load average at the start: $LOAD_START."
	echo
	echo "- data: $(commas "$FLEET_TOTAL") devices ($(commas "$USERS") users × $DPU: a heat pump, an EV and an inverter each), $(commas "$NREAD") readings" \
		"(every $HOURS h over $DAYS days), db $DB_GB GB at the start, $(awk -v b="$DB_BYTES_END" 'BEGIN { printf "%.1f", b / 1e9 }') GB at the end;" \
		"\`fleetdesk --db ${DB#"$ROOT"/} demo --users $USERS --devices-per-user $DPU --reading-days $DAYS --reading-hours $HOURS\`" \
		"took **$LOAD_SECS s** ($LOAD_NOTE); the data was $AGE_MIN minutes old at the start$AGE_NOTE." \
		"The database is served in place (\`fleetdesk serve --threads $THREADS --access-log off\`), not copied."
	echo "- sample: $SAMPLE_NOTE; $(($(wc -l <"$SAMPLE/cursors.txt") - 1)) fleet cursors at random places plus the first page"
	echo
	echo "\`wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency -s bench/devices.lua\` (*-c1: \`-t1 -c1\`), medians of $ROUNDS interleaved rounds:"
	echo
	echo "| scenario | request | req/s | p50 ms | p99 ms | non-2xx |"
	echo "|---|---|---:|---:|---:|---:|"
	for s in $SCENARIOS; do row "$s"; done
	if [ -n "$SHAPES" ]; then
		echo
		echo "Batched ingest, \`POST /device-states\` with the integration token, $INGEST_CONC connections (bench/ingest.py), ${DURATION} s, medians of $ROUNDS rounds;" \
			"readings/s are the readings the responses report as stored:"
		echo
		echo "| scenario | body | readings/s | req/s | p50 ms | p99 ms |"
		echo "|---|---|---:|---:|---:|---:|"
		for sh in $SHAPES; do irow "$sh"; done
	fi
	echo
	if has comparison; then
		echo "- consumption-comparison, first request per type (builds the distribution of $(commas "${PEERS:-0}") peers; curl, idle server, load $CMP_LOAD):" \
			"heat-pumps **${CMP_COLD[heat-pumps]} ms**, electric-vehicles **${CMP_COLD[electric-vehicles]} ms**, inverters **${CMP_COLD[inverters]} ms**;" \
			"the second request: ${CMP_WARM[heat-pumps]} / ${CMP_WARM[electric-vehicles]} / ${CMP_WARM[inverters]} ms. The wrk rounds start with one request per type (the distributions are cached for 5 minutes)."
	fi
	echo "- fleet X-Total-Count: all ${FLEET_TOTALS[fleet-page]}, needs_attention ${FLEET_TOTALS[fleet-attention]}," \
		"inverters not authenticated ${FLEET_TOTALS[fleet-unauth-inverters]}; one page of 100 by curl: $(for s in fleet-page fleet-attention fleet-unauth-inverters; do printf '%s %s ms; ' "$s" "${FLEET_ONE[$s]}"; done | sed 's/; $//')"
	echo "- req/s (or readings/s) per round: $(for s in $SCENARIOS $(for sh in $SHAPES; do echo "ingest-$sh"; done); do printf '%s %s; ' "$s" "${ROUNDS_RPS[$s]}"; done | sed 's/; $//')"
	echo "- p99 ms per round: $(for s in $SCENARIOS $(for sh in $SHAPES; do echo "ingest-$sh"; done); do printf '%s %s; ' "$s" "${ROUNDS_P99[$s]}"; done | sed 's/; $//')"
	echo "- CPU in % of the machine, server / load generator / others, last round: $(for s in $SCENARIOS $(for sh in $SHAPES; do echo "ingest-$sh"; done); do printf '%s %s/%s; ' "$s" "${SRVCPU[$s]}" "${OTHERS[$s]}"; done | sed 's/; $//')" \
		"(others must stay under $IDLE_MAX %, or the run is flagged)"
	echo "- iowait in % of the machine during each round (the database does not fit in the page cache this VM keeps, see the notes): $(for s in $SCENARIOS $(for sh in $SHAPES; do echo "ingest-$sh"; done); do
		printf '%s' "$s"
		for ((round = 1; round <= ROUNDS; round++)); do printf ' %s' "${IOWAIT[$s-r$round]}"; done
		printf '; '
	done | sed 's/; $//')"
	echo "- 1-minute load average before each round: $(for s in $SCENARIOS $(for sh in $SHAPES; do echo "ingest-$sh"; done); do
		printf '%s' "$s"
		for ((round = 1; round <= ROUNDS; round++)); do printf ' %s' "${LOADS[$s-r$round]%% *}"; done
		printf '; '
	done | sed 's/; $//')"
	echo "- server: peak RSS (VmHWM) $(mib "$HWM_KB") MiB, VmRSS at the end $(mib "$RSS_KB") MiB; $SRV_STOP"
	echo
	echo "| goal | measured | result |"
	echo "|---|---|---|"
	for sh in $SHAPES; do
		s=ingest-$sh
		if iclean "$s"; then
			goal "batched ingest >= 100,000 readings/s ($sh)" "$(commas "${IRPS[$s]}") readings/s" "$(verdict ge "${IRPS[$s]}" 100000)" "$s"
		else
			goal "batched ingest >= 100,000 readings/s ($sh)" "$(commas "${IRPS[$s]:-0}") readings/s" "**not met** (failed reports or requests)"
		fi
	done
	if has comparison; then
		if clean comparison; then
			goal "consumption comparison in milliseconds: p99 < 20 ms (cached distribution)" "${P99[comparison]} ms" "$(verdict lt "${P99[comparison]}" 20)" comparison
		else
			goal "consumption comparison in milliseconds: p99 < 20 ms (cached distribution)" "${P99[comparison]:-n/a} ms" "**not met** (errors)"
		fi
		goal "consumption comparison, first request per type < 1,000 ms" "$CMP_MAX_COLD ms (slowest type)" "$(verdict lt "$CMP_MAX_COLD" 1000)"
	fi
	goal "fleet view paged: limit, cursor, Link rel=next, X-Total-Count" "checked on the first page of each filter" met
	for s in fleet-page-c1 fleet-attention-c1 fleet-unauth-inverters-c1 fleet-page fleet-attention fleet-unauth-inverters fleet-counts; do
		has "$s" || continue
		case $s in *-c1) what="one connection" ;; *) what="64 connections" ;; esac
		if clean "$s"; then
			goal "fleet view fast: ${s%-c1} p99 < 20 ms, $what" "${P99[$s]} ms" "$(verdict lt "${P99[$s]}" 20)" "$s"
		else
			goal "fleet view fast: ${s%-c1} p99 < 20 ms, $what" "${P99[$s]:-n/a} ms" "**not met** (errors)"
		fi
	done
	if [ "$USERS" -lt 1000000 ]; then
		echo
		echo "(The goals are stated for 1,000,000 users / 3,000,000 devices; this run had $(commas "$USERS") users.)"
	fi
	for s in $SCENARIOS $(for sh in $SHAPES; do echo "ingest-$sh"; done); do
		if busy "$s"; then
			FLAGS+=("$s: other processes used up to ${OTHERS[$s]} % of the machine's CPU during a round")
		fi
	done
	if [ "${#FLAGS[@]}" -gt 0 ]; then
		echo
		echo "**Flagged** (these figures are not valid measurements):"
		for f in "${FLAGS[@]}"; do echo "- $f"; done
	fi
} >"$OUT/latest.md"
cat "$OUT/latest.md"
log "wrote bench/out/devices/latest.md; raw output in bench/out/devices/"

# a full run is recorded in bench/RESULTS.md (RESULTS=0 to skip, RESULTS=1 to record a small run too)
full=0
[ "$USERS" -ge 1000000 ] && [ "$SCENARIOS" = "$SCENARIOS_ALL" ] && [ -n "$SHAPES" ] && full=1
if [ "${RESULTS:-$full}" = 1 ]; then
	{
		echo
		cat "$OUT/latest.md"
	} >>bench/RESULTS.md
	log "appended the section to bench/RESULTS.md"
fi
