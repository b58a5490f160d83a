#!/usr/bin/python3
"""devices_sample.py - collects the sample bench/devices.sh runs on, from the running server.

    devices_sample.py HOST ORG TOKEN OUTDIR PAGES [CURSORS]

Reads GET /devices/counts for the fleet's size, then PAGES pages of
GET /devices?limit=1000 that start at random places in the table (a fleet cursor
is base64url({"n": seq}), the seq of the last device of the previous page; the
demo's devices have the seqs 1..total), and writes into OUTDIR:

  devices.txt         "user_id type-path device_id", the devices of every page, shuffled
  cursors.txt         CURSORS (2000) cursors at random places, plus an empty line (the first page)
  sample.json         {"total", "pages", "devices", "by_type", "page_ms": [..]}

Each page's user_id and device_type come from the API's own JSON. Exits non-zero
when a request fails.
"""
import base64
import http.client
import json
import random
import sys
import time
import urllib.parse


def cursor(n):
    raw = json.dumps({"n": n}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main():
    host, org, token, outdir, pages = sys.argv[1:6]
    ncursors = int(sys.argv[6]) if len(sys.argv) > 6 else 2000
    pages = int(pages)
    u = urllib.parse.urlsplit(host)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    base = "/api/partners/v2.0/org/" + org
    hdr = {"Authorization": "Bearer " + token}

    def get(path):
        conn.request("GET", base + path, headers=hdr)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit("GET %s answered %d: %s" % (path, r.status, body[:300]))
        return r, json.loads(body)

    _, counts = get("/devices/counts")
    total = counts["total"]
    if total < 1:
        sys.exit("the org has no devices")
    rng = random.Random()
    devices, page_ms, by_type = [], [], {}
    # the first page, then pages starting at random places
    starts = [0] + [rng.randrange(0, max(1, total - 1000)) for _ in range(pages - 1)]
    for s in starts:
        t0 = time.perf_counter()
        r, items = get("/devices?limit=1000" + ("&cursor=" + cursor(s) if s else ""))
        page_ms.append(round((time.perf_counter() - t0) * 1000, 1))
        if s == 0 and r.getheader("Link") is None and total > 1000:
            sys.exit("the first fleet page has no Link rel=next")
        for d in items:
            t = d["device_type"]
            by_type[t] = by_type.get(t, 0) + 1
            devices.append("%s %s %s" % (d["user_id"], t, d["id"]))
    devices = sorted(set(devices))
    rng.shuffle(devices)
    with open(outdir + "/devices.txt", "w") as f:
        f.write("\n".join(devices) + "\n")
    with open(outdir + "/cursors.txt", "w") as f:
        f.write("\n")
        for _ in range(ncursors):
            f.write(cursor(rng.randrange(1, total)) + "\n")
    with open(outdir + "/sample.json", "w") as f:
        json.dump({"total": total, "pages": pages, "devices": len(devices), "by_type": by_type,
                   "page_ms": page_ms, "counts": counts}, f)
    print("%d devices from %d pages (%s); fleet total %d; page of 1000: median %.1f ms" % (
        len(devices), pages, ", ".join("%s %d" % kv for kv in sorted(by_type.items())), total,
        sorted(page_ms)[len(page_ms) // 2]))


if __name__ == "__main__":
    main()
