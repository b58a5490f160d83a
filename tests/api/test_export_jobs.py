"""Exports as background jobs: POST /users/export and POST /devices/export answer 202 with a
users.export / devices.export job whose file comes from GET /jobs/{id}/result; the file is what
the streamed GET exports; roles, isolation, cancel, idempotency; and a kill -9 of the server in
the middle of an export, after which the file still holds every row exactly once."""

import csv
import io
import json
import os
import signal
import time

import harness
from harness import API, ApiTestCase, uniq, unique_email

harness.use_server(globals())

DONE = ("succeeded", "failed", "cancelled")


def jobs_path(org, job_id, tail=""):
    return "%s/org/%s/jobs/%s%s" % (API, org.id, job_id, tail)


def seed(server, org_id, token, data, timeout=120):
    """Users through an import (one request, whatever the rate limit), waited for."""
    r = server.request("POST", "%s/org/%s/users/import" % (API, org_id), raw=data, content_type="text/csv",
                       token=token, timeout=60)
    assert r.status == 202, r
    deadline = time.monotonic() + timeout
    while True:
        j = server.get("%s/org/%s/jobs/%s" % (API, org_id, r.body["id"]), token=token).body
        if j["state"] in DONE:
            assert (j["state"], j["failed"]) == ("succeeded", 0), j
            return j
        assert time.monotonic() < deadline, j
        time.sleep(0.05)


class ExportJobCase(ApiTestCase):
    def export_path(self, org, what):
        return "%s/org/%s/%s/export" % (API, org.id, what)

    def start_export(self, org, what, token=None, server=None, headers=None, **query):
        s = server or self.S
        q = ("?" + "&".join("%s=%s" % kv for kv in query.items())) if query else ""
        return s.request("POST", self.export_path(org, what) + q, token=token or org.token("admin"),
                         headers=headers)

    def wait(self, org, job_id, server=None, timeout=60):
        s = server or self.S
        deadline = time.monotonic() + timeout
        while True:
            r = s.get(jobs_path(org, job_id), token=org.token("admin"))
            self.assertEqual(r.status, 200, r)
            if r.body["state"] in DONE:
                return r.body
            if time.monotonic() > deadline:
                self.fail("the job did not end: %r" % r.body)
            time.sleep(0.05)

    def result(self, org, job_id, server=None, token=None):
        s = server or self.S
        return s.get(jobs_path(org, job_id, "/result"), token=token or org.token("admin"))

    def streamed(self, org, what, **query):
        q = ("?" + "&".join("%s=%s" % kv for kv in query.items())) if query else ""
        r = self.S.get(self.export_path(org, what) + q, token=org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r.raw

    def make_devices(self, org, n):
        tok = org.token("admin")
        for i in range(n):
            u = self.create_user(org, zip_code="10115" if i % 2 else "20095")
            kind = ("heat-pumps", "inverters")[i % 2]
            r = self.S.request("POST", "%s/%s" % (org.user_path(u["id"]), kind), body={}, token=tok)
            self.assertEqual(r.status, 201, r)


class ExportJobTest(ExportJobCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Export Jobs Org")
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["email", "first_name", "role", "town"])
        for i in range(1200):
            w.writerow([unique_email("exj"), "E%d" % i, "viewer" if i % 10 == 0 else "user",
                        "=SUM(A1)" if i == 3 else "Town, %d" % i])
        seed(cls.S, cls.org.id, cls.org.token("admin"), out.getvalue())

    def test_a_users_export_job_makes_the_file_the_streamed_export_makes(self):
        for fmt, query in (("csv", {}), ("jsonl", {}), ("csv", {"role": "viewer", "sort": "-email"})):
            with self.subTest(format=fmt, query=query):
                r = self.start_export(self.org, "users", format=fmt, **query)
                self.assertEqual(r.status, 202, r)
                self.assertEqual(r.body["kind"], "users.export")
                self.assertEqual(r.body["format"], fmt)
                self.assertTrue(r.headers["Location"].endswith("/jobs/" + r.body["id"]), r.headers)
                self.assertEqual(r.body["links"]["result"], jobs_path(self.org, r.body["id"], "/result"))
                job = self.wait(self.org, r.body["id"])
                self.assertEqual(job["state"], "succeeded", job)
                res = self.result(self.org, job["id"])
                self.assertEqual(res.status, 200, res)
                self.assertTrue(res.headers["Content-Type"].startswith(
                    "text/csv" if fmt == "csv" else "application/x-ndjson"), res.headers)
                self.assertIn('filename="users-', res.headers.get("Content-Disposition", ""))
                self.assertEqual(res.raw, self.streamed(self.org, "users", format=fmt, **query))
                rows = res.raw.decode().splitlines()
                expected = 120 if query else 1200
                self.assertEqual(len(rows), expected + (1 if fmt == "csv" else 0))
                self.assertEqual((job["total"], job["processed"]), (expected, expected), job)

    def test_the_file_is_csv_an_import_reads_back(self):
        r = self.start_export(self.org, "users")
        job = self.wait(self.org, r.body["id"])
        rows = list(csv.DictReader(io.StringIO(self.result(self.org, job["id"]).raw.decode())))
        self.assertEqual(len(rows), 1200)
        towns = {row["first_name"]: row["town"] for row in rows}
        self.assertEqual(towns["E3"], "'=SUM(A1)")   # the formula guard
        self.assertEqual(towns["E4"], "Town, 4")     # quoted comma

    def test_a_devices_export_job_makes_the_file_the_streamed_export_makes(self):
        org = self.S.org_create("Export Jobs Devices")
        self.make_devices(org, 12)
        for fmt, query in (("csv", {}), ("jsonl", {"type": "heat-pumps"}), ("csv", {"zip_code": "10115"})):
            with self.subTest(format=fmt, query=query):
                r = self.start_export(org, "devices", format=fmt, **query)
                self.assertEqual(r.status, 202, r)
                self.assertEqual(r.body["kind"], "devices.export")
                job = self.wait(org, r.body["id"])
                self.assertEqual(job["state"], "succeeded", job)
                res = self.result(org, job["id"])
                self.assertEqual(res.status, 200, res)
                self.assertEqual(res.raw, self.streamed(org, "devices", format=fmt, **query))
                self.assertEqual(job["processed"], 12 if not query else 6, job)

    def test_bad_filters_and_formats_are_400_and_make_no_job(self):
        org = self.S.org_create("Export Jobs Bad")
        for what, query, name in (("users", {"format": "xml"}, "format"), ("users", {"role": "boss"}, "role"),
                                  ("users", {"sort": "age"}, "sort"), ("devices", {"type": "cars"}, "type"),
                                  ("devices", {"zip_code": "x" * 21}, "zip_code"),
                                  ("devices", {"stale": "maybe"}, "stale")):
            with self.subTest(what=what, query=query):
                r = self.start_export(org, what, **query)
                self.assertEqual(r.status, 400, r)
                self.assertIn(name, json.dumps(r.body))
        r = self.S.get("%s/org/%s/jobs" % (API, org.id), token=org.token("admin"))
        self.assertEqual(r.body, [])

    def test_roles_and_isolation(self):
        other = self.S.org_create("Export Jobs Other")
        r = self.start_export(self.org, "users", token=self.org.token("viewer"))
        self.assertEqual(r.status, 202, r)
        vid = r.body["id"]
        self.wait(self.org, vid)
        self.assertEqual(self.result(self.org, vid, token=self.org.token("viewer")).status, 200)
        for what in ("users", "devices"):
            with self.subTest(what=what):
                self.assertEqual(self.start_export(self.org, what, token=self.org.token("integration")).status,
                                 403)
                self.assertEqual(self.start_export(self.org, what, token=other.token("admin")).status, 404)
                r = self.S.request("POST", self.export_path(self.org, what))
                self.assertEqual(r.status, 401, r)
        # another org's job and its file look like nothing at all
        r = self.S.get(jobs_path(other, vid, "/result"), token=other.token("admin"))
        self.assertEqual(r.status, 404, r)
        r = self.S.get(jobs_path(self.org, vid, "/result"), token=self.org.token("integration"))
        self.assertEqual(r.status, 403, r)

    def test_a_job_that_makes_no_file_has_no_result(self):
        org = self.S.org_create("Export Jobs Import")
        r = self.S.request("POST", "%s/org/%s/users/import" % (API, org.id),
                           raw="email\n%s\n" % unique_email("imp"), content_type="text/csv",
                           token=org.token("admin"))
        self.assertEqual(r.status, 202, r)
        job = self.wait(org, r.body["id"])
        self.assertNotIn("result", job["links"])
        res = self.result(org, job["id"])
        self.assertEqual(res.status, 404, res)
        self.assertIn("only exports", res.body["detail"])

    def test_an_export_queued_behind_an_import_is_409_until_done_and_can_be_cancelled(self):
        org = self.S.org_create("Export Jobs Queue")
        data = "email\n" + "".join("%s.%d@example.com\n" % (uniq("q"), i) for i in range(20000))
        r = self.S.request("POST", "%s/org/%s/users/import" % (API, org.id), raw=data,
                           content_type="text/csv", token=org.token("admin"), timeout=60)
        self.assertEqual(r.status, 202, r)
        imp = r.body["id"]
        first = self.start_export(org, "users").body["id"]
        second = self.start_export(org, "users").body["id"]
        res = self.result(org, first)
        self.assertEqual(res.status, 409, res)            # queued behind the import: no file yet
        self.assertEqual(res.headers.get("Retry-After"), "1")
        r = self.S.request("POST", jobs_path(org, second, "/cancel"), token=org.token("admin"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(self.wait(org, imp)["state"], "succeeded")
        done = self.wait(org, first)
        self.assertEqual((done["state"], done["processed"]), ("succeeded", 20000), done)
        self.assertEqual(self.result(org, first).raw.decode().count("\n"), 20001)
        cancelled = self.wait(org, second)
        self.assertEqual(cancelled["state"], "cancelled", cancelled)
        res = self.result(org, second)
        self.assertEqual(res.status, 409, res)
        self.assertIn("cancelled", res.body["detail"])

    def test_an_idempotency_key_makes_one_job(self):
        org = self.S.org_create("Export Jobs Idem")
        key = uniq("key")
        a = self.start_export(org, "users", headers={"Idempotency-Key": key})
        b = self.start_export(org, "users", headers={"Idempotency-Key": key})
        self.assertEqual((a.status, b.status), (202, 202))
        self.assertEqual(a.body["id"], b.body["id"])
        self.assertEqual(b.headers.get("Idempotent-Replayed"), "true")
        r = self.S.get("%s/org/%s/jobs" % (API, org.id), token=org.token("admin"))
        self.assertEqual(len(r.body), 1, r.body)


class ExportKillResumeTest(ExportJobCase):
    """A server of its own, killed with SIGKILL in the middle of an export."""
    N = 60000

    def setUp(self):
        self.srv = harness.Server()
        self.addCleanup(self.srv.cleanup)
        self.addCleanup(self._reap)

    def _reap(self):
        p = self.srv.proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()

    def test_kill_9_mid_export_resumes_and_the_file_holds_every_row_once(self):
        srv = self.srv
        srv.start()
        org = srv.org_create("Export Kill Org")
        seed(srv, org.id, org.token("admin"),
             "email,first_name\n" + "".join("k%06d@example.com,Kill %d\n" % (i, i) for i in range(self.N)))
        r = srv.request("POST", "%s/org/%s/users/export?format=jsonl" % (API, org.id), token=org.token())
        self.assertEqual(r.status, 202, r)
        jid = r.body["id"]
        deadline = time.monotonic() + 60
        while True:
            j = srv.get(jobs_path(org, jid), token=org.token()).body
            if j["state"] == "running" and j["processed"] > 0:
                break
            self.assertLess(time.monotonic(), deadline, j)
            time.sleep(0.01)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
        self.assertLess(j["processed"], self.N, "the export ended before the kill: export more users")
        srv.start()
        job = self.wait(org, jid, server=srv, timeout=120)
        self.assertEqual((job["state"], job["processed"], job["total"]), ("succeeded", self.N, self.N), job)
        res = self.result(org, jid, server=srv)
        self.assertEqual(res.status, 200, res)
        ids = [json.loads(line)["id"] for line in res.raw.decode().splitlines()]
        self.assertEqual(len(ids), self.N, "rows in the file")
        self.assertEqual(len(set(ids)), self.N, "a row is in the file twice")
        self.assertEqual(srv.stop(), 0, srv.stderr_tail())
