#!/usr/bin/env bash
# bench/run.sh - the fleetdesk benchmark (issue 2, part 8). Run from the repo root:
#
#   bench/run.sh                       # 1,000,000 users, 15 s per scenario
#   USERS=20000 DURATION=5 bench/run.sh  # a quick check
#
# 1. loads USERS users into bench/data/bench.db with `fleetdesk demo` (timed; reused
#    when it already holds USERS users) and serves a fresh copy of it, so that every
#    run starts from the same data;
# 2. starts `fleetdesk serve --access-log off` on a free port and collects user ids,
#    list cursors and search terms from it;
# 3. runs wrk -t2 -c64 on get-user, list-page, search, create and update;
# 4. reads the server's peak RSS (VmHWM) after all of them;
# 5. runs the same wrk against Debian's nginx serving one real user object as a static
#    file with the same headers: the machine's HTTP limit for that response;
# 6. prints a Markdown table and the goals of the issue, and writes them to
#    bench/out/latest.md;
# 7. stops the server with SIGTERM.
#
# Environment:
#   USERS      users to load (1000000)
#   DURATION   seconds per scenario and round (15)
#   ROUNDS     rounds of every scenario, nginx included, interleaved; the figures are medians (3)
#   THREADS    server threads (nproc)
#   PAGES      list pages of 1000 read for ids and cursors (5)
#   SCENARIOS  a subset of "get-user list-page search search-cold create update" (all)
#   IDLE_MAX, IDLE_WAIT  before each run, wait up to IDLE_WAIT s (60) for the machine to be at
#              most IDLE_MAX % (10) busy; a run during which other processes used more than
#              IDLE_MAX % of the CPU is flagged (a compile or a fuzzer on the same 2 cores
#              skews everything)
#   BENCH_DATA another directory for the data set (bench/data), e.g. to keep a small one
# State lives in bench/data/ (the database) and bench/out/ (everything else).
# The exit status is 0 when every measurement ran, even if a goal is not met or a
# scenario had errors (those are flagged in the table); 1 when the benchmark could not run.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
USERS=${USERS:-1000000}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(nproc)}
PAGES=${PAGES:-5}
SCENARIOS=${SCENARIOS:-get-user list-page search search-cold create update}
WRK_THREADS=2
WRK_CONNS=64
BIN=$ROOT/build/fleetdesk
DATA=$(realpath -m "${BENCH_DATA:-$ROOT/bench/data}")
OUT=$ROOT/bench/out
LUA=$ROOT/bench/fleetdesk.lua
NGINX=${NGINX:-/usr/sbin/nginx}

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $USERS =~ ^[0-9]+$ && $USERS -ge 1000 ]] || die "USERS must be an integer >= 1000"
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a positive integer"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive integer"
[[ $THREADS =~ ^[0-9]+$ && $THREADS -ge 1 ]] || die "THREADS must be a positive integer"
[[ $PAGES =~ ^[0-9]+$ && $PAGES -ge 1 && $PAGES -le 100 ]] || die "PAGES must be 1..100"

# --- tools and the binary ----------------------------------------------------
if ! command -v wrk >/dev/null || [ ! -x "$NGINX" ] || ! command -v curl >/dev/null; then
	log "installing wrk / nginx-light / curl"
	scripts/install-deps.sh --bench
fi
command -v wrk >/dev/null || die "wrk is not installed"
[ -x "$NGINX" ] || die "$NGINX is not installed"
log "building build/fleetdesk"
make --no-print-directory build/fleetdesk >&2 || die "the build failed"

mkdir -p "$DATA" "$OUT"
rm -rf "$OUT/sample" "$OUT/nginx" "$OUT"/wrk-*.txt "$OUT"/metrics-*.txt
mkdir -p "$OUT/sample"
SAMPLE=$OUT/sample

SRV_PID=""
NGX_PID=""
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
	if [ -n "$NGX_PID" ]; then
		kill -QUIT "$NGX_PID" 2>/dev/null || true
		wait_exit "$NGX_PID" 10 || kill -KILL "$NGX_PID" 2>/dev/null || true
	fi
	if [ -n "$SRV_PID" ]; then
		kill -TERM "$SRV_PID" 2>/dev/null || true
		wait_exit "$SRV_PID" 20 || kill -KILL "$SRV_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a free loopback port: nothing answers on it (connect is refused at once on loopback)
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		[ "$p" = "${1:-}" ] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

urlencode() {
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) printf -v c '%%%02X' "'$c" && out+=$c ;;
		esac
	done
	printf '%s' "$out"
}

# 1234567 -> 1,234,567
commas() { printf '%s' "$1" | sed -e ':a' -e 's/^\([0-9]\{1,\}\)\([0-9]\{3\}\)/\1,\2/;ta'; }

# --- 1. the data -------------------------------------------------------------
DB=$DATA/bench.db
META=$DATA/bench.json
LOADINFO=$DATA/load.txt
json_field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" "$2" | head -n1; }

if [ -f "$DB" ] && [ -f "$META" ] && [ -f "$LOADINFO" ] && [ "$(json_field users "$META")" = "$USERS" ]; then
	LOAD_SECS=$(sed -n 's/^seconds=//p' "$LOADINFO")
	LOAD_WHEN=$(sed -n 's/^date=//p' "$LOADINFO")
	LOAD_NOTE="reused ${DB#"$ROOT"/}, loaded $LOAD_WHEN"
	log "reusing $DB ($USERS users, loaded in ${LOAD_SECS}s on $LOAD_WHEN)"
else
	log "loading $USERS users into $DB (this takes a while at 1M)"
	rm -f "$DB" "$DB"-wal "$DB"-shm "$DB".tmp "$DB".tmp-wal "$DB".tmp-shm "$META" "$LOADINFO"
	t0=$(date +%s.%N)
	# the demo JSON holds an admin token of this database: readable by its owner only
	(umask 077 && "$BIN" --db "$DB.tmp" demo --users "$USERS" >"$META.tmp") || die "fleetdesk demo failed"
	t1=$(date +%s.%N)
	LOAD_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	LOAD_WHEN=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	for s in "" -wal -shm; do [ -e "$DB.tmp$s" ] && mv "$DB.tmp$s" "$DB$s"; done
	mv "$META.tmp" "$META"
	printf 'users=%s\nseconds=%s\ndate=%s\n' "$USERS" "$LOAD_SECS" "$LOAD_WHEN" >"$LOADINFO"
	LOAD_NOTE="loaded in this run"
	log "loaded $USERS users in ${LOAD_SECS}s"
fi
ORG=$(json_field org_id "$META")
TOKEN=$(json_field token "$META")
{ [ -n "$ORG" ] && [ -n "$TOKEN" ]; } || die "cannot read org_id/token from $META"
DB_MB=$(du -sm "$DB" | cut -f1)

# every run serves a fresh copy, so creates and updates of earlier runs do not pile up
RUNDB=$DATA/run.db
rm -f "$RUNDB" "$RUNDB"-wal "$RUNDB"-shm
cp "$DB" "$RUNDB"
[ -e "$DB-wal" ] && cp "$DB-wal" "$RUNDB-wal"

# --- 2. the server -----------------------------------------------------------
PORT=$(free_port) || die "no free port"
log "starting fleetdesk on 127.0.0.1:$PORT with $THREADS threads"
"$BIN" serve --db "$RUNDB" --listen "127.0.0.1:$PORT" --threads "$THREADS" --access-log off \
	2>"$OUT/server.log" &
SRV_PID=$!
HOST=http://127.0.0.1:$PORT
for ((i = 0; i < 600; i++)); do
	kill -0 "$SRV_PID" 2>/dev/null || die "fleetdesk exited at start: $(tail -n3 "$OUT/server.log")"
	curl -sf --max-time 2 "$HOST/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf --max-time 2 "$HOST/healthz" >/dev/null || die "fleetdesk did not answer /healthz within 60 s"

API=$HOST/api/partners/v2.0/org/$ORG
AUTH="Authorization: Bearer $TOKEN"
# GET with the token; body to $2, headers to $2.h; prints the status
api_get() {
	curl -sS --max-time 60 -H "$AUTH" -D "$2.h" -o "$2" -w '%{http_code}' "$1"
}
ids_of() { { grep -o '{"id":"[0-9a-f-]\{36\}"' "$1" || true; } | cut -d'"' -f4; }
header_of() { tr -d '\r' <"$2.h" | sed -n "s/^$1: *//Ip" | head -n1; }

log "collecting ids and cursors ($PAGES pages of 1000, following rel=next)"
: >"$SAMPLE/ids.all"
: >"$SAMPLE/cursors.txt"
url="$API/users?limit=1000"
for ((p = 0; p < PAGES; p++)); do
	st=$(api_get "$url" "$SAMPLE/page") || die "GET $url failed"
	[ "$st" = 200 ] || die "GET $url answered $st: $(head -c 300 "$SAMPLE/page")"
	ids_of "$SAMPLE/page" >>"$SAMPLE/ids.all"
	[ "$p" = 0 ] && TOTAL=$(header_of X-Total-Count "$SAMPLE/page")
	next=$(header_of Link "$SAMPLE/page" | sed -n 's/^<\([^>]*\)>; *rel="next".*/\1/p')
	[ -n "$next" ] || break
	case $next in /*) next=$HOST$next ;; http*) ;; *) next=$API/$next ;; esac
	cursor=${next##*cursor=}
	cursor=${cursor%%&*}
	echo "$cursor" >>"$SAMPLE/cursors.txt"
	url=$next
done
# ids spread over the whole table too, found by external id (cust_NNNNNNN, 100 each)
for ((j = 1; j <= 20; j++)); do
	k=$((j * USERS / 21 + 1))
	term=$(printf 'cust_%07d' "$k")
	st=$(api_get "$API/users?search=${term:0:10}&limit=100" "$SAMPLE/page") || die "search failed"
	[ "$st" = 200 ] && ids_of "$SAMPLE/page" >>"$SAMPLE/ids.all"
done
sort -u "$SAMPLE/ids.all" >"$SAMPLE/ids.txt"
NIDS=$(wc -l <"$SAMPLE/ids.txt")
NCURSORS=$(wc -l <"$SAMPLE/cursors.txt")
[ "$NIDS" -gt 0 ] || die "no user ids collected"
log "collected $NIDS ids and $NCURSORS cursors; X-Total-Count of the list: ${TOTAL:-?}"

# search terms a support agent would type; each one is checked to match >= 1 user
terms=(Schmidt Müller Weiß Schröder Zimmermann schmidt Anna Jürgen Katharina Łukasz Zoë Özlem
	posteo t-online mailbox.org mueller weiss)
for k in $((USERS / 7)) $((USERS / 3)) $((USERS * 2 / 3)); do
	t=$(printf 'cust_%07d' "$k")
	terms+=("${t:0:10}")
done
terms+=("$(printf 'cust_%07d' $((USERS / 2)))")
: >"$SAMPLE/terms.txt"
printf 'term\tX-Total-Count\tms (one request, idle server)\n' >"$OUT/search-terms.tsv"
DROPPED=""
for t in "${terms[@]}"; do
	e=$(urlencode "$t")
	r=$(curl -sS --max-time 60 -H "$AUTH" -D "$SAMPLE/page.h" -o "$SAMPLE/page" \
		-w '%{http_code} %{time_total}' "$API/users?search=$e&limit=20") || r="000 0"
	st=${r% *}
	n=$(header_of X-Total-Count "$SAMPLE/page")
	printf '%s\t%s\t%s\n' "$t" "${n:-status $st}" "$(awk -v s="${r#* }" 'BEGIN { printf "%.1f", s * 1000 }')" \
		>>"$OUT/search-terms.tsv"
	if [ "$st" = 200 ] && [ "${n:-0}" -gt 0 ]; then
		echo "$e" >>"$SAMPLE/terms.txt"
	else
		DROPPED+=" $t(status $st, count ${n:-?})"
	fi
done
[ -z "$DROPPED" ] || log "warning: search terms that match nobody, left out:$DROPPED"
[ -s "$SAMPLE/terms.txt" ] || die "no search term matches a user"

# the static object for nginx: one real user, as fleetdesk returns it
mkdir -p "$OUT/nginx/html" "$OUT/nginx/tmp"
uid=$(head -n1 "$SAMPLE/ids.txt")
st=$(api_get "$API/users/$uid" "$OUT/nginx/html/user.json")
[ "$st" = 200 ] || die "GET one user answered $st"
read -r FD_HDR FD_BODY < <(curl -s --max-time 10 -H "$AUTH" -o /dev/null \
	-w '%{size_header} %{size_download}\n' "$API/users/$uid")
echo /user.json >"$SAMPLE/static.path"

# --- 3. the scenarios -------------------------------------------------------
NONCE=${NONCE:-$(date +%s%N)$RANDOM} # unique per run; settable only to test the error flagging
declare -A RPS P50 P99 NON2XX SOCKERR STATUSES HWM_AFTER ROUNDS_RPS ROUNDS_P99
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
# waits (at most IDLE_WAIT s) until the machine is idle, so that nothing else shares the
# 2 cores with wrk and the server
wait_idle() {
	local i b=0
	for ((i = 0; i < ${IDLE_WAIT:-60}; i++)); do
		b=$(cpu_busy)
		[ "$b" -le "$IDLE_MAX" ] && break
	done
	[ "$b" -le "$IDLE_MAX" ] || log "warning: the machine is still $b % busy; starting $1 anyway"
}
IDLE_MAX=${IDLE_MAX:-10}
declare -A OTHERS SRVCPU

# CPU ticks: the machine's "total busy(user+nice+system)", a set of pids' utime+stime,
# and this shell's waited-for children (wrk) from `times`
machine_ticks() { head -n1 /proc/stat | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $2 + $3 + $4 }'; }
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

# runs wrk with the Lua script; fills RPS/P50/P99/NON2XX/SOCKERR/OTHERS for $1.
# $4... are the server's pids: the CPU they and wrk do not use during the run is the share
# of other processes (OTHERS, in % of the machine), which makes a run suspect.
run_wrk() {
	local name=$1 url=$2 scenario=$3 out=$OUT/wrk-$1.txt line
	shift 3
	wait_idle "$name"
	log "wrk $name (${DURATION}s)"
	local m0 s0 c0 m1 s1 c1
	child_ticks >"$OUT/.ticks"
	c0=$(<"$OUT/.ticks")
	m0=$(machine_ticks) s0=$(pid_ticks "$@")
	timeout $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --latency --timeout 10s \
		-s "$LUA" "$url" -- "$scenario" "$ORG" "$TOKEN" "$SAMPLE" "$NONCE-$name" >"$out" 2>&1 ||
		die "wrk $name failed: $(tail -n5 "$out")"
	m1=$(machine_ticks) s1=$(pid_ticks "$@")
	child_ticks >"$OUT/.ticks"
	c1=$(<"$OUT/.ticks")
	OTHERS[$name]=$(awk -v a="$m0" -v b="$m1" -v ds=$((s1 - s0)) -v dc=$((c1 - c0)) 'BEGIN {
		split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]; o = (y[2] - x[2]) - ds - dc
		if (o < 0) o = 0; printf "%.0f", (dt > 0 ? 100 * o / dt : 0) }')
	SRVCPU[$name]=$(awk -v t=$((s1 - s0)) -v w=$((c1 - c0)) -v a="$m0" -v b="$m1" 'BEGIN {
		split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]; printf "%.0f/%.0f", (dt > 0 ? 100 * t / dt : 0), (dt > 0 ? 100 * w / dt : 0) }')
	line=$(grep '^BENCH ' "$out" | tail -n1)
	[ -n "$line" ] || die "wrk $name printed no summary: $(tail -n5 "$out")"
	local -A f=()
	local kv
	for kv in ${line#BENCH }; do f[${kv%%=*}]=${kv#*=}; done
	RPS[$name]=$(awk -v r="${f[requests]}" -v d="${f[duration_us]}" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
	P50[$name]=$(awk -v u="${f[p50_us]}" 'BEGIN { printf "%.2f", u / 1000 }')
	P99[$name]=$(awk -v u="${f[p99_us]}" 'BEGIN { printf "%.2f", u / 1000 }')
	NON2XX[$name]=${f[status_errors]}
	# wrk's own line, as a cross-check of the Lua counter
	local w
	w=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$out")
	[ -n "$w" ] && [ "$w" -gt "${NON2XX[$name]}" ] && NON2XX[$name]=$w
	SOCKERR[$name]=$((f[connect_errors] + f[read_errors] + f[write_errors] + f[timeouts]))
}

# --- 5. nginx, the static limit -----------------------------------------------
NPORT=$(free_port "$PORT") || die "no free port for nginx"
NPREFIX=$OUT/nginx
user_line=""
[ "$(id -u)" = 0 ] && user_line="user www-data www-data;"
sed -e "s|@PREFIX@|$NPREFIX|g" -e "s|@PORT@|$NPORT|g" -e "s|@USER_LINE@|$user_line|" \
	bench/nginx.conf.in >"$NPREFIX/nginx.conf"
log "starting nginx on 127.0.0.1:$NPORT"
"$NGINX" -p "$NPREFIX/" -c "$NPREFIX/nginx.conf" -e "$NPREFIX/error.log" >"$NPREFIX/stdout.log" 2>&1 &
NGX_PID=$!
for ((i = 0; i < 100; i++)); do
	kill -0 "$NGX_PID" 2>/dev/null || die "nginx exited at start: $(tail -n3 "$NPREFIX/error.log" "$NPREFIX/stdout.log")"
	curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$NPORT/user.json" && break
	sleep 0.1
done
read -r NG_HDR NG_BODY NG_TYPE < <(curl -sf --max-time 10 -H "$AUTH" -o /dev/null \
	-w '%{size_header} %{size_download} %{content_type}\n' "http://127.0.0.1:$NPORT/user.json") ||
	die "nginx does not serve /user.json"
[ "$NG_TYPE" = application/json ] || die "nginx serves /user.json as '$NG_TYPE'"
scenario_url=$HOST
for s in $SCENARIOS; do
	case $s in get-user | list-page | search | search-cold | create | update) ;; *) die "unknown scenario $s" ;; esac
done

# The machine is noisy: every scenario, nginx included, runs ROUNDS times,
# interleaved, and the report quotes medians (the get-user/nginx ratio is the
# median of the ratios of the same rounds).
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# Reads first, writes last: the creates add users (with digit-rich emails)
# that would change what later rounds of the read scenarios search through.
READS="" WRITES=""
for s in $SCENARIOS; do
	case $s in create | update) WRITES+=" $s" ;; *) READS+=" $s" ;; esac
done
ORDER=()
for ((round = 1; round <= ROUNDS; round++)); do
	for s in $READS nginx-static; do ORDER+=("$s $round"); done
done
for ((round = 1; round <= ROUNDS; round++)); do
	for s in $WRITES; do ORDER+=("$s $round"); done
done
RATIOS=()
for item in "${ORDER[@]}"; do
	s=${item% *} round=${item#* } name="${item% *}-r${item#* }"
	if [ "$s" = nginx-static ]; then
		# shellcheck disable=SC2046
		run_wrk "$name" "http://127.0.0.1:$NPORT" static "$NGX_PID" $(pgrep -P "$NGX_PID" || true)
		continue
	fi
	metric_lines >"$OUT/metrics-before-$name.txt"
	run_wrk "$name" "$scenario_url" "$s" "$SRV_PID"
	metric_lines >"$OUT/metrics-after-$name.txt"
	# the statuses the server counted during the run, other than 2xx
	# (wrk itself counts only statuses >= 400)
	counted=$(awk '
		{ split($0, a, " "); key = a[1]; val = a[2] }
		FNR == NR { before[key] = val; next }
		{ d = val - before[key]; if (d > 0 && key !~ /status="2/ && key !~ /route="metrics"/) {
			st = key; sub(/.*status="/, "", st); sub(/".*/, "", st); n[st] += d; total += d } }
		END { printf "%d", total; for (k in n) printf "%s%s x %d", (c++ ? ", " : " "), k, n[k] }' \
		"$OUT/metrics-before-$name.txt" "$OUT/metrics-after-$name.txt")
	STATUSES[$name]=""
	case $counted in *" "*) STATUSES[$name]=${counted#* } ;; esac
	[ "${counted%% *}" -gt "${NON2XX[$name]}" ] && NON2XX[$name]=${counted%% *}
	HWM_AFTER[$s]=$(vm VmHWM)
done
case " $SCENARIOS " in *" get-user "*)
	for ((round = 1; round <= ROUNDS; round++)); do
		RATIOS+=("$(awk -v a="${RPS[get-user-r$round]}" -v b="${RPS[nginx-static-r$round]}" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }')")
	done ;;
esac
for s in $SCENARIOS nginx-static; do
	rps=() p50=() p99=() n2=0 se=0 oth=0 sts=""
	for ((round = 1; round <= ROUNDS; round++)); do
		name="$s-r$round"
		rps+=("${RPS[$name]}") p50+=("${P50[$name]}") p99+=("${P99[$name]}")
		n2=$((n2 + NON2XX[$name])) se=$((se + SOCKERR[$name]))
		[ "${OTHERS[$name]}" -gt "$oth" ] && oth=${OTHERS[$name]}
		sts+="${STATUSES[$name]:-}"
	done
	RPS[$s]=$(median "${rps[@]}") P50[$s]=$(median "${p50[@]}") P99[$s]=$(median "${p99[@]}")
	NON2XX[$s]=$n2 SOCKERR[$s]=$se OTHERS[$s]=$oth STATUSES[$s]=$sts
	SRVCPU[$s]=${SRVCPU[$s-r$ROUNDS]}
	ROUNDS_RPS[$s]="${rps[*]}" ROUNDS_P99[$s]="${p99[*]}"
done

# --- 4. peak RSS --------------------------------------------------------------
HWM_KB=$(vm VmHWM)
RSS_KB=$(vm VmRSS)
curl -s --max-time 10 "$HOST/metrics" >"$OUT/metrics-final.txt" || true

kill -QUIT "$NGX_PID" 2>/dev/null || true
wait_exit "$NGX_PID" 10 || kill -KILL "$NGX_PID" 2>/dev/null || true
NGX_PID=""

# --- 7. stop the server -------------------------------------------------------
kill -TERM "$SRV_PID"
srv_rc=0
wait_exit "$SRV_PID" 20 || srv_rc=$?
SRV_PID=""
case $srv_rc in
0) SRV_STOP="exited 0 on SIGTERM" ;;
124) SRV_STOP="did not exit within 20 s of SIGTERM (killed)" ;;
*) SRV_STOP="exited with status $srv_rc on SIGTERM" ;;
esac

# --- 6. the report --------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

FLAGS=()
row() {
	local s=$1 label=$2 mark=""
	if [ "${NON2XX[$s]:-0}" -gt 0 ] || [ "${SOCKERR[$s]:-0}" -gt 0 ]; then
		mark=" ⚠"
		FLAGS+=("$label: ${NON2XX[$s]} non-2xx responses${STATUSES[$s]:+ (${STATUSES[$s]})}, ${SOCKERR[$s]} socket errors/timeouts")
	fi
	printf '| %s%s | %s | %s | %s | %s |\n' "$label" "$mark" "$(commas "${RPS[$s]}")" "${P50[$s]}" "${P99[$s]}" "${NON2XX[$s]}"
}
clean() { [ -n "${RPS[$1]:-}" ] && [ "${NON2XX[$1]:-0}" -eq 0 ] && [ "${SOCKERR[$1]:-0}" -eq 0 ]; }
busy() { [ "${OTHERS[$1]:-0}" -gt "$IDLE_MAX" ]; }
goal() { # text, measured, result, scenarios it rests on
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
verdict() { if "$@"; then echo met; else echo "**not met**"; fi; }

RATIO=0
[ "${#RATIOS[@]}" -gt 0 ] && RATIO=$(median "${RATIOS[@]}")
HWM_MB=$(mb "$HWM_KB")
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src 2>/dev/null || COMMIT+=" + uncommitted changes in src/"

{
	echo "## fleetdesk benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "$(commas "$USERS") users (db $(commas "$DB_MB") MB), \`wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency\`," \
		"\`fleetdesk serve --threads $THREADS --access-log off\`, $(nproc) CPUs shared by wrk and the server, build $COMMIT."
	echo
	echo "| scenario | req/s | p50 ms | p99 ms | non-2xx |"
	echo "|---|---:|---:|---:|---:|"
	for s in $SCENARIOS; do row "$s" "$s"; done
	row nginx-static "nginx static"
	echo
	echo "- get-user / nginx static: **$RATIO %** (median of the rounds' ratios: ${RATIOS[*]:-n/a} %)"
	echo "- each figure is the median of $ROUNDS interleaved rounds; req/s per round:" \
		"$(for s in $SCENARIOS nginx-static; do printf '%s %s; ' "$s" "${ROUNDS_RPS[$s]}"; done | sed 's/; $//')"
	echo "- p99 ms per round: $(for s in $SCENARIOS nginx-static; do printf '%s %s; ' "$s" "${ROUNDS_P99[$s]}"; done | sed 's/; $//')"
	echo "- peak RSS of the server (VmHWM, whole run): **$(mib "$HWM_KB") MiB** ($HWM_MB MB); VmRSS at the end $(mib "$RSS_KB") MiB;" \
		"VmHWM after each scenario: $(for s in $SCENARIOS; do printf '%s %s MiB; ' "$s" "$(mib "${HWM_AFTER[$s]}")"; done | sed 's/; $//')"
	echo "- load: $(commas "$USERS") users with \`fleetdesk demo\` in **${LOAD_SECS} s** ($LOAD_NOTE)"
	echo "- response sizes: fleetdesk get-user $((FD_HDR + FD_BODY)) B ($FD_HDR header + $FD_BODY body)," \
		"nginx $((NG_HDR + NG_BODY)) B ($NG_HDR header + $NG_BODY body)"
	echo "- sample: $NIDS user ids, $NCURSORS list cursors, $(wc -l <"$SAMPLE/terms.txt") search terms" \
		"(their match counts: bench/out/search-terms.tsv)"
	echo "- server: $SRV_STOP"
	echo "- CPU, in % of the whole machine (2 cores = 100 %), server / wrk / other processes during each run:" \
		"$(for s in $SCENARIOS nginx-static; do printf '%s %s/%s; ' "$s" "${SRVCPU[$s]}" "${OTHERS[$s]}"; done | sed 's/; $//')" \
		"(others must stay under $IDLE_MAX %, or the run is flagged)"
	echo
	echo "| goal | measured | result |"
	echo "|---|---|---|"
	if clean get-user && clean nginx-static; then
		goal "get-user >= 50 % of nginx static" "$RATIO %" "$(verdict ge "$RATIO" 50)" get-user nginx-static
	else
		goal "get-user >= 50 % of nginx static" "$RATIO %" "**not met** (run had errors or did not run)"
	fi
	if clean get-user; then
		goal "get-user >= 30,000 req/s" "$(commas "${RPS[get-user]}") req/s" "$(verdict ge "${RPS[get-user]}" 30000)" get-user
	else
		goal "get-user >= 30,000 req/s" "$(commas "${RPS[get-user]:-0}") req/s" "**not met** (run had errors or did not run)"
	fi
	for s in search search-cold list-page; do
		case " $SCENARIOS " in *" $s "*) ;; *) continue ;; esac
		if clean "$s"; then
			goal "$s p99 < 20 ms" "${P99[$s]} ms" "$(verdict lt "${P99[$s]}" 20)" "$s"
		else
			goal "$s p99 < 20 ms" "${P99[$s]:-n/a} ms" "**not met** (run had errors or did not run)"
		fi
	done
	goal "peak RSS < 100 MB" "$HWM_MB MB" "$(verdict lt "$HWM_MB" 100)"
	if [ "$USERS" -lt 1000000 ]; then
		echo
		echo "(The goals are stated for 1,000,000 users; this run had $(commas "$USERS").)"
	fi
	for s in $SCENARIOS nginx-static; do
		if busy "$s"; then
			FLAGS+=("${s/nginx-static/nginx static}: other processes used ${OTHERS[$s]} % of the machine's CPU during the run")
		fi
	done
	if [ "${#FLAGS[@]}" -gt 0 ]; then
		echo
		echo "**Flagged** (these figures are not valid measurements):"
		for f in "${FLAGS[@]}"; do echo "- $f"; done
	fi
	[ -z "$DROPPED" ] || {
		echo
		echo "Search terms left out because they matched nobody:$DROPPED"
	}
} | tee "$OUT/latest.md"
log "wrote bench/out/latest.md; raw wrk output in bench/out/wrk-*.txt"
