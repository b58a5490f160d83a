"""The role matrix (user/viewer/staff/admin x every operation), staff limits,
and 401 versus 403.  Every refused write is checked against the stored state."""

import unittest
import uuid

import harness
from harness import ApiTestCase, unique_email

harness.use_server(globals())

# expected status per operation and role
MATRIX = {
    #            user viewer staff admin
    "list":    (403, 200, 200, 200),
    "get":     (403, 200, 200, 200),
    "create":  (403, 403, 201, 201),
    "update":  (403, 403, 200, 200),
    "delete":  (403, 403, 204, 204),
    "restore": (403, 403, 200, 200),
    "erase":   (403, 403, 403, 200),
    "audit":   (403, 403, 200, 200),
}


class RoleMatrixTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Roles Org")
        for role in harness.ROLES:
            cls.org.token(role)

    def admin_get(self, uid):
        return self.get_user(self.org, uid)

    def do(self, op, token):
        """Run op with token on a fresh target; returns (response, check) where
        check(success) verifies the stored state afterwards."""
        org = self.org
        if op == "list":
            r = self.S.get(org.users, token=token)
            return r, lambda ok: self.assertIsInstance(r.body, list) if ok else None
        if op == "audit":
            r = self.S.get(org.audit, token=token)
            return r, lambda ok: self.assertIsInstance(r.body, list) if ok else None
        if op == "create":
            email = unique_email("matrix")
            r = self.S.request("POST", org.users, body={"email": email}, token=token)

            def check(ok):
                if ok:
                    self.assertEqual(self.admin_get(r.body["id"])["email"], email)
                else:
                    self.assertNoUserWithEmail(org, email)
            return r, check
        target = self.create_user(org, first_name="Target", last_name="Person")
        path = org.user_path(target["id"])
        if op == "get":
            r = self.S.get(path, token=token)

            def check(ok):
                if ok:
                    self.assertEqual(r.body, target)
            return r, check
        if op == "update":
            r = self.S.request("PUT", path, body={"first_name": "Changed"}, token=token)

            def check(ok):
                self.assertEqual(self.admin_get(target["id"])["first_name"],
                                 "Changed" if ok else "Target")
            return r, check
        if op == "delete":
            r = self.S.request("DELETE", path, token=token)

            def check(ok):
                after = self.admin_get(target["id"])
                if ok:
                    self.assertIsNotNone(after["deleted_at"])
                else:
                    self.assertEqual(after, target)
            return r, check
        if op == "restore":
            d = self.S.request("DELETE", path, token=org.token("admin"))
            self.assertEqual(d.status, 204, d)
            before = self.admin_get(target["id"])
            r = self.S.request("POST", path + "/restore", token=token)

            def check(ok):
                after = self.admin_get(target["id"])
                if ok:
                    self.assertIsNone(after["deleted_at"])
                else:
                    self.assertEqual(after, before)
            return r, check
        if op == "erase":
            r = self.S.request("POST", path + "/erase", token=token)

            def check(ok):
                after = self.admin_get(target["id"])
                if ok:
                    self.assertIn(after["email"], (None, ""))
                    self.assertIn(after["first_name"], (None, ""))
                else:
                    self.assertEqual(after, target)
            return r, check
        raise ValueError(op)


def _make_matrix_test(op, role, expected):
    def test(self):
        r, check = self.do(op, self.org.token(role))
        if expected >= 400:
            self.assertProblem(r, expected)
        else:
            self.assertEqual(r.status, expected, r)
        check(expected < 400)
    test.__doc__ = "%s token: %s -> %d" % (role, op, expected)
    return test


def _make_no_token_test(op):
    def test(self):
        r, check = self.do(op, None)
        self.assertProblem(r, 401)
        self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)
        check(False)
    return test


def _make_bad_token_test(op):
    def test(self):
        r, check = self.do(op, "not-a-real-token-" + uuid.uuid4().hex)
        self.assertProblem(r, 401)
        self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)
        check(False)
    return test


for _op, _row in MATRIX.items():
    for _role, _exp in zip(harness.ROLES, _row):
        _name = "test_%s_token_%s_is_%d" % (_role, _op, _exp)
        setattr(RoleMatrixTest, _name, _make_matrix_test(_op, _role, _exp))
    setattr(RoleMatrixTest, "test_no_token_%s_is_401_with_www_authenticate_bearer" % _op,
            _make_no_token_test(_op))
    setattr(RoleMatrixTest, "test_unknown_token_%s_is_401_with_www_authenticate_bearer" % _op,
            _make_bad_token_test(_op))


class StaffLimitsTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Staff Org")
        cls.staff = cls.org.token("staff")
        cls.admin = cls.org.token("admin")

    def test_staff_cannot_create_staff_admin_or_viewer_users(self):
        for role in ("staff", "admin", "viewer"):
            with self.subTest(role=role):
                email = unique_email("staffmade")
                r = self.S.request("POST", self.org.users, body={"email": email, "role": role},
                                   token=self.staff)
                self.assertProblem(r, 403)
                self.assertNoUserWithEmail(self.org, email)

    def test_staff_can_create_a_user_with_explicit_role_user(self):
        r = self.S.request("POST", self.org.users, body={"email": unique_email(), "role": "user"},
                           token=self.staff)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["role"], "user")

    def test_staff_cannot_promote_a_user_to_staff_or_admin(self):
        for role in ("staff", "admin", "viewer"):
            with self.subTest(role=role):
                u = self.create_user(self.org, first_name="Plain")
                r = self.S.request("PUT", self.org.user_path(u["id"]),
                                   body={"role": role, "first_name": "Promoted"}, token=self.staff)
                self.assertProblem(r, 403)
                self.assertUnchanged(self.org, u)

    def test_staff_may_send_role_user_unchanged_on_put(self):
        u = self.create_user(self.org)
        r = self.S.request("PUT", self.org.user_path(u["id"]), body={"role": "user", "town": "Graz"},
                           token=self.staff)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["town"], "Graz")

    def test_staff_cannot_edit_delete_or_erase_admin_users(self):
        for role in ("admin", "staff", "viewer"):
            with self.subTest(role=role):
                u = self.create_user(self.org, role=role, first_name="Boss")
                path = self.org.user_path(u["id"])
                self.assertProblem(self.S.request("PUT", path, body={"first_name": "Hacked"},
                                                  token=self.staff), 403)
                self.assertProblem(self.S.request("PUT", path, body={"role": "user"},
                                                  token=self.staff), 403)
                self.assertProblem(self.S.request("DELETE", path, token=self.staff), 403)
                self.assertProblem(self.S.request("POST", path + "/erase", token=self.staff), 403)
                self.assertUnchanged(self.org, u)

    def test_staff_cannot_restore_a_deleted_staff_user(self):
        u = self.create_user(self.org, role="staff")
        self.assertEqual(self.S.request("DELETE", self.org.user_path(u["id"]), token=self.admin).status, 204)
        before = self.get_user(self.org, u["id"])
        r = self.S.request("POST", self.org.user_path(u["id"]) + "/restore", token=self.staff)
        self.assertProblem(r, 403)
        self.assertUnchanged(self.org, before)

    def test_staff_can_read_admin_users(self):
        u = self.create_user(self.org, role="admin")
        r = self.S.get(self.org.user_path(u["id"]), token=self.staff)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["role"], "admin")

    def test_viewer_cannot_write_even_its_own_kind(self):
        viewer = self.org.token("viewer")
        email = unique_email("viewer")
        r = self.S.request("POST", self.org.users, body={"email": email, "role": "viewer"}, token=viewer)
        self.assertProblem(r, 403)
        self.assertNoUserWithEmail(self.org, email)

    def test_admin_can_create_and_promote_any_role(self):
        for role in ("viewer", "staff", "admin"):
            with self.subTest(role=role):
                u = self.create_user(self.org, role=role)
                self.assertEqual(u["role"], role)
                u2 = self.create_user(self.org)
                r = self.S.request("PUT", self.org.user_path(u2["id"]), body={"role": role},
                                   token=self.admin)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.get_user(self.org, u2["id"])["role"], role)


class AuthHeaderTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Auth Org")
        cls.admin = cls.org.token("admin")

    def assert401(self, r):
        self.assertProblem(r, 401)
        self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)

    def test_malformed_authorization_headers_are_401(self):
        for value in ("Bearer", "Bearer ", "bearer-" + self.admin, "Token " + self.admin,
                      "Basic " + self.admin, self.admin, "Bearer " + self.admin + "x",
                      "Bearer " + self.admin[:-1]):
            with self.subTest(value=value[:20]):
                self.assert401(self.S.get(self.org.users, headers={"Authorization": value}))

    def test_no_token_on_unknown_org_is_401_not_404(self):
        r = self.S.get("%s/org/%s/users" % (harness.API, uuid.uuid4()))
        self.assert401(r)

    def test_revoked_token_is_401(self):
        name = "to-revoke-" + uuid.uuid4().hex[:6]
        tok = self.S.token_create(self.org.id, "admin", name)
        self.assertEqual(self.S.get(self.org.users, token=tok).status, 200)
        tid = [t["id"] for t in self.S.token_list(self.org.id) if t["name"] == name][0]
        harness.cli_ok(["token", "revoke", "--org", self.org.id, "--id", tid], self.S.db)
        self.assert401(harness.get_after_revocation(self.S, self.org.users, tok))
        self.assert401(self.S.request("POST", self.org.users, body={"email": unique_email()}, token=tok))

    def test_sha256_of_a_token_is_not_a_token(self):
        self.assert401(self.S.get(self.org.users, token=harness.sha256_hex(self.admin)))


if __name__ == "__main__":
    unittest.main()
