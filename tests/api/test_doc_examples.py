"""The demo, and the product document's curl examples (list, create, update,
get) run against it with the document's own headers and bodies."""

import json
import os
import re
import unittest

import harness
from harness import ApiTestCase, cli_ok, run_cli, UUID_RE

S = None
DEMO = None

# The bodies exactly as the product document's curl -d arguments have them.
DOC_CREATE_BODY = '''{
"role": "user",
"email": "[email protected] ",
"external_user_id": "customer_12345",
"first_name": "John",
"last_name": "Doe"
}'''
DOC_UPDATE_BODY = '''{
"first_name": "Peter",
"last_name": "Schmidt",
"street_and_number": "Main Street 123",
"zip_code": "10115",
"town": "Berlin",
"country_iso2": "DE"
}'''
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def setUpModule():
    global S, DEMO
    S = harness.Server()
    try:
        DEMO = json.loads(cli_ok(["demo"], S.db))   # default: 200 users
        S.secrets.append(DEMO["token"])
        S.start()
    except BaseException:
        S.stop()
        S.cleanup()
        raise
    ApiTestCase.S = S
    harness._servers[__name__] = S


def tearDownModule():
    ApiTestCase.S = None
    harness.stop_module_server(__name__)


class DemoTest(ApiTestCase):
    def test_demo_prints_org_id_admin_token_and_users(self):
        self.assertTrue({"org_id", "token", "users"} <= set(DEMO), DEMO)
        self.assertRegex(DEMO["org_id"], UUID_RE)
        users = DEMO["users"]
        self.assertEqual(users if isinstance(users, int) else len(users), 200)
        # the token is an admin token: the audit log is admin-only
        r = S.get("%s/org/%s/audit-log" % (harness.API, DEMO["org_id"]), token=DEMO["token"])
        self.assertEqual(r.status, 200, r)

    def test_demo_org_is_demo_energy(self):
        self.assertIn("Demo Energy", cli_ok(["org", "list"], S.db))

    def test_demo_creates_200_realistic_users(self):
        path = "%s/org/%s/users" % (harness.API, DEMO["org_id"])
        r = S.get(path + "?limit=1000", token=DEMO["token"])
        self.assertEqual(r.status, 200, r)
        users = [u for u in r.body if not u["email"].startswith("john.doe")]
        self.assertGreaterEqual(len(users), 200)
        emails = [u["email"].lower() for u in users]
        self.assertEqual(len(emails), len(set(emails)))
        for u in users[:200]:
            self.assertUserShape(u)
            self.assertRegex(u["email"], EMAIL_RE)
            self.assertTrue(u["first_name"] and u["last_name"], u)
            self.assertNotEqual(u["email"].strip(), "")
            if u["country_iso2"] is not None:
                self.assertRegex(u["country_iso2"], r"^[A-Z]{2}$")

    def test_demo_users_option_sets_the_number_of_users(self):
        s = harness.Server()
        try:
            out = json.loads(cli_ok(["demo", "--users", "5"], s.db))
            users = out["users"]
            self.assertEqual(users if isinstance(users, int) else len(users), 5)
            self.assertTrue(out["token"])
        finally:
            s.cleanup()


class DocExamplesTest(ApiTestCase):
    """Each request carries exactly the document's headers."""

    @classmethod
    def setUpClass(cls):
        cls.org_id = DEMO["org_id"]
        cls.token = DEMO["token"]
        cls.users = "%s/org/%s/users" % (harness.API, cls.org_id)

    def doc_request(self, method, path, raw=None):
        headers = {"accept": "application/json", "Authorization": "Bearer " + self.token}
        if raw is not None:
            headers["Content-Type"] = "application/json"
        return S.request(method, path, raw=raw, headers=headers, content_type=None)

    def count(self, **params):
        import urllib.parse
        r = S.get(self.users + "?" + urllib.parse.urlencode(dict(params, include_deleted="true")),
                  token=self.token)
        self.assertEqual(r.status, 200, r)
        return int(r.headers["X-Total-Count"])

    def test_doc_list_example_returns_a_bare_array_of_demo_users(self):
        r = self.doc_request("GET", self.users)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list)
        self.assertEqual(len(r.body), 100)
        self.assertGreaterEqual(int(r.headers["X-Total-Count"]), 200)
        for u in r.body:
            self.assertEqual(u["org_id"], self.org_id)

    def test_doc_create_example_as_written_is_422_naming_email(self):
        before = self.count(search="customer_12345")
        r = self.doc_request("POST", self.users, DOC_CREATE_BODY)
        self.assertProblem(r, 422, "email")
        self.assertEqual(self.count(search="customer_12345"), before)

    def test_doc_create_with_valid_email_then_update_and_get_examples_as_written(self):
        body = json.loads(DOC_CREATE_BODY)
        body["email"] = "john.doe@example.com"
        if self.count(search="john.doe@example.com"):
            body["email"] = harness.unique_email("john.doe")
        if self.count(search="customer_12345"):
            body["external_user_id"] = harness.uniq("customer_")
        raw = DOC_CREATE_BODY.replace("[email protected] ", body["email"]) \
                             .replace("customer_12345", body["external_user_id"])
        r = self.doc_request("POST", self.users, raw)
        self.assertEqual(r.status, 201, r)
        created = r.body
        for k, v in body.items():
            self.assertEqual(created[k], v, k)
        self.assertEqual(r.headers.get("Location"), "%s/%s" % (self.users, created["id"]))

        r = self.doc_request("PUT", "%s/%s" % (self.users, created["id"]), DOC_UPDATE_BODY)
        self.assertEqual(r.status, 200, r)
        updated = r.body
        for k, v in json.loads(DOC_UPDATE_BODY).items():
            self.assertEqual(updated[k], v, k)
        for k in ("id", "email", "external_user_id", "role", "street_add_info", "created_at"):
            self.assertEqual(updated[k], created[k], k)

        r = self.doc_request("GET", "%s/%s" % (self.users, created["id"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, updated)
        self.assertEqual(r.body["first_name"], "Peter")
        self.assertEqual(r.body["last_name"], "Schmidt")
        self.assertEqual(r.body["country_iso2"], "DE")


if __name__ == "__main__":
    unittest.main()
