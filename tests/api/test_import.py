"""POST /users/import (CSV and JSON lines) and the background jobs behind it:
GET /jobs, /jobs/{id}, /errors, /failed-rows, cancel; dry runs; audit;
permissions; and a job that survives a kill -9 of the server mid-import."""

import csv
import io
import json
import os
import signal
import sqlite3
import time
import unittest
import urllib.parse
import uuid

import harness
from harness import API, ApiTestCase, TS_RE, UUID_RE, cli_ok, next_link, uniq, unique_email

harness.use_server(globals())

JOB_KEYS = {"id", "kind", "state", "total", "processed", "succeeded", "failed", "progress",
            "rate_per_second", "eta_seconds", "errors_kept", "links"}
DONE = ("succeeded", "failed", "cancelled")
JOB_TIMEOUT = 30


def import_path(org, **query):
    p = "%s/org/%s/users/import" % (API, org.id)
    return p + ("?" + urllib.parse.urlencode(query) if query else "")


def jobs_path(org, job_id=None, tail=""):
    p = "%s/org/%s/jobs" % (API, org.id)
    if job_id is not None:
        p += "/" + job_id
    return p + tail


def csv_text(header, rows, eol="\r\n"):
    """A CSV file from a header list and rows (lists; None -> empty cell)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator=eol)
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return out.getvalue()


class ImportCase(ApiTestCase):
    """Helpers shared by the import tests."""

    def post_import(self, org, data, token=None, ctype="text/csv", server=None, **query):
        s = server or self.S
        return s.request("POST", import_path(org, **query), raw=data,
                         token=token or org.token("admin"), content_type=ctype, timeout=60)

    def start_import(self, org, data, token=None, ctype="text/csv", server=None, **query):
        r = self.post_import(org, data, token=token, ctype=ctype, server=server, **query)
        self.assertEqual(r.status, 202, r)
        self.assertIsInstance(r.body, dict, r)
        return r

    def wait_job(self, org, job_id, token=None, timeout=JOB_TIMEOUT, server=None):
        s = server or self.S
        token = token or org.token("admin")
        deadline = time.monotonic() + timeout
        while True:
            r = s.get(jobs_path(org, job_id), token=token)
            self.assertEqual(r.status, 200, r)
            if r.body["state"] in DONE:
                return r.body
            self.assertIn(r.body["state"], ("queued", "running"), r)
            if time.monotonic() > deadline:
                self.fail("job %s did not end within %s s: %r" % (job_id, timeout, r.body))
            time.sleep(0.05)

    def run_import(self, org, data, token=None, ctype="text/csv", **query):
        """Imports data, waits for the job's end; returns (202 response, final job)."""
        r = self.start_import(org, data, token=token, ctype=ctype, **query)
        return r, self.wait_job(org, r.body["id"], token=token)

    def job_errors(self, org, job, token=None, **query):
        q = ("?" + urllib.parse.urlencode(query)) if query else ""
        r = self.S.get(jobs_path(org, job["id"], "/errors" + q), token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list, r)
        return r.body

    def errors_by_line(self, org, job):
        errs = self.job_errors(org, job, limit=1000)
        lines = [e["line"] for e in errs]
        self.assertEqual(lines, sorted(set(lines)), "errors are not in line order, once each")
        return {e["line"]: e for e in errs}

    def failed_rows(self, org, job, token=None):
        r = self.S.get(jobs_path(org, job["id"], "/failed-rows"), token=token or org.token("admin"))
        self.assertIn(r.status, (200, 204), r)
        return r

    def user_by_email(self, org, email, include_deleted=False):
        params = {"search": email, "limit": 1000}
        if include_deleted:
            params["include_deleted"] = "true"
        r = self.list_users(org, **params)
        found = [u for u in r.body if (u["email"] or "").lower() == email.lower()]
        self.assertLessEqual(len(found), 1, found)
        return found[0] if found else None

    def user_count(self, org, server=None):
        s = server or self.S
        r = s.get(org.users + "?limit=1&include_deleted=true", token=org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return int(r.headers["X-Total-Count"])

    def org_jobs(self, org):
        items, _ = self.walk(org, path=jobs_path(org), limit=100)
        return items

    # ---- assertions -------------------------------------------------------
    def assertJobView(self, org, job):
        self.assertTrue(JOB_KEYS <= set(job), job)
        self.assertRegex(job["id"], UUID_RE)
        self.assertEqual(job["kind"], "users.import")
        self.assertIn(job["state"], ("queued", "running") + DONE)
        for k in ("processed", "succeeded", "failed", "errors_kept"):
            self.assertIsInstance(job[k], int, k)
            self.assertGreaterEqual(job[k], 0, k)
        self.assertIsInstance(job["total"], int)
        self.assertIsInstance(job["progress"], (int, float))
        self.assertTrue(0 <= job["progress"] <= 1, job)
        self.assertIsInstance(job["rate_per_second"], (int, float))
        self.assertEqual(job["processed"], job["succeeded"] + job["failed"], job)
        self_link = jobs_path(org, job["id"])
        self.assertEqual(job["links"], {"self": self_link, "errors": self_link + "/errors",
                                        "failed_rows": self_link + "/failed-rows"})

    def assertFinished(self, org, job, processed, succeeded, failed):
        self.assertJobView(org, job)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual((job["processed"], job["succeeded"], job["failed"]),
                         (processed, succeeded, failed), job)
        self.assertEqual(job["total"], processed, job)
        self.assertEqual(job["progress"], 1, job)
        self.assertEqual(job["eta_seconds"], 0, job)
        self.assertEqual(job["errors_kept"], failed, job)
        self.assertIsNone(job.get("error"), job)

    def assertRowError(self, errs, line, status, field=None):
        self.assertIn(line, errs, "line %d is not reported; reported: %r" % (line, sorted(errs)))
        e = errs[line]
        self.assertIsInstance(e["row"], str, e)
        p = e["error"]
        self.assertIsInstance(p, dict, e)
        self.assertEqual(p.get("status"), status, e)
        for k in ("type", "title"):
            self.assertTrue(p.get(k), e)
        if field is not None:
            fields = [x.get("field") for x in p.get("errors") or []]
            self.assertIn(field, fields, e)
            # a row's fields are its own: the pointer names the column, not a /data member
            x = [x for x in p["errors"] if x.get("field") == field][0]
            self.assertEqual(x.get("pointer"), "/" + field.replace("~", "~0").replace("/", "~1"), e)
        return e


# ====================================================================== the request

class ImportRequestTest(ImportCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Import Request Org")
        cls.tok = cls.org.token("admin")
        cls.quiet = cls.S.org_create("Import Refused Org")  # no job is ever created here

    def assertRefused(self, r, status, field=None):
        body = self.assertProblem(r, status, field)
        self.assertEqual(self.org_jobs(self.quiet), [], "a refused import created a job")
        return body

    def header_errors(self, r):
        body = self.assertRefused(r, 422)
        errs = body.get("errors")
        self.assertIsInstance(errs, list, r)
        for e in errs:
            self.assertEqual(e.get("in"), "header", e)
        return [e.get("field") for e in errs]

    def test_csv_import_is_202_with_a_job_object_and_location(self):
        data = csv_text(["email", "first_name"], [[unique_email(), "A"], [unique_email(), "B"]])
        r = self.start_import(self.org, data)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))
        job = r.body
        self.assertJobView(self.org, job)
        self.assertIn(job["state"], ("queued", "running", "succeeded"))
        self.assertEqual(job["total"], 2)
        self.assertEqual(job["errors_kept"], 0)
        self.assertIs(job.get("dry_run"), False)
        self.assertEqual(r.headers.get("Location"), job["links"]["self"])
        g = self.S.get(r.headers["Location"], token=self.tok)
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body["id"], job["id"])
        self.assertJobView(self.org, g.body)
        final = self.wait_job(self.org, job["id"])
        self.assertFinished(self.org, final, 2, 2, 0)
        self.assertRegex(final["finished_at"], TS_RE)

    def test_total_counts_data_lines_with_or_without_a_final_line_break(self):
        r, job = self.run_import(self.org, "email,town\r\n")   # a header alone: nothing to do
        self.assertEqual(r.body["total"], 0, r)
        self.assertFinished(self.org, job, 0, 0, 0)
        for data in ("email\na@x.com\nb@x.com\nc@x.com\n", "email\na@x.com\nb@x.com\nc@x.com"):
            with self.subTest(data=data):
                r = self.start_import(self.org, data, dry_run="true")
                self.assertEqual(r.body["total"], 3, r)
                final = self.wait_job(self.org, r.body["id"])
                self.assertEqual(final["processed"], 3, final)

    def test_content_type_parameters_and_format_query_are_accepted(self):
        cases = [
            ("text/csv; charset=utf-8", {}, "csv"),
            ("application/octet-stream", {"format": "csv"}, "csv"),
            ("text/plain", {"format": "jsonl"}, "jsonl"),
            ("application/x-ndjson", {}, "jsonl"),
            ("application/jsonl", {}, "jsonl"),
            ("text/csv", {"format": "jsonl"}, "jsonl"),   # the query wins
        ]
        for ctype, q, fmt in cases:
            with self.subTest(ctype=ctype, q=q):
                email = unique_email("ct")
                data = ("email\n%s\n" % email) if fmt == "csv" else json.dumps({"email": email}) + "\n"
                r = self.start_import(self.org, data, ctype=ctype, **q)
                self.assertEqual(r.body.get("format"), fmt, r)
                final = self.wait_job(self.org, r.body["id"])
                self.assertFinished(self.org, final, 1, 1, 0)
                self.assertIsNotNone(self.user_by_email(self.org, email))

    def test_wrong_or_missing_content_type_without_format_is_415(self):
        data = "email\n%s\n" % unique_email()
        for ctype in ("text/plain", "application/json", "application/octet-stream", None):
            with self.subTest(ctype=ctype):
                r = self.post_import(self.quiet, data, ctype=ctype)
                self.assertRefused(r, 415)

    def test_format_other_than_csv_or_jsonl_is_400_naming_format(self):
        for fmt in ("xml", "CSV", "json", ""):
            with self.subTest(fmt=fmt):
                r = self.post_import(self.quiet, "email\nx@example.com\n", format=fmt)
                self.assertRefused(r, 400, "format")

    def test_dry_run_other_than_true_or_false_is_400_naming_dry_run(self):
        for v in ("maybe", "1", "yes", "TRUE", ""):
            with self.subTest(v=v):
                r = self.post_import(self.quiet, "email\nx@example.com\n", dry_run=v)
                self.assertRefused(r, 400, "dry_run")

    def test_empty_body_is_422(self):
        for ctype, q in (("text/csv", {}), ("application/x-ndjson", {}), ("text/plain", {"format": "csv"})):
            with self.subTest(ctype=ctype):
                self.assertRefused(self.post_import(self.quiet, b"", ctype=ctype, **q), 422)

    def test_unknown_column_is_422_naming_it_in_the_header(self):
        r = self.post_import(self.quiet, "email,nickname\nx@example.com,X\n")
        self.assertEqual(self.header_errors(r), ["nickname"])

    def test_duplicate_column_is_422_naming_it(self):
        r = self.post_import(self.quiet, "email,town,town\nx@example.com,A,B\n")
        self.assertEqual(self.header_errors(r), ["town"])
        r = self.post_import(self.quiet, "email,first_name,email\nx@example.com,A,y@example.com\n")
        self.assertEqual(self.header_errors(r), ["email"])

    def test_every_bad_column_is_named(self):
        r = self.post_import(self.quiet, "email,foo,first_name,bar,first_name,Email\n")
        self.assertEqual(sorted(self.header_errors(r)), ["Email", "bar", "first_name", "foo"])

    # Regression: a header without email and without external_user_id is refused at once.
    def test_header_without_email_and_external_user_id_is_422(self):
        org = self.S.org_create("Import Keyless Header")   # not self.quiet: the bug creates a job
        r = self.post_import(org, "first_name,town\nAnna,Wien\n")
        body = self.assertProblem(r, 422)
        fields = [e.get("field") for e in body.get("errors") or []]
        self.assertTrue({"email", "external_user_id"} & set(fields), r)
        self.assertEqual(self.org_jobs(org), [])

    def test_header_with_only_external_user_id_is_accepted_and_matches_by_it(self):
        ext = uniq("ext")
        u = self.create_user(self.org, external_user_id=ext, first_name="Old")
        # a new external_user_id without an email cannot create a user: email is required
        data = "external_user_id,first_name\n%s,New\n%s,Nobody\n" % (ext, uniq("ext"))
        _, job = self.run_import(self.org, data)
        self.assertFinished(self.org, job, 2, 1, 1)
        self.assertEqual(self.get_user(self.org, u["id"])["first_name"], "New")
        self.assertRowError(self.errors_by_line(self.org, job), 3, 422, "email")

    def test_skip_columns_leaves_those_columns_out_whatever_their_names(self):
        e1, e2 = unique_email("skip"), unique_email("skip")
        # column 2 is unknown, column 4 a real field: both skipped; a skipped name may repeat a field's
        data = "email,nickname,first_name,town,town\n%s,Nick,Ann,Skipped,Wien\n%s,N,Bo,X,Graz\n" % (e1, e2)
        _, job = self.run_import(self.org, data, skip_columns="2,4")
        self.assertFinished(self.org, job, 2, 2, 0)
        u = self.user_by_email(self.org, e1)
        self.assertEqual((u["first_name"], u["town"]), ("Ann", "Wien"))
        self.assertEqual(self.user_by_email(self.org, e2)["town"], "Graz")

    def test_bad_skip_columns_are_400_naming_it(self):
        data = "email,first_name\nx@example.com,A\n"
        for q in ("0", "x", "1,,2", "2,", "1001", "-1", "3"):
            with self.subTest(skip_columns=q):
                self.assertProblem(self.post_import(self.quiet, data, skip_columns=q), 400, "skip_columns")
        r = self.post_import(self.quiet, '{"email":"x@example.com"}\n', ctype="application/x-ndjson",
                             skip_columns="1")
        self.assertProblem(r, 400, "skip_columns")
        self.assertEqual(self.org_jobs(self.quiet), [])

    def test_skipping_the_only_key_column_is_422(self):
        r = self.post_import(self.quiet, "email,first_name\nx@example.com,A\n", skip_columns="1")
        self.assertProblem(r, 422)

    def test_unreadable_header_is_422(self):
        r = self.post_import(self.quiet, 'email,"first_name\nx@example.com,A\n')
        self.assertRefused(r, 422)
        r = self.post_import(self.quiet, 'email,first"name\nx@example.com,A\n')
        self.assertRefused(r, 422)

    def test_export_shaped_file_imports_and_ignores_read_only_columns(self):
        src = self.S.org_create("Import Export Source")
        made = [self.create_user(src, first_name="Ex%d" % i, last_name="Port", town="Graz",
                                 external_user_id=uniq("exp"), country_iso2="AT", zip_code="8010",
                                 street_and_number="Hauptplatz %d" % i, street_add_info="Top 1",
                                 role=("user", "viewer", "staff")[i])
                for i in range(3)]
        exported = self.list_users(src, limit=1000).body
        self.assertEqual(len(exported), 3)
        data = csv_text(list(harness.USER_FIELDS),
                        [[u[k] for k in harness.USER_FIELDS] for u in exported])
        dest = self.S.org_create("Import Export Dest")
        _, job = self.run_import(dest, data)
        self.assertFinished(dest, job, 3, 3, 0)
        got = {u["email"]: u for u in self.list_users(dest, limit=1000).body}
        self.assertEqual(set(got), {u["email"] for u in made})
        for u in made:
            v = got[u["email"]]
            self.assertUserShape(v)
            self.assertNotEqual(v["id"], u["id"])
            self.assertEqual(v["org_id"], dest.id)
            self.assertIsNone(v["deleted_at"])
            for k in ("role", "external_user_id", "first_name", "last_name", "street_and_number",
                      "street_add_info", "zip_code", "town", "country_iso2"):
                self.assertEqual(v[k], u[k], k)

    def test_unknown_job_is_404(self):
        for jid in (str(uuid.uuid4()), "not-a-uuid"):
            with self.subTest(jid=jid):
                for tail in ("", "/errors", "/failed-rows"):
                    self.assertProblem(self.S.get(jobs_path(self.org, jid, tail), token=self.tok), 404)
                self.assertProblem(self.S.request("POST", jobs_path(self.org, jid, "/cancel"),
                                                  token=self.tok), 404)


# ====================================================================== rows

class ImportRowsTest(ImportCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Import Rows Org")
        cls.tok = cls.org.token("admin")

    def test_rows_create_users_with_every_field(self):
        e1, e2 = unique_email("full"), unique_email("min")
        ext = uniq("ext")
        header = ["email", "external_user_id", "role", "first_name", "last_name", "street_and_number",
                  "street_add_info", "zip_code", "town", "country_iso2"]
        data = csv_text(header, [
            [e1, ext, "staff", "Zoë", "Müller", "Main Street 1", "Apt 2", "10115", "Berlin", "de"],
            [e2, None, None, None, None, None, None, None, None, None],
        ])
        _, job = self.run_import(self.org, data)
        self.assertFinished(self.org, job, 2, 2, 0)
        u = self.user_by_email(self.org, e1)
        self.assertUserShape(u)
        self.assertEqual({k: u[k] for k in header},
                         {"email": e1, "external_user_id": ext, "role": "staff", "first_name": "Zoë",
                          "last_name": "Müller", "street_and_number": "Main Street 1",
                          "street_add_info": "Apt 2", "zip_code": "10115", "town": "Berlin",
                          "country_iso2": "DE"})
        v = self.user_by_email(self.org, e2)
        self.assertEqual(v["role"], "user")
        for k in header[1:]:
            if k != "role":
                self.assertIsNone(v[k], k)

    def test_row_with_a_matching_external_user_id_updates_that_user(self):
        ext = uniq("ext")
        u = self.create_user(self.org, external_user_id=ext, first_name="Old", last_name="Keep",
                             town="Wien")
        new_email = unique_email("moved")
        data = csv_text(["external_user_id", "email", "first_name", "last_name", "town"],
                        [[ext, new_email, "New", None, "Linz"]])
        _, job = self.run_import(self.org, data)
        self.assertFinished(self.org, job, 1, 1, 0)
        after = self.get_user(self.org, u["id"])
        self.assertEqual(after["email"], new_email)
        self.assertEqual(after["first_name"], "New")
        self.assertEqual(after["town"], "Linz")
        self.assertEqual(after["last_name"], "Keep")       # empty cell: unchanged
        self.assertEqual(after["created_at"], u["created_at"])
        self.assertEqual(self.user_count_with(u["email"]), 0)

    def user_count_with(self, email):
        return 1 if self.user_by_email(self.org, email, include_deleted=True) else 0

    def test_row_without_external_user_id_matching_an_email_updates_that_user(self):
        email = unique_email("byemail")
        u = self.create_user(self.org, email=email, first_name="Old", town="Wien", zip_code="1010")
        # the external_user_id column exists, but its cell is empty: the row matches by email
        data = csv_text(["email", "external_user_id", "first_name", "town", "zip_code"],
                        [[email, None, "New", None, "1020"]])
        _, job = self.run_import(self.org, data)
        self.assertFinished(self.org, job, 1, 1, 0)
        after = self.get_user(self.org, u["id"])
        self.assertEqual(after["first_name"], "New")
        self.assertEqual(after["zip_code"], "1020")
        self.assertEqual(after["town"], "Wien")
        self.assertIsNone(after["external_user_id"])
        self.assertEqual(self.list_users(self.org, search=email).body, [after])

    def test_a_row_that_changes_nothing_still_succeeds(self):
        email = unique_email("same")
        u = self.create_user(self.org, email=email, first_name="Same")
        _, job = self.run_import(self.org, "email,first_name\n%s,Same\n" % email)
        self.assertFinished(self.org, job, 1, 1, 0)
        after = self.get_user(self.org, u["id"])
        for k in harness.USER_FIELDS:
            if k != "updated_at":
                self.assertEqual(after[k], u[k], k)

    def test_quoted_fields_with_commas_quotes_and_line_breaks(self):
        e1, e2, e3 = unique_email("q1"), unique_email("q2"), unique_email("q3")
        data = ('email,first_name,last_name,town\r\n'
                '"%s","Anna, Maria","O""Brien","Wien, Innere Stadt"\r\n'       # line 2
                '%s,"Multi\nLine",X,Y\r\n'                                      # lines 3-4
                '%s,"",,"Graz"\r\n'                                              # line 5
                'bad-email,x,y,z\r\n') % (e1, e2, e3)                            # line 6
        _, job = self.run_import(self.org, data)
        self.assertFinished(self.org, job, 4, 2, 2)
        u = self.user_by_email(self.org, e1)
        self.assertEqual((u["first_name"], u["last_name"], u["town"]),
                         ("Anna, Maria", 'O"Brien', "Wien, Innere Stadt"))
        v = self.user_by_email(self.org, e3)
        self.assertEqual((v["first_name"], v["last_name"], v["town"]), (None, None, "Graz"))
        errs = self.errors_by_line(self.org, job)
        self.assertEqual(sorted(errs), [3, 6])
        # one record over two lines: read whole (a field rule refuses the line break), at its first line
        self.assertRowError(errs, 3, 422, "first_name")
        self.assertEqual(errs[3]["row"], '%s,"Multi\nLine",X,Y' % e2)
        self.assertRowError(errs, 6, 422, "email")
        self.assertIsNone(self.user_by_email(self.org, e2))

    def test_bom_crlf_blank_lines_and_a_missing_final_line_break(self):
        e = [unique_email("bom%d" % i) for i in range(4)]
        data = ("\ufeffemail,town\r\n"    # 1
                "%s,A\r\n"                # 2
                "\r\n"                    # 3 blank
                "%s,B\r\n"                # 4
                "\n"                      # 5 blank
                "bad,C\r\n"               # 6
                "%s,D\n"                  # 7 (LF only)
                "%s,E") % tuple(e)        # 8, no final line break
        r, job = self.run_import(self.org, data.encode("utf-8"))
        self.assertFinished(self.org, job, 5, 4, 1)
        for email, town in zip(e, "ABDE"):
            u = self.user_by_email(self.org, email)
            self.assertIsNotNone(u, email)
            self.assertEqual(u["town"], town)
        errs = self.errors_by_line(self.org, job)
        self.assertEqual(sorted(errs), [6])
        self.assertEqual(errs[6]["row"], "bad,C")

    def test_each_failing_row_is_reported_by_its_line_and_valid_rows_apply(self):
        deleted = self.create_user(self.org)
        self.assertEqual(self.S.request("DELETE", self.org.user_path(deleted["id"]), token=self.tok).status, 204)
        taken = self.create_user(self.org, external_user_id=uniq("taken"))
        deleted_ext = self.create_user(self.org, external_user_id=uniq("delx"))
        self.assertEqual(self.S.request("DELETE", self.org.user_path(deleted_ext["id"]), token=self.tok).status, 204)
        ok = [unique_email("ok%d" % i) for i in range(4)]
        bad_email_addr = unique_email("never")
        lines = [
            "email,external_user_id,first_name,role,country_iso2",   # 1
            "%s,,Ok,," % ok[0],                                        # 2 ok
            "not-an-email,,X,,",                                        # 3 invalid email
            "%s,,too,few" % unique_email("few"),                        # 4 4 fields of 5
            "%s,,Ok,viewer,AT" % ok[1],                                 # 5 ok
            '%s,,Ab"c,,' % unique_email("qq"),                          # 6 quote in unquoted field
            "%s,,X,," % deleted["email"],                               # 7 matches a deleted user
            "%s,%s,X,," % (taken["email"], uniq("other")),              # 8 email of another user
            ",,Nobody,,",                                               # 9 no email, no external id
            "%s,,X,,XX" % unique_email("cc"),                           # 10 unknown country
            "%s,,X,boss," % unique_email("role"),                       # 11 unknown role
            "%s,,Ok,," % ok[2],                                         # 12 ok
            '%s,,"Ab"c,,' % unique_email("tq"),                         # 13 text after a closing quote
            "%s,%s,X,," % (bad_email_addr, deleted_ext["external_user_id"]),  # 14 ext of a deleted user
            "%s,,%s,," % (unique_email("long"), "f" * 101),             # 15 first_name too long
            "%s,,Ok,admin,ch" % ok[3],                                  # 16 ok (admin may set admin)
        ]
        _, job = self.run_import(self.org, "\r\n".join(lines) + "\r\n")
        self.assertFinished(self.org, job, 15, 4, 11)
        errs = self.errors_by_line(self.org, job)
        self.assertEqual(sorted(errs), [3, 4, 6, 7, 8, 9, 10, 11, 13, 14, 15])
        self.assertRowError(errs, 3, 422, "email")
        self.assertRowError(errs, 4, 422)
        self.assertRowError(errs, 6, 422)
        self.assertRowError(errs, 7, 409, "email")
        self.assertRowError(errs, 8, 409, "email")
        e9 = self.assertRowError(errs, 9, 422)
        self.assertTrue({"email", "external_user_id"} & {x.get("field") for x in e9["error"].get("errors") or []},
                        e9)
        self.assertRowError(errs, 10, 422, "country_iso2")
        self.assertRowError(errs, 11, 422, "role")
        self.assertRowError(errs, 13, 422)
        self.assertRowError(errs, 14, 409, "external_user_id")
        self.assertRowError(errs, 15, 422, "first_name")
        for n, e in errs.items():
            self.assertEqual(e["row"], lines[n - 1], n)
        roles = {ok[0]: "user", ok[1]: "viewer", ok[2]: "user", ok[3]: "admin"}
        for email, role in roles.items():
            u = self.user_by_email(self.org, email)
            self.assertIsNotNone(u, email)
            self.assertEqual(u["role"], role)
        self.assertEqual(self.user_by_email(self.org, ok[3])["country_iso2"], "CH")
        self.assertIsNone(self.user_by_email(self.org, bad_email_addr, include_deleted=True))
        self.assertIsNotNone(self.get_user(self.org, deleted["id"])["deleted_at"])
        self.assertEqual(self.get_user(self.org, taken["id"]), taken)

    def test_invalid_utf8_row_fails_and_the_valid_rows_apply(self):
        good, bad = unique_email("utf"), unique_email("utfbad")
        data = b"email,first_name\n" + good.encode() + b",Ok\n" + bad.encode() + b",Bad\xff\xfe\n"
        _, job = self.run_import(self.org, data)
        self.assertEqual((job["state"], job["processed"], job["succeeded"], job["failed"]),
                         ("succeeded", 2, 1, 1), job)
        self.assertIsNotNone(self.user_by_email(self.org, good))
        self.assertIsNone(self.user_by_email(self.org, bad, include_deleted=True))

    # Regression: a failing row that is not valid UTF-8 is still reported, its bad bytes
    # kept as U+FFFD.
    def test_invalid_utf8_row_is_reported_by_line_in_errors_and_failed_rows(self):
        bad_csv = unique_email("utfbad").encode() + b",Bad\xff\xfe"
        data = b"email,first_name\n" + unique_email("utf").encode() + b",Ok\n" + bad_csv + b"\n"
        _, job = self.run_import(self.org, data)
        self.assertEqual(job["failed"], 1, job)
        self.assertEqual(job["errors_kept"], 1, job)
        self.assertRowError(self.errors_by_line(self.org, job), 3, 422, "first_name")
        lossy = bad_csv.decode("utf-8", "replace").encode()
        self.assertEqual(self.failed_rows(self.org, job).raw, b"email,first_name\r\n" + lossy + b"\r\n")
        # the same for a JSON line
        bad_jl = b'{"email": "' + unique_email("jbad").encode() + b'", "town": "\xff"}'
        _, job = self.run_import(self.org, b'{"email": "' + unique_email().encode() + b'"}\n' + bad_jl + b"\n",
                                 ctype="application/x-ndjson")
        self.assertEqual((job["succeeded"], job["failed"], job["errors_kept"]), (1, 1, 1), job)
        self.assertRowError(self.errors_by_line(self.org, job), 2, 422)

    # A repeated email acts as if the rows were applied one after another, wherever the batch
    # boundaries (JOBS_BATCH = 4000 rows) fall: the second row updates the user the first created.
    # Gaps put the pair in one batch, across a boundary, and one row past it.
    def test_a_repeated_email_in_the_file_updates_the_user_its_first_row_created(self):
        for gap in (0, 3998, 3999, 4500):
            with self.subTest(gap=gap):
                org = self.S.org_create("Import Repeat %d" % gap)
                email = unique_email("again")
                rows = ["%s,First" % email] + ["%s,Filler" % unique_email("fill") for _ in range(gap)] + \
                       ["%s,Second" % email]
                _, job = self.run_import(org, "email,first_name\n" + "\n".join(rows) + "\n")
                self.assertFinished(org, job, gap + 2, gap + 2, 0)
                self.assertEqual(self.user_by_email(org, email)["first_name"], "Second")
                r = self.S.get(org.audit + "?" + urllib.parse.urlencode(
                    {"target_id": self.user_by_email(org, email)["id"], "limit": 10}), token=org.token("admin"))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(sorted(e["action"] for e in r.body), ["user.create", "user.update"], r.body)

    def test_an_external_id_repeated_across_a_batch_boundary_matches_the_same_user(self):
        org = self.S.org_create("Import Repeat Ext")
        ext = uniq("ext")
        rows = ["%s,%s,One" % (unique_email("e1"), ext)] + \
               ["%s,%s,Filler" % (unique_email("fill"), uniq("f")) for _ in range(3999)] + \
               ["%s,%s,Two" % (unique_email("e2"), ext)]
        _, job = self.run_import(org, "email,external_user_id,first_name\n" + "\n".join(rows) + "\n")
        self.assertFinished(org, job, 4001, 4001, 0)
        users = self.list_users(org, search=ext).body
        self.assertEqual(len(users), 1, users)
        self.assertEqual((users[0]["first_name"], users[0]["email"].split(".")[0]), ("Two", "e2"))

    def test_staff_token_may_not_import_rows_with_team_roles_403_per_row(self):
        staff = self.org.token("staff")
        admin_user = self.create_user(self.org, role="admin", first_name="Boss")
        ok1, ok2 = unique_email("staffok"), unique_email("staffok")
        lines = [
            "email,role,first_name",
            "%s,,Ok" % ok1,                                  # 2 ok: role defaults to user
            "%s,admin,X" % unique_email("toadmin"),          # 3 403
            "%s,staff,X" % unique_email("tostaff"),          # 4 403
            "%s,,Changed" % admin_user["email"],             # 5 403: updates an admin
            "%s,user,Ok" % ok2,                              # 6 ok
        ]
        _, job = self.run_import(self.org, "\n".join(lines) + "\n", token=staff)
        self.assertFinished(self.org, job, 5, 2, 3)
        errs = self.errors_by_line(self.org, job)
        self.assertEqual(sorted(errs), [3, 4, 5])
        for n in (3, 4, 5):
            self.assertRowError(errs, n, 403)
        self.assertEqual(self.get_user(self.org, admin_user["id"]), admin_user)
        self.assertIsNotNone(self.user_by_email(self.org, ok1))
        self.assertIsNotNone(self.user_by_email(self.org, ok2))
        self.assertEqual(self.user_by_email(self.org, ok2)["role"], "user")

    def test_counts_are_exact_over_many_batches(self):
        n, bad_every = 2500, 250
        rows, bad_lines = [], []
        tag = uniq("many")
        for i in range(n):
            if i % bad_every == 7:
                rows.append("broken-%d,%d" % (i, i))
                bad_lines.append(i + 2)
            else:
                rows.append("%s.%d@example.com,%d" % (tag, i, i))
        org = self.S.org_create("Import Many Org")
        r, job = self.run_import(org, "email,zip_code\n" + "\n".join(rows) + "\n")
        self.assertEqual(r.body["total"], n)
        self.assertFinished(org, job, n, n - len(bad_lines), len(bad_lines))
        self.assertEqual(sorted(self.errors_by_line(org, job)), bad_lines)
        self.assertEqual(self.user_count(org), n - len(bad_lines))

    # ---- errors and failed rows ---------------------------------------------
    def mixed_job(self):
        lines = [
            "email,first_name,town",                          # 1
            "%s,Ok,A" % unique_email("mix"),                  # 2
            "broken,X,B",                                     # 3
            '%s,"Has, comma",C,extra' % unique_email("mix"),  # 4 too many fields
            "%s,Ok,D" % unique_email("mix"),                  # 5
            'also broken,Y,"Town, Z"',                         # 6
        ]
        _, job = self.run_import(self.org, "\r\n".join(lines) + "\r\n")
        self.assertFinished(self.org, job, 5, 2, 3)
        return lines, job

    def test_errors_list_is_line_row_error_in_line_order(self):
        lines, job = self.mixed_job()
        errs = self.job_errors(self.org, job)
        self.assertEqual([e["line"] for e in errs], [3, 4, 6])
        for e in errs:
            self.assertEqual(set(e), {"line", "row", "error"}, e)
            self.assertEqual(e["row"], lines[e["line"] - 1])
            self.assertEqual(e["error"]["status"], 422)
        self.assertEqual(errs[0]["error"]["errors"][0]["field"], "email")
        # paging: after_line and limit
        self.assertEqual([e["line"] for e in self.job_errors(self.org, job, after_line=3)], [4, 6])
        self.assertEqual([e["line"] for e in self.job_errors(self.org, job, limit=1)], [3])
        self.assertEqual([e["line"] for e in self.job_errors(self.org, job, after_line=4, limit=1)], [6])
        self.assertEqual(self.job_errors(self.org, job, after_line=6), [])
        self.assertEqual([e["line"] for e in self.job_errors(self.org, job, format="json")], [3, 4, 6])

    def test_errors_as_csv_are_line_field_detail_problem(self):
        lines, job = self.mixed_job()
        r = self.S.get(jobs_path(self.org, job["id"], "/errors?format=csv"), token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/csv"), r)
        rows = list(csv.reader(io.StringIO(r.raw.decode("utf-8"), newline="")))
        self.assertEqual(rows[0], ["line", "field", "detail", "problem"])
        self.assertEqual([x[0] for x in rows[1:]], ["3", "4", "6"])
        for x in rows[1:]:
            self.assertEqual(len(x), 4, x)
            self.assertTrue(x[2], x)
            self.assertTrue(x[3], x)
        self.assertEqual(rows[1][1], "email")
        self.assertEqual(rows[3][1], "email")
        json_errs = self.errors_by_line(self.org, job)
        self.assertEqual(rows[1][2], json_errs[3]["error"]["errors"][0]["detail"])
        self.assertEqual(rows[1][3], json_errs[3]["error"]["detail"])

    def test_errors_bad_parameters_are_400(self):
        _, job = self.mixed_job()
        base = jobs_path(self.org, job["id"], "/errors")
        for q, field in (("format=xml", "format"), ("after_line=x", "after_line"),
                         ("after_line=-1", "after_line"), ("limit=0", "limit"), ("limit=abc", "limit")):
            with self.subTest(q=q):
                self.assertProblem(self.S.get(base + "?" + q, token=self.tok), 400, field)

    def test_failed_rows_are_the_header_and_the_failed_rows_as_sent(self):
        lines, job = self.mixed_job()
        r = self.failed_rows(self.org, job)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/csv"), r)
        self.assertEqual(r.raw.decode("utf-8"),
                         "\r\n".join([lines[0], lines[2], lines[3], lines[5]]) + "\r\n")

    def test_failed_rows_of_a_job_without_failures_is_the_header_alone(self):
        _, job = self.run_import(self.org, "email,town\n%s,A\n" % unique_email())
        self.assertFinished(self.org, job, 1, 1, 0)
        r = self.failed_rows(self.org, job)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.raw, b"email,town\r\n")
        self.assertEqual(self.job_errors(self.org, job), [])

    def test_failed_rows_fixed_and_sent_again_import(self):
        fix1, fix2 = unique_email("fix"), unique_email("fix")
        ok = unique_email("fixok")
        data = ('\ufeffemail,first_name,town\r\n'
                '%s,Ok,A\r\n'
                'FIXME-1,"Needs, fixing","Multi\nTown"\r\n'
                'FIXME-2,Short\r\n') % ok
        _, job = self.run_import(self.org, data.encode("utf-8"))
        self.assertFinished(self.org, job, 3, 1, 2)
        failed = self.failed_rows(self.org, job).raw.decode("utf-8")
        self.assertEqual(failed, 'email,first_name,town\r\nFIXME-1,"Needs, fixing","Multi\nTown"\r\n'
                                 'FIXME-2,Short\r\n')
        fixed = (failed.replace("FIXME-1", fix1).replace("Multi\nTown", "Multi Town")
                 .replace("FIXME-2,Short", fix2 + ",Short,B"))
        _, job2 = self.run_import(self.org, fixed)
        self.assertFinished(self.org, job2, 2, 2, 0)
        u = self.user_by_email(self.org, fix1)
        self.assertEqual((u["first_name"], u["town"]), ("Needs, fixing", "Multi Town"))
        self.assertEqual(self.user_by_email(self.org, fix2)["town"], "B")


# ====================================================================== dry runs

class ImportDryRunTest(ImportCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Import Dry Org")
        cls.tok = cls.org.token("admin")

    def snapshot(self, org):
        users, _ = self.walk(org, include_deleted="true", limit=1000)
        audit = self.audit_records(org)
        return sorted(users, key=lambda u: u["id"]), len(audit)

    def test_dry_run_counts_and_reports_like_a_real_run_but_changes_nothing(self):
        org = self.S.org_create("Import Dry Only")
        existing = self.create_user(org, external_user_id=uniq("dry"), first_name="Before")
        deleted = self.create_user(org)
        self.assertEqual(self.S.request("DELETE", org.user_path(deleted["id"]),
                                        token=org.token("admin")).status, 204)
        new1, new2 = unique_email("drynew"), unique_email("drynew")
        lines = [
            "email,external_user_id,first_name,country_iso2",
            "%s,,New,AT" % new1,                                         # 2 create
            "%s,%s,After," % (unique_email("ch"), existing["external_user_id"]),  # 3 update
            "broken,,X,",                                                # 4 422
            "%s,,X," % deleted["email"],                                 # 5 409 deleted
            "%s,,X,QQ" % unique_email("cc"),                             # 6 422 country
            "%s,,New," % new2,                                           # 7 create
            "a,b",                                                       # 8 fields
        ]
        data = "\n".join(lines) + "\n"
        before = self.snapshot(org)
        r, dry = self.run_import(org, data, dry_run="true")
        self.assertIs(r.body.get("dry_run"), True, r)
        self.assertIs(dry.get("dry_run"), True, dry)
        self.assertFinished(org, dry, 7, 3, 4)
        dry_errs = self.errors_by_line(org, dry)
        self.assertEqual(sorted(dry_errs), [4, 5, 6, 8])
        self.assertRowError(dry_errs, 5, 409, "email")
        self.assertRowError(dry_errs, 6, 422, "country_iso2")
        after = self.snapshot(org)
        self.assertEqual(after[0], before[0], "a dry run changed users")
        # the audit log gains the job.create record only
        self.assertEqual(after[1], before[1] + 1, "a dry run wrote audit records for users")
        self.assertEqual(self.failed_rows(org, dry).raw.decode(),
                         "\r\n".join([lines[0], lines[3], lines[4], lines[5], lines[7]]) + "\r\n")
        # the same file for real: the same counts and errors
        r2, real = self.run_import(org, data, dry_run="false")
        self.assertIs(r2.body.get("dry_run"), False, r2)
        self.assertFinished(org, real, 7, 3, 4)
        real_errs = self.errors_by_line(org, real)
        self.assertEqual({n: e["error"]["status"] for n, e in real_errs.items()},
                         {n: e["error"]["status"] for n, e in dry_errs.items()})
        self.assertEqual(self.get_user(org, existing["id"])["first_name"], "After")
        self.assertIsNotNone(self.user_by_email(org, new1))
        self.assertIsNotNone(self.user_by_email(org, new2))

    # A dry run writes each batch and rolls it back, so it meets the checks only the database
    # makes: a row with a new external_user_id but the email of an existing user fails with 409
    # in the dry run exactly as in the real one.
    def test_dry_run_reports_email_conflicts_like_a_real_run(self):
        org = self.S.org_create("Import Dry Conflict")
        taken = self.create_user(org, external_user_id=uniq("own"))
        dup = unique_email("dup")
        lines = [
            "email,external_user_id",
            "%s,%s" % (taken["email"], uniq("new")),   # 2 409: email of another user
            "%s," % dup,                               # 3 create
            "%s," % dup,                               # 4 update of row 3's user
            "%s," % unique_email("fine"),              # 5 create
        ]
        data = "\n".join(lines) + "\n"
        _, dry = self.run_import(org, data, dry_run="true")
        dry_counts = (dry["processed"], dry["succeeded"], dry["failed"])
        dry_lines = sorted(self.errors_by_line(org, dry))
        _, real = self.run_import(org, data)
        real_counts = (real["processed"], real["succeeded"], real["failed"])
        self.assertEqual(real_counts, (4, 3, 1), real)
        self.assertEqual(sorted(self.errors_by_line(org, real)), [2])
        self.assertEqual((dry_counts, dry_lines), (real_counts, [2]),
                         "the dry run's counts and errors differ from the real run's")

    def test_the_upload_is_removed_once_the_job_ends(self):
        jobs_dir = self.S.db + ".jobs"
        before = set(os.listdir(jobs_dir))
        _, job = self.run_import(self.S.org_create("Import Cleanup"),
                                 "email\n%s\n" % unique_email("clean"))
        self.assertEqual(job["state"], "succeeded", job)
        left = [f for f in set(os.listdir(jobs_dir)) - before if f.endswith(".in")]
        self.assertEqual(left, [], "the job's input file is still in the jobs directory")

    def test_big_file_of_100000_rows_is_read_to_the_end(self):
        n = 100000
        tag = uniq("big")
        data = "email,first_name,zip_code\n" + "".join(
            "%s.%d@example.com,Big %d,%05d\n" % (tag, i, i, i % 100000) for i in range(n))
        org = self.S.org_create("Import Big Dry")
        r = self.start_import(org, data, dry_run="true")
        self.assertEqual(r.body["total"], n)
        job = self.wait_job(org, r.body["id"], timeout=60)
        self.assertFinished(org, job, n, n, 0)
        self.assertEqual(self.user_count(org), 0)


# ====================================================================== JSON lines

class ImportJsonLinesTest(ImportCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Import JSONL Org")
        cls.tok = cls.org.token("admin")

    def jl(self, *objs):
        return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)

    def test_json_lines_create_and_update_users(self):
        ext = uniq("jext")
        u = self.create_user(self.org, external_user_id=ext, first_name="Old", town="Wien")
        e1 = unique_email("jl")
        data = self.jl({"email": e1, "first_name": "Jay", "role": "viewer", "country_iso2": "at",
                        "external_user_id": uniq("j")},
                       {"external_user_id": ext, "first_name": "Updated"},
                       {"email": u["email"], "last_name": "ByEmail"})
        r, job = self.run_import(self.org, data, ctype="application/x-ndjson")
        self.assertEqual(r.body.get("format"), "jsonl")
        self.assertFinished(self.org, job, 3, 3, 0)
        v = self.user_by_email(self.org, e1)
        self.assertEqual((v["first_name"], v["role"], v["country_iso2"]), ("Jay", "viewer", "AT"))
        after = self.get_user(self.org, u["id"])
        self.assertEqual((after["first_name"], after["last_name"], after["town"]), ("Updated", "ByEmail", "Wien"))

    def test_malformed_lines_are_reported_by_line(self):
        good = [unique_email("jg") for _ in range(3)]
        lines = [
            json.dumps({"email": good[0]}),                       # 1
            '{"email": "x@example.com", ',                         # 2 malformed
            "[1, 2]",                                              # 3 not an object
            '"just a string"',                                     # 4 not an object
            "",                                                    # 5 blank: skipped
            json.dumps({"email": good[1]}),                        # 6
            json.dumps({"email": 5}),                              # 7 not a string
            '{"email": "%s", "email": "%s"}' % (unique_email(), unique_email()),  # 8 duplicate key
            json.dumps({"email": unique_email(), "nickname": "x"}),  # 9 unknown field
            json.dumps({"first_name": "nobody"}),                  # 10 no email, no external id
            "   ",                                                 # 11 blank: skipped
            json.dumps({"email": good[2], "town": "Graz"}),        # 12
        ]
        data = "\n".join(lines)  # no final line break
        r, job = self.run_import(self.org, data, ctype="application/x-ndjson")
        self.assertEqual(r.body["total"], 12)
        self.assertFinished(self.org, job, 10, 3, 7)
        errs = self.errors_by_line(self.org, job)
        self.assertEqual(sorted(errs), [2, 3, 4, 7, 8, 9, 10])
        for n in (2, 3, 4, 8):
            self.assertRowError(errs, n, 422)
        self.assertRowError(errs, 7, 422, "email")
        self.assertRowError(errs, 9, 422, "nickname")
        self.assertRowError(errs, 10, 422)
        for n, e in errs.items():
            self.assertEqual(e["row"], lines[n - 1], n)
        for email in good:
            self.assertIsNotNone(self.user_by_email(self.org, email), email)

    def test_null_values_are_allowed_where_the_api_allows_them(self):
        ext = uniq("jnull")
        u = self.create_user(self.org, external_user_id=ext, first_name="Full", town="Wien", zip_code="1010")
        e_new, e_role = unique_email("jn"), unique_email("jn")
        data = self.jl({"external_user_id": ext, "town": None, "zip_code": None},    # 1 clears
                       {"email": e_new, "first_name": None, "country_iso2": None},  # 2 create
                       {"email": e_role, "role": None},                            # 3 role: not null
                       {"email": None, "external_user_id": uniq("jx")})            # 4 email: not null
        _, job = self.run_import(self.org, data, ctype="application/x-ndjson")
        self.assertFinished(self.org, job, 4, 2, 2)
        after = self.get_user(self.org, u["id"])
        self.assertIsNone(after["town"])
        self.assertIsNone(after["zip_code"])
        self.assertEqual(after["first_name"], "Full")
        self.assertIsNone(self.user_by_email(self.org, e_new)["first_name"])
        errs = self.errors_by_line(self.org, job)
        self.assertRowError(errs, 3, 422, "role")
        self.assertRowError(errs, 4, 422, "email")
        self.assertIsNone(self.user_by_email(self.org, e_role))

    def test_crlf_lines_and_failed_rows_are_the_raw_lines(self):
        ok = unique_email("jcr")
        bad1 = json.dumps({"email": "nope", "town": "A"})
        bad2 = '{"email": broken'
        data = json.dumps({"email": ok}) + "\r\n" + bad1 + "\r\n\r\n" + bad2 + "\r\n"
        _, job = self.run_import(self.org, data, ctype="text/plain", format="jsonl")
        self.assertFinished(self.org, job, 3, 1, 2)
        errs = self.errors_by_line(self.org, job)
        self.assertEqual(sorted(errs), [2, 4])
        r = self.failed_rows(self.org, job)
        self.assertEqual(r.status, 200, r)
        self.assertIn("ndjson", r.headers.get("Content-Type", ""))
        self.assertEqual(r.raw.decode(), bad1 + "\n" + bad2 + "\n")
        # fixed and sent again
        f1, f2 = unique_email("jfix"), unique_email("jfix")
        fixed = r.raw.decode().replace('"nope"', json.dumps(f1)).replace(
            '{"email": broken', json.dumps({"email": f2}))
        _, job2 = self.run_import(self.org, fixed, ctype="application/x-ndjson")
        self.assertFinished(self.org, job2, 2, 2, 0)
        self.assertEqual(self.user_by_email(self.org, f1)["town"], "A")
        self.assertIsNotNone(self.user_by_email(self.org, f2))

    def test_failed_rows_of_a_json_lines_job_without_failures_is_empty(self):
        _, job = self.run_import(self.org, self.jl({"email": unique_email()}), ctype="application/x-ndjson")
        self.assertFinished(self.org, job, 1, 1, 0)
        r = self.failed_rows(self.org, job)
        self.assertEqual(r.raw, b"")


# ====================================================================== audit

class ImportAuditTest(ImportCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Import Audit Org")
        cls.tok = cls.org.token("admin")
        cls.tok_id = cls.org.token_id("admin")

    def test_each_created_and_updated_user_has_an_audit_record_and_the_job_a_job_create(self):
        existing = self.create_user(self.org, first_name="Before")
        e1, e2 = unique_email("aud"), unique_email("aud")
        data = "email,first_name\n%s,One\n%s,Two\n%s,After\nbroken,X\n" % (e1, e2, existing["email"])
        r, job = self.run_import(self.org, data)
        self.assertFinished(self.org, job, 4, 3, 1)
        rid = r.headers.get("X-Request-Id")
        self.assertTrue(rid, r)
        for email in (e1, e2):
            u = self.user_by_email(self.org, email)
            recs = self.audit_records(self.org, target_id=u["id"])
            self.assertEqual([x["action"] for x in recs], ["user.create"], recs)
            self.assertEqual(recs[0]["target"], {"type": "user", "id": u["id"]})
            self.assertEqual(recs[0]["actor"]["id"], self.tok_id)
            self.assertEqual(recs[0]["request_id"], rid)
        recs = self.audit_records(self.org, target_id=existing["id"])
        self.assertEqual([x["action"] for x in recs], ["user.update", "user.create"], recs)
        self.assertEqual(recs[0]["actor"]["id"], self.tok_id)
        self.assertEqual(recs[0]["request_id"], rid)
        jrecs = self.audit_records(self.org, target_id=job["id"])
        self.assertEqual([x["action"] for x in jrecs], ["job.create"], jrecs)
        self.assertEqual(jrecs[0]["target"], {"type": "job", "id": job["id"]})
        self.assertEqual(jrecs[0]["actor"]["id"], self.tok_id)
        # the failed row left no record
        users_recs = [x for x in self.audit_records(self.org, action="user.create")
                      if x.get("request_id") == rid]
        self.assertEqual(len(users_recs), 2)


# ====================================================================== permissions and /jobs

class ImportPermissionsTest(ImportCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Import Perm Org")
        cls.other = cls.S.org_create("Import Perm Other")
        cls.tok = cls.org.token("admin")
        r = cls.S.request("POST", import_path(cls.org), raw="email\nbroken\n%s\n" % unique_email("perm"),
                          token=cls.tok, content_type="text/csv")
        assert r.status == 202, r
        cls.job_id = r.body["id"]

    def setUp(self):
        self.job = self.wait_job(self.org, self.job_id)

    def test_viewer_and_user_tokens_are_403_on_import_and_create_nothing(self):
        for role in ("viewer", "user"):
            with self.subTest(role=role):
                n = len(self.org_jobs(self.org))
                email = unique_email("viewer")
                r = self.post_import(self.org, "email\n%s\n" % email, token=self.org.token(role))
                self.assertProblem(r, 403)
                self.assertEqual(len(self.org_jobs(self.org)), n)
                self.assertIsNone(self.user_by_email(self.org, email))

    def test_viewer_may_read_jobs_errors_and_failed_rows(self):
        viewer = self.org.token("viewer")
        r = self.S.get(jobs_path(self.org, self.job_id), token=viewer)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["id"], self.job_id)
        r = self.S.get(jobs_path(self.org), token=viewer)
        self.assertEqual(r.status, 200, r)
        self.assertIn(self.job_id, [j["id"] for j in r.body])
        self.assertEqual([e["line"] for e in self.job_errors(self.org, self.job, token=viewer)], [2])
        self.assertEqual(self.failed_rows(self.org, self.job, token=viewer).raw, b"email\r\nbroken\r\n")

    def test_viewer_may_not_cancel_403(self):
        r = self.S.request("POST", jobs_path(self.org, self.job_id, "/cancel"), token=self.org.token("viewer"))
        self.assertProblem(r, 403)

    def test_integration_token_is_403_on_import_and_jobs(self):
        integ = self.org.token("integration")
        self.assertProblem(self.post_import(self.org, "email\n%s\n" % unique_email(), token=integ), 403)
        self.assertProblem(self.S.get(jobs_path(self.org, self.job_id), token=integ), 403)
        self.assertProblem(self.S.get(jobs_path(self.org), token=integ), 403)

    def test_no_token_is_401(self):
        r = self.S.request("POST", import_path(self.org), raw="email\nx@example.com\n", content_type="text/csv")
        self.assertProblem(r, 401)
        self.assertProblem(self.S.get(jobs_path(self.org, self.job_id)), 401)

    def test_another_orgs_token_is_404_for_import_and_this_orgs_jobs(self):
        other = self.other.token("admin")
        email = unique_email("cross")
        self.assertProblem(self.post_import(self.org, "email\n%s\n" % email, token=other), 404)
        for tail in ("", "/errors", "/failed-rows"):
            self.assertProblem(self.S.get(jobs_path(self.org, self.job_id, tail), token=other), 404)
        self.assertProblem(self.S.request("POST", jobs_path(self.org, self.job_id, "/cancel"), token=other), 404)
        self.assertProblem(self.S.get(jobs_path(self.org), token=other), 404)
        # and through its own org's path the job does not exist either
        for tail in ("", "/errors", "/failed-rows"):
            self.assertProblem(self.S.get(jobs_path(self.other, self.job_id, tail), token=other), 404)
        self.assertProblem(self.S.request("POST", jobs_path(self.other, self.job_id, "/cancel"), token=other), 404)
        self.assertNotIn(self.job_id, [j["id"] for j in self.org_jobs(self.other)])
        self.assertIsNone(self.user_by_email(self.org, email))

    def test_cancel_of_a_finished_job_is_409_even_for_staff(self):
        for role in ("admin", "staff"):
            with self.subTest(role=role):
                r = self.S.request("POST", jobs_path(self.org, self.job_id, "/cancel"), token=self.org.token(role))
                self.assertProblem(r, 409)
        job = self.S.get(jobs_path(self.org, self.job_id), token=self.tok).body
        self.assertEqual(job["state"], "succeeded")
        self.assertIs(job["cancel_requested"], False)

    def test_jobs_list_is_newest_first_with_limit_and_cursor(self):
        org = self.S.org_create("Import Jobs List")
        ids = []
        for i in range(5):
            _, job = self.run_import(org, "email\n%s\n" % unique_email("list%d" % i))
            ids.append(job["id"])
        newest_first = list(reversed(ids))
        r = self.S.get(jobs_path(org) + "?limit=2", token=org.token("viewer"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual([j["id"] for j in r.body], newest_first[:2])
        for j in r.body:
            self.assertJobView(org, j)
        items, pages = self.walk(org, path=jobs_path(org), limit=2)
        self.assertEqual([j["id"] for j in items], newest_first)
        self.assertEqual([len(p.body) for p in pages], [2, 2, 1])
        self.assertIsNone(next_link(pages[-1]))
        items, pages = self.walk(org, path=jobs_path(org))
        self.assertEqual([j["id"] for j in items], newest_first)
        self.assertEqual(len(pages), 1)

    def test_jobs_list_bad_limit_or_cursor_is_400(self):
        for q, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                         ("cursor=garbage", "cursor")):
            with self.subTest(q=q):
                self.assertProblem(self.S.get(jobs_path(self.org) + "?" + q, token=self.tok), 400, field)


# ====================================================================== cancel

class ImportCancelTest(ImportCase):
    N = 30000

    def big_file(self, tag):
        emails = ["%s.%05d@example.com" % (tag, i) for i in range(self.N)]
        return emails, "email,first_name\n" + "".join("%s,C%d\n" % (e, i) for i, e in enumerate(emails))

    def assertCancelledConsistently(self, org, job, emails):
        self.assertJobView(org, job)
        self.assertEqual(job["state"], "cancelled",
                         "the job was not cancelled (too fast? make the file bigger): %r" % job)
        self.assertIs(job["cancel_requested"], True)
        self.assertLess(job["processed"], job["total"], job)
        self.assertEqual(job["total"], self.N)
        self.assertEqual(job["failed"], 0, job)
        self.assertEqual(job["succeeded"], job["processed"], job)
        self.assertRegex(job["finished_at"], TS_RE)
        # every committed row is there, and nothing else: the first `succeeded` rows of the file
        users, _ = self.walk(org, include_deleted="true", limit=1000)
        self.assertEqual(len(users), job["succeeded"])
        self.assertEqual(sorted(u["email"] for u in users), emails[:job["succeeded"]])
        creates = self.audit_records(org, action="user.create")
        self.assertEqual(len(creates), job["succeeded"])
        recs = self.audit_records(org, target_id=job["id"])
        self.assertEqual([x["action"] for x in recs], ["job.cancel", "job.create"], recs)
        return users

    def test_cancel_a_running_import_stops_it_and_keeps_every_committed_row(self):
        org = self.S.org_create("Import Cancel Running")
        staff = org.token("staff")
        emails, data = self.big_file(uniq("cr"))
        r = self.start_import(org, data, token=staff)
        jid = r.body["id"]
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            g = self.S.get(jobs_path(org, jid), token=staff)
            self.assertEqual(g.status, 200, g)
            if g.body["state"] == "running" and g.body["processed"] > 0:
                break
            self.assertIn(g.body["state"], ("queued", "running"), g)
            self.assertLess(time.monotonic(), deadline, g)
            time.sleep(0.01)
        c = self.S.request("POST", jobs_path(org, jid, "/cancel"), token=staff)
        self.assertEqual(c.status, 202, c)
        self.assertJobView(org, c.body)
        self.assertIs(c.body["cancel_requested"], True)
        self.assertIn(c.body["state"], ("running", "cancelled"))
        job = self.wait_job(org, jid, token=staff)
        self.assertGreater(job["processed"], 0)
        self.assertCancelledConsistently(org, job, emails)
        self.assertProblem(self.S.request("POST", jobs_path(org, jid, "/cancel"), token=staff), 409)
        cancel_rec = self.audit_records(org, target_id=jid)[0]
        self.assertEqual(cancel_rec["actor"]["id"], org.token_id("staff"))

    def test_cancel_right_after_the_202(self):
        org = self.S.org_create("Import Cancel Early")
        emails, data = self.big_file(uniq("ce"))
        r = self.start_import(org, data)
        c = self.S.request("POST", jobs_path(org, r.body["id"], "/cancel"), token=org.token("admin"))
        self.assertEqual(c.status, 202, c)
        self.assertIs(c.body["cancel_requested"], True)
        job = self.wait_job(org, r.body["id"])
        self.assertCancelledConsistently(org, job, emails)


# ====================================================================== other writers meanwhile

class ImportAndOtherWritersTest(ImportCase):
    def test_cli_commands_and_api_writes_succeed_while_a_big_import_runs(self):
        org = self.S.org_create("Import Busy Org")
        tok = org.token("admin")
        n = 40000
        data = "email\n" + "".join("%s.%d@example.com\n" % (uniq("busy"), i) for i in range(n))
        r = self.S.request("POST", import_path(org), raw=data, token=tok, content_type="text/csv", timeout=60)
        self.assertEqual(r.status, 202, r)
        jid = r.body["id"]
        created = 0
        while True:
            job = self.S.get(jobs_path(org, jid), token=tok).body
            if job["state"] in DONE:
                break
            # another process (the CLI) writes to the same database between the job's batches
            cli_ok(["token", "create", "--org", org.id, "--role", "viewer", "--name", uniq("busy")], self.S.db)
            self.create_user(org, email=unique_email("during"))
            created += 1
        self.assertGreater(created, 0, "the import ended before anything else wrote: make it bigger")
        self.assertFinished(org, job, n, n, 0)

# ====================================================================== kill -9

class ImportKillResumeTest(ImportCase):
    """A server of its own, killed with SIGKILL in the middle of an import."""
    N = 60000

    def setUp(self):
        self.srv = harness.Server()
        self.addCleanup(self.srv.cleanup)
        self.addCleanup(self._reap)
        self.srv.start()

    def _reap(self):
        p = self.srv.proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()

    def poll(self, org, jid, until, timeout):
        deadline = time.monotonic() + timeout
        while True:
            r = self.srv.get(jobs_path(org, jid), token=org.token("admin"))
            self.assertEqual(r.status, 200, r)
            if until(r.body):
                return r.body
            self.assertIn(r.body["state"], ("queued", "running"), r)
            if time.monotonic() > deadline:
                self.fail("timed out after %s s: %r\n%s" % (timeout, r.body, self.srv.stderr_tail()))
            time.sleep(0.02)

    def test_kill_9_mid_import_resumes_and_applies_every_row_exactly_once(self):
        srv, n = self.srv, self.N
        org = srv.org_create("Import Kill Org")
        tok = org.token("admin")
        tag = uniq("kill")
        emails = ["%s.%05d@example.com" % (tag, i) for i in range(n)]
        # CRLF, a BOM and quoted fields: the resume cursor must land on the right byte and line
        data = "\ufeffemail,first_name,last_name\r\n" + "".join(
            '%s,K%d,"Row, %d"\r\n' % (e, i, i) for i, e in enumerate(emails))
        r = srv.request("POST", import_path(org), raw=data.encode("utf-8"), token=tok,
                        content_type="text/csv", timeout=60)
        self.assertEqual(r.status, 202, r)
        jid = r.body["id"]
        self.assertEqual(r.body["total"], n)

        at_kill = self.poll(org, jid, lambda j: j["state"] == "running" and j["processed"] > 0, 30)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
        self.assertEqual(srv.proc.returncode, -signal.SIGKILL)
        self.assertLess(at_kill["processed"], n, "the import ended before the kill: make the file bigger")

        srv.start()   # the same database, and so the same jobs directory (db + ".jobs")
        again = srv.get(jobs_path(org, jid), token=tok).body
        self.assertIn(again["state"], ("queued", "running"), again)
        self.assertGreaterEqual(again["processed"], at_kill["processed"], "committed progress was lost")
        self.assertLess(again["processed"], n, again)
        # a graceful stop in the middle as well: the job stays running and resumes
        mid = self.poll(org, jid, lambda j: j["processed"] >= again["processed"] + 3000
                        or j["state"] in DONE, 60)
        self.assertEqual(srv.stop(), 0, srv.stderr_tail())
        self.assertEqual(mid["state"], "running", "the import ended before the stop")
        srv.start()

        job = self.poll(org, jid, lambda j: j["state"] in DONE, 90)
        self.assertFinished(org, job, n, n, 0)
        self.assertEqual(job["total"], n)
        r = srv.get(jobs_path(org, jid, "/errors"), token=tok)
        self.assertEqual((r.status, r.body), (200, []))
        r = srv.get(org.users + "?limit=1&include_deleted=true", token=tok)
        self.assertEqual(int(r.headers["X-Total-Count"]), n)

        self.assertEqual(srv.stop(), 0, srv.stderr_tail())
        db = sqlite3.connect("file:%s?mode=ro" % srv.db, uri=True)
        try:
            rows = db.execute("SELECT email, first_name, last_name, id FROM users WHERE org_id = ?",
                              (org.id,)).fetchall()
            self.assertEqual(len(rows), n, "users in the org")
            by_email = {}
            for email, first, last, _ in rows:
                self.assertNotIn(email, by_email, "%s was created twice" % email)
                by_email[email] = (first, last)
            self.assertEqual(set(by_email), set(emails))
            for i, e in enumerate(emails):
                if by_email[e] != ("K%d" % i, "Row, %d" % i):
                    self.fail("row %d was applied as %r" % (i + 2, by_email[e]))
            user_ids = {row[3] for row in rows}
            creates = db.execute("SELECT target_id FROM audit WHERE org_id = ? AND action = 'user.create'",
                                 (org.id,)).fetchall()
            self.assertEqual(len(creates), n, "user.create audit records")
            self.assertEqual({t for (t,) in creates}, user_ids)
            others = db.execute("SELECT action, count(*) FROM audit WHERE org_id = ? AND action != 'user.create' "
                                "AND (action LIKE 'user.%' OR action LIKE 'job.%') GROUP BY action",
                                (org.id,)).fetchall()
            self.assertEqual(dict(others), {"job.create": 1})
        finally:
            db.close()


if __name__ == "__main__":
    unittest.main()
