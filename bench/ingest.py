#!/usr/bin/python3
"""ingest.py - batched ingest load for bench/devices.sh.

    ingest.py HOST ORG INTEGRATION_TOKEN DEVICES_FILE SHAPE CONCURRENCY DURATION [OFFSET]

POSTs /api/partners/v2.0/org/ORG/device-states with bodies of SHAPE = DxR:
D device reports of R readings each (15-minute intervals of one past UTC day),
from CONCURRENCY keep-alive connections, for DURATION seconds, and prints one line

  INGEST requests=.. readings=.. applied=.. failed=.. seconds=.. readings_per_s=.. p50_ms=.. p90_ms=.. p99_ms=..
         max_ms=.. body_bytes=.. errors=.. statuses=.. client_cpu_s=..

readings and applied are the sums of the responses' "readings" and "applied"
fields (what the server says it stored); readings_per_s divides by the time from
the first request to the last response. A request that fails (non-200, or a report
with status "error") is counted in errors / failed.

DEVICES_FILE has "user_id type-path device_id" lines (devices.sh's devices.txt).
Successive requests walk through the devices D at a time; every pass over the list
moves to another (day, 2-hour window): days 3..40 back (the demo's readings cover
the last 2 days), the R readings of a device one slice of the day's 96 intervals.
OFFSET (random if absent) shifts both, so that runs mostly write new rows instead
of replacing the same ones.
"""
import http.client
import itertools
import math
import json
import os
import random
import sys
import threading
import time
import urllib.parse

BODY_LIMIT = 1024 * 1024
DAYS_FIRST, DAYS_N = 3, 38


def main():
    host, org, token, devfile, shape, conc, duration = sys.argv[1:8]
    offset = int(sys.argv[8]) if len(sys.argv) > 8 else random.randrange(1 << 30)
    ndev, nread = (int(x) for x in shape.split("x"))
    conc, duration = int(conc), float(duration)
    if not (1 <= ndev <= 1000 and 1 <= nread <= 96):
        sys.exit("shape must be DxR with D 1..1000 and R 1..96")
    devices = []
    with open(devfile) as f:
        for line in f:
            p = line.split()
            if len(p) == 3:
                devices.append((p[2], p[1]))
    n = len(devices)
    if n < ndev:
        sys.exit("%s has %d devices, fewer than a batch of %d" % (devfile, n, ndev))
    windows = 96 // nread  # slices of a day per device
    today = int(time.time()) // 86400 * 86400
    cache = {}
    lock = threading.Lock()

    def readings(day, window, inverter, variant):
        """The JSON array of R readings of one device, for (day, window); memoised."""
        key = (day, window, inverter, variant)
        s = cache.get(key)
        if s is None:
            start = today - (DAYS_FIRST + day) * 86400 + window * nread * 900
            parts = []
            for k in range(nread):
                ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + k * 900))
                c = 0.05 + ((k * 7 + variant * 13) % 40) / 100.0
                if inverter:
                    pr = ((k * 11 + variant * 5) % 60) / 100.0
                    parts.append('{"timestamp":"%s","consumption_kwh":%.3f,"production_kwh":%.3f}' % (ts, c, pr))
                else:
                    parts.append('{"timestamp":"%s","consumption_kwh":%.3f}' % (ts, c))
            s = "[" + ",".join(parts) + "]"
            with lock:
                cache[key] = s
        return s

    def body(i):
        first = (offset + i * ndev) % n
        rnd = (offset // n + (i * ndev) // n)  # passes over the device list so far
        day = (offset + rnd // windows) % DAYS_N
        window = (offset + rnd) % windows
        reps = []
        for j in range(ndev):
            dev_id, typ = devices[(first + j) % n]
            reps.append('{"device_id":"%s","device_type":"%s","readings":%s}' % (
                dev_id, typ, readings(day, window, typ == "inverters", j % 4)))
        return ('{"reports":[' + ",".join(reps) + "]}").encode()

    b0 = body(0)
    if len(b0) > BODY_LIMIT * 0.95:
        sys.exit("a %s body is %d bytes, too close to the 1 MiB body limit" % (shape, len(b0)))

    u = urllib.parse.urlsplit(host)
    path = "/api/partners/v2.0/org/%s/device-states" % org
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    counter = itertools.count()
    stats = {"requests": 0, "readings": 0, "applied": 0, "failed": 0, "errors": 0, "bytes": 0}
    lat, statuses, last_done = [], {}, [0.0]
    first_err = []
    t_start = time.perf_counter()
    deadline = t_start + duration
    cpu0 = os.times()

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        loc = {"requests": 0, "readings": 0, "applied": 0, "failed": 0, "errors": 0, "bytes": 0}
        mylat, mystat = [], {}
        while time.perf_counter() < deadline:
            b = body(next(counter))
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=b, headers=hdr)
                r = conn.getresponse()
                data = r.read()
                st = r.status
            except (OSError, http.client.HTTPException) as e:
                st, data = 0, str(e).encode()
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
            t1 = time.perf_counter()
            mylat.append(t1 - t0)
            mystat[st] = mystat.get(st, 0) + 1
            loc["requests"] += 1
            loc["bytes"] += len(b)
            if st == 200:
                j = json.loads(data)
                loc["readings"] += j["readings"]
                loc["applied"] += j["applied"]
                loc["failed"] += j["failed"]
                if j["failed"] and not first_err:
                    bad = [x for x in j["results"] if x.get("status") != "success"]
                    first_err.append(json.dumps(bad[:1])[:400])
            else:
                loc["errors"] += 1
                if not first_err:
                    first_err.append("status %d: %s" % (st, data[:300]))
        with lock:
            for k, v in loc.items():
                stats[k] += v
            lat.extend(mylat)
            for k, v in mystat.items():
                statuses[k] = statuses.get(k, 0) + v
            last_done[0] = max(last_done[0], time.perf_counter())
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu1 = os.times()
    secs = max(last_done[0] - t_start, 1e-9)
    lat.sort()

    def pct(p):
        if not lat:
            return 0.0
        return lat[min(len(lat) - 1, max(0, math.ceil(p / 100.0 * len(lat)) - 1))] * 1000

    print("INGEST requests=%d readings=%d applied=%d failed=%d seconds=%.2f readings_per_s=%.0f "
          "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f body_bytes=%d errors=%d statuses=%s client_cpu_s=%.2f" % (
              stats["requests"], stats["readings"], stats["applied"], stats["failed"], secs,
              stats["readings"] / secs, pct(50), pct(90), pct(99), (lat[-1] * 1000 if lat else 0), len(b0),
              stats["errors"], ",".join("%s:%d" % kv for kv in sorted(statuses.items())),
              (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)))
    if first_err:
        print("first error: " + first_err[0], file=sys.stderr)


if __name__ == "__main__":
    main()
