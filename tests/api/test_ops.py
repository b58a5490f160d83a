"""Operations: /healthz, /metrics, openapi.json, X-Request-Id, access log."""

import json
import os
import re
import time
import unittest
import uuid

import harness
from harness import ApiTestCase, unique_email, uniq, API

harness.use_server(globals())


class HealthTest(ApiTestCase):
    def test_healthz_is_200_status_ok_without_a_token(self):
        r = self.S.get("/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))
        self.assertEqual(r.body, {"status": "ok"})
        self.assertTrue(r.headers.get("X-Request-Id"))


class HeadTest(ApiTestCase):
    def test_head_answers_like_get_without_a_body(self):
        org = self.S.org_create("Head Org")
        tok = org.token("admin")
        u = self.create_user(org, token=tok)
        g = self.S.get(org.user_path(u["id"]), token=tok)
        h = self.S.request("HEAD", org.user_path(u["id"]), token=tok)
        self.assertEqual(h.status, 200, h)
        self.assertEqual(h.raw, b"")
        self.assertEqual(h.headers.get("ETag"), g.headers.get("ETag"))
        self.assertEqual(h.headers.get("Content-Length"), str(len(g.raw)))
        self.assertEqual(self.S.request("HEAD", org.users, token=tok).headers.get("X-Total-Count"), "1")

    def test_head_without_a_token_is_401_like_get(self):
        org = self.S.org_create("Head Org 2")
        self.assertEqual(self.S.request("HEAD", org.users).status, 401)


class MetricsTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Metrics Org")
        cls.tok = cls.org.token("admin")

    def metrics(self):
        r = self.S.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/plain"), r)
        return r.body

    def samples(self, text, name):
        """{frozenset(labels.items()): value} for metric name."""
        out = {}
        for line in text.splitlines():
            m = re.match(r'^%s(\{([^}]*)\})?\s+(\S+)' % re.escape(name), line)
            if m:
                labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
                out[frozenset(labels.items())] = float(m.group(3))
        return out

    def test_metrics_are_prometheus_text_with_request_counter_and_histogram(self):
        self.S.get(self.org.users, token=self.tok)
        text = self.metrics()
        self.assertRegex(text, r"(?m)^# TYPE fleetdesk_http_requests_total counter$")
        self.assertRegex(text, r"(?m)^# TYPE fleetdesk_http_request_duration_seconds histogram$")
        counts = self.samples(text, "fleetdesk_http_requests_total")
        self.assertTrue(counts)
        for labels in counts:
            self.assertEqual({k for k, _ in labels}, {"route", "method", "status"}, labels)
        buckets = self.samples(text, "fleetdesk_http_request_duration_seconds_bucket")
        self.assertTrue(any(("le", "+Inf") in labels for labels in buckets), buckets)
        for labels in buckets:
            self.assertIn("route", dict(labels), labels)
        self.assertTrue(any(dict(l).get("route") == dict(c).get("route")
                            for l in buckets for c in counts))
        self.assertTrue(self.samples(text, "fleetdesk_http_request_duration_seconds_sum"))
        self.assertTrue(self.samples(text, "fleetdesk_http_request_duration_seconds_count"))

    def test_request_counter_grows_by_route_method_and_status(self):
        def users_get_200(text):
            return sum(v for labels, v in self.samples(text, "fleetdesk_http_requests_total").items()
                       if ("method", "GET") in labels and ("status", "200") in labels
                       and "users" in dict(labels).get("route", ""))
        before = users_get_200(self.metrics())
        for _ in range(3):
            self.assertEqual(self.S.get(self.org.users, token=self.tok).status, 200)
        # a request may be counted when it completes, just after its answer was sent
        deadline = time.time() + 3
        while True:
            after = users_get_200(self.metrics())
            if after - before >= 3 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(after - before, 3)

    def test_route_label_is_a_template_not_the_raw_path(self):
        u = self.create_user(self.org, token=self.tok)
        self.S.get(self.org.user_path(u["id"]), token=self.tok)
        self.S.get(self.org.user_path(str(uuid.uuid4())), token=self.tok)
        text = self.metrics()
        self.assertNotIn(self.org.id, text)
        self.assertNotIn(u["id"], text)
        statuses = {dict(l)["status"] for l in self.samples(text, "fleetdesk_http_requests_total")}
        self.assertIn("404", statuses)


class OpenApiTest(ApiTestCase):
    def doc(self):
        r = self.S.get(API + "/openapi.json")
        self.assertEqual(r.status, 200, r)
        self.assertIn("json", r.headers.get("Content-Type", ""))
        self.assertIsInstance(r.body, dict, r)
        return r.body

    def find_path(self, doc, suffix):
        servers = [s.get("url", "") for s in doc.get("servers", [])] or [""]
        for p in doc.get("paths", {}):
            for base in servers + [""]:
                full = re.sub(r"^https?://[^/]+", "", base).rstrip("/") + p
                norm = re.sub(r"\{[^}]+\}", "{}", full)
                if norm.endswith(re.sub(r"\{[^}]+\}", "{}", suffix)) and (
                        norm == re.sub(r"\{[^}]+\}", "{}", suffix) or not suffix.startswith("/api")):
                    return doc["paths"][p]
        return None

    def test_openapi_is_3_1_and_describes_every_endpoint(self):
        doc = self.doc()
        self.assertTrue(str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi"))
        self.assertIn("info", doc)
        expected = {
            API + "/org/{org_id}/users": {"get", "post"},
            API + "/org/{org_id}/users/{user_id}": {"get", "put", "delete"},
            API + "/org/{org_id}/users/{user_id}/restore": {"post"},
            API + "/org/{org_id}/users/{user_id}/erase": {"post"},
            API + "/org/{org_id}/audit-log": {"get"},
            "/oauth2/token/": {"post"},
            "/healthz": {"get"},
            "/metrics": {"get"},
        }
        for path, methods in expected.items():
            with self.subTest(path=path):
                item = self.find_path(doc, path)
                if item is None and path.endswith("/"):
                    item = self.find_path(doc, path.rstrip("/"))
                self.assertIsNotNone(item, "%s missing from %s" % (path, sorted(doc.get("paths", {}))))
                self.assertTrue(methods <= set(item), (path, sorted(item)))

    def test_served_openapi_equals_the_repository_openapi_json(self):
        path = os.path.join(harness.REPO, "openapi.json")
        self.assertTrue(os.path.exists(path), "openapi.json is missing from the repository")
        with open(path) as f:
            self.assertEqual(json.load(f), self.doc())


class RequestIdTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("ReqId Org")
        cls.tok = cls.org.token("admin")

    def test_every_response_carries_a_request_id(self):
        u = self.create_user(self.org, token=self.tok)
        etag = self.S.get(self.org.user_path(u["id"]), token=self.tok).headers["ETag"]
        responses = [
            self.S.get("/healthz"),
            self.S.get("/metrics"),
            self.S.get(self.org.users, token=self.tok),
            self.S.get(self.org.users),                                     # 401
            self.S.get(self.org.users, token=self.org.token("user")),       # 403
            self.S.get(self.org.user_path(uuid.uuid4()), token=self.tok),   # 404
            self.S.request("DELETE", self.org.users, token=self.tok),       # 405
            self.S.get(self.org.user_path(u["id"]), token=self.tok, headers={"If-None-Match": etag}),
            self.S.request("POST", self.org.users, raw="{", token=self.tok),  # 400
            self.S.request("DELETE", self.org.user_path(u["id"]), token=self.tok),  # 204
            self.S.get("/no/such/path"),
        ]
        ids = []
        for r in responses:
            with self.subTest(status=r.status):
                rid = r.headers.get("X-Request-Id")
                self.assertIsNotNone(rid, r)
                self.assertRegex(rid, harness.REQ_ID_RE)
                ids.append(rid)
        self.assertEqual(len(ids), len(set(ids)), "generated request ids repeat")

    def test_valid_incoming_request_id_is_kept(self):
        for rid in ("abc", "A.b_c-1", "x" * 64, "0", uuid.uuid4().hex):
            with self.subTest(rid=rid):
                r = self.S.get(self.org.users, token=self.tok, headers={"X-Request-Id": rid})
                self.assertEqual(r.headers.get("X-Request-Id"), rid)

    def test_invalid_incoming_request_id_is_replaced(self):
        for rid in ("x" * 65, "has space", "semi;colon", "quote\"", "slash/x", "ümlaut"):
            with self.subTest(rid=rid):
                try:
                    r = self.S.get(self.org.users, token=self.tok, headers={"X-Request-Id": rid})
                except UnicodeEncodeError:
                    r = self.S.get(self.org.users, token=self.tok,
                                   headers={"X-Request-Id": rid.encode("utf-8").decode("latin-1")})
                got = r.headers.get("X-Request-Id")
                self.assertTrue(got)
                self.assertNotEqual(got, rid)
                self.assertRegex(got, harness.REQ_ID_RE)

    def test_problem_body_request_id_equals_the_header(self):
        r = self.S.get(self.org.user_path(uuid.uuid4()), token=self.tok, headers={"X-Request-Id": "prob-123"})
        self.assertProblem(r, 404)
        self.assertEqual(r.body["request_id"], "prob-123")
        r = self.S.get(self.org.user_path(uuid.uuid4()), token=self.tok)
        self.assertEqual(r.body["request_id"], r.headers["X-Request-Id"])


class KeepAliveTest(ApiTestCase):
    """Several requests on one connection: an error answer must not leave
    its unread body behind to be parsed as the next request."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("KeepAlive Org")
        cls.tok = cls.org.token("admin")

    def test_requests_after_error_answers_on_one_connection_are_answered_correctly(self):
        import http.client
        auth = {"Authorization": "Bearer " + self.tok}
        bodies = [
            ("POST", self.org.users, json.dumps({"email": unique_email()}), "text/plain", 415),
            ("POST", self.org.users, '{"email": ', "application/json", 400),
            ("POST", self.org.users, json.dumps({"email": "bad"}), "application/json", 422),
            ("DELETE", self.org.users, "GET /healthz HTTP/1.1\r\n\r\n", "application/json", 405),
            ("POST", self.org.users, json.dumps({"email": unique_email()}), "application/json", 201),
        ]
        conn = http.client.HTTPConnection(self.S.host, self.S.port, timeout=10)
        try:
            for method, path, body, ctype, expected in bodies:
                with self.subTest(expected=expected):
                    conn.request(method, path, body=body.encode(),
                                 headers=dict(auth, **{"Content-Type": ctype}))
                    r = conn.getresponse()
                    r.read()
                    self.assertEqual(r.status, expected)
                    closing = (r.getheader("Connection") or "").lower() == "close"
                    if closing:
                        conn.close()
                        conn = http.client.HTTPConnection(self.S.host, self.S.port, timeout=10)
                    conn.request("GET", self.org.users + "?limit=1", headers=auth)
                    r2 = conn.getresponse()
                    r2.read()
                    self.assertEqual(r2.status, 200)
                    self.assertEqual(r2.getheader("X-Total-Count") is not None, True)
        finally:
            conn.close()


class LoadTest(ApiTestCase):
    def test_fifty_concurrent_requests_are_all_answered(self):
        import threading
        org = self.S.org_create("Load Org")
        tok = org.token("admin")
        results = []
        barrier = threading.Barrier(50)

        def go(i):
            barrier.wait()
            if i % 2:
                r = self.S.request("POST", org.users, body={"email": unique_email("load")}, token=tok)
            else:
                r = self.S.get(org.users + "?limit=5", token=tok)
            results.append(r.status)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(results), [200] * 25 + [201] * 25)
        r = self.S.get(org.users + "?limit=1", token=tok)
        self.assertEqual(r.headers.get("X-Total-Count"), "25")


class AccessLogStderrTest(ApiTestCase):
    def test_access_log_dash_writes_json_lines_to_stderr_and_off_writes_none(self):
        for mode in ("-", "off"):
            with self.subTest(mode=mode):
                s = harness.Server()
                try:
                    s.start(access_log=mode)
                    rid = "stderr-" + uniq("")
                    self.assertEqual(s.get("/healthz", headers={"X-Request-Id": rid}).status, 200)
                    self.assertEqual(s.stop(), 0)
                    err = s.stderr_tail(10 ** 6)
                    lines = [l for l in err.splitlines() if rid in l]
                    if mode == "-":
                        self.assertEqual(len(lines), 1, err)
                        self.assertIsInstance(json.loads(lines[0]), dict)
                    else:
                        self.assertEqual(lines, [])
                        self.assertFalse(os.path.exists(s.access_log))
                finally:
                    s.stop()
                    s.cleanup()


class AccessLogTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Log Org")
        cls.tok = cls.org.token("admin")
        cls.tok_id = cls.org.token_id("admin")

    def lines_for(self, rid, timeout=3.0):
        deadline = time.time() + timeout
        while True:
            found = []
            if os.path.exists(self.S.access_log):
                with open(self.S.access_log, encoding="utf-8") as f:
                    for line in f:
                        if rid in line:
                            found.append(line)
            if found or time.time() > deadline:
                return found
            time.sleep(0.05)

    def all_text(self):
        with open(self.S.access_log, encoding="utf-8") as f:
            return f.read()

    def test_one_json_line_per_request_with_the_documented_fields(self):
        rid = "log-" + uniq("")
        term = uniq("secretsearch")
        r = self.S.get(self.org.users + "?search=" + term, token=self.tok, headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 200, r)
        lines = self.lines_for(rid)
        self.assertEqual(len(lines), 1, lines)
        rec = json.loads(lines[0])
        self.assertIsInstance(rec, dict)
        values = list(rec.values())
        for group in (("time", "ts"), ("method",), ("path",), ("route",), ("status",),
                      ("bytes", "size", "length"), ("duration", "dur", "latency", "elapsed"),
                      ("actor",), ("request",)):
            self.assertTrue(any(any(w in k.lower() for w in group) for k in rec),
                            "no %s field in %s" % (group[0], rec))
        self.assertIn(rid, values)
        self.assertIn("GET", values)
        self.assertIn(self.org.users, values)                 # path without the query string
        self.assertTrue(200 in values or "200" in values, rec)
        self.assertIn(self.tok_id, json.dumps(rec))
        self.assertNotIn(term, lines[0])
        self.assertFalse([v for v in values if isinstance(v, str) and "?" in v], rec)

    def test_log_never_holds_authorization_bodies_or_query_strings(self):
        rid = "nolog-" + uniq("")
        marker = uniq("bodymarker")
        self.S.request("POST", self.org.users, token=self.tok, headers={"X-Request-Id": rid},
                       body={"email": unique_email(), "first_name": marker})
        c = self.org.client()
        self.S.request("POST", "/oauth2/token/", body={"grant_type": "client_credentials"},
                       basic=(c["client_id"], c["client_secret"]), headers={"X-Request-Id": rid + "o"})
        self.assertTrue(self.lines_for(rid))
        self.assertTrue(self.lines_for(rid + "o"))
        text = self.all_text()
        self.assertNotIn(marker, text)
        self.assertNotIn(self.tok, text)
        self.assertNotIn(c["client_secret"], text)
        self.assertNotIn("Bearer", text)
        self.assertNotIn("Basic ", text)
        for s in self.S.secrets:
            self.assertNotIn(s, text)

    def test_every_line_is_a_json_object(self):
        self.S.get("/healthz", headers={"X-Request-Id": "lines-check"})
        self.assertTrue(self.lines_for("lines-check"))
        for line in self.all_text().splitlines():
            if line.strip():
                self.assertIsInstance(json.loads(line), dict, line)

    def test_error_responses_are_logged_with_their_status(self):
        rid = "err-" + uniq("")
        self.S.get(self.org.user_path(uuid.uuid4()), token=self.tok, headers={"X-Request-Id": rid})
        rec = json.loads(self.lines_for(rid)[0])
        self.assertTrue(404 in rec.values() or "404" in rec.values(), rec)


if __name__ == "__main__":
    unittest.main()


class MeTest(ApiTestCase):
    """GET /me: the caller's own credential, for clients that default the org to the token's."""

    def test_me_names_the_tokens_org_role_and_actor_for_every_role(self):
        org = self.S.org_create()
        for role in ("viewer", "staff", "admin", "integration"):
            with self.subTest(role=role):
                r = self.S.get(API + "/me", token=org.token(role))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["org_id"], org.id)
                self.assertEqual(r.body["role"], role)
                self.assertEqual(r.body["actor_type"], "token")
                self.assertEqual(r.body["actor_id"], org.token_id(role))
                self.assertEqual(r.body["actor_name"], org.token_names[role])
                self.assertNotIn(org.token(role), r.raw.decode())

    def test_me_without_or_with_a_bad_token_is_401(self):
        for tok in (None, "fdt_not-a-real-token"):
            with self.subTest(token=tok):
                r = self.S.get(API + "/me", token=tok)
                self.assertEqual(r.status, 401, r)
                self.assertIn("problem+json", r.headers.get("Content-Type", ""))

    def test_me_with_an_oauth_token_names_the_client(self):
        org = self.S.org_create()
        c = org.client()
        t = self.S.request("POST", "/oauth2/token/", body={"grant_type": "client_credentials"},
                           basic=(c["client_id"], c["client_secret"]))
        self.assertEqual(t.status, 200, t)
        r = self.S.get(API + "/me", token=t.body["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["org_id"], r.body["role"], r.body["actor_type"], r.body["actor_id"]),
                         (org.id, "admin", "client", c["client_id"]))
