#!/usr/bin/python3
"""bench/typing.py - search as you type in the web app, at 1,000,000 users (issue 5).

The web app's users list sends one request per keystroke:
GET /users?search=PREFIX&limit=50&count_limit=10000 (the page size and the
count limit the app uses), with the session cookie, and shows the page with
its X-Total-Count ("10,000+" beyond the limit). This script signs
in like the app, then "types" TERMS terms one character at a time, one
request at a time (an agent typing; no concurrency), and reports the latency
of every keystroke: by prefix length, and with the app's other list
variants (needs_attention=true, sort=last_name).

    bench/typing.py                 # bench/data/devices.db (1M users, 3M devices; see bench/devices.sh)
    DB=bench/data/bench.db bench/typing.py
    TERMS=60 bench/typing.py

Environment: DB (the database; served in place, it gains a staff account),
TERMS (terms typed per variant, 40), SEED (1). Terms are the last names,
first names, e-mail local parts and customer numbers of users sampled at
random places of the list, so they have the data's real spread of matches.
Prints a Markdown table; the target is every keystroke under 100 ms.
"""
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("FLEETDESK_BIN", os.path.join(ROOT, "build", "fleetdesk"))
DB = os.environ.get("DB", os.path.join(ROOT, "bench", "data", "devices.db"))
TERMS = int(os.environ.get("TERMS", "40"))
SEED = int(os.environ.get("SEED", "1"))
EMAIL = "typing.bench@bench.fleetdesk.example"
PASSWORD = "typing-bench-password"
API = "/api/partners/v2.0"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def org_of(db):
    meta = os.path.splitext(db)[0] + ".json"
    with open(meta) as f:
        return json.load(f)["org_id"]


class Client:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = None
        self.csrf = None

    def req(self, method, path, body=None):
        h = {"Accept": "application/json"}
        if self.cookie:
            h["Cookie"] = self.cookie
        if body is not None:
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        dt = (time.perf_counter() - t0) * 1000
        return r, data, dt


def terms_from(client, org, rnd):
    """Terms from users at random places of the list (a cursor per place)."""
    out = []
    total = None
    path = "%s/org/%s/users?limit=1000" % (API, org)
    r, data, _ = client.req("GET", path)
    assert r.status == 200, (r.status, data[:300])
    total = int(r.getheader("X-Total-Count"))
    users = json.loads(data)
    nxt = r.getheader("Link")
    pages = 0
    while nxt and pages < 5:  # a few pages further on, through the cursor
        url = nxt.split(";")[0].strip("<> ")
        u = urllib.parse.urlsplit(url)
        r, data, _ = client.req("GET", u.path + "?" + u.query)
        users += json.loads(data)
        nxt = r.getheader("Link")
        pages += 1
    rnd.shuffle(users)
    kinds = ["last_name", "first_name", "email", "external_user_id"]
    for i, u in enumerate(users):
        if len(out) >= TERMS:
            break
        k = kinds[i % len(kinds)]
        v = u.get(k) or ""
        if k == "email":
            v = v.split("@")[0]
        if len(v) >= 3:
            out.append(v[:12])
    return out, total


def main():
    if not os.path.exists(DB):
        sys.exit("typing.py: no %s: run bench/devices.sh first (or set DB=)" % DB)
    org = org_of(DB)
    subprocess.run([BIN, "--db", DB, "staff", "create", "--org", org, "--email", EMAIL, "--role", "staff"],
                   input=PASSWORD + "\n", text=True, capture_output=True)  # exists already: fine
    port = free_port()
    srv = subprocess.Popen([BIN, "--db", DB, "serve", "--listen", "127.0.0.1:%d" % port, "--access-log", "off",
                            "--rate-limit", "0"], stderr=subprocess.DEVNULL)
    try:
        c = Client(port)
        for _ in range(200):
            try:
                r, _, _ = c.req("GET", "/healthz")
                if r.status == 200:
                    break
            except OSError:
                c = Client(port)
                time.sleep(0.1)
        r, data, signin_ms = c.req("POST", API + "/session", {"email": EMAIL, "password": PASSWORD})
        assert r.status == 201, (r.status, data)
        c.cookie = r.getheader("Set-Cookie").split(";")[0]
        rnd = random.Random(SEED)
        terms, total = terms_from(c, org, rnd)
        variants = [("search", ""), ("search + needs_attention", "&needs_attention=true"),
                    ("search + sort=last_name", "&sort=last_name")]
        rows = []
        all_ms = []
        by_len = {}
        slow = []
        for name, extra in variants:
            ms = []
            for t in terms:
                for n in range(1, len(t) + 1):
                    q = urllib.parse.quote(t[:n])
                    r, data, dt = c.req("GET", "%s/org/%s/users?search=%s&limit=50&count_limit=10000%s" % (
                        API, org, q, extra))
                    assert r.status == 200, (r.status, data[:300])
                    ms.append(dt)
                    by_len.setdefault(min(n, 6), []).append(dt)
                    slow.append((name, dt, t[:n], r.getheader("X-Total-Count")))
            all_ms += ms
            rows.append((name, ms))
        # the list without a search, as the app opens it, and its filters
        for name, q in [("first page (no search)", ""), ("needs_attention=true", "&needs_attention=true"),
                        ("deleted=true", "&deleted=true"), ("sort=-updated_at", "&sort=-updated_at")]:
            ms = []
            for _ in range(20):
                r, data, dt = c.req("GET", "%s/org/%s/users?limit=50&count_limit=10000%s" % (API, org, q))
                assert r.status == 200, (r.status, data[:300])
                ms.append(dt)
            rows.append((name, ms))
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=60)

    def pct(v, p):
        v = sorted(v)
        return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]

    print("users in the org: %d; terms typed: %d; sign-in (Argon2id) %.0f ms" % (total, len(terms), signin_ms))
    print()
    print("| requests | n | median ms | p95 ms | p99 ms | max ms | under 100 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, ms in rows:
        print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f %% |" % (
            name, len(ms), statistics.median(ms), pct(ms, 95), pct(ms, 99), max(ms),
            100.0 * sum(m < 100 for m in ms) / len(ms)))
    print()
    print("| prefix length | keystrokes | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for n in sorted(by_len):
        v = by_len[n]
        print("| %s | %d | %.1f | %.1f | %.1f |" % (str(n) if n < 6 else "6+", len(v), statistics.median(v),
                                                   pct(v, 95), max(v)))
    print()
    print("the slowest keystrokes of each kind (ms, prefix typed, X-Total-Count):")
    for name, _ in variants:
        worst = sorted((x for x in slow if x[0] == name), key=lambda x: -x[1])[:6]
        print("- %s: %s" % (name, ", ".join("%.0f `%s` (%s)" % (dt, q, tot) for _, dt, q, tot in worst)))
    print()
    under = 100.0 * sum(m < 100 for m in all_ms) / len(all_ms)
    print("every keystroke: %d requests, median %.1f ms, p99 %.1f ms, max %.1f ms; %.2f %% under 100 ms" % (
        len(all_ms), statistics.median(all_ms), pct(all_ms, 99), max(all_ms), under))


if __name__ == "__main__":
    main()
