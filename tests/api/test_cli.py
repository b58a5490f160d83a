"""The command line: --help, exit status 2 on bad arguments, 1 on runtime
failures, org/token/client commands, and graceful shutdown."""

import json
import os
import signal
import socket
import tempfile
import unittest
import uuid

import harness
from harness import ApiTestCase, run_cli, cli_ok, TS_RE, UUID_RE

harness.use_server(globals())

HELP = [
    ([], None),
    (["serve"], "--listen"),
    (["org", "create"], "--name"),
    (["org", "list"], None),
    (["token", "create"], "--role"),
    (["token", "list"], "--org"),
    (["token", "revoke"], "--id"),
    (["client", "create"], "--org"),
    (["client", "list"], "--org"),
    (["client", "revoke"], "--id"),
    (["demo"], "--users"),
]


class CliTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleetdesk-cli-")
        cls.db = os.path.join(cls.tmp, "cli.db")
        try:
            cls.org = json.loads(cli_ok(["org", "create", "--name", "CLI Org"], cls.db))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertBadArgs(self, args, db=True):
        p = run_cli(args, self.db if db else None)
        self.assertEqual(p.returncode, 2, "%s -> %d\nstdout=%r\nstderr=%r"
                         % (args, p.returncode, p.stdout, p.stderr))
        err = p.stderr.strip()
        self.assertTrue(err, "no message on stderr for %s" % args)
        self.assertEqual(len(err.splitlines()), 1, "stderr is not one line: %r" % p.stderr)
        self.assertEqual(p.stdout, "", args)

    # ---- --help -----------------------------------------------------------------------
    def test_every_command_has_help_exiting_0(self):
        for args, must_mention in HELP:
            with self.subTest(cmd=" ".join(args) or "(top)"):
                p = run_cli(args + ["--help"])
                self.assertEqual(p.returncode, 0, "%s --help -> %d: %s" % (args, p.returncode, p.stderr))
                text = p.stdout + p.stderr
                self.assertTrue(text.strip())
                if must_mention:
                    self.assertIn(must_mention, text)

    def test_top_level_help_lists_the_commands(self):
        p = run_cli(["--help"])
        text = p.stdout + p.stderr
        for cmd in ("serve", "org", "token", "client", "demo"):
            self.assertIn(cmd, text)

    # ---- bad arguments: one line, exit 2 ------------------------------------------------
    def test_unknown_command_exits_2_with_one_line(self):
        self.assertBadArgs(["frobnicate"])

    def test_unknown_subcommand_exits_2(self):
        self.assertBadArgs(["org", "explode"])
        self.assertBadArgs(["token", "mint"])

    def test_unknown_option_exits_2(self):
        self.assertBadArgs(["org", "list", "--bogus"])
        self.assertBadArgs(["serve", "--bogus"], db=False)

    def test_missing_required_options_exit_2(self):
        self.assertBadArgs(["org", "create"])
        self.assertBadArgs(["token", "create", "--role", "admin"])
        self.assertBadArgs(["token", "create", "--org", self.org["id"]])
        self.assertBadArgs(["token", "list"])
        self.assertBadArgs(["token", "revoke", "--org", self.org["id"]])
        self.assertBadArgs(["client", "create"])
        self.assertBadArgs(["client", "revoke", "--org", self.org["id"]])

    def test_option_without_value_exits_2(self):
        self.assertBadArgs(["org", "create", "--name"])
        self.assertBadArgs(["serve", "--listen"], db=False)

    def test_invalid_role_exits_2_and_prints_no_token(self):
        self.assertBadArgs(["token", "create", "--org", self.org["id"], "--role", "god"])

    def test_invalid_option_values_exit_2(self):
        self.assertBadArgs(["demo", "--users", "abc"])
        self.assertBadArgs(["demo", "--users", "-5"])
        self.assertBadArgs(["serve", "--listen", "not-a-host-port"], db=False)
        self.assertBadArgs(["serve", "--threads", "zero"], db=False)
        self.assertBadArgs(["serve", "--listen", "127.0.0.1:99999"], db=False)

    # ---- runtime failures: exit 1 ----------------------------------------------------------
    def test_serve_on_a_port_in_use_exits_1(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            p = run_cli(["serve", "--listen", "127.0.0.1:%d" % port, "--db", self.db,
                         "--access-log", "off"], timeout=10)
        self.assertEqual(p.returncode, 1, p.stderr)

    def test_unusable_database_path_exits_1(self):
        p = run_cli(["org", "list"], "/nonexistent-dir-%s/x.db" % uuid.uuid4().hex)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(p.stderr.strip())

    def test_token_create_for_unknown_org_fails_and_prints_no_token(self):
        p = run_cli(["token", "create", "--org", str(uuid.uuid4()), "--role", "admin"], self.db)
        self.assertIn(p.returncode, (1, 2), p.stderr)
        self.assertEqual(p.stdout.strip(), "")

    # ---- org ---------------------------------------------------------------------------
    def test_org_create_prints_id_name_created_at_json(self):
        o = json.loads(cli_ok(["org", "create", "--name", "Printed Org"], self.db))
        self.assertEqual(set(o), {"id", "name", "created_at"})
        self.assertRegex(o["id"], UUID_RE)
        self.assertEqual(o["name"], "Printed Org")
        self.assertRegex(o["created_at"], TS_RE)

    def test_org_list_shows_created_orgs(self):
        out = cli_ok(["org", "list"], self.db)
        self.assertIn(self.org["id"], out)
        self.assertIn("CLI Org", out)

    # ---- tokens --------------------------------------------------------------------------
    def test_token_create_prints_only_the_token_on_one_line(self):
        out = cli_ok(["token", "create", "--org", self.org["id"], "--role", "viewer", "--name", "one"],
                     self.db)
        self.assertTrue(out.endswith("\n") or "\n" not in out)
        self.assertEqual(len(out.strip().splitlines()), 1)
        self.assertNotRegex(out.strip(), r"\s")
        self.assertGreaterEqual(len(out.strip()), 20)

    def test_token_list_has_the_documented_fields_and_never_the_token_or_hash(self):
        tok = cli_ok(["token", "create", "--org", self.org["id"], "--role", "staff",
                      "--name", "listed"], self.db).strip()
        out = cli_ok(["token", "list", "--org", self.org["id"]], self.db)
        items = json.loads(out)
        self.assertIsInstance(items, list)
        mine = [t for t in items if t["name"] == "listed"]
        self.assertEqual(len(mine), 1)
        t = mine[0]
        self.assertLessEqual({"id", "name", "role", "kind", "created_at", "expires_at", "revoked_at"},
                             set(t), t)
        self.assertEqual(t["role"], "staff")
        self.assertRegex(t["created_at"], TS_RE)
        self.assertIsNone(t["revoked_at"])
        self.assertNotIn(tok, out)
        self.assertNotIn(harness.sha256_hex(tok), out.lower())

    def test_token_create_with_each_role(self):
        for role in harness.ROLES:
            with self.subTest(role=role):
                p = run_cli(["token", "create", "--org", self.org["id"], "--role", role], self.db)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue(p.stdout.strip())

    def test_token_revoke_marks_it_revoked_and_the_running_server_refuses_it(self):
        org = self.S.org_create("Revoke Org")
        tok = org.token("admin")
        tid = org.token_id("admin")
        self.assertEqual(self.S.get(org.users, token=tok).status, 200)
        p = run_cli(["token", "revoke", "--org", org.id, "--id", tid], self.S.db)
        self.assertEqual(p.returncode, 0, p.stderr)
        t = [x for x in self.S.token_list(org.id) if x["id"] == tid][0]
        self.assertRegex(t["revoked_at"], TS_RE)
        r = harness.get_after_revocation(self.S, org.users, tok)
        self.assertProblem(r, 401)

    def test_token_revoke_of_unknown_id_fails(self):
        p = run_cli(["token", "revoke", "--org", self.org["id"], "--id", str(uuid.uuid4())], self.db)
        self.assertNotEqual(p.returncode, 0)

    def test_token_of_another_org_cannot_be_revoked_through_this_org(self):
        other = json.loads(cli_ok(["org", "create", "--name", "Other"], self.db))
        cli_ok(["token", "create", "--org", other["id"], "--role", "admin", "--name", "theirs"], self.db)
        tid = [t["id"] for t in json.loads(cli_ok(["token", "list", "--org", other["id"]], self.db))
               if t["name"] == "theirs"][0]
        p = run_cli(["token", "revoke", "--org", self.org["id"], "--id", tid], self.db)
        self.assertNotEqual(p.returncode, 0)
        t = [t for t in json.loads(cli_ok(["token", "list", "--org", other["id"]], self.db))
             if t["id"] == tid][0]
        self.assertIsNone(t["revoked_at"])

    # ---- clients ------------------------------------------------------------------------
    def test_client_create_list_revoke(self):
        c = json.loads(cli_ok(["client", "create", "--org", self.org["id"], "--name", "erp"], self.db))
        self.assertLessEqual({"client_id", "client_secret", "name", "org_id"}, set(c), c)
        self.assertEqual(c["name"], "erp")
        self.assertEqual(c["org_id"], self.org["id"])
        out = cli_ok(["client", "list", "--org", self.org["id"]], self.db)
        self.assertIn(c["client_id"], out)
        self.assertNotIn(c["client_secret"], out)
        p = run_cli(["client", "revoke", "--org", self.org["id"], "--id", c["client_id"]], self.db)
        self.assertEqual(p.returncode, 0, p.stderr)

    # ---- serve ---------------------------------------------------------------------------
    def test_serve_stops_on_sigint_with_status_0(self):
        s = harness.Server()
        try:
            s.org_create("Sigint Org")
            s.start()
            self.assertEqual(s.get("/healthz").status, 200)
            self.assertEqual(s.stop(signal.SIGINT), 0, s.stderr_tail())
        finally:
            s.stop(signal.SIGKILL)
            s.cleanup()

    def test_sigterm_lets_an_in_flight_request_finish_then_exits_0(self):
        import time
        s = harness.Server()
        sock = None
        try:
            org = s.org_create("Inflight Org")
            tok = org.token("admin")
            s.start(["--threads", "1"])
            email = harness.unique_email("inflight")
            body = json.dumps({"email": email}).encode()
            head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                    % (org.users, s.host, s.port, tok, len(body))).encode()
            sock = socket.create_connection((s.host, s.port), timeout=15)
            sock.sendall(head + body[:5])
            time.sleep(0.3)
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(s.proc.poll(), "server exited with a request in flight")
            sock.sendall(body[5:])
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 201"), data[:200])
            self.assertEqual(s.proc.wait(15), 0, s.stderr_tail())
            s.start()
            r = s.get(org.users + "?search=" + email, token=tok)
            self.assertEqual([u["email"] for u in r.body], [email])
            self.assertEqual(s.stop(), 0)
        finally:
            if sock:
                sock.close()
            s.stop(signal.SIGKILL)
            s.cleanup()

    def test_serve_keeps_data_across_restarts(self):
        s = harness.Server()
        try:
            org = s.org_create("Restart Org")
            tok = org.token("admin")
            s.start()
            r = s.request("POST", org.users, body={"email": harness.unique_email()}, token=tok)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(s.stop(), 0)
            s.start()
            r2 = s.get(org.user_path(r.body["id"]), token=tok)
            self.assertEqual(r2.status, 200, r2)
            self.assertEqual(r2.body, r.body)
            self.assertEqual(s.stop(), 0)
        finally:
            s.stop(signal.SIGKILL)
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
