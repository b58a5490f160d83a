"""A fault-injecting HTTP proxy for the black-box tests of the client.

It stands in front of a real fleetdesk server and forwards every request to
it, except when its plan says otherwise.  A plan is a list of rules, each a
predicate on (method, path) and a list of actions used in turn (cycling) by
the requests the rule matches:

  "pass"          forward, relay the reply
  "429:S"         answer 429 with Retry-After: S, without forwarding
  "503"           answer 503, without forwarding
  "502", "504"    the same with that status
  "503-after"     forward (the server applies the request), then answer 503
                  instead of the server's reply: the reply is lost
  "drop-after"    forward, then close the connection without any reply
  "drop"          close the connection without forwarding
  "empty:S"       forward, and relay the reply saying the rate-limit bucket is
                  empty: RateLimit r=0;t=S, no RateLimit-Policy

With upstream_host_header, the proxy sends the upstream's own Host, so the
server's Link headers name the server itself, not the proxy.

The two "-after" faults are the ones only an Idempotency-Key makes safe to
retry.  The proxy records what it saw (per action, the Idempotency-Key of
each POST, and the replies the server marked Idempotent-Replayed) so a test
can check the client retried with the same key.

Python standard library only.
"""

import http.client
import http.server
import json
import threading

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "expect", "content-length"}


class Rule:
    def __init__(self, match, actions):
        self.match = match
        self.actions = list(actions)
        self.n = 0


class FaultProxy:
    def __init__(self, upstream_host, upstream_port, rules=(), upstream_host_header=False):
        """rules: (predicate(method, path), [action, ...]) pairs; the first that matches decides."""
        self.upstream = (upstream_host, upstream_port)
        self.host_header = "%s:%d" % self.upstream if upstream_host_header else None
        self.rules = [Rule(m, a) for m, a in rules]
        self.lock = threading.Lock()
        self.counts = {}              # action -> how many times it was taken
        self.posts = []               # (path, Idempotency-Key or None, action, replayed)
        self.replayed = 0             # upstream replies with Idempotent-Replayed: true
        self.requests = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._handle(self)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a dropped connection is the plan
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # ---- lifecycle ---------------------------------------------------------
    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def count(self, action):
        with self.lock:
            return self.counts.get(action, 0)

    # ---- the plan ----------------------------------------------------------
    def _decide(self, method, path):
        with self.lock:
            self.requests += 1
            for r in self.rules:
                if r.match(method, path):
                    a = r.actions[r.n % len(r.actions)]
                    r.n += 1
                    break
            else:
                a = "pass"
            self.counts[a] = self.counts.get(a, 0) + 1
            return a

    # ---- one request ---------------------------------------------------------
    @staticmethod
    def _reply(h, status, headers=(), body=b""):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    @staticmethod
    def _problem(status, detail, extra=()):
        body = json.dumps({"type": "urn:faultproxy:injected", "title": "Injected fault",
                           "status": status, "detail": detail}).encode()
        return [("Content-Type", "application/problem+json")] + list(extra), body

    def _forward(self, h, body):
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
            if self.host_header:
                headers = {k: v for k, v in headers.items() if k.lower() != "host"}
                headers["Host"] = self.host_header
            if body or h.command in ("POST", "PUT"):
                headers["Content-Length"] = str(len(body))
            conn.request(h.command, h.path, body=body if body else None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP], data
        finally:
            conn.close()

    def _handle(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        action = self._decide(h.command, h.path)
        key = h.headers.get("Idempotency-Key")
        if action.startswith("429:"):
            hdrs, b = self._problem(429, "injected: slow down", [("Retry-After", action[4:])])
            self._reply(h, 429, hdrs, b)
        elif action in ("502", "503", "504"):
            hdrs, b = self._problem(int(action), "injected: unavailable")
            self._reply(h, int(action), hdrs, b)
        elif action == "drop":
            h.close_connection = True
            h.wfile.flush()
            h.connection.shutdown(2)
        else:
            status, hdrs, data = self._forward(h, body)
            replayed = any(k.lower() == "idempotent-replayed" and v.lower() == "true" for k, v in hdrs)
            with self.lock:
                if replayed:
                    self.replayed += 1
                if h.command == "POST":
                    self.posts.append((h.path, key, action, replayed))
            if action == "503-after":
                hdrs2, b = self._problem(503, "injected: the reply was lost")
                self._reply(h, 503, hdrs2, b)
            elif action == "drop-after":
                h.close_connection = True
                h.connection.shutdown(2)
            elif action.startswith("empty:"):
                hdrs = [(k, v) for k, v in hdrs if not k.lower().startswith("ratelimit")]
                hdrs.append(("RateLimit", '"per-credential";r=0;t=%s' % action[6:]))
                self._reply(h, status, hdrs, data)
            else:
                self._reply(h, status, hdrs, data)
            return
        if h.command == "POST":
            with self.lock:
                self.posts.append((h.path, key, action, False))
