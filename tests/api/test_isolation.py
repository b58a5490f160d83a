"""Cross-org isolation: another org's ids answer 404, exactly like ids that do
not exist, and nothing of org A is readable or writable with org B's tokens."""

import re
import unittest
import uuid

import harness
from harness import ApiTestCase, unique_email, uniq, API

harness.use_server(globals())


class IsolationTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.S.org_create("Org A")
        cls.b = cls.S.org_create("Org B")
        cls.a_admin = cls.a.token("admin")
        cls.b_admin = cls.b.token("admin")

    def setUp(self):
        self.secret_word = uniq("isol")
        self.ua = self.create_user(self.a, first_name=self.secret_word, last_name="Alpha",
                                   external_user_id=uniq("a_ext_"))

    def assertSame404(self, r, reference):
        """r is a 404 problem indistinguishable from the reference 404."""
        self.assertProblem(r, 404)
        self.assertEqual(r.body.get("type"), reference.body.get("type"))
        self.assertEqual(r.body.get("title"), reference.body.get("title"))
        strip = lambda d: re.sub(r"[0-9a-fA-F-]{36}", "<id>", d or "")
        self.assertEqual(strip(r.body.get("detail")), strip(reference.body.get("detail")))
        self.assertEqual(set(r.body.keys()), set(reference.body.keys()))

    def test_org_b_token_on_org_a_users_path_is_404_like_an_unknown_org(self):
        ref = self.S.get("%s/org/%s/users" % (API, uuid.uuid4()), token=self.b_admin)
        self.assertProblem(ref, 404)
        self.assertSame404(self.S.get(self.a.users, token=self.b_admin), ref)

    def test_org_b_token_on_org_a_user_path_is_404(self):
        ref = self.S.get("%s/org/%s/users/%s" % (API, uuid.uuid4(), uuid.uuid4()), token=self.b_admin)
        self.assertSame404(self.S.get(self.a.user_path(self.ua["id"]), token=self.b_admin), ref)

    def test_org_b_path_with_org_a_user_id_is_404_like_an_unknown_id(self):
        ref = self.S.get(self.b.user_path(uuid.uuid4()), token=self.b_admin)
        self.assertProblem(ref, 404)
        self.assertSame404(self.S.get(self.b.user_path(self.ua["id"]), token=self.b_admin), ref)

    def test_org_b_cannot_write_org_a_user_through_either_path(self):
        for base in (self.a, self.b):
            path = base.user_path(self.ua["id"])
            with self.subTest(path=path):
                self.assertProblem(self.S.request("PUT", path, body={"first_name": "Pwned"},
                                                  token=self.b_admin), 404)
                self.assertProblem(self.S.request("DELETE", path, token=self.b_admin), 404)
                self.assertProblem(self.S.request("POST", path + "/restore", token=self.b_admin), 404)
                self.assertProblem(self.S.request("POST", path + "/erase", token=self.b_admin), 404)
        self.assertUnchanged(self.a, self.ua)

    def test_org_b_cannot_create_users_in_org_a(self):
        email = unique_email("intruder")
        r = self.S.request("POST", self.a.users, body={"email": email}, token=self.b_admin)
        self.assertProblem(r, 404)
        self.assertNoUserWithEmail(self.a, email)
        self.assertNoUserWithEmail(self.b, email)

    def test_org_b_list_and_search_never_show_org_a_users(self):
        r = self.list_users(self.b, token=self.b_admin, include_deleted="true", limit=1000)
        self.assertNotIn(self.ua["id"], [u["id"] for u in r.body])
        self.assertTrue(all(u["org_id"] == self.b.id for u in r.body))
        r = self.list_users(self.b, token=self.b_admin, search=self.secret_word)
        self.assertEqual(r.body, [])
        self.assertEqual(r.headers.get("X-Total-Count"), "0")

    def test_org_b_audit_log_has_nothing_of_org_a(self):
        r = self.S.get(self.b.audit + "?target_id=" + self.ua["id"], token=self.b_admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, [])
        full = self.audit_records(self.b)
        self.assertNotIn(self.ua["id"], str(full))
        self.assertNotIn(self.secret_word, str(full))

    def test_org_b_token_on_org_a_audit_log_is_404(self):
        self.assertProblem(self.S.get(self.a.audit, token=self.b_admin), 404)

    def test_org_b_viewer_on_org_a_is_404_not_403(self):
        viewer = self.b.token("viewer")
        self.assertProblem(self.S.get(self.a.users, token=viewer), 404)
        self.assertProblem(self.S.get(self.a.user_path(self.ua["id"]), token=viewer), 404)
        self.assertProblem(self.S.request("PUT", self.a.user_path(self.ua["id"]),
                                          body={"first_name": "X"}, token=viewer), 404)
        self.assertUnchanged(self.a, self.ua)

    def test_org_b_oauth_client_token_cannot_reach_org_a(self):
        c = self.b.client()
        r = self.S.request("POST", "/oauth2/token/", body={"grant_type": "client_credentials"},
                           basic=(c["client_id"], c["client_secret"]))
        self.assertEqual(r.status, 200, r)
        tok = r.body["access_token"]
        self.assertProblem(self.S.get(self.a.user_path(self.ua["id"]), token=tok), 404)
        self.assertProblem(self.S.get(self.b.user_path(self.ua["id"]), token=tok), 404)
        self.assertProblem(self.S.request("POST", self.a.user_path(self.ua["id"]) + "/erase",
                                          token=tok), 404)
        self.assertUnchanged(self.a, self.ua)

    def test_same_email_and_external_user_id_may_exist_in_two_orgs(self):
        email = unique_email("both")
        ext = uniq("shared_")
        ua = self.create_user(self.a, email=email, external_user_id=ext)
        ub = self.create_user(self.b, token=self.b_admin, email=email, external_user_id=ext)
        self.assertNotEqual(ua["id"], ub["id"])
        self.assertEqual(ub["org_id"], self.b.id)

    def test_org_a_token_on_its_own_path_still_works(self):
        r = self.S.get(self.a.user_path(self.ua["id"]), token=self.a_admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.ua)


if __name__ == "__main__":
    unittest.main()
