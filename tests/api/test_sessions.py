"""The web app's sign-in sessions: POST/GET/DELETE /session, the fd_session
cookie (HttpOnly, SameSite=Strict, Secure behind https), CSRF on changes,
Bearer versus cookie, throttling per account and per address, idle and
absolute expiry, the role policy through the cookie, the audit records of
signing in and out, and that neither the password nor the session token
leaks anywhere."""

import datetime
import json
import time
import unittest
import uuid

import harness
from harness import API, ApiTestCase, OwnServerTestCase, Server, TS_RE, parse_ts, unique_email
from webauth import (COOKIE, PASSWORD, SESSION, SESSION_FIELDS, WebSession, cookie_only, org_path,
                     session_cookie, sign_in, sign_in_raw, staff_create)

harness.use_server(globals())

ME = API + "/me"


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


class SessionCase(ApiTestCase):
    """An org with an admin, a staff and a viewer account (and an admin token)."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Sessions Org " + uuid.uuid4().hex[:6])
        cls.admin_token = cls.org.token("admin")
        cls.accounts = {role: staff_create(cls.S, cls.org.id, role) for role in ("admin", "staff", "viewer")}

    def sign_in(self, role="admin"):
        return sign_in(self.S, self.accounts[role]["email"])

    def new_account(self, role="staff", org=None):
        return staff_create(self.S, (org or self.org).id, role)

    def staff_path(self, staff_id, org=None):
        return org_path((org or self.org).id, "staff", staff_id)

    def assertSessionEnded(self, token):
        """The cookie no longer authenticates anything."""
        r = self.S.get(SESSION, headers=cookie_only(token))
        self.assertProblem(r, 401)
        for path in (self.org.users, ME, self.org.audit):
            with self.subTest(path=path):
                r = self.S.get(path, headers=cookie_only(token))
                self.assertProblem(r, 401)
                self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)


# ---------------------------------------------------------------- signing in
class SignInTest(SessionCase):
    def test_sign_in_is_201_with_the_session_and_a_strict_httponly_cookie(self):
        acc = self.accounts["admin"]
        before = now_utc()
        r = sign_in_raw(self.S, acc["email"], PASSWORD)
        self.assertEqual(r.status, 201, r)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        cookies = r.headers.get_all("Set-Cookie") or []
        self.assertEqual(len(cookies), 1, cookies)
        value, attrs = session_cookie(r)
        self.assertTrue(value.startswith("fdss_") and len(value) >= 30, value)
        self.S.secrets.append(value)
        self.assertEqual(attrs.get("path"), "/", cookies)
        self.assertIs(attrs.get("httponly"), True, cookies)
        self.assertEqual(attrs.get("samesite"), "Strict", cookies)
        self.assertEqual(attrs.get("max-age"), "43200", cookies)  # the absolute limit, 12 h
        self.assertNotIn("secure", attrs, "no Secure over plain http: %s" % cookies)
        self.assertNotIn("domain", attrs, cookies)
        b = r.body
        for k in SESSION_FIELDS:
            self.assertIn(k, b)
        self.assertEqual(b["staff_id"], acc["id"])
        self.assertEqual(b["email"], acc["email"])
        self.assertEqual(b["role"], "admin")
        self.assertEqual(b["org_id"], self.org.id)
        self.assertEqual(b["org_name"], self.org.name)
        self.assertRegex(b["csrf_token"], r"^[A-Za-z0-9_-]{20,}$")
        self.assertNotEqual(b["csrf_token"], value)
        self.assertNotIn(value, r.raw.decode())
        self.assertRegex(b["expires_at"], TS_RE)
        exp = parse_ts(b["expires_at"])
        # 12 h after sign-in (the bound is loose: it checks the arithmetic, not the speed)
        self.assertLess(abs((exp - before).total_seconds() - 43200), 600, b)
        self.assertEqual(b["idle_timeout_seconds"], 1800)

    def test_every_sign_in_makes_a_new_session_with_its_own_csrf_token(self):
        a, b = self.sign_in(), self.sign_in()
        self.assertNotEqual(a.token, b.token)
        self.assertNotEqual(a.csrf, b.csrf)
        self.assertEqual(a.get(SESSION).status, 200)
        self.assertEqual(b.get(SESSION).status, 200)

    def test_get_session_with_the_cookie_returns_the_same_session_and_csrf_token(self):
        s = self.sign_in("staff")
        for _ in range(2):
            r = s.get(SESSION)
            self.assertEqual(r.status, 200, r)
            for k in ("staff_id", "email", "role", "org_id", "org_name", "csrf_token", "expires_at",
                      "idle_timeout_seconds"):
                self.assertEqual(r.body[k], s.body[k], k)
            self.assertEqual(r.body["role"], "staff")
            self.assertNotIn(s.token, r.raw.decode())

    def test_get_session_without_a_cookie_is_401(self):
        r = self.S.get(SESSION)
        self.assertProblem(r, 401)
        self.assertIsNone(session_cookie(r), r)

    def test_get_session_with_an_unknown_or_garbage_cookie_is_401_and_clears_it(self):
        for value in ("fdss_" + "A" * 43, "garbage", ""):
            with self.subTest(value=value):
                r = self.S.get(SESSION, headers=cookie_only(value))
                self.assertProblem(r, 401)
                c = session_cookie(r)
                if value:
                    self.assertIsNotNone(c, r)
                    self.assertEqual(c[0], "")
                    self.assertEqual(c[1].get("max-age"), "0", r)

    def test_the_cookie_authenticates_api_routes_as_the_staff_member(self):
        s = self.sign_in("admin")
        r = s.get(self.org.users)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list)
        r = s.get(ME)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["actor_type"], "staff")
        self.assertEqual(r.body["actor_id"], s.staff_id)
        self.assertEqual(r.body["role"], "admin")
        self.assertEqual(r.body["org_id"], self.org.id)

    def test_the_cookie_is_found_among_other_cookies(self):
        s = self.sign_in("viewer")
        r = self.S.get(ME, headers={"Cookie": "theme=dark; %s=%s; lang=de" % (COOKIE, s.token)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["actor_id"], s.staff_id)

    def test_a_deactivated_account_cannot_sign_in(self):
        acc = self.new_account("staff")
        sign_in(self.S, acc["email"])  # it could before
        r = self.S.request("PATCH", self.staff_path(acc["id"]), body={"deactivated": True},
                           token=self.admin_token)
        self.assertEqual(r.status, 200, r)
        r = sign_in_raw(self.S, acc["email"], PASSWORD)
        self.assertProblem(r, 401)
        self.assertIsNone(session_cookie(r))
        wrong = sign_in_raw(self.S, self.accounts["viewer"]["email"], PASSWORD + "!")
        self.assertProblem(wrong, 401)
        self.assertEqual(r.body.get("detail"), wrong.body.get("detail"))

    def test_the_email_is_matched_whatever_its_case(self):
        acc = self.accounts["viewer"]
        s = sign_in(self.S, acc["email"].upper())
        self.assertEqual(s.staff_id, acc["id"])

    def test_malformed_bodies_are_refused_and_set_no_cookie(self):
        email = self.accounts["viewer"]["email"]
        cases = [
            (dict(raw='{"email": ', content_type="application/json"), 400, None),
            (dict(raw='[1, 2]', content_type="application/json"), 422, None),
            (dict(body={"email": email, "password": PASSWORD}, content_type="text/plain"), 415, None),
            (dict(body={"email": email, "password": PASSWORD}, content_type=None), 415, None),
            (dict(body={"password": PASSWORD}), 422, "email"),
            (dict(body={"email": email}), 422, "password"),
            (dict(body={"email": 42, "password": PASSWORD}), 422, "email"),
            (dict(body={"email": None, "password": PASSWORD}), 422, "email"),
            (dict(body={"email": email, "password": ["x"]}), 422, "password"),
            (dict(body={"email": email, "password": 123456789012}), 422, "password"),
            (dict(body={"email": "", "password": PASSWORD}), 422, "email"),
            (dict(body={"email": email, "password": PASSWORD, "remember": True}), 422, "remember"),
            (dict(body={}), 422, "email"),
            (dict(body={"email": email, "password": "x" * 1025}), 422, "password"),
            (dict(body={"email": "a" * 250 + "@example.com", "password": PASSWORD}), 422, "email"),
        ]
        for kw, status, field in cases:
            with self.subTest(kw=kw):
                r = self.S.request("POST", SESSION, **kw)
                self.assertProblem(r, status, field)
                self.assertIsNone(session_cookie(r), r)

    def test_get_and_delete_are_the_only_other_methods(self):
        r = self.S.request("PUT", SESSION, body={})
        self.assertProblem(r, 405)
        self.assertIn("POST", r.headers.get("Allow", ""))


# ---------------------------------------------------------------- CSRF and Bearer
class CsrfTest(SessionCase):
    def target(self):
        return self.create_user(self.org, token=self.admin_token, first_name="Csrf")

    def test_a_cookie_post_needs_the_csrf_header(self):
        s = self.sign_in("admin")
        for csrf in (False, "wrong", s.csrf[:-1], s.csrf + "A", self.sign_in("admin").csrf):
            with self.subTest(csrf=csrf):
                email = unique_email("csrf")
                r = s.request("POST", self.org.users, body={"email": email}, csrf=csrf)
                self.assertProblem(r, 403)
                self.assertIn("CSRF", r.body.get("detail", ""))
                self.assertNoUserWithEmail(self.org, email)
        email = unique_email("csrf-ok")
        r = s.request("POST", self.org.users, body={"email": email})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.get_user(self.org, r.body["id"])["email"], email)

    def test_a_cookie_put_needs_the_csrf_header(self):
        s = self.sign_in("staff")
        u = self.target()
        for csrf in (False, "wrong"):
            with self.subTest(csrf=csrf):
                r = s.request("PUT", self.org.user_path(u["id"]), body={"first_name": "Changed"}, csrf=csrf)
                self.assertProblem(r, 403)
                self.assertUnchanged(self.org, u)
        r = s.request("PUT", self.org.user_path(u["id"]), body={"first_name": "Changed"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get_user(self.org, u["id"])["first_name"], "Changed")

    def test_a_cookie_patch_needs_the_csrf_header(self):
        s = self.sign_in("admin")
        acc = self.new_account("viewer")
        path = self.staff_path(acc["id"])
        for csrf in (False, "wrong"):
            with self.subTest(csrf=csrf):
                r = s.request("PATCH", path, body={"role": "staff"}, csrf=csrf)
                self.assertProblem(r, 403)
        listed = {m["id"]: m for m in self.S.get(org_path(self.org.id, "staff"), token=self.admin_token).body["data"]}
        self.assertEqual(listed[acc["id"]]["role"], "viewer")
        r = s.request("PATCH", path, body={"role": "staff"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["role"], "staff")

    def test_a_cookie_delete_needs_the_csrf_header(self):
        s = self.sign_in("staff")
        u = self.target()
        for csrf in (False, "wrong"):
            with self.subTest(csrf=csrf):
                r = s.request("DELETE", self.org.user_path(u["id"]), csrf=csrf)
                self.assertProblem(r, 403)
                self.assertUnchanged(self.org, u)
        r = s.request("DELETE", self.org.user_path(u["id"]))
        self.assertEqual(r.status, 204, r)
        self.assertIsNotNone(self.get_user(self.org, u["id"])["deleted_at"])

    def test_a_get_needs_no_csrf_header(self):
        s = self.sign_in("viewer")
        u = self.target()
        for path in (self.org.users, self.org.user_path(u["id"]), ME, SESSION):
            with self.subTest(path=path):
                self.assertEqual(s.get(path, csrf=False).status, 200)

    def test_a_bearer_token_needs_no_csrf_header(self):
        r = self.S.request("POST", self.org.users, body={"email": unique_email("bearer")}, token=self.admin_token)
        self.assertEqual(r.status, 201, r)

    def test_a_bearer_token_wins_over_a_cookie(self):
        admin = self.sign_in("admin")
        viewer_token = self.org.token("viewer")
        both = {"Authorization": "Bearer " + viewer_token}
        r = admin.get(ME, headers=both)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["actor_type"], "token")
        self.assertEqual(r.body["role"], "viewer")
        # the viewer token may not create, even with the admin's cookie and csrf token
        email = unique_email("both")
        r = admin.request("POST", self.org.users, body={"email": email}, headers=both)
        self.assertProblem(r, 403)
        self.assertNoUserWithEmail(self.org, email)
        # an invalid bearer token is not rescued by a valid cookie
        r = admin.get(self.org.users, headers={"Authorization": "Bearer fdt_not-a-token"})
        self.assertProblem(r, 401)
        # and the admin token needs no CSRF header beside a cookie
        r = admin.request("POST", self.org.users, body={"email": unique_email("both-ok")}, csrf=False,
                          headers={"Authorization": "Bearer " + self.admin_token})
        self.assertEqual(r.status, 201, r)


# ---------------------------------------------------------------- signing out
class SignOutTest(SessionCase):
    def test_sign_out_needs_the_csrf_header(self):
        s = self.sign_in("viewer")
        for csrf in (False, "wrong"):
            with self.subTest(csrf=csrf):
                r = s.sign_out(csrf=csrf)
                self.assertProblem(r, 403)
                self.assertIsNone(session_cookie(r), r)
        self.assertEqual(s.get(SESSION).status, 200)
        self.assertEqual(s.get(self.org.users).status, 200)

    def test_sign_out_is_204_clears_the_cookie_and_ends_the_session(self):
        s = self.sign_in("admin")
        other = self.sign_in("admin")
        r = s.sign_out()
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        c = session_cookie(r)
        self.assertIsNotNone(c, r)
        value, attrs = c
        self.assertEqual(value, "")
        self.assertEqual(attrs.get("max-age"), "0")
        self.assertEqual(attrs.get("path"), "/")
        self.assertIs(attrs.get("httponly"), True)
        self.assertEqual(attrs.get("samesite"), "Strict")
        self.assertSessionEnded(s.token)
        r = s.request("POST", self.org.users, body={"email": unique_email("after")})
        self.assertProblem(r, 401)
        self.assertProblem(s.sign_out(), 401)
        # the same person's other session goes on
        self.assertEqual(other.get(self.org.users).status, 200)

    def test_sign_out_without_a_session_is_401(self):
        self.assertProblem(self.S.request("DELETE", SESSION), 401)
        self.assertProblem(self.S.request("DELETE", SESSION, headers=cookie_only("fdss_" + "B" * 43)), 401)


# ---------------------------------------------------------------- role policy
class RolePolicyTest(SessionCase):
    def erase_target(self):
        return self.create_user(self.org, token=self.admin_token, first_name="Erase")

    def test_viewer_session_reads_but_does_not_write(self):
        s = self.sign_in("viewer")
        self.assertEqual(s.get(self.org.users).status, 200)
        email = unique_email("viewer")
        self.assertProblem(s.request("POST", self.org.users, body={"email": email}), 403)
        self.assertNoUserWithEmail(self.org, email)
        self.assertProblem(s.get(org_path(self.org.id, "staff")), 403)
        self.assertProblem(s.get(self.org.audit), 403)

    def test_staff_session_edits_users_but_does_not_erase_or_manage_the_team(self):
        s = self.sign_in("staff")
        r = s.request("POST", self.org.users, body={"email": unique_email("staff")})
        self.assertEqual(r.status, 201, r)
        u = self.erase_target()
        self.assertProblem(s.request("POST", self.org.user_path(u["id"]) + "/erase"), 403)
        self.assertUnchanged(self.org, u)
        self.assertEqual(s.get(self.org.audit).status, 200)
        for path in ("staff", "staff/invites", "api-tokens", "oauth-clients"):
            with self.subTest(path=path):
                self.assertProblem(s.get(org_path(self.org.id, path)), 403)
        r = s.request("POST", org_path(self.org.id, "api-tokens"), body={"name": "x", "role": "admin"})
        self.assertProblem(r, 403)
        r = s.request("PATCH", self.staff_path(s.staff_id), body={"role": "admin"})
        self.assertProblem(r, 403)
        self.assertEqual(s.get(ME).body["role"], "staff")

    def test_admin_session_may_do_everything(self):
        s = self.sign_in("admin")
        r = s.request("POST", self.org.users, body={"email": unique_email("admin"), "role": "admin"})
        self.assertEqual(r.status, 201, r)
        u = self.erase_target()
        r = s.request("POST", self.org.user_path(u["id"]) + "/erase")
        self.assertEqual(r.status, 200, r)
        for path in ("staff", "staff/invites", "api-tokens", "oauth-clients"):
            with self.subTest(path=path):
                self.assertEqual(s.get(org_path(self.org.id, path)).status, 200)
        self.assertEqual(s.get(self.org.audit).status, 200)

    def test_a_role_change_applies_to_a_running_session_at_once(self):
        acc = self.new_account("staff")
        s = sign_in(self.S, acc["email"])
        r = self.S.request("PATCH", self.staff_path(acc["id"]), body={"role": "viewer"}, token=self.admin_token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s.get(ME).body["role"], "viewer")
        self.assertProblem(s.request("POST", self.org.users, body={"email": unique_email("demoted")}), 403)

    def test_another_orgs_paths_are_404_with_a_session(self):
        other = self.S.org_create("Sessions Other Org")
        theirs = self.create_user(other, first_name="Theirs")
        s = self.sign_in("admin")
        for path in (other.users, other.user_path(theirs["id"]), other.audit, org_path(other.id, "staff"),
                     org_path(other.id, "api-tokens"), org_path(other.id, "oauth-clients")):
            with self.subTest(path=path):
                self.assertProblem(s.get(path), 404)
        email = unique_email("cross")
        self.assertProblem(s.request("POST", other.users, body={"email": email}), 404)
        self.assertNoUserWithEmail(other, email)
        self.assertProblem(s.request("PUT", other.user_path(theirs["id"]), body={"first_name": "X"}), 404)
        self.assertUnchanged(other, theirs)


# ---------------------------------------------------------------- deactivation
class DeactivationTest(SessionCase):
    def test_a_session_stops_working_at_once_when_its_staff_is_deactivated(self):
        acc = self.new_account("staff")
        s = sign_in(self.S, acc["email"])
        s2 = sign_in(self.S, acc["email"])
        self.assertEqual(s.get(self.org.users).status, 200)
        admin = self.sign_in("admin")
        r = admin.request("PATCH", self.staff_path(acc["id"]), body={"deactivated": True})
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.body["deactivated_at"], TS_RE)
        self.assertSessionEnded(s.token)
        self.assertSessionEnded(s2.token)
        self.assertProblem(s.request("POST", self.org.users, body={"email": unique_email("gone")}), 401)
        # reactivated: the old sessions stay ended, a new sign-in works
        r = admin.request("PATCH", self.staff_path(acc["id"]), body={"deactivated": False})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["deactivated_at"])
        self.assertSessionEnded(s.token)
        s3 = sign_in(self.S, acc["email"])
        self.assertEqual(s3.get(self.org.users).status, 200)


# ---------------------------------------------------------------- audit and secrets
class AuditAndSecretsTest(SessionCase):
    def read_log_until(self, pred):
        """The access log once pred(log) holds (a line is written when a request completes), or after 5 s."""
        deadline = time.time() + 5
        while True:
            with open(self.S.access_log, encoding="utf-8", errors="replace") as f:
                log = f.read()
            if pred(log) or time.time() > deadline:
                return log
            time.sleep(0.05)

    def test_sign_in_and_sign_out_are_audited_as_the_staff_member(self):
        acc = self.new_account("viewer")
        s = sign_in(self.S, acc["email"])
        r = s.sign_out()
        self.assertEqual(r.status, 204, r)
        recs = self.audit_records(self.org, target_id=acc["id"])
        actions = [x["action"] for x in recs]
        self.assertEqual(actions[:2], ["staff.sign_out", "staff.sign_in"], actions)
        for rec in recs[:2]:
            self.assertEqual(rec["actor"]["type"], "staff", rec)
            self.assertEqual(rec["actor"]["id"], acc["id"], rec)
            self.assertEqual(rec["actor"]["name"], acc["email"], rec)
            self.assertEqual(rec["target"], {"type": "staff", "id": acc["id"]}, rec)
            self.assertRegex(rec["request_id"], harness.REQ_ID_RE)
        self.assertEqual(recs[0]["request_id"], r.headers.get("X-Request-Id"))
        self.assertEqual(recs[1]["request_id"], s.resp.headers.get("X-Request-Id"))
        # the filter finds them too
        self.assertIn(acc["id"], [x["target"]["id"] for x in self.audit_records(self.org, action="staff.sign_in")])

    def test_a_failed_sign_in_is_not_a_sign_in_record(self):
        acc = self.new_account("viewer")
        self.assertProblem(sign_in_raw(self.S, acc["email"], PASSWORD + "x"), 401)
        recs = self.audit_records(self.org, target_id=acc["id"])
        self.assertEqual([x["action"] for x in recs], ["staff.create"])

    def test_the_password_and_session_token_never_leak(self):
        password = "leak-check " + uuid.uuid4().hex
        acc = staff_create(self.S, self.org.id, "admin", password=password)
        replies = []
        r = sign_in_raw(self.S, acc["email"], password)
        self.assertEqual(r.status, 201, r)
        replies.append(r)
        s = WebSession(self.S, r)
        token = s.token
        u = self.create_user(self.org, token=self.admin_token, first_name="Leak")
        for method, path, body in (("GET", SESSION, None), ("GET", ME, None), ("GET", self.org.users, None),
                                   ("POST", self.org.users, {"email": unique_email("leak")}),
                                   ("PUT", self.org.user_path(u["id"]), {"first_name": "Leaky"}),
                                   ("GET", self.org.audit, None), ("GET", org_path(self.org.id, "staff"), None),
                                   ("GET", org_path(self.org.id, "api-tokens"), None),
                                   ("GET", API + "/no-such-route", None),
                                   ("POST", self.org.users, {"email": "bad"})):
            rr = s.request(method, path, body=body)
            self.assertLess(rr.status, 500, rr)
            replies.append(rr)
        replies.append(s.request("POST", self.org.users, body={"email": unique_email("nocsrf")}, csrf=False))
        replies.append(sign_in_raw(self.S, acc["email"], password + "x"))
        out = s.sign_out()
        self.assertEqual(out.status, 204, out)
        replies.append(out)
        for rr in (s.get(SESSION), s.get(self.org.users)):
            self.assertEqual(rr.status, 401, rr)
            replies.append(rr)
        for i, rr in enumerate(replies):
            with self.subTest(reply=i):
                self.assertNotIn(password, rr.raw.decode("utf-8", "replace"))
                self.assertNotIn(token, rr.raw.decode("utf-8", "replace"))
                for name, value in rr.headers.items():
                    self.assertNotIn(password, value, name)
                    if name.lower() != "set-cookie":
                        self.assertNotIn(token, value, name)
        # only the sign-in reply carries the token
        self.assertEqual(session_cookie(replies[0])[0], token)
        audit = json.dumps(self.audit_records(self.org))
        self.assertIn(acc["id"], audit)
        for secret in (password, token, harness.sha256_hex(token), s.csrf):
            self.assertNotIn(secret, audit)
        last = out.headers.get("X-Request-Id")
        log = self.read_log_until(lambda text: last in text)
        self.assertIn(last, log)
        self.assertIn("/session", log)
        for secret in (password, token, harness.sha256_hex(token), s.csrf):
            self.assertNotIn(secret, log)
            self.assertNotIn(secret, self.S.stderr_tail(1 << 20))


# ---------------------------------------------------------------- own servers
class OwnServer(OwnServerTestCase):
    """A server of this class's own, started with ARGS, with an org."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create("Own Server Org")
        cls.admin_token = cls.org.token("admin")


class UnknownEmailTest(OwnServer):
    """A server of its own: the first sign-in with an unknown email is the one
    that takes the dummy-hash path."""

    def test_a_wrong_password_and_an_unknown_email_get_the_same_401(self):
        acc = staff_create(self.S, self.org.id, "viewer")
        unknown = sign_in_raw(self.S, unique_email("nobody"), PASSWORD)
        wrong = sign_in_raw(self.S, acc["email"], PASSWORD + "!")
        for r in (wrong, unknown):
            self.assertProblem(r, 401)
            self.assertIsNone(session_cookie(r), r)
        for k in ("type", "title", "status", "detail"):
            self.assertEqual(wrong.body.get(k), unknown.body.get(k), k)
        self.assertTrue(wrong.body.get("detail"))
        self.assertEqual(set(wrong.body), set(unknown.body))
        # and the server goes on answering
        self.assertEqual(sign_in(self.S, acc["email"]).get(self.org.users).status, 200)


class SecureCookieTest(OwnServer):
    ARGS = ("--public-url", "https://desk.example.com")

    def test_the_cookie_is_secure_behind_an_https_public_url(self):
        acc = staff_create(self.S, self.org.id, "staff")
        s = sign_in(self.S, acc["email"])
        self.assertIs(s.cookie_attrs.get("secure"), True, s.resp.headers.get_all("Set-Cookie"))
        self.assertIs(s.cookie_attrs.get("httponly"), True)
        self.assertEqual(s.cookie_attrs.get("samesite"), "Strict")
        self.assertEqual(s.cookie_attrs.get("path"), "/")
        out = s.sign_out()
        self.assertEqual(out.status, 204, out)
        value, attrs = session_cookie(out)
        self.assertEqual(value, "")
        self.assertIs(attrs.get("secure"), True)


class PlainPublicUrlTest(OwnServer):
    ARGS = ("--public-url", "http://desk.example.com")

    def test_the_cookie_is_not_secure_behind_an_http_public_url(self):
        acc = staff_create(self.S, self.org.id, "staff")
        s = sign_in(self.S, acc["email"])
        self.assertNotIn("secure", s.cookie_attrs)


class IdleExpiryTest(OwnServer):
    ARGS = ("--session-idle", "3")

    def test_a_session_idle_longer_than_the_idle_timeout_is_401(self):
        acc = staff_create(self.S, self.org.id, "admin")
        s = sign_in(self.S, acc["email"])
        self.assertEqual(s.body["idle_timeout_seconds"], 3)
        time.sleep(4.5)
        r = s.get(SESSION)
        self.assertProblem(r, 401)
        self.assertEqual(session_cookie(r)[1].get("max-age"), "0", r)
        self.assertProblem(s.get(self.org.users), 401)
        self.assertProblem(s.request("POST", self.org.users, body={"email": unique_email("idle")}), 401)
        # a new sign-in works
        self.assertEqual(sign_in(self.S, acc["email"]).get(self.org.users).status, 200)

    def test_requests_keep_a_session_alive_past_the_idle_timeout(self):
        """The idle timeout counts from the last request ("ends after --session-idle
        seconds without a request"), not from the sign-in."""
        acc = staff_create(self.S, self.org.id, "viewer")
        s = sign_in(self.S, acc["email"])
        start = time.monotonic()
        statuses = []
        while time.monotonic() - start < 7.5:  # well past 3 s, a request about every 0.3 s
            statuses.append(s.get(self.org.users).status)
            time.sleep(0.3)
        self.assertEqual(set(statuses), {200}, statuses)


class AbsoluteExpiryTest(OwnServer):
    ARGS = ("--session-max", "1")

    def test_a_session_older_than_the_absolute_limit_is_401(self):
        acc = staff_create(self.S, self.org.id, "admin")
        s = sign_in(self.S, acc["email"])
        self.assertEqual(s.cookie_attrs.get("max-age"), "1")
        if "signed_in_at" in s.body:
            span = parse_ts(s.body["expires_at"]) - parse_ts(s.body["signed_in_at"])
            self.assertEqual(span.total_seconds(), 1.0)
        time.sleep(2.5)
        self.assertProblem(s.get(SESSION), 401)
        self.assertProblem(s.get(self.org.users), 401)
        self.assertProblem(s.get(ME), 401)


class ThrottleTest(ApiTestCase):
    """Each test has a server of its own: the address limit is the server's."""

    ACCOUNT_BURST, ACCOUNT_EVERY = 10, 30.0
    ADDR_BURST, ADDR_EVERY = 50, 6.0

    def setUp(self):
        self.S = Server().start()
        self.org = self.S.org_create("Throttle Org")
        self.a = staff_create(self.S, self.org.id, "staff")
        self.b = staff_create(self.S, self.org.id, "viewer")

    def tearDown(self):
        code = self.S.stop()
        tail = self.S.stderr_tail()
        self.S.cleanup()
        self.assertEqual(code, 0, tail)

    def assertThrottled(self, r):
        self.assertProblem(r, 429)
        ra = r.headers.get("Retry-After")
        self.assertIsNotNone(ra, r)
        self.assertRegex(ra, r"^[0-9]+$")
        self.assertGreaterEqual(int(ra), 1)
        self.assertIsNone(session_cookie(r), r)

    def fail_until_throttled(self, emails, cap):
        """Wrong passwords (emails[i % len]) until a 429; returns (401s, elapsed seconds, the 429)."""
        start = time.monotonic()
        n = 0
        while n < cap:
            email = emails[n % len(emails)] if isinstance(emails, list) else emails()
            r = sign_in_raw(self.S, email, "wrong password " + str(n))
            if r.status == 429:
                return n, time.monotonic() - start, r
            self.assertProblem(r, 401)
            n += 1
        self.fail("no 429 after %d failures" % cap)

    def assertRefusals(self, n, elapsed, burst, every):
        # exactly the burst, plus what refilled while the attempts ran (no timing assumed)
        self.assertGreaterEqual(n, burst)
        self.assertLessEqual(n, burst + int(elapsed / every) + 1, (n, elapsed))

    def test_ten_failures_throttle_the_account_even_with_the_right_password(self):
        n, elapsed, r = self.fail_until_throttled([self.a["email"]], 40)
        self.assertRefusals(n, elapsed, self.ACCOUNT_BURST, self.ACCOUNT_EVERY)
        self.assertThrottled(r)
        self.assertLessEqual(int(r.headers["Retry-After"]), self.ACCOUNT_EVERY)
        self.assertThrottled(sign_in_raw(self.S, self.a["email"], PASSWORD))
        # another account from the same address still signs in
        s = sign_in(self.S, self.b["email"])
        self.assertEqual(s.get(self.org.users).status, 200)
        self.assertThrottled(sign_in_raw(self.S, self.a["email"], PASSWORD))

    def test_the_account_throttle_holds_whatever_the_case_of_the_email(self):
        """Emails are matched case-insensitively, so the throttle counts an account's
        failures whatever case each attempt used."""
        email = self.a["email"]
        variants = list(dict.fromkeys([email, email.upper(), email.title(), email.capitalize()]))
        self.assertEqual(len(variants), 4, variants)
        n, elapsed, r = self.fail_until_throttled(variants, 40)
        self.assertRefusals(n, elapsed, self.ACCOUNT_BURST, self.ACCOUNT_EVERY)
        for v in variants:
            with self.subTest(email=v):
                self.assertThrottled(sign_in_raw(self.S, v, PASSWORD))

    def test_the_address_is_throttled_after_fifty_failures(self):
        n_a, el_a, r = self.fail_until_throttled([self.a["email"]], 40)
        self.assertThrottled(r)
        # b still works from this address
        self.assertEqual(sign_in_raw(self.S, self.b["email"], PASSWORD).status, 201)
        start = time.monotonic()
        n, elapsed, r = self.fail_until_throttled(lambda: unique_email("nobody"), 200)
        elapsed = time.monotonic() - start + el_a
        self.assertRefusals(n_a + n, elapsed, self.ADDR_BURST, self.ADDR_EVERY)
        self.assertThrottled(r)
        self.assertIn("address", r.body.get("detail", ""))
        self.assertLessEqual(int(r.headers["Retry-After"]), self.ACCOUNT_EVERY)
        # now b too, even with the right password
        self.assertThrottled(sign_in_raw(self.S, self.b["email"], PASSWORD))


if __name__ == "__main__":
    unittest.main()
