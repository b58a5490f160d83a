#!/bin/sh
# bench/import.sh - times a CSV import of ROWS users (default 1,000,000) into
# an empty org, through the API: POST /users/import, then poll the job.
#
#   bench/import.sh                  # 1,000,000 rows
#   ROWS=100000 bench/import.sh      # a quick check
#
# Prints the job's figures and the wall time from the upload's start to the
# job's end; appends a line to bench/out/import.tsv. Data goes in bench/data/.
set -eu
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
PORT=${PORT:-18190}
BIN=build/fleetdesk
DATA=bench/data
OUT=bench/out
mkdir -p "$DATA" "$OUT"
make -s build/fleetdesk
DB="$DATA/import.db"
rm -rf "$DB" "$DB-wal" "$DB-shm" "$DB.jobs"
CSV="$DATA/import-$ROWS.csv"
if [ ! -s "$CSV" ]; then
	/usr/bin/python3 - "$ROWS" "$CSV" <<'PY'
import sys, random
n, path = int(sys.argv[1]), sys.argv[2]
random.seed(7)
first = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Lena", "Max",
         "Nora", "Oskar", "Paula", "Tim", "Zoë", "Jürgen", "Søren", "Élodie"]
last = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
        "Hoffmann", "de Vries", "Janssen", "Bakker", "Visser", "Smit", "O'Neill", "García"]
towns = [("10115", "Berlin", "DE"), ("20095", "Hamburg", "DE"), ("80331", "München", "DE"),
         ("1012", "Amsterdam", "NL"), ("1010", "Wien", "AT"), ("8001", "Zürich", "CH")]
with open(path, "w", encoding="utf-8") as f:
    f.write("email,first_name,last_name,external_user_id,street_and_number,zip_code,town,country_iso2\n")
    for i in range(n):
        fn, ln = random.choice(first), random.choice(last)
        z, t, c = random.choice(towns)
        f.write("%s.%s.%d@example.com,%s,%s,imp_%07d,\"Hauptstraße %d, Hof\",%s,%s,%s\n" % (
            fn.lower().replace("ë", "e").replace("ü", "u").replace("ø", "o").replace("é", "e"),
            ln.lower().replace(" ", "").replace("'", "").replace("ü", "u").replace("í", "i"),
            i, fn, ln, i, i % 200 + 1, z, t, c))
PY
fi
"$BIN" --db "$DB" demo --users 1 --devices-per-user 0 --reading-days 0 >"$DATA/import-demo.json"
TOKEN=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$DATA/import-demo.json")
ORG=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["org_id"])' "$DATA/import-demo.json")
"$BIN" --db "$DB" serve --listen 127.0.0.1:$PORT --access-log off --rate-limit 0 2>"$OUT/import-server.log" &
SRV=$!
# wait for the server to be gone: a server still closing would delete the next run's write-ahead log (SQLite
# removes the -wal of its last connection by name, and the next run recreates the database)
trap 'kill $SRV 2>/dev/null || true; wait $SRV 2>/dev/null || true' EXIT
sleep 1
BASE="http://127.0.0.1:$PORT/api/partners/v2.0/org/$ORG"
T0=$(date +%s.%N)
JOB=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @"$CSV" \
	"$BASE/users/import" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
T1=$(date +%s.%N)
while :; do
	J=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/jobs/$JOB")
	STATE=$(printf '%s' "$J" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
	case $STATE in succeeded | failed | cancelled) break ;; esac
	sleep 0.5
done
T2=$(date +%s.%N)
printf '%s\n' "$J" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
t0, t1, t2, rows = map(float, sys.argv[1:5])
print("rows %d: state %s, processed %d, succeeded %d, failed %d" % (rows, j["state"], j["processed"], j["succeeded"], j["failed"]))
print("upload %.1f s, job %.1f s (started %s, finished %s), total %.1f s, %.0f rows/s" % (t1 - t0, t2 - t1, j["started_at"], j["finished_at"], t2 - t0, rows / (t2 - t0)))
' "$T0" "$T1" "$T2" "$ROWS"
printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD)" "$ROWS" \
	"$(/usr/bin/python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$T0" "$T2")" >>"$OUT/import.tsv"
ls -la "$DB" | awk '{print "database " $5 " bytes"}'
