"""fleetdesk staff create|list: the team's web app accounts, made from the command line with the
password on stdin and kept only as an Argon2id hash; and the demo's admin account."""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import harness
from harness import CLI_CWD, CLI_TIMEOUT, binary, cli_ok, unique_email

PASSWORD = "correct horse battery"


def staff(args, db, stdin=""):
    return subprocess.run([binary(), "--db", db, "staff"] + list(args), input=stdin, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, cwd=CLI_CWD)


class StaffCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleetdesk-staff-")
        cls.db = os.path.join(cls.tmp, "staff.db")
        cls.org = json.loads(cli_ok(["org", "create", "--name", "Staff Org"], cls.db))["id"]
        cls.other = json.loads(cli_ok(["org", "create", "--name", "Other Org"], cls.db))["id"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def create(self, email, role="staff", org=None, password=PASSWORD):
        return staff(["create", "--org", org or self.org, "--email", email, "--role", role], self.db,
                     password + "\n")

    def assertUsage(self, p, words):
        self.assertEqual(p.returncode, 2, p)
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn(words, p.stderr)

    def stored(self, email):
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return db.execute("SELECT email, role, password_hash FROM staff WHERE email = ?", (email,)).fetchone()
        finally:
            db.close()

    def test_create_prints_the_account_and_keeps_only_an_argon2id_hash(self):
        email = unique_email("admin")
        p = self.create(email, role="admin")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(set(out), {"id", "org_id", "email", "role", "created_at", "updated_at", "deactivated_at"})
        self.assertEqual((out["org_id"], out["email"], out["role"], out["deactivated_at"]),
                         (self.org, email, "admin", None))
        self.assertRegex(out["id"], harness.UUID_RE)
        self.assertNotIn(PASSWORD, p.stdout + p.stderr)
        _, role, pwhash = self.stored(email)
        self.assertEqual(role, "admin")
        self.assertTrue(pwhash.startswith("$argon2id$"), pwhash)
        self.assertNotIn(PASSWORD, pwhash)

    def test_every_role_of_the_team_and_no_other(self):
        for role in ("admin", "staff", "viewer"):
            with self.subTest(role=role):
                self.assertEqual(self.create(unique_email(role), role=role).returncode, 0)
        for role in ("user", "integration", "owner", ""):
            with self.subTest(role=role):
                self.assertUsage(self.create(unique_email("bad"), role=role), "--role")

    def test_a_weak_or_missing_password_is_a_usage_error_and_makes_no_account(self):
        for pw, words in (("short", "12 characters"), ("", "12 characters"), ("tab\tin the password!", "control"),
                          ("x" * 1100, "1024 bytes")):
            with self.subTest(pw=pw[:20]):
                email = unique_email("weak")
                self.assertUsage(self.create(email, password=pw), words)
                self.assertIsNone(self.stored(email))
        email = unique_email("nostdin")
        p = staff(["create", "--org", self.org, "--email", email, "--role", "staff"], self.db, "")
        self.assertUsage(p, "stdin")
        self.assertIsNone(self.stored(email))

    def test_bad_arguments_are_usage_errors(self):
        for args, words in ((["create", "--email", "a@example.com", "--role", "staff"], "--org"),
                            (["create", "--org", self.org, "--role", "staff"], "--email"),
                            (["create", "--org", self.org, "--email", "no-at-sign", "--role", "staff"], "--email"),
                            (["create", "--org", self.org, "--email", "a b@example.com", "--role", "staff"],
                             "--email"),
                            (["delete", "--org", self.org], "subcommand"),
                            (["list"], "--org"),
                            (["list", "--org", "not-a-uuid"], "--org")):
            with self.subTest(args=args):
                self.assertUsage(staff(args, self.db, PASSWORD + "\n"), words)

    def test_an_email_has_one_account_across_orgs_whatever_its_case(self):
        email = unique_email("once")
        self.assertEqual(self.create(email).returncode, 0)
        for org, variant in ((self.org, email), (self.other, email.upper())):
            with self.subTest(org=org):
                p = self.create(variant, org=org)
                self.assertEqual(p.returncode, 1, p)
                self.assertIn("already has an account", p.stderr)

    def test_an_unknown_org_fails(self):
        p = self.create(unique_email("ghost"), org="00000000-0000-4000-8000-000000000000")
        self.assertNotEqual(p.returncode, 0, p)
        self.assertEqual(p.stdout, "")

    def test_list_shows_the_orgs_accounts_only_without_hashes(self):
        mine, theirs = unique_email("mine"), unique_email("theirs")
        self.assertEqual(self.create(mine).returncode, 0)
        self.assertEqual(self.create(theirs, org=self.other).returncode, 0)
        p = staff(["list", "--org", self.org], self.db)
        self.assertEqual(p.returncode, 0, p.stderr)
        emails = [s["email"] for s in json.loads(p.stdout)]
        self.assertIn(mine, emails)
        self.assertNotIn(theirs, emails)
        self.assertNotIn("argon2", p.stdout)
        self.assertNotIn("password", p.stdout)

    def test_the_audit_log_records_the_creation_without_the_hash(self):
        email = unique_email("audited")
        self.assertEqual(self.create(email).returncode, 0)
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            rows = db.execute("SELECT action, changes FROM audit WHERE target_type = 'staff' AND changes LIKE ?",
                              ("%" + email + "%",)).fetchall()
        finally:
            db.close()
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], "staff.create")
        self.assertNotIn("argon2", rows[0][1])
        self.assertTrue(json.loads(rows[0][1])["password_set"]["after"])

    def test_help_exits_0(self):
        p = staff(["--help"], self.db)
        self.assertEqual(p.returncode, 0)
        self.assertIn("stdin", p.stdout)

    def test_the_demo_makes_an_admin_account_and_prints_its_email_and_password(self):
        db = os.path.join(self.tmp, "demo.db")
        out = json.loads(cli_ok(["demo", "--users", "2", "--reading-days", "0"], db))
        self.assertRegex(out["staff_email"], r"^admin\.[0-9a-f]{12}@demo\.fleetdesk\.example$")
        self.assertGreaterEqual(len(out["staff_password"]), 12)
        p = staff(["list", "--org", out["org_id"]], db)
        accounts = json.loads(p.stdout)
        self.assertEqual([(a["email"], a["role"]) for a in accounts], [(out["staff_email"], "admin")])
        conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            (pwhash,) = conn.execute("SELECT password_hash FROM staff").fetchone()
        finally:
            conn.close()
        self.assertTrue(pwhash.startswith("$argon2id$"))
        self.assertNotIn(out["staff_password"], pwhash)
        # a second demo in the same database gets an account of its own
        again = json.loads(cli_ok(["demo", "--users", "1", "--reading-days", "0"], db))
        self.assertNotEqual(again["staff_email"], out["staff_email"])
