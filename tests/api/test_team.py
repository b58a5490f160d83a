"""The team API (admins only): staff accounts (list, role, deactivation, the
last active admin), invites (create, list, revoke, lookup, accept), API tokens
and OAuth clients (secrets shown once, revocation at once); staff and viewer
get 403, another org 404, and the changes are audited."""

import json
import unittest
import uuid

import harness
from harness import API, ApiTestCase, OwnServerTestCase, TS_RE, UUID_RE, parse_ts, unique_email
from webauth import (ACCEPT, LOOKUP, PASSWORD, SESSION, STAFF_FIELDS, org_path, sign_in, sign_in_raw,
                     staff_create)

harness.use_server(globals())

ME = API + "/me"
GRANT = {"grant_type": "client_credentials"}
NEW_PASSWORD = "a brand new passphrase"
INVITE_FIELDS = ("id", "email", "role", "created_at", "expires_at", "created_by")
TOKEN_FIELDS = ("id", "name", "role", "created_at", "revoked_at")
CLIENT_FIELDS = ("id", "name", "created_at", "revoked_at")
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


class TeamCase(ApiTestCase):
    """Org A with an admin token, staff and viewer tokens and an admin account;
    org B with its own admin token."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Team Org " + uuid.uuid4().hex[:6])
        cls.admin = cls.org.token("admin")
        cls.other = cls.S.org_create("Team Other Org " + uuid.uuid4().hex[:6])
        cls.other_admin = cls.other.token("admin")
        cls.admin_acc = staff_create(cls.S, cls.org.id, "admin")

    # ---- paths and calls ---------------------------------------------------------
    def path(self, *parts, org=None):
        return org_path((org or self.org).id, *parts)

    def call(self, method, *parts, token=None, org=None, **kw):
        return self.S.request(method, self.path(*parts, org=org), token=token or self.admin, **kw)

    def staff_list(self, token=None, org=None):
        r = self.call("GET", "staff", token=token, org=org)
        self.assertEqual(r.status, 200, r)
        return r.body["data"]

    def staff_by_id(self, staff_id, org=None):
        return {m["id"]: m for m in self.staff_list(org=org, token=self.other_admin if org else None)}.get(staff_id)

    def patch_staff(self, staff_id, body, token=None, org=None, **kw):
        return self.call("PATCH", "staff", staff_id, body=body, token=token, org=org, **kw)

    def invite(self, email=None, role="staff", token=None, expect=201):
        r = self.call("POST", "staff", "invites", body={"email": email or unique_email("invitee"), "role": role},
                      token=token)
        self.assertEqual(r.status, expect, r)
        if expect == 201:
            self.S.secrets.append(r.body["token"])
        return r.body

    def lookup(self, token):
        return self.S.request("POST", LOOKUP, body={"token": token})

    def accept(self, token, password=NEW_PASSWORD):
        return self.S.request("POST", ACCEPT, body={"token": token, "password": password})

    def exchange(self, client_id, secret):
        return self.S.request("POST", "/oauth2/token/", body=GRANT, basic=(client_id, secret))

    def assertForbiddenAndForeign(self, method, *parts, body=None):
        """staff and viewer tokens get 403; another org's admin gets 404."""
        for role in ("staff", "viewer"):
            with self.subTest(role=role):
                self.assertProblem(self.call(method, *parts, body=body, token=self.org.token(role)), 403)
        with self.subTest(role="other org admin"):
            self.assertProblem(self.call(method, *parts, body=body, token=self.other_admin), 404)

    def records(self, **params):
        return self.audit_records(self.org, **params)


# ---------------------------------------------------------------- staff
class StaffListTest(TeamCase):
    def test_admin_lists_the_orgs_staff_without_passwords(self):
        mine = staff_create(self.S, self.org.id, "viewer")
        theirs = staff_create(self.S, self.other.id, "admin")
        r = self.call("GET", "staff")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.body), {"data"})
        data = r.body["data"]
        by_id = {m["id"]: m for m in data}
        self.assertIn(mine["id"], by_id)
        self.assertIn(self.admin_acc["id"], by_id)
        self.assertNotIn(theirs["id"], by_id)
        for m in data:
            for k in STAFF_FIELDS:
                self.assertIn(k, m)
            self.assertRegex(m["id"], UUID_RE)
            self.assertIn(m["role"], ("admin", "staff", "viewer"))
            self.assertRegex(m["created_at"], TS_RE)
            self.assertRegex(m["updated_at"], TS_RE)
            self.assertNotIn("password_hash", m)
            self.assertNotIn("password", m)
        m = by_id[mine["id"]]
        self.assertEqual((m["email"], m["role"], m["deactivated_at"]), (mine["email"], "viewer", None))
        raw = r.raw.decode()
        self.assertNotIn("argon2", raw)
        self.assertNotIn(PASSWORD, raw)

    def test_staff_and_viewer_get_403_and_another_org_404(self):
        self.assertForbiddenAndForeign("GET", "staff")

    def test_an_admin_session_lists_the_staff_and_a_staff_session_gets_403(self):
        s = sign_in(self.S, self.admin_acc["email"])
        r = s.get(self.path("staff"))
        self.assertEqual(r.status, 200, r)
        self.assertIn(self.admin_acc["id"], [m["id"] for m in r.body["data"]])
        st = sign_in(self.S, staff_create(self.S, self.org.id, "staff")["email"])
        self.assertProblem(st.get(self.path("staff")), 403)
        self.assertProblem(s.get(self.path("staff", org=self.other)), 404)


class StaffUpdateTest(TeamCase):
    def test_patch_role_changes_it_and_is_audited_as_staff_update(self):
        m = staff_create(self.S, self.org.id, "viewer")
        s = sign_in(self.S, self.admin_acc["email"])
        r = s.request("PATCH", self.path("staff", m["id"]), body={"role": "staff"})
        self.assertEqual(r.status, 200, r)
        for k in STAFF_FIELDS:
            self.assertIn(k, r.body)
        self.assertEqual((r.body["id"], r.body["email"], r.body["role"], r.body["deactivated_at"]),
                         (m["id"], m["email"], "staff", None))
        self.assertGreaterEqual(r.body["updated_at"], m["updated_at"])
        self.assertEqual(self.staff_by_id(m["id"])["role"], "staff")
        recs = self.records(target_id=m["id"], action="staff.update")
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["changes"]["role"], {"before": "viewer", "after": "staff"})
        self.assertEqual(recs[0]["actor"]["type"], "staff")
        self.assertEqual(recs[0]["actor"]["id"], self.admin_acc["id"])
        self.assertEqual(recs[0]["target"], {"type": "staff", "id": m["id"]})
        self.assertEqual(recs[0]["request_id"], r.headers.get("X-Request-Id"))
        # the same role again changes nothing
        r = self.patch_staff(m["id"], {"role": "staff"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.records(target_id=m["id"], action="staff.update")), 1)

    def test_patch_deactivated_is_audited_as_staff_deactivate_and_can_be_undone(self):
        m = staff_create(self.S, self.org.id, "staff")
        r = self.patch_staff(m["id"], {"deactivated": True})
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.body["deactivated_at"], TS_RE)
        self.assertEqual(self.staff_by_id(m["id"])["deactivated_at"], r.body["deactivated_at"])
        self.assertProblem(sign_in_raw(self.S, m["email"], PASSWORD), 401)
        r2 = self.patch_staff(m["id"], {"deactivated": False})
        self.assertEqual(r2.status, 200, r2)
        self.assertIsNone(r2.body["deactivated_at"])
        sign_in(self.S, m["email"])
        off = self.records(target_id=m["id"], action="staff.deactivate")
        self.assertEqual(len(off), 1, off)
        self.assertEqual(off[0]["actor"]["type"], "token")
        self.assertEqual(off[0]["changes"].get("deactivated_at"),
                         {"before": None, "after": r.body["deactivated_at"]}, off[0])
        on = self.records(target_id=m["id"], action="staff.update")
        self.assertEqual(len(on), 1, on)
        self.assertEqual(on[0]["changes"].get("deactivated_at"),
                         {"before": r.body["deactivated_at"], "after": None}, on[0])

    def test_role_and_deactivated_together(self):
        m = staff_create(self.S, self.org.id, "viewer")
        r = self.patch_staff(m["id"], {"role": "admin", "deactivated": True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["role"], "admin")
        self.assertIsNotNone(r.body["deactivated_at"])

    def test_invalid_bodies_are_422_naming_the_field(self):
        m = staff_create(self.S, self.org.id, "viewer")
        for body, field in (({"role": "owner"}, "role"), ({"role": "user"}, "role"),
                            ({"role": "integration"}, "role"), ({"role": 3}, "role"), ({"role": None}, "role"),
                            ({"role": ""}, "role"), ({"deactivated": "yes"}, "deactivated"),
                            ({"deactivated": 1}, "deactivated"), ({"deactivated": None}, "deactivated"),
                            ({"email": "new@example.com"}, "email"), ({"role": "staff", "password": "x"}, "password")):
            with self.subTest(body=body):
                self.assertProblem(self.patch_staff(m["id"], body), 422, field)
        r = self.patch_staff(m["id"], {})
        self.assertProblem(r, 422)
        fields = [e.get("field") for e in r.body.get("errors", [])]
        self.assertTrue(set(fields) & {"role", "deactivated"}, r)
        self.assertProblem(self.patch_staff(m["id"], None, raw="{", content_type="application/json"), 400)
        self.assertProblem(self.patch_staff(m["id"], {"role": "staff"}, content_type="text/plain"), 415)
        after = self.staff_by_id(m["id"])
        self.assertEqual((after["role"], after["deactivated_at"]), ("viewer", None))
        self.assertEqual(self.records(target_id=m["id"], action="staff.update"), [])

    def test_unknown_or_foreign_or_malformed_ids_are_404(self):
        theirs = staff_create(self.S, self.other.id, "staff")
        for sid in (UNKNOWN_ID, "not-a-uuid", theirs["id"]):
            with self.subTest(id=sid):
                self.assertProblem(self.patch_staff(sid, {"role": "viewer"}), 404)
        self.assertEqual(self.staff_by_id(theirs["id"], org=self.other)["role"], "staff")

    def test_staff_and_viewer_get_403_and_another_org_404(self):
        m = staff_create(self.S, self.org.id, "viewer")
        self.assertForbiddenAndForeign("PATCH", "staff", m["id"], body={"role": "admin"})
        self.assertEqual(self.staff_by_id(m["id"])["role"], "viewer")


class LastAdminTest(TeamCase):
    """Each test uses an org of its own, so it knows every admin in it."""

    def fresh(self):
        org = self.S.org_create("Last Admin Org")
        return org, org.token("admin")

    def test_the_last_active_admin_cannot_be_demoted_or_deactivated(self):
        org, tok = self.fresh()
        only = staff_create(self.S, org.id, "admin")
        staff_create(self.S, org.id, "staff")
        for body in ({"role": "staff"}, {"role": "viewer"}, {"deactivated": True},
                     {"role": "admin", "deactivated": True}):
            with self.subTest(body=body):
                r = self.S.request("PATCH", org_path(org.id, "staff", only["id"]), body=body, token=tok)
                self.assertProblem(r, 409)
        listed = {m["id"]: m for m in self.S.get(org_path(org.id, "staff"), token=tok).body["data"]}
        self.assertEqual((listed[only["id"]]["role"], listed[only["id"]]["deactivated_at"]), ("admin", None))
        # keeping it an admin is fine
        r = self.S.request("PATCH", org_path(org.id, "staff", only["id"]), body={"role": "admin"}, token=tok)
        self.assertEqual(r.status, 200, r)

    def test_the_last_admin_cannot_demote_themself_through_a_session(self):
        org, tok = self.fresh()
        only = staff_create(self.S, org.id, "admin")
        s = sign_in(self.S, only["email"])
        self.assertProblem(s.request("PATCH", org_path(org.id, "staff", only["id"]), body={"role": "viewer"}), 409)
        self.assertProblem(s.request("PATCH", org_path(org.id, "staff", only["id"]), body={"deactivated": True}),
                           409)
        self.assertEqual(s.get(ME).body["role"], "admin")

    def test_another_active_admin_makes_it_allowed(self):
        org, tok = self.fresh()
        first = staff_create(self.S, org.id, "admin")
        second = staff_create(self.S, org.id, "admin")
        r = self.S.request("PATCH", org_path(org.id, "staff", first["id"]), body={"role": "staff"}, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["role"], "staff")
        # now second is the last one
        r = self.S.request("PATCH", org_path(org.id, "staff", second["id"]), body={"deactivated": True}, token=tok)
        self.assertProblem(r, 409)
        # a promotion gives it company again
        r = self.S.request("PATCH", org_path(org.id, "staff", first["id"]), body={"role": "admin"}, token=tok)
        self.assertEqual(r.status, 200, r)
        r = self.S.request("PATCH", org_path(org.id, "staff", second["id"]), body={"deactivated": True}, token=tok)
        self.assertEqual(r.status, 200, r)

    def test_an_admin_with_company_may_deactivate_themself_and_their_session_ends(self):
        org, tok = self.fresh()
        me = staff_create(self.S, org.id, "admin")
        staff_create(self.S, org.id, "admin")
        s = sign_in(self.S, me["email"])
        r = s.request("PATCH", org_path(org.id, "staff", me["id"]), body={"deactivated": True})
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(r.body["deactivated_at"])
        self.assertProblem(s.get(SESSION), 401)
        self.assertProblem(s.get(org_path(org.id, "staff")), 401)

    def test_a_deactivated_admin_does_not_count(self):
        org, tok = self.fresh()
        first = staff_create(self.S, org.id, "admin")
        second = staff_create(self.S, org.id, "admin")
        r = self.S.request("PATCH", org_path(org.id, "staff", second["id"]), body={"deactivated": True}, token=tok)
        self.assertEqual(r.status, 200, r)
        r = self.S.request("PATCH", org_path(org.id, "staff", first["id"]), body={"role": "viewer"}, token=tok)
        self.assertProblem(r, 409)
        # another org's admins do not count either
        staff_create(self.S, self.other.id, "admin")
        r = self.S.request("PATCH", org_path(org.id, "staff", first["id"]), body={"deactivated": True}, token=tok)
        self.assertProblem(r, 409)


# ---------------------------------------------------------------- invites
class InviteTest(TeamCase):
    def test_create_is_201_with_a_token_and_a_link_that_expires_in_72_hours(self):
        email = unique_email("invited")
        r = self.call("POST", "staff", "invites", body={"email": email, "role": "viewer"})
        self.assertEqual(r.status, 201, r)
        b = r.body
        self.S.secrets.append(b["token"])
        for k in ("id", "email", "role", "created_at", "expires_at", "token", "invite_url"):
            self.assertIn(k, b)
        self.assertRegex(b["id"], UUID_RE)
        self.assertEqual((b["email"], b["role"]), (email, "viewer"))
        self.assertIsInstance(b["token"], str)
        self.assertGreaterEqual(len(b["token"]), 20)
        self.assertEqual(b["invite_url"], "%s/#/invite/%s" % (self.S.base, b["token"]))
        self.assertIn("/#/invite/", b["invite_url"])
        span = parse_ts(b["expires_at"]) - parse_ts(b["created_at"])
        self.assertLess(abs(span.total_seconds() - 72 * 3600), 2, b)

    def test_list_shows_open_invites_without_their_token(self):
        inv = self.invite(role="admin")
        r = self.call("GET", "staff", "invites")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.body), {"data"})
        listed = {i["id"]: i for i in r.body["data"]}
        self.assertIn(inv["id"], listed)
        item = listed[inv["id"]]
        for k in INVITE_FIELDS:
            self.assertIn(k, item)
        self.assertNotIn("token", item)
        self.assertNotIn("invite_url", item)
        self.assertEqual((item["email"], item["role"], item["expires_at"]), (inv["email"], "admin", inv["expires_at"]))
        raw = r.raw.decode()
        self.assertNotIn(inv["token"], raw)
        self.assertNotIn(harness.sha256_hex(inv["token"]), raw)
        # another org's list does not show it
        r = self.call("GET", "staff", "invites", token=self.other_admin, org=self.other)
        self.assertNotIn(inv["id"], [i["id"] for i in r.body["data"]])

    def test_created_by_is_the_creating_staff_member(self):
        s = sign_in(self.S, self.admin_acc["email"])
        r = s.request("POST", self.path("staff", "invites"), body={"email": unique_email("by"), "role": "staff"})
        self.assertEqual(r.status, 201, r)
        listed = {i["id"]: i for i in self.call("GET", "staff", "invites").body["data"]}
        self.assertEqual(listed[r.body["id"]]["created_by"], self.admin_acc["id"])

    def test_revoke_is_204_then_lookup_and_revoke_again_are_404(self):
        inv = self.invite()
        self.assertEqual(self.lookup(inv["token"]).status, 200)
        r = self.call("DELETE", "staff", "invites", inv["id"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        self.assertProblem(self.lookup(inv["token"]), 404)
        self.assertProblem(self.accept(inv["token"]), 404)
        self.assertNotIn(inv["id"], [i["id"] for i in self.call("GET", "staff", "invites").body["data"]])
        self.assertProblem(self.call("DELETE", "staff", "invites", inv["id"]), 404)
        recs = self.records(target_id=inv["id"])
        self.assertEqual([x["action"] for x in recs], ["invite.revoke", "invite.create"])
        self.assertNotIn(inv["token"], json.dumps(recs))

    def test_revoking_unknown_malformed_or_foreign_invites_is_404(self):
        theirs = self.call("POST", "staff", "invites", body={"email": unique_email("theirs"), "role": "staff"},
                           token=self.other_admin, org=self.other)
        self.assertEqual(theirs.status, 201, theirs)
        for iid in (UNKNOWN_ID, "nope", theirs.body["id"]):
            with self.subTest(id=iid):
                self.assertProblem(self.call("DELETE", "staff", "invites", iid), 404)
        self.assertEqual(self.lookup(theirs.body["token"]).status, 200)

    def test_a_new_invite_for_the_same_email_replaces_the_old_one(self):
        email = unique_email("twice")
        old = self.invite(email, role="viewer")
        new = self.invite(email.upper(), role="staff")
        self.assertProblem(self.lookup(old["token"]), 404)
        r = self.lookup(new["token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["role"], "staff")
        listed = [i for i in self.call("GET", "staff", "invites").body["data"] if i["email"].lower() == email]
        self.assertEqual([i["id"] for i in listed], [new["id"]])
        self.assertProblem(self.accept(old["token"]), 404)

    def test_an_email_with_an_account_is_409_naming_email(self):
        mine = staff_create(self.S, self.org.id, "viewer")
        theirs = staff_create(self.S, self.other.id, "viewer")
        for email in (mine["email"], mine["email"].upper(), theirs["email"]):
            with self.subTest(email=email):
                r = self.call("POST", "staff", "invites", body={"email": email, "role": "staff"})
                self.assertProblem(r, 409, "email")
                self.assertNotIn("token", r.body)
        self.assertNotIn(mine["email"], [i["email"] for i in self.call("GET", "staff", "invites").body["data"]])

    def test_bad_email_or_role_is_422(self):
        good = unique_email("good")
        for body, field in (({"role": "staff"}, "email"), ({"email": "no-at-sign", "role": "staff"}, "email"),
                            ({"email": 5, "role": "staff"}, "email"), ({"email": "", "role": "staff"}, "email"),
                            ({"email": "a b@example.com", "role": "staff"}, "email"),
                            ({"email": good}, "role"), ({"email": good, "role": "owner"}, "role"),
                            ({"email": good, "role": "user"}, "role"), ({"email": good, "role": "integration"}, "role"),
                            ({"email": good, "role": 1}, "role"),
                            ({"email": good, "role": "staff", "name": "X"}, "name")):
            with self.subTest(body=body):
                self.assertProblem(self.call("POST", "staff", "invites", body=body), 422, field)
        self.assertNotIn(good, [i["email"] for i in self.call("GET", "staff", "invites").body["data"]])

    def test_staff_and_viewer_get_403_and_another_org_404(self):
        inv = self.invite()
        self.assertForbiddenAndForeign("GET", "staff", "invites")
        self.assertForbiddenAndForeign("POST", "staff", "invites", body={"email": unique_email("x"), "role": "admin"})
        self.assertForbiddenAndForeign("DELETE", "staff", "invites", inv["id"])
        self.assertEqual(self.lookup(inv["token"]).status, 200)


class InviteLookupAcceptTest(TeamCase):
    def test_lookup_shows_email_role_and_org_name(self):
        inv = self.invite(role="viewer")
        r = self.lookup(inv["token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.body), {"email", "role", "org_name", "expires_at"})
        self.assertEqual(r.body, {"email": inv["email"], "role": "viewer", "org_name": self.org.name,
                                  "expires_at": inv["expires_at"]})
        # looking does not use it up
        self.assertEqual(self.lookup(inv["token"]).status, 200)

    def test_lookup_of_an_unknown_token_is_404(self):
        for tok in ("fdi_" + "x" * 43, "anything"):
            with self.subTest(tok=tok):
                self.assertProblem(self.lookup(tok), 404)

    def test_lookup_with_a_bad_body_is_refused(self):
        for kw, status, field in ((dict(body={}), 422, "token"), (dict(body={"token": 5}), 422, "token"),
                                  (dict(body={"token": ""}), 422, "token"),
                                  (dict(body={"token": "x", "email": "y"}), 422, "email"),
                                  (dict(raw="{", content_type="application/json"), 400, None),
                                  (dict(body={"token": "x"}, content_type="text/plain"), 415, None)):
            with self.subTest(kw=kw):
                self.assertProblem(self.S.request("POST", LOOKUP, **kw), status, field)

    def test_a_weak_password_is_422_and_the_invite_stays_usable(self):
        inv = self.invite(role="staff")
        for pw in ("short", "", "elevenchars", "tab\tis a control char"):
            with self.subTest(pw=pw):
                self.assertProblem(self.accept(inv["token"], pw), 422, "password")
        for body in ({"token": inv["token"]}, {"token": inv["token"], "password": 123456789012345}):
            with self.subTest(body=body):
                self.assertProblem(self.S.request("POST", ACCEPT, body=body), 422, "password")
        self.assertEqual(self.lookup(inv["token"]).status, 200)
        self.assertNotIn(inv["email"], [m["email"] for m in self.staff_list()])
        self.assertEqual(self.accept(inv["token"]).status, 201)

    def test_accept_makes_the_account_with_the_invites_role(self):
        inv = self.invite(role="viewer")
        r = self.accept(inv["token"])
        self.assertEqual(r.status, 201, r)
        self.assertRegex(r.body["staff_id"], UUID_RE)
        self.assertEqual(r.body["email"], inv["email"])
        self.assertNotIn(NEW_PASSWORD, r.raw.decode())
        listed = self.staff_by_id(r.body["staff_id"])
        self.assertEqual((listed["email"], listed["role"], listed["deactivated_at"]), (inv["email"], "viewer", None))
        # the invited person signs in with the new password and has the invite's role
        s = sign_in(self.S, inv["email"], NEW_PASSWORD)
        self.assertEqual((s.body["role"], s.body["org_id"], s.staff_id), ("viewer", self.org.id, r.body["staff_id"]))
        self.assertEqual(s.get(self.org.users).status, 200)
        self.assertProblem(s.request("POST", self.org.users, body={"email": unique_email("v")}), 403)
        # the invite is used up
        self.assertProblem(self.accept(inv["token"]), 404)
        self.assertProblem(self.accept(inv["token"], "another long password"), 404)
        self.assertProblem(self.lookup(inv["token"]), 404)
        self.assertNotIn(inv["id"], [i["id"] for i in self.call("GET", "staff", "invites").body["data"]])
        self.assertProblem(self.call("DELETE", "staff", "invites", inv["id"]), 404)
        rec = self.records(target_id=r.body["staff_id"], action="staff.create")
        self.assertEqual(len(rec), 1, rec)
        self.assertNotIn(NEW_PASSWORD, json.dumps(rec))
        self.assertNotIn(inv["token"], json.dumps(rec))

    def test_an_admin_invite_makes_an_admin(self):
        inv = self.invite(role="admin")
        self.assertEqual(self.accept(inv["token"]).status, 201)
        s = sign_in(self.S, inv["email"], NEW_PASSWORD)
        self.assertEqual(s.get(self.path("staff")).status, 200)

    def test_accept_with_a_bad_body_is_refused(self):
        for kw, status, field in ((dict(body={"password": NEW_PASSWORD}), 422, "token"),
                                  (dict(body={"token": 7, "password": NEW_PASSWORD}), 422, "token"),
                                  (dict(body={"token": "x", "password": NEW_PASSWORD, "role": "admin"}), 422, "role"),
                                  (dict(raw="nope", content_type="application/json"), 400, None)):
            with self.subTest(kw=kw):
                self.assertProblem(self.S.request("POST", ACCEPT, **kw), status, field)

    def test_an_invite_whose_email_got_an_account_meanwhile_is_409(self):
        inv = self.invite(role="staff")
        staff_create(self.S, self.other.id, "viewer", email=inv["email"])
        self.assertProblem(self.accept(inv["token"]), 409)


# ---------------------------------------------------------------- API tokens
class ApiTokenTest(TeamCase):
    def create_token(self, role="viewer", name=None, token=None):
        name = name or "tok-" + uuid.uuid4().hex[:8]
        r = self.call("POST", "api-tokens", body={"name": name, "role": role}, token=token)
        self.assertEqual(r.status, 201, r)
        self.S.secrets.append(r.body["token"])
        return r.body

    def listed(self):
        r = self.call("GET", "api-tokens")
        self.assertEqual(r.status, 200, r)
        return r

    def test_list_shows_the_api_tokens_only_and_never_a_secret(self):
        cli_name = "cli-" + uuid.uuid4().hex[:6]
        cli_tok = self.S.token_create(self.org.id, "staff", cli_name)
        client = self.S.client_create(self.org.id, name="lister")
        r = self.exchange(client["client_id"], client["client_secret"])
        self.assertEqual(r.status, 200, r)
        access = r.body["access_token"]
        self.assertEqual(self.S.get(self.org.users, token=access).status, 200)
        r = self.listed()
        self.assertEqual(set(r.body), {"data"})
        data = r.body["data"]
        for t in data:
            for k in TOKEN_FIELDS:
                self.assertIn(k, t)
            for k in ("token", "hash", "token_hash", "secret"):
                self.assertNotIn(k, t)
            self.assertIn(t["role"], ("viewer", "staff", "admin", "integration"))
        names = [t["name"] for t in data]
        self.assertIn(cli_name, names)
        cli_ids = {t["id"] for t in self.S.token_list(self.org.id) if t.get("kind") == "api"}
        self.assertEqual({t["id"] for t in data}, cli_ids)
        raw = r.raw.decode()
        for secret in (cli_tok, access, self.admin, harness.sha256_hex(cli_tok), harness.sha256_hex(access),
                       harness.sha256_hex(self.admin)):
            self.assertNotIn(secret, raw)

    def test_create_shows_the_token_once_and_it_works_with_its_role(self):
        name = "made-" + uuid.uuid4().hex[:6]
        r = self.call("POST", "api-tokens", body={"name": name, "role": "viewer"})
        self.assertEqual(r.status, 201, r)
        b = r.body
        self.S.secrets.append(b["token"])
        for k in ("id", "name", "role", "created_at", "token"):
            self.assertIn(k, b)
        self.assertRegex(b["id"], UUID_RE)
        self.assertEqual((b["name"], b["role"]), (name, "viewer"))
        self.assertGreaterEqual(len(b["token"]), 20)
        me = self.S.get(ME, token=b["token"])
        self.assertEqual(me.status, 200, me)
        self.assertEqual((me.body["actor_type"], me.body["actor_id"], me.body["role"], me.body["org_id"]),
                         ("token", b["id"], "viewer", self.org.id))
        self.assertEqual(self.S.get(self.org.users, token=b["token"]).status, 200)
        self.assertProblem(self.S.request("POST", self.org.users, body={"email": unique_email("t")},
                                          token=b["token"]), 403)
        listed = {t["id"]: t for t in self.listed().body["data"]}
        self.assertEqual((listed[b["id"]]["name"], listed[b["id"]]["role"], listed[b["id"]]["revoked_at"]),
                         (name, "viewer", None))
        self.assertNotIn(b["token"], self.listed().raw.decode())

    def test_each_role_gets_its_powers(self):
        staff = self.create_token("staff")["token"]
        self.assertEqual(self.S.request("POST", self.org.users, body={"email": unique_email("s")},
                                        token=staff).status, 201)
        self.assertProblem(self.S.get(self.path("staff"), token=staff), 403)
        admin = self.create_token("admin")["token"]
        self.assertEqual(self.S.get(self.path("staff"), token=admin).status, 200)
        integ = self.create_token("integration")["token"]
        self.assertEqual(self.S.get(ME, token=integ).body["role"], "integration")
        self.assertProblem(self.S.get(self.org.users, token=integ), 403)
        # a session makes one too, and it is not bound to the session
        s = sign_in(self.S, self.admin_acc["email"])
        r = s.request("POST", self.path("api-tokens"), body={"name": "from-session", "role": "staff"})
        self.assertEqual(r.status, 201, r)
        self.S.secrets.append(r.body["token"])
        self.assertEqual(s.sign_out().status, 204)
        self.assertEqual(self.S.get(ME, token=r.body["token"]).body["role"], "staff")

    def test_bad_role_or_name_is_422(self):
        for body, field in (({"name": "x", "role": "owner"}, "role"), ({"name": "x", "role": "user"}, "role"),
                            ({"name": "x"}, "role"), ({"name": "x", "role": 1}, "role"),
                            ({"role": "viewer"}, "name"), ({"name": "", "role": "viewer"}, "name"),
                            ({"name": 5, "role": "viewer"}, "name"), ({"name": "n" * 101, "role": "viewer"}, "name"),
                            ({"name": "x", "role": "viewer", "expires_at": None}, "expires_at")):
            with self.subTest(body=body):
                r = self.call("POST", "api-tokens", body=body)
                self.assertProblem(r, 422, field)
                self.assertNotIn("token", r.body)
        self.assertEqual(self.call("POST", "api-tokens", body={"name": "n" * 100, "role": "viewer"}).status, 201)

    def test_revoke_stops_the_token_at_once(self):
        t = self.create_token("staff")
        for _ in range(3):  # used, so the server has it cached
            self.assertEqual(self.S.get(self.org.users, token=t["token"]).status, 200)
        r = self.call("DELETE", "api-tokens", t["id"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        r = self.S.get(self.org.users, token=t["token"])  # no waiting: the cache was cleared
        self.assertProblem(r, 401)
        self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)
        self.assertProblem(self.call("DELETE", "api-tokens", t["id"]), 404)
        listed = {x["id"]: x for x in self.listed().body["data"]}
        self.assertRegex(listed[t["id"]]["revoked_at"], TS_RE)

    def test_revoking_unknown_malformed_or_foreign_tokens_is_404(self):
        theirs = self.call("POST", "api-tokens", body={"name": "theirs", "role": "viewer"}, token=self.other_admin,
                           org=self.other)
        self.assertEqual(theirs.status, 201, theirs)
        for tid in (UNKNOWN_ID, "zzz", theirs.body["id"]):
            with self.subTest(id=tid):
                self.assertProblem(self.call("DELETE", "api-tokens", tid), 404)
        self.assertEqual(self.S.get(self.other.users, token=theirs.body["token"]).status, 200)

    def test_token_create_and_revoke_are_audited_with_name_and_role_never_the_token(self):
        s = sign_in(self.S, self.admin_acc["email"])
        name = "audited-" + uuid.uuid4().hex[:6]
        r = s.request("POST", self.path("api-tokens"), body={"name": name, "role": "staff"})
        self.assertEqual(r.status, 201, r)
        tok = r.body
        self.assertEqual(s.request("DELETE", self.path("api-tokens", tok["id"])).status, 204)
        recs = self.records(target_id=tok["id"])
        self.assertEqual([x["action"] for x in recs], ["token.revoke", "token.create"])
        for rec in recs:
            self.assertEqual(rec["actor"]["type"], "staff")
            self.assertEqual(rec["actor"]["id"], self.admin_acc["id"])
        self.assertNotIn(tok["token"], json.dumps(recs))
        self.assertNotIn(harness.sha256_hex(tok["token"]), json.dumps(recs))
        ch = recs[1]["changes"]
        self.assertIsInstance(ch, dict, recs[1])
        self.assertEqual(ch.get("name"), {"before": None, "after": name})
        self.assertEqual(ch.get("role"), {"before": None, "after": "staff"})

    def test_staff_and_viewer_get_403_and_another_org_404(self):
        t = self.create_token("viewer")
        self.assertForbiddenAndForeign("GET", "api-tokens")
        self.assertForbiddenAndForeign("POST", "api-tokens", body={"name": "x", "role": "admin"})
        self.assertForbiddenAndForeign("DELETE", "api-tokens", t["id"])
        self.assertEqual(self.S.get(self.org.users, token=t["token"]).status, 200)


# ---------------------------------------------------------------- OAuth clients
class OAuthClientTest(TeamCase):
    def create_client(self, name=None, token=None, org=None):
        r = self.call("POST", "oauth-clients", body={"name": name or "client-" + uuid.uuid4().hex[:6]},
                      token=token, org=org)
        self.assertEqual(r.status, 201, r)
        self.S.secrets.append(r.body["client_secret"])
        return r.body

    def listed(self):
        r = self.call("GET", "oauth-clients")
        self.assertEqual(r.status, 200, r)
        return r

    def test_create_shows_the_secret_once_and_the_client_gets_tokens(self):
        name = "integration-" + uuid.uuid4().hex[:6]
        c = self.create_client(name)
        for k in ("id", "name", "created_at", "client_id", "client_secret"):
            self.assertIn(k, c)
        self.assertEqual(c["name"], name)
        self.assertRegex(c["created_at"], TS_RE)
        r = self.exchange(c["client_id"], c["client_secret"])
        self.assertEqual(r.status, 200, r)
        access = r.body["access_token"]
        self.S.secrets.append(access)
        self.assertEqual(r.body["token_type"], "Bearer")
        self.assertEqual(self.S.get(self.org.users, token=access).status, 200)
        self.assertProblem(self.S.get(self.other.users, token=access), 404)
        self.assertProblem(self.exchange(c["client_id"], c["client_secret"] + "x"), 401)

    def test_list_shows_the_clients_without_secrets(self):
        c = self.create_client()
        r = self.listed()
        self.assertEqual(set(r.body), {"data"})
        for item in r.body["data"]:
            for k in CLIENT_FIELDS:
                self.assertIn(k, item)
            for k in ("client_secret", "secret", "secret_hash", "hash"):
                self.assertNotIn(k, item)
        listed = {item.get("id"): item for item in r.body["data"]}
        self.assertIn(c["id"], listed)
        self.assertEqual((listed[c["id"]]["name"], listed[c["id"]]["revoked_at"]), (c["name"], None))
        raw = r.raw.decode()
        self.assertNotIn(c["client_secret"], raw)
        self.assertNotIn(harness.sha256_hex(c["client_secret"]), raw)
        theirs = self.create_client(token=self.other_admin, org=self.other)
        self.assertNotIn(theirs["client_id"], raw)

    def test_revoke_stops_the_exchange_and_the_clients_tokens_at_once(self):
        c = self.create_client()
        r = self.exchange(c["client_id"], c["client_secret"])
        self.assertEqual(r.status, 200, r)
        access = r.body["access_token"]
        self.S.secrets.append(access)
        for _ in range(3):  # cached by now
            self.assertEqual(self.S.get(self.org.users, token=access).status, 200)
        r = self.call("DELETE", "oauth-clients", c["id"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        r = self.exchange(c["client_id"], c["client_secret"])
        self.assertProblem(r, 401)
        self.assertEqual(r.body.get("error"), "invalid_client")
        self.assertProblem(self.S.get(self.org.users, token=access), 401)  # no waiting
        self.assertProblem(self.call("DELETE", "oauth-clients", c["id"]), 404)
        listed = {item.get("id"): item for item in self.listed().body["data"]}
        self.assertIn(c["id"], listed)
        self.assertRegex(listed[c["id"]]["revoked_at"], TS_RE)

    def test_revoking_unknown_malformed_or_foreign_clients_is_404(self):
        theirs = self.create_client(token=self.other_admin, org=self.other)
        for cid in (UNKNOWN_ID, "xyz", theirs["id"]):
            with self.subTest(id=cid):
                self.assertProblem(self.call("DELETE", "oauth-clients", cid), 404)
        self.assertEqual(self.exchange(theirs["client_id"], theirs["client_secret"]).status, 200)

    def test_bad_name_is_422(self):
        for body, field in (({}, "name"), ({"name": ""}, "name"), ({"name": 3}, "name"),
                            ({"name": "n" * 101}, "name"), ({"name": "x", "role": "admin"}, "role")):
            with self.subTest(body=body):
                r = self.call("POST", "oauth-clients", body=body)
                self.assertProblem(r, 422, field)
                self.assertNotIn("client_secret", r.body)

    def test_client_create_is_audited_with_its_name_never_the_secret(self):
        name = "audited-client-" + uuid.uuid4().hex[:6]
        c = self.create_client(name)
        recs = self.records(target_id=c["client_id"])
        self.assertEqual([x["action"] for x in recs], ["client.create"])
        self.assertEqual(recs[0]["actor"]["type"], "token")
        self.assertNotIn(c["client_secret"], json.dumps(recs))
        ch = recs[0]["changes"]
        self.assertIsInstance(ch, dict, recs[0])
        self.assertEqual(ch.get("name"), {"before": None, "after": name})

    def test_staff_and_viewer_get_403_and_another_org_404(self):
        c = self.create_client()
        self.assertForbiddenAndForeign("GET", "oauth-clients")
        self.assertForbiddenAndForeign("POST", "oauth-clients", body={"name": "x"})
        self.assertForbiddenAndForeign("DELETE", "oauth-clients", c["id"])
        self.assertEqual(self.exchange(c["client_id"], c["client_secret"]).status, 200)


# ---------------------------------------------------------------- behind a public URL
class PublicUrlInviteTest(OwnServerTestCase):
    ARGS = ("--public-url", "https://desk.example.com")

    def test_the_invite_link_uses_the_public_url(self):
        org = self.S.org_create("Public Url Org")
        r = self.S.request("POST", org_path(org.id, "staff", "invites"),
                           body={"email": unique_email("pub"), "role": "staff"}, token=org.token("admin"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["invite_url"], "https://desk.example.com/#/invite/" + r.body["token"])


if __name__ == "__main__":
    unittest.main()
