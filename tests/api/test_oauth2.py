"""OAuth2 client credentials: POST /oauth2/token/ with Basic auth."""

import base64
import unittest
import urllib.parse

import harness
from harness import ApiTestCase, unique_email

harness.use_server(globals())

GRANT = {"grant_type": "client_credentials"}


class OAuth2Test(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("OAuth Org")
        cls.c = cls.org.client()
        cls.basic = (cls.c["client_id"], cls.c["client_secret"])

    def exchange(self, path="/oauth2/token/", body=GRANT, basic=None, **kw):
        return self.S.request("POST", path, body=body, basic=basic or self.basic, **kw)

    def assertTokenResponse(self, r):
        self.assertEqual(r.status, 200, r)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))
        b = r.body
        self.assertIsInstance(b["access_token"], str)
        self.assertGreaterEqual(len(b["access_token"]), 20)
        self.assertEqual(b["expires_in"], 36000)
        self.assertEqual(b["token_type"], "Bearer")
        self.assertEqual(b["scope"], "read write")
        self.S.secrets.append(b["access_token"])
        return b["access_token"]

    def assertOAuthError(self, r, status, error):
        self.assertProblem(r, status)
        self.assertEqual(r.body.get("error"), error, r)
        self.assertIsInstance(r.body.get("error_description"), str, r)
        if status == 401:
            self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Basic"), r)

    def test_client_create_prints_id_secret_name_and_org(self):
        self.assertLessEqual({"client_id", "client_secret", "name", "org_id"}, set(self.c), self.c)
        self.assertEqual(self.c["org_id"], self.org.id)

    def test_json_body_exchange_returns_bearer_token(self):
        self.assertTokenResponse(self.exchange())

    def test_form_body_exchange_returns_bearer_token(self):
        r = self.exchange(body=None, raw="grant_type=client_credentials",
                          content_type="application/x-www-form-urlencoded")
        self.assertTokenResponse(r)

    def test_path_without_trailing_slash_works(self):
        self.assertTokenResponse(self.exchange(path="/oauth2/token"))

    def test_each_exchange_issues_a_different_token(self):
        t1 = self.assertTokenResponse(self.exchange())
        t2 = self.assertTokenResponse(self.exchange())
        self.assertNotEqual(t1, t2)
        self.assertEqual(self.S.get(self.org.users, token=t1).status, 200)
        self.assertEqual(self.S.get(self.org.users, token=t2).status, 200)

    def test_access_token_acts_as_admin_of_the_clients_org(self):
        tok = self.assertTokenResponse(self.exchange())
        r = self.S.request("POST", self.org.users, body={"email": unique_email(), "role": "admin"},
                           token=tok)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["role"], "admin")
        u = self.create_user(self.org, token=tok, role="staff", first_name="Erase")
        r = self.S.request("POST", self.org.user_path(u["id"]) + "/erase", token=tok)
        self.assertEqual(r.status, 200, r)
        r = self.S.get(self.org.audit, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list)

    def test_bad_secret_is_401_invalid_client_with_www_authenticate_basic(self):
        r = self.exchange(basic=(self.c["client_id"], self.c["client_secret"] + "x"))
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertNotIn("access_token", r.body)

    def test_unknown_client_id_is_401_invalid_client(self):
        r = self.exchange(basic=("no-such-client", self.c["client_secret"]))
        self.assertOAuthError(r, 401, "invalid_client")

    def test_missing_basic_auth_is_401_invalid_client(self):
        r = self.S.request("POST", "/oauth2/token/", body=GRANT)
        self.assertOAuthError(r, 401, "invalid_client")

    def test_malformed_basic_credentials_are_401(self):
        for value in ("Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode(),
                      "Bearer " + self.c["client_secret"]):
            with self.subTest(value=value[:16]):
                r = self.S.request("POST", "/oauth2/token/", body=GRANT,
                                   headers={"Authorization": value})
                self.assertOAuthError(r, 401, "invalid_client")

    def test_wrong_grant_type_is_400_unsupported_grant_type(self):
        for grant in ("password", "authorization_code", "refresh_token"):
            with self.subTest(grant=grant):
                self.assertOAuthError(self.exchange(body={"grant_type": grant}), 400,
                                      "unsupported_grant_type")
        r = self.exchange(body=None, raw="grant_type=password",
                          content_type="application/x-www-form-urlencoded")
        self.assertOAuthError(r, 400, "unsupported_grant_type")

    def test_missing_grant_type_is_400_invalid_request(self):
        self.assertOAuthError(self.exchange(body={}), 400, "invalid_request")

    def test_malformed_json_body_is_400_invalid_request(self):
        self.assertOAuthError(self.exchange(body=None, raw='{"grant_type": '), 400, "invalid_request")

    def test_get_on_token_endpoint_is_405_with_allow_post(self):
        r = self.S.get("/oauth2/token/")
        self.assertProblem(r, 405)
        self.assertIn("POST", (r.headers.get("Allow") or "").upper())

    def test_revoked_client_cannot_get_tokens(self):
        c = self.S.client_create(self.org.id, name="revoked")
        self.assertTokenResponse(self.exchange(basic=(c["client_id"], c["client_secret"])))
        harness.cli_ok(["client", "revoke", "--org", self.org.id, "--id", c["client_id"]], self.S.db)
        r = self.exchange(basic=(c["client_id"], c["client_secret"]))
        self.assertOAuthError(r, 401, "invalid_client")

    def test_access_tokens_of_a_revoked_client_are_401(self):
        c = self.S.client_create(self.org.id, name="revoked-tokens")
        tok = self.assertTokenResponse(self.exchange(basic=(c["client_id"], c["client_secret"])))
        self.assertEqual(self.S.get(self.org.users, token=tok).status, 200)
        harness.cli_ok(["client", "revoke", "--org", self.org.id, "--id", c["client_id"]], self.S.db)
        r = harness.get_after_revocation(self.S, self.org.users, tok)
        self.assertProblem(r, 401)
        self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)

    def test_client_list_never_shows_secrets(self):
        out = harness.cli_ok(["client", "list", "--org", self.org.id], self.S.db)
        self.assertIn(self.c["client_id"], out)
        self.assertNotIn(self.c["client_secret"], out)
        self.assertNotIn(harness.sha256_hex(self.c["client_secret"]), out)

    def test_access_token_cannot_reach_another_org(self):
        tok = self.assertTokenResponse(self.exchange())
        other = self.S.org_create("OAuth Other Org")
        self.assertProblem(self.S.get(other.users, token=tok), 404)


if __name__ == "__main__":
    unittest.main()
