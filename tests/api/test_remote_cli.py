"""The command-line HTTP client: `fleetdesk users`, `devices` and
`bulk-update` driving a real server, and through a fault-injecting proxy
(faultproxy.py): 429 with Retry-After, 502/503 before the server sees the
request, 503 and a dropped connection after it applied it.  The last two
are only safe because every POST carries an Idempotency-Key that the
client reuses on its retries; the tests check that each row was applied
exactly once (one audit record per user) and that the proxy saw replays."""

import csv
import fcntl
import io
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
import unittest
import urllib.parse
import uuid

import harness
from harness import API, ApiTestCase, binary, uniq, unique_email
from faultproxy import FaultProxy

# The module's server: a generous rate limit, so only the proxy's 429s (and
# the test that asks for one) slow the client down.
RATE_ARGS = ["--rate-limit", "20000", "--rate-burst", "20000"]


def setUpModule():
    ApiTestCase.S = harness.start_module_server(__name__, RATE_ARGS)


def tearDownModule():
    ApiTestCase.S = None
    harness.stop_module_server(__name__)


CLI_TIMEOUT = 60


def client_env(server_url, token=None, org=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDESK_")}
    env["FLEETDESK_URL"] = server_url
    if token is not None:
        env["FLEETDESK_TOKEN"] = token
    if org is not None:
        env["FLEETDESK_ORG"] = org
    return env


def csv_text(header, rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return out.getvalue()


class ClientCase(ApiTestCase):
    """Runs the client against the module's server (or a proxy)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleetdesk-remote-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return p

    def cli(self, args, token=None, url=None, org=None, env=None, timeout=CLI_TIMEOUT):
        e = client_env(url or self.S.base, token, org)
        e.update(env or {})
        return subprocess.run([binary()] + list(args), capture_output=True, text=True, timeout=timeout,
                              env=e, cwd=self.tmp)

    def ok(self, args, **kw):
        p = self.cli(args, **kw)
        self.assertEqual(p.returncode, 0, "%s -> %d\nstdout: %s\nstderr: %s"
                         % (args, p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
        return p

    def assertUsage(self, p, what=""):
        self.assertEqual(p.returncode, 2, "%s: exit %d\nstdout=%r\nstderr=%r"
                         % (what, p.returncode, p.stdout, p.stderr))
        err = p.stderr.strip()
        self.assertTrue(err, "%s: no message on stderr" % what)
        self.assertEqual(len(err.splitlines()), 1, "%s: stderr is not one line: %r" % (what, p.stderr))
        self.assertTrue(err.startswith("fleetdesk: "), err)
        self.assertEqual(p.stdout, "", what)

    def assertFailed(self, p, *needles):
        self.assertEqual(p.returncode, 1, "exit %d\nstdout=%r\nstderr=%r" % (p.returncode, p.stdout, p.stderr))
        for n in needles:
            self.assertIn(n, p.stderr)

    def new_org(self):
        org = self.S.org_create()
        return org, org.token("admin")

    def bulk_create(self, org, users):
        """Creates users through the API, 1000 a request; returns them in order."""
        out = []
        for i in range(0, len(users), 1000):
            items = [{"op": "create", "data": u} for u in users[i:i + 1000]]
            r = self.S.request("POST", org.users + "/bulk", body={"items": items}, token=org.token("admin"),
                               timeout=120)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body["failed"], 0, r.body)
            out += [x["data"] for x in r.body["results"]]
        return out

    def api_users(self, org, **params):
        params.setdefault("limit", 1000)
        items, _ = self.walk(org, **params)
        return items


# ---------------------------------------------------------------------- usage
class UsageTest(ClientCase):
    HELP = [
        ["users"], ["users", "list"], ["users", "get"], ["users", "create"], ["users", "update"],
        ["users", "delete"], ["users", "restore"], ["users", "import"], ["users", "export"],
        ["devices"], ["devices", "list"], ["devices", "get"], ["devices", "diagnose"], ["devices", "reset"],
        ["bulk-update"],
    ]

    def test_every_client_command_has_help_exiting_0_without_any_configuration(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDESK_")}
        for args in self.HELP:
            with self.subTest(cmd=" ".join(args)):
                p = subprocess.run([binary()] + args + ["--help"], capture_output=True, text=True,
                                   timeout=CLI_TIMEOUT, env=env, cwd=self.tmp)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("usage: fleetdesk " + args[0], p.stdout)
                if len(args) > 1:
                    self.assertIn("--url", p.stdout)
                    self.assertIn("--token-file", p.stdout)

    def test_top_level_help_names_the_client_commands(self):
        p = harness.run_cli(["--help"])
        self.assertEqual(p.returncode, 0)
        for cmd in ("users", "devices", "bulk-update"):
            self.assertIn(cmd, p.stdout)

    def test_bad_arguments_exit_2_with_one_line(self):
        org, tok = self.new_org()
        uid = str(uuid.uuid4())
        csvf = self.write("usage.csv", "id,town\n%s,Graz\n" % uid)
        bad = [
            ["users"], ["users", "frobnicate"], ["users", "list", "--bogus"], ["users", "list", "--limit", "0"],
            ["users", "list", "--limit", "abc"], ["users", "list", "--role", "god"], ["users", "list", "--sort", "x"],
            ["users", "list", "--token"], ["users", "list", "extra"], ["users", "get"], ["users", "get", "nope"],
            ["users", "get", uid, uid], ["users", "create"], ["users", "create", "--email"],
            ["users", "create", "--email", "a@b.c", "--data", "{not json"],
            ["users", "create", "--email", "a@b.c", "--data", "[1]"], ["users", "create", "--field", "novalue"],
            ["users", "update", uid], ["users", "delete", "x"], ["users", "import"],
            ["users", "import", self.path("missing.csv")], ["users", "import", csvf, "--format", "xml"],
            ["users", "export", "--format", "xml"], ["devices"], ["devices", "frob"],
            ["devices", "list", "--type", "toaster"], ["devices", "list", "--stale", "maybe"],
            ["devices", "list", "--user", uid, "--stale", "true"], ["devices", "list", "--user", "x"],
            ["devices", "get", uid], ["devices", "get", "--user", uid, uid],
            ["devices", "diagnose", "--user", uid, "--type", "inverter"], ["bulk-update"],
            ["bulk-update", csvf, "--batch", "1001"], ["bulk-update", csvf, "--batch", "0"],
            ["bulk-update", self.write("usage.txt", "x")], ["bulk-update", csvf, "--failed-rows", csvf],
            ["users", "list", "--url", "ftp://example.com"], ["users", "list", "--rate", "-1"],
            ["users", "list", "--retries", "99"], ["users", "list", "--timeout", "0"],
            ["users", "list", "--org", "not-a-uuid"], ["users", "list", "--token", "a", "--token-file", csvf],
            ["users", "list", "--token-file", self.path("no-such-token")], ["users", "list", "--token", "a b"],
            ["users", "delete", uid, "--if-match", "a\r\nX-Evil: 1"],
        ]
        for args in bad:
            with self.subTest(args=args):
                self.assertUsage(self.cli(args, token=tok), args)

    def test_missing_url_or_token_is_a_usage_error(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDESK_")}
        p = subprocess.run([binary(), "users", "list"], capture_output=True, text=True, env=env,
                           timeout=CLI_TIMEOUT, cwd=self.tmp)
        self.assertUsage(p, "no url")
        self.assertIn("FLEETDESK_URL", p.stderr)
        p = self.cli(["users", "list"])
        self.assertUsage(p, "no token")
        self.assertIn("FLEETDESK_TOKEN", p.stderr)


# ---------------------------------------------------------------------- users
class UsersTest(ClientCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create()
        cls.tok = cls.org.token("admin")

    def test_list_prints_a_table_and_json_is_the_servers_json(self):
        tag = uniq("lst")
        made = [self.create_user(self.org, email=unique_email(tag), first_name="Ann", last_name=tag)
                for _ in range(3)]
        p = self.ok(["users", "list", "--search", tag], token=self.tok)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split()[:3], ["ID", "EMAIL", "ROLE"])
        self.assertEqual(len(lines), 4, p.stdout)
        for u in made:
            row = [ln for ln in lines if u["id"] in ln]
            self.assertEqual(len(row), 1)
            self.assertIn(u["email"], row[0])
            self.assertIn("Ann " + tag, row[0])
        self.assertTrue(all(ln == ln.rstrip() for ln in lines), "a line ends in blanks")
        j = json.loads(self.ok(["users", "list", "--search", tag, "--json"], token=self.tok).stdout)
        r = self.S.get(self.org.users + "?search=" + tag, token=self.tok)
        self.assertEqual(j, r.body)

    def test_list_all_follows_every_page_and_a_page_says_there_is_more(self):
        tag = uniq("pg")
        ids = {self.create_user(self.org, email=unique_email(tag))["id"] for _ in range(7)}
        j = json.loads(self.ok(["users", "list", "--search", tag, "--limit", "3", "--all", "--json"],
                               token=self.tok).stdout)
        self.assertEqual(len(j), 7)
        self.assertEqual({u["id"] for u in j}, ids)
        p = self.ok(["users", "list", "--search", tag, "--limit", "3"], token=self.tok)
        self.assertEqual(len(p.stdout.splitlines()), 4)
        self.assertIn("3 of 7", p.stderr)
        self.assertIn("--all", p.stderr)
        p = self.ok(["users", "list", "--search", tag, "--limit", "3", "--all"], token=self.tok)
        self.assertEqual(len(p.stdout.splitlines()), 8)

    def test_list_filters_by_role_and_shows_deleted_users_only_when_asked(self):
        tag = uniq("rl")
        staff = self.create_user(self.org, email=unique_email(tag), role="staff")
        gone = self.create_user(self.org, email=unique_email(tag))
        self.assertEqual(self.S.request("DELETE", self.org.user_path(gone["id"]), token=self.tok).status, 204)
        j = json.loads(self.ok(["users", "list", "--search", tag, "--role", "staff", "--json"],
                               token=self.tok).stdout)
        self.assertEqual([u["id"] for u in j], [staff["id"]])
        p = self.ok(["users", "list", "--search", tag], token=self.tok)
        self.assertNotIn(gone["id"], p.stdout)
        p = self.ok(["users", "list", "--search", tag, "--include-deleted"], token=self.tok)
        self.assertIn("DELETED", p.stdout.splitlines()[0])
        self.assertIn(gone["id"], p.stdout)

    def test_create_get_update_delete_restore_round_trip(self):
        email = unique_email("rt")
        p = self.ok(["users", "create", "--email", email, "--first-name", "Jo", "--field", "town=Linz",
                     "--country-iso2", "at", "--external-user-id", uniq("x"), "--json"], token=self.tok)
        u = json.loads(p.stdout)
        self.assertEqual(u, self.get_user(self.org, u["id"]))
        self.assertEqual((u["email"], u["first_name"], u["town"], u["country_iso2"]), (email, "Jo", "Linz", "AT"))
        p = self.ok(["users", "get", u["id"]], token=self.tok)
        self.assertRegex(p.stdout, r"(?m)^email\s+%s$" % re.escape(email))
        self.assertIn('ETag: "', p.stdout)
        etag = re.search(r'ETag: (".*")', p.stdout).group(1)
        # the ETag without its quotes, as a shell leaves `--if-match "2"`, gets them back
        p = self.ok(["users", "update", u["id"], "--town", "Graz", "--clear", "first_name",
                     "--if-match", etag.strip('"')], token=self.tok)
        now = self.get_user(self.org, u["id"])
        self.assertEqual((now["town"], now["first_name"]), ("Graz", None))
        self.assertRegex(p.stdout, r"(?m)^town\s+Graz$")
        p = self.cli(["users", "update", u["id"], "--town", "Wels", "--if-match", etag], token=self.tok)
        self.assertFailed(p, "412")
        self.assertEqual(self.get_user(self.org, u["id"])["town"], "Graz")
        p = self.ok(["users", "delete", u["id"]], token=self.tok)
        self.assertIn(u["id"], p.stdout)
        self.assertIsNotNone(self.get_user(self.org, u["id"])["deleted_at"])
        j = json.loads(self.ok(["users", "restore", u["id"], "--json"], token=self.tok).stdout)
        self.assertIsNone(j["deleted_at"])
        self.assertIsNone(self.get_user(self.org, u["id"])["deleted_at"])

    def test_create_from_a_data_file_and_an_invalid_field_shows_the_problem(self):
        email = unique_email("df")
        data = self.write("user.json", json.dumps({"email": email, "last_name": "From File"}))
        u = json.loads(self.ok(["users", "create", "--data", "@" + data, "--json"], token=self.tok).stdout)
        self.assertEqual(self.get_user(self.org, u["id"])["last_name"], "From File")
        p = self.cli(["users", "create", "--email", "not-an-email", "--first-name", "X"], token=self.tok)
        self.assertFailed(p, "422", "/email")
        self.assertEqual(p.stdout, "")
        p = self.cli(["users", "create", "--email", email], token=self.tok)
        self.assertFailed(p, "409")

    def test_get_of_an_unknown_user_is_404_and_exit_1(self):
        p = self.cli(["users", "get", str(uuid.uuid4())], token=self.tok)
        self.assertFailed(p, "404", "no such user")

    def test_bad_token_exits_1_with_the_problem_and_never_shows_the_token(self):
        secret = "fdt_" + uuid.uuid4().hex + "SECRETSECRET"
        tf = self.write("bad.token", secret + "\n")
        for args, kw in (([], {"token": secret}), (["--verbose"], {"token": secret}),
                         (["--token-file", tf, "--verbose"], {}), (["--token", secret], {})):
            with self.subTest(args=args):
                p = self.cli(["users", "list"] + args, **kw)
                self.assertFailed(p, "401", "invalid, revoked or expired")
                self.assertNotIn(secret, p.stdout + p.stderr)
                self.assertNotIn("SECRETSECRET", p.stdout + p.stderr)

    def test_verbose_shows_requests_but_never_the_token(self):
        p = self.ok(["users", "list", "--limit", "1", "--verbose"], token=self.tok)
        self.assertIn("GET /api/partners/v2.0/me -> 200", p.stderr)
        self.assertIn("/users?limit=1 -> 200", p.stderr)
        self.assertNotIn(self.tok, p.stderr + p.stdout)

    def test_token_file_and_org_from_the_environment(self):
        tf = self.write("good.token", "  %s  \n" % self.tok)
        u = self.create_user(self.org)
        p = self.ok(["users", "get", u["id"], "--token-file", tf, "--json", "--verbose"])
        self.assertEqual(json.loads(p.stdout)["id"], u["id"])
        self.assertIn("/me", p.stderr)
        p = self.ok(["users", "get", u["id"], "--json", "--verbose"], token=self.tok, org=self.org.id)
        self.assertNotIn("/me", p.stderr)

    def test_another_orgs_user_is_not_found_even_naming_its_org(self):
        other = self.S.org_create()
        theirs = self.create_user(other)
        p = self.cli(["users", "get", theirs["id"]], token=self.tok)
        self.assertFailed(p, "404")
        p = self.cli(["users", "get", theirs["id"], "--org", other.id], token=self.tok)
        self.assertFailed(p, "404")
        p = self.cli(["users", "update", theirs["id"], "--town", "Hacked", "--org", other.id], token=self.tok)
        self.assertFailed(p, "404")
        self.assertEqual(self.get_user(other, theirs["id"])["town"], theirs["town"])

    def test_a_viewers_write_is_refused_with_403(self):
        viewer = self.org.token("viewer")
        p = self.cli(["users", "create", "--email", unique_email("vw")], token=viewer)
        self.assertFailed(p, "403")
        u = self.create_user(self.org, town="Before")
        p = self.cli(["users", "update", u["id"], "--town", "After"], token=viewer)
        self.assertFailed(p, "403")
        p = self.cli(["users", "delete", u["id"]], token=viewer)
        self.assertFailed(p, "403")
        self.assertUnchanged(self.org, u)
        self.ok(["users", "get", u["id"]], token=viewer)

    def test_export_streams_csv_and_jsonl_with_the_lists_filters(self):
        # GET /users/export is being built on main; this worktree's server answers 404.
        tag = uniq("ex")
        made = [self.create_user(self.org, email=unique_email(tag), role=r) for r in ("user", "user", "staff")]
        p = self.ok(["users", "export", "--search", tag], token=self.tok)
        rows = list(csv.DictReader(io.StringIO(p.stdout)))
        self.assertEqual({r["id"] for r in rows}, {u["id"] for u in made})
        p = self.ok(["users", "export", "--format", "jsonl", "--search", tag, "--role", "staff"], token=self.tok)
        lines = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
        self.assertEqual([u["id"] for u in lines], [made[2]["id"]])


# ---------------------------------------------------------------------- devices
class DevicesTest(ClientCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create()
        cls.tok = cls.org.token("admin")

    def device(self, user_id, type_path, body):
        r = self.S.request("POST", "%s/%s" % (self.org.user_path(user_id), type_path), body=body, token=self.tok)
        self.assertEqual(r.status, 201, r)
        return r.body

    def test_fleet_list_user_list_get_diagnose_and_reset(self):
        u = self.create_user(self.org)
        hp = self.device(u["id"], "heat-pumps", {"is_smart_optimization_active": False,
                                                 "device_model": {"manufacturer": "Acme", "model": "HP1"}})
        iv = self.device(u["id"], "inverters", {"is_authenticated": True})
        # the fleet view, filtered
        j = json.loads(self.ok(["devices", "list", "--type", "heat-pump", "--json"], token=self.tok).stdout)
        r = self.S.get("%s/org/%s/devices?type=heat-pumps" % (API, self.org.id), token=self.tok)
        self.assertEqual(j, r.body)
        self.assertIn(hp["id"], [d["id"] for d in j])
        p = self.ok(["devices", "list", "--optimization-active", "false"], token=self.tok)
        row = [ln for ln in p.stdout.splitlines() if hp["id"] in ln]
        self.assertEqual(len(row), 1, p.stdout)
        self.assertIn("Acme HP1", row[0])
        self.assertIn("optimization_off", row[0])
        self.assertNotIn(iv["id"], p.stdout)
        # one user's devices
        p = self.ok(["devices", "list", "--user", u["id"]], token=self.tok)
        self.assertIn(hp["id"], p.stdout)
        self.assertIn(iv["id"], p.stdout)
        j = json.loads(self.ok(["devices", "list", "--user", u["id"], "--type", "inverters", "--json"],
                               token=self.tok).stdout)
        self.assertEqual(j, self.S.get(self.org.user_path(u["id"]) + "/inverters", token=self.tok).body)
        j = json.loads(self.ok(["devices", "list", "--user", u["id"], "--json"], token=self.tok).stdout)
        self.assertEqual(set(j), {"heat-pumps", "electric-vehicles", "inverters"})
        self.assertEqual([d["id"] for d in j["heat-pumps"]], [hp["id"]])
        self.assertEqual(j["electric-vehicles"], [])
        # one device
        args = ["--user", u["id"], "--type", "heat-pump", hp["id"]]
        p = self.ok(["devices", "get"] + args, token=self.tok)
        self.assertRegex(p.stdout, r"(?m)^device_model\.manufacturer\s+Acme$")
        # its diagnosis
        dpath = "%s/heat-pumps/%s" % (self.org.user_path(u["id"]), hp["id"])
        j = json.loads(self.ok(["devices", "diagnose", "--json"] + args, token=self.tok).stdout)
        self.assertEqual(set(j), set(self.S.get(dpath + "/diagnosis", token=self.tok).body))
        p = self.ok(["devices", "diagnose"] + args, token=self.tok)
        self.assertIn("Device not authenticated", p.stdout)
        self.assertIn("NOT OK", p.stdout)
        self.assertRegex(p.stdout, r"\[!!\] optimization_active")
        # reset
        p = self.ok(["devices", "reset"] + args, token=self.tok)
        self.assertRegex(p.stdout, r"(?m)^is_smart_optimization_active\s+true$")
        self.assertTrue(self.S.get(dpath, token=self.tok).body["is_smart_optimization_active"])
        p = self.cli(["devices", "reset"] + args, token=self.org.token("viewer"))
        self.assertFailed(p, "403")

    def test_another_users_device_is_not_found(self):
        u1, u2 = self.create_user(self.org), self.create_user(self.org)
        hp = self.device(u1["id"], "heat-pumps", {})
        p = self.cli(["devices", "get", "--user", u2["id"], "--type", "hp", hp["id"]], token=self.tok)
        self.assertFailed(p, "404")


# ---------------------------------------------------------------------- import
class ImportTest(ClientCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create()
        cls.tok = cls.org.token("admin")

    def test_import_with_bad_rows_reports_the_first_20_by_line_and_writes_the_failed_rows(self):
        tag = uniq("im")
        rows, bad_lines, bad_rows = [], [], []
        for i in range(60):
            if i % 2 == 1 and len(bad_lines) < 25:
                row = ["%s-bad-%d" % (tag, i), "Bad", ""]
                bad_lines.append(i + 2)      # the header is line 1
                bad_rows.append(row)
            else:
                row = ["%s.%d@example.com" % (tag, i), "Good", "%s-%d" % (tag, i)]
            rows.append(row)
        header = ["email", "first_name", "external_user_id"]
        f = self.write("%s.csv" % tag, csv_text(header, rows))
        p = self.cli(["users", "import", f], token=self.tok)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("60 rows: 35 succeeded, 25 failed", p.stdout)
        shown = [int(m) for m in re.findall(r"(?m)^  line (\d+): ", p.stdout)]
        self.assertEqual(shown, bad_lines[:20])
        self.assertIn("… and 5 more", p.stdout)
        self.assertIn("/email", p.stdout)
        failed = self.path("%s.failed.csv" % tag)
        self.assertIn(failed, p.stdout)
        with open(failed, newline="") as fh:
            back = list(csv.reader(fh))
        self.assertEqual(back, [header] + bad_rows)
        got = self.api_users(self.org, search=tag)
        self.assertEqual(len(got), 35)
        self.assertTrue(all(u["first_name"] == "Good" for u in got))

    def test_import_of_json_lines_to_a_named_failed_rows_file(self):
        tag = uniq("jl")
        lines = [json.dumps({"email": "%s.%d@example.com" % (tag, i), "last_name": tag}) for i in range(5)]
        lines.insert(2, json.dumps({"email": "%s-no-at" % tag}))
        lines.insert(4, json.dumps({"email": "%s.x@example.com" % tag, "shoe_size": 44}))
        f = self.write("%s.jsonl" % tag, "\n".join(lines) + "\n")
        out = self.path("%s-rejects.jsonl" % tag)
        p = self.cli(["users", "import", f, "--failed-rows", out, "--no-progress"], token=self.tok)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual([int(m) for m in re.findall(r"(?m)^  line (\d+): ", p.stdout)], [3, 5])
        self.assertEqual(p.stderr, "")
        with open(out) as fh:
            self.assertEqual(fh.read().splitlines(), [lines[2], lines[4]])
        self.assertFalse(os.path.exists(self.path("%s.failed.jsonl" % tag)))
        self.assertEqual(len(self.api_users(self.org, search=tag)), 5)

    def test_dry_run_applies_nothing(self):
        tag = uniq("dr")
        f = self.write("%s.csv" % tag, csv_text(["email"], [["%s.%d@example.com" % (tag, i)] for i in range(5)]))
        p = self.ok(["users", "import", f, "--dry-run"], token=self.tok)
        self.assertIn("dry run", p.stdout)
        self.assertIn("5 valid, 0 would fail", p.stdout)
        self.assertEqual(self.api_users(self.org, search=tag), [])
        f2 = self.write("%s-2.csv" % tag, csv_text(["email"], [["%s.ok@example.com" % tag], ["nope"]]))
        p = self.cli(["users", "import", f2, "--dry-run", "--json"], token=self.tok)
        self.assertEqual(p.returncode, 1, p.stderr)
        job = json.loads(p.stdout)
        self.assertEqual((job["dry_run"], job["succeeded"], job["failed"]), (True, 1, 1))
        self.assertEqual(self.api_users(self.org, search=tag), [])

    def test_clean_import_exits_0_and_writes_no_failed_rows_file(self):
        tag = uniq("cl")
        f = self.write("%s.csv" % tag, csv_text(["email", "town"], [["%s.%d@example.com" % (tag, i), "Ried"]
                                                                    for i in range(4)]))
        p = self.ok(["users", "import", f], token=self.tok)
        self.assertIn("4 rows: 4 succeeded, 0 failed", p.stdout)
        self.assertFalse(os.path.exists(self.path("%s.failed.csv" % tag)))
        self.assertEqual(len(self.api_users(self.org, search=tag)), 4)

    def test_a_viewers_import_is_refused_with_403(self):
        f = self.write("viewer.csv", csv_text(["email"], [[unique_email("vi")]]))
        p = self.cli(["users", "import", f], token=self.org.token("viewer"))
        self.assertFailed(p, "403")

    def test_ctrl_c_while_following_cancels_the_job(self):
        tag = uniq("cc")
        f = self.write("%s.csv" % tag, csv_text(["email"], [["%s.%d@example.com" % (tag, i)]
                                                            for i in range(60000)]))
        e = client_env(self.S.base, self.tok)
        proc = subprocess.Popen([binary(), "users", "import", f], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=e, cwd=self.tmp)
        try:
            # wait for the first progress line: the job exists and is followed
            err = b""
            deadline = time.monotonic() + 60
            while b"import: " not in err and time.monotonic() < deadline:
                r, _, _ = select.select([proc.stderr], [], [], 1)
                if r:
                    chunk = os.read(proc.stderr.fileno(), 4096)
                    if not chunk:
                        break
                    err += chunk
            self.assertIn(b"import: ", err)
            proc.send_signal(signal.SIGINT)
            out, rest = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err += rest
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(b"cancel", err)
        jobs = self.S.get("%s/org/%s/jobs" % (API, self.org.id), token=self.tok).body
        self.assertTrue(jobs[0]["cancel_requested"], jobs[0])
        self.assertLess(jobs[0]["succeeded"], 60000)


# ---------------------------------------------------------------------- bulk-update
class BulkUpdateTest(ClientCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create()
        cls.tok = cls.org.token("admin")

    def test_csv_updates_with_some_failing_rows(self):
        tag = uniq("bc")
        users = self.bulk_create(self.org, [{"email": "%s.%d@example.com" % (tag, i), "town": "Old",
                                             "first_name": "F%d" % i} for i in range(12)])
        header = ["id", "town", "first_name", "updated_at"]
        rows = [[u["id"], "New%d" % i, "", u["updated_at"]] for i, u in enumerate(users)]
        rows[3] = [str(uuid.uuid4()), "Nowhere", "", ""]               # no such user
        rows[7] = [users[7]["id"], "", "x" * 101, ""]                   # too long
        rows[9] = ["", "Empty", "", ""]                                 # no id
        f = self.write("%s.csv" % tag, csv_text(header, rows))
        p = self.cli(["bulk-update", f, "--batch", "5"], token=self.tok)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("12 rows: 9 applied, 3 failed", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^  line 5 \(%s\): 404 " % rows[3][0])
        self.assertRegex(p.stdout, r"(?m)^  line 9 \(%s\): 422 .*/first_name: " % users[7]["id"])
        self.assertRegex(p.stdout, r"(?m)^  line 11: the id is empty")
        with open(self.path("%s.failed.csv" % tag), newline="") as fh:
            self.assertEqual(list(csv.reader(fh)), [header, rows[3], rows[7], rows[9]])
        after = {u["id"]: u for u in self.api_users(self.org, search=tag)}
        for i, u in enumerate(users):
            if i in (3, 7, 9):
                self.assertEqual(after[u["id"]]["town"], "Old")
            else:
                self.assertEqual(after[u["id"]]["town"], "New%d" % i)
            self.assertEqual(after[u["id"]]["first_name"], "F%d" % i)   # empty cells leave it alone

    def test_json_lines_plain_rows_and_whole_items_with_a_json_report(self):
        tag = uniq("bj")
        users = self.bulk_create(self.org, [{"email": "%s.%d@example.com" % (tag, i)} for i in range(5)])
        lines = [
            json.dumps({"id": users[0]["id"], "last_name": "Plain", "town": None}),
            json.dumps({"op": "delete", "id": users[1]["id"]}),
            "",
            "{not json",
            json.dumps({"op": "create", "data": {"email": "%s.new@example.com" % tag}}),
            json.dumps({"op": "update", "id": users[2]["id"], "data": {"country_iso2": "XX"}}),
            json.dumps({"id": users[3]["id"], "role": "admin"}),
            json.dumps({"first_name": "no id"}),
        ]
        f = self.write("%s.jsonl" % tag, "\n".join(lines) + "\n")
        p = self.cli(["bulk-update", f, "--json"], token=self.tok)
        self.assertEqual(p.returncode, 1, p.stderr)
        rep = json.loads(p.stdout)
        self.assertEqual((rep["total"], rep["succeeded"], rep["failed"]), (7, 4, 3))
        self.assertEqual([x["line"] for x in rep["failures"]], [4, 6, 8])
        self.assertEqual(rep["failures"][1]["status"], 422)
        self.assertEqual(rep["failures"][1]["error"]["errors"][0]["pointer"], "/items/3/data/country_iso2")
        self.assertEqual(rep["failed_rows_file"], self.path("%s.failed.jsonl" % tag))
        with open(rep["failed_rows_file"]) as fh:
            self.assertEqual(fh.read().splitlines(), [lines[3], lines[5], lines[7]])
        self.assertEqual(self.get_user(self.org, users[0]["id"])["last_name"], "Plain")
        self.assertIsNotNone(self.get_user(self.org, users[1]["id"])["deleted_at"])
        self.assertEqual(self.get_user(self.org, users[3]["id"])["role"], "admin")
        self.assertEqual(len(self.api_users(self.org, search="%s.new@" % tag)), 1)

    def test_atomic_batches_apply_all_or_none(self):
        tag = uniq("ba")
        users = self.bulk_create(self.org, [{"email": "%s.%d@example.com" % (tag, i)} for i in range(6)])
        rows = [[u["id"], "T%d" % i] for i, u in enumerate(users)]
        rows[1][1] = "y" * 101
        f = self.write("%s.csv" % tag, csv_text(["id", "town"], rows))
        p = self.cli(["bulk-update", f, "--batch", "3", "--atomic"], token=self.tok)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("6 rows: 3 applied, 3 failed", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^  line 2 .*424 not applied.*line 3")
        towns = [self.get_user(self.org, u["id"])["town"] for u in users]
        self.assertEqual(towns, [None, None, None, "T3", "T4", "T5"])

    def test_a_viewers_bulk_update_fails_every_row_and_sends_one_batch(self):
        tag = uniq("bv")
        users = self.bulk_create(self.org, [{"email": "%s.%d@example.com" % (tag, i)} for i in range(4)])
        rows = [[u["id"], "Viewer"] for u in users]
        f = self.write("%s.csv" % tag, csv_text(["id", "town"], rows))
        p = self.cli(["bulk-update", f, "--batch", "2", "--verbose"], token=self.org.token("viewer"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("4 rows: 0 applied, 4 failed (2 of them not sent)", p.stdout)
        self.assertIn("403", p.stdout)
        self.assertEqual(p.stderr.count("/users/bulk"), 1)
        with open(self.path("%s.failed.csv" % tag), newline="") as fh:
            self.assertEqual(list(csv.reader(fh)), [["id", "town"]] + rows)
        self.assertTrue(all(self.get_user(self.org, u["id"])["town"] is None for u in users))

    def test_a_clean_run_exits_0_with_progress_lines_on_a_non_terminal(self):
        tag = uniq("bo")
        users = self.bulk_create(self.org, [{"email": "%s.%d@example.com" % (tag, i)} for i in range(30)])
        f = self.write("%s.csv" % tag, csv_text(["id", "zip_code"], [[u["id"], "10%02d" % i]
                                                                    for i, u in enumerate(users)]))
        p = self.ok(["bulk-update", f, "--batch", "10"], token=self.tok)
        self.assertIn("30 rows: 30 applied, 0 failed", p.stdout)
        self.assertIn("bulk-update: 30/30 rows  100%", p.stderr)
        self.assertNotIn("\r", p.stderr)
        self.assertFalse(os.path.exists(self.path("%s.failed.csv" % tag)))
        self.assertEqual([self.get_user(self.org, u["id"])["zip_code"] for u in users[:3]], ["1000", "1001", "1002"])


# ---------------------------------------------------------------------- terminals
class TerminalTest(ClientCase):
    def run_on_pty(self, args, token, cols=60, stderr_too=False):
        """Runs the client with stdout (and stderr) on a pseudo-terminal of cols columns."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
        e = client_env(self.S.base, token)
        proc = subprocess.Popen([binary()] + args, stdout=slave, stderr=slave if stderr_too else subprocess.PIPE,
                                env=e, cwd=self.tmp)
        os.close(slave)
        out = b""
        try:
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            proc.wait(CLI_TIMEOUT)
        finally:
            os.close(master)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, out.decode("utf-8", "replace")

    def test_a_table_on_a_terminal_is_cut_to_its_width(self):
        org = self.S.org_create()
        tok = org.token("admin")
        tag = uniq("tt")
        for i in range(3):
            self.create_user(org, email="%s.%d.with.a.rather.long.address@example.com" % (tag, i),
                             first_name="Maximilian", last_name="Mustermann-Langname", town="Sankt Wolfgang")
        rc, out = self.run_on_pty(["users", "list"], tok, cols=60)
        self.assertEqual(rc, 0, out)
        lines = [ln for ln in out.replace("\r\n", "\n").split("\n") if ln]
        self.assertEqual(len(lines), 4, out)
        for ln in lines:
            self.assertLessEqual(len(ln), 60, ln)
        self.assertIn("…", out)
        p = self.ok(["users", "list"], token=tok)                # not a terminal: nothing is cut
        self.assertNotIn("…", p.stdout)
        self.assertIn("with.a.rather.long.address@example.com", p.stdout)

    def test_the_progress_bar_on_a_terminal_is_redrawn_in_place(self):
        org = self.S.org_create()
        tok = org.token("admin")
        users = self.bulk_create(org, [{"email": unique_email("pb")} for _ in range(20)])
        f = self.write("pb.csv", csv_text(["id", "town"], [[u["id"], "Bar"] for u in users]))
        rc, out = self.run_on_pty(["bulk-update", f, "--batch", "5"], tok, cols=100, stderr_too=True)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"\r\x1b\[Kbulk-update: \[[#-]+\] ")
        self.assertIn("20/20 rows  100%", out)


# ---------------------------------------------------------------------- faults
def is_bulk(method, path):
    return method == "POST" and path.split("?")[0].endswith("/users/bulk")


def is_import(method, path):
    return method == "POST" and path.split("?")[0].endswith("/users/import")


def is_job_read(method, path):
    return method == "GET" and "/jobs/" in path


class FaultTest(ClientCase):
    """The client through faultproxy.FaultProxy."""

    def proxy(self, rules, **kw):
        p = FaultProxy(self.S.host, self.S.port, rules, **kw).start()
        self.addCleanup(p.stop)
        return p

    def per_user(self, org, action, since_ids):
        """How many `action` audit records each of since_ids has."""
        counts = dict.fromkeys(since_ids, 0)
        for rec in self.audit_records(org, action=action):
            t = rec["target"]["id"]
            if t in counts:
                counts[t] += 1
        return counts

    def test_bulk_update_through_lost_replies_and_429s_applies_every_row_exactly_once(self):
        org, tok = self.new_org()
        tag = uniq("fb")
        n = 3000
        users = self.bulk_create(org, [{"email": "%s.%d@example.com" % (tag, i)} for i in range(n)])
        f = self.write("%s.csv" % tag, csv_text(["id", "town"], [[u["id"], "Town %d" % i]
                                                                for i, u in enumerate(users)]))
        plan = ["429:1", "503-after", "pass",      # batch 1: a lost reply after a 429: replayed
                "503", "429:0", "502", "pass",     # batch 2: refused before the server saw it
                "drop-after", "pass",              # batch 3: the connection dropped after it applied
                "pass",                            # batch 4
                "503-after", "504", "pass"]        # batch 5: lost, then a gateway timeout, then replayed
        proxy = self.proxy([(is_bulk, plan), (lambda m, p: m == "GET", ["pass", "503", "pass"])])
        p = self.cli(["bulk-update", f, "--batch", "500", "--verbose"], token=tok, url=proxy.url)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertIn("%d rows: %d applied, 0 failed" % (n, n), p.stdout)
        for action in ("429:1", "429:0", "503", "502", "504", "503-after", "drop-after"):
            self.assertGreater(proxy.count(action), 0, action)
        self.assertIn("retrying in 1.00 s (429", p.stderr)   # Retry-After: 1, honoured
        self.assertIn("retrying in 0.00 s (429", p.stderr)   # Retry-After: 0
        # every bulk POST carried a key, one key per batch, reused on its retries
        bulk = [x for x in proxy.posts if x[0].endswith("/users/bulk")]
        keys = [k for _, k, _, _ in bulk]
        self.assertTrue(all(keys), bulk)
        self.assertEqual(len(set(keys)), n // 500)
        # the retries after a lost reply were answered from the first attempt
        replays = [x for x in bulk if x[3]]
        self.assertEqual(len(replays), proxy.count("503-after") + proxy.count("drop-after"))
        self.assertGreater(proxy.replayed, 0)
        # every row exactly once: one user.update per user, and the state it set
        counts = self.per_user(org, "user.update", [u["id"] for u in users])
        self.assertEqual(sorted(set(counts.values())), [1])
        after = {u["id"]: u for u in self.api_users(org)}
        for i, u in enumerate(users):
            self.assertEqual(after[u["id"]]["town"], "Town %d" % i)

    def test_import_through_a_lost_reply_starts_one_job_and_applies_each_row_once(self):
        org, tok = self.new_org()
        tag = uniq("fi")
        n = 2500
        rows = [["%s.%d@example.com" % (tag, i), "Imp", "%s-%d" % (tag, i)] for i in range(n)]
        f = self.write("%s.csv" % tag, csv_text(["email", "first_name", "external_user_id"], rows))
        proxy = self.proxy([(is_import, ["503-after", "pass"]),
                            # faults first: the job may be done by the first poll that passes
                            (is_job_read, ["503", "429:0", "pass", "drop", "502", "pass"])])
        p = self.cli(["users", "import", f], token=tok, url=proxy.url)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertIn("%d rows: %d succeeded, 0 failed" % (n, n), p.stdout)
        self.assertGreater(proxy.count("drop") + proxy.count("503") + proxy.count("429:0"), 0)
        # the upload was sent twice under one key; the second got the first one's job
        imports = [x for x in proxy.posts if x[0].split("?")[0].endswith("/users/import")]
        self.assertEqual([x[2] for x in imports], ["503-after", "pass"])
        self.assertEqual(imports[0][1], imports[1][1])
        self.assertTrue(imports[0][1])
        self.assertTrue(imports[1][3])
        self.assertEqual(proxy.replayed, 1)
        # one job, and each row applied once: one user.create per user
        jobs = self.S.get("%s/org/%s/jobs" % (API, org.id), token=tok).body
        self.assertEqual(len(jobs), 1, jobs)
        self.assertEqual((jobs[0]["succeeded"], jobs[0]["failed"]), (n, 0))
        self.assertEqual(len(self.audit_records(org, action="job.create")), 1)
        created = [r["target"]["id"] for r in self.audit_records(org, action="user.create")]
        self.assertEqual(len(created), n)
        users = self.api_users(org)
        self.assertEqual(sorted(created), sorted(u["id"] for u in users))
        self.assertEqual(sorted(u["email"] for u in users), sorted(r[0] for r in rows))
        self.assertFalse(os.path.exists(self.path("%s.failed.csv" % tag)))

    def test_a_bulk_update_that_never_gets_a_reply_stops_and_keeps_every_row(self):
        org, tok = self.new_org()
        tag = uniq("fn")
        users = self.bulk_create(org, [{"email": "%s.%d@example.com" % (tag, i)} for i in range(9)])
        rows = [[u["id"], "Lost"] for u in users]
        f = self.write("%s.csv" % tag, csv_text(["id", "town"], rows))
        proxy = self.proxy([(is_bulk, ["drop-after"])])
        p = self.cli(["bulk-update", f, "--batch", "3", "--retries", "2"], token=tok, url=proxy.url)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("9 rows: 0 applied, 9 failed (6 of them not sent)", p.stdout)
        self.assertIn("may or may not have been applied", p.stdout)
        # one batch, three attempts (libcurl may add one on a fresh connection when a reused one
        # died without a reply), all under one key
        self.assertGreaterEqual(proxy.count("drop-after"), 3)
        self.assertEqual(len({k for _, k, _, _ in proxy.posts}), 1)
        with open(self.path("%s.failed.csv" % tag), newline="") as fh:
            self.assertEqual(list(csv.reader(fh)), [["id", "town"]] + rows)
        # the first batch was applied once (its lost replies were replays), the rest never sent
        counts = self.per_user(org, "user.update", [u["id"] for u in users])
        self.assertEqual([counts[u["id"]] for u in users], [1, 1, 1, 0, 0, 0, 0, 0, 0])

    def test_an_empty_bucket_in_the_ratelimit_header_pauses_the_client(self):
        org, tok = self.new_org()
        tag = uniq("eb")
        for i in range(4):
            self.create_user(org, email="%s.%d@example.com" % (tag, i))
        proxy = self.proxy([(lambda m, p: m == "GET", ["empty:1"])])
        p = self.cli(["users", "list", "--search", tag, "--limit", "2", "--all", "--json", "--verbose"],
                     token=tok, url=proxy.url)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(json.loads(p.stdout)), 4)
        self.assertEqual(p.stderr.count("waiting 1.0 s for the server's rate limit"), 2)

    def test_next_links_naming_the_server_are_followed_through_the_configured_url(self):
        org, tok = self.new_org()
        tag = uniq("nl")
        ids = {self.create_user(org, email="%s.%d@example.com" % (tag, i))["id"] for i in range(5)}
        proxy = self.proxy([], upstream_host_header=True)
        p = self.cli(["users", "list", "--search", tag, "--limit", "2", "--all", "--json"], token=tok,
                     url=proxy.url)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual({u["id"] for u in json.loads(p.stdout)}, ids)
        self.assertEqual(proxy.requests, 1 + 3)                 # /me and three pages, all through the proxy

    def test_a_request_that_keeps_failing_gives_up_after_its_retries_with_exit_1(self):
        org, tok = self.new_org()
        proxy = self.proxy([(lambda m, p: "/users" in p, ["503"])])
        p = self.cli(["users", "list", "--retries", "2"], token=tok, url=proxy.url)
        self.assertFailed(p, "503", "injected: unavailable")
        self.assertEqual(proxy.count("503"), 3)

    def test_an_unreachable_server_is_retried_then_reported(self):
        port = harness.free_port()
        p = self.cli(["users", "list", "--retries", "1", "--org", str(uuid.uuid4())], token="fdt_x",
                     url="http://127.0.0.1:%d" % port)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("after 2 attempts", p.stderr)
        self.assertNotIn("fdt_x", p.stderr)

    def test_the_client_paces_bulk_batches_by_the_servers_ratelimit_headers(self):
        s = harness.Server()
        try:
            org = s.org_create()
            tok = org.token("admin")
            s.start(["--rate-limit", "100", "--rate-burst", "300"])
            items = [{"op": "create", "data": {"email": unique_email("rl")}} for _ in range(250)]
            r = s.request("POST", org.users + "/bulk", body={"items": items}, token=tok)
            self.assertEqual(r.status, 200, r)
            users = [x["data"] for x in r.body["results"]]
            f = self.write("paced.csv", csv_text(["id", "town"], [[u["id"], "Paced"] for u in users]))
            e = client_env(s.base, tok)
            p = subprocess.run([binary(), "bulk-update", f, "--batch", "100", "--verbose"], capture_output=True,
                               text=True, env=e, cwd=self.tmp, timeout=CLI_TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("waiting", p.stderr)
            self.assertIn("for the server's rate limit", p.stderr)
            self.assertNotIn("-> 429", p.stderr)
            self.assertEqual(s.stop(), 0)
        finally:
            s.stop(signal.SIGKILL)
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
