"""Users CRUD: POST/GET/PUT/DELETE on /users, shapes, headers, partial update."""

import time
import unittest
import uuid

import harness
from harness import ApiTestCase, unique_email, uniq, TS_RE, UUID_RE

harness.use_server(globals())


class UsersCrudTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Crud Org")
        cls.tok = cls.org.token("admin")

    def test_create_user_returns_201_with_full_user_location_and_strong_etag(self):
        email = unique_email("john")
        body = {
            "role": "user", "email": email, "external_user_id": uniq("customer_"),
            "first_name": "John", "last_name": "Doe",
            "street_and_number": "Main Street 1", "street_add_info": "Apt 2",
            "zip_code": "10115", "town": "Berlin", "country_iso2": "DE",
        }
        r = self.S.request("POST", self.org.users, body=body, token=self.tok)
        self.assertEqual(r.status, 201, r)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))
        u = r.body
        self.assertUserShape(u)
        for k, v in body.items():
            self.assertEqual(u[k], v, k)
        self.assertEqual(u["org_id"], self.org.id)
        self.assertIsNone(u["deleted_at"])
        self.assertEqual(r.headers.get("Location"), "%s/%s" % (self.org.users, u["id"]))
        etag = r.headers.get("ETag")
        self.assertTrue(etag, r)
        self.assertFalse(etag.startswith("W/"), "ETag must be strong: %s" % etag)
        self.assertRegex(etag, r'^"[^"]*"$')
        self.assertEqual(self.get_user(self.org, u["id"]), u)

    def test_create_with_only_email_defaults_role_user_and_null_optional_fields(self):
        email = unique_email()
        u = self.create_user(self.org, email=email)
        self.assertEqual(u["role"], "user")
        self.assertEqual(u["email"], email)
        for k in ("external_user_id", "first_name", "last_name", "street_and_number",
                  "street_add_info", "zip_code", "town", "country_iso2", "deleted_at"):
            self.assertIsNone(u[k], k)
        self.assertEqual(u["created_at"], u["updated_at"])

    def test_create_etag_is_usable_as_if_match(self):
        r = self.S.request("POST", self.org.users, body={"email": unique_email()}, token=self.tok)
        self.assertEqual(r.status, 201, r)
        r2 = self.S.request("PUT", self.org.user_path(r.body["id"]), body={"town": "Graz"},
                            token=self.tok, headers={"If-Match": r.headers["ETag"]})
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body["town"], "Graz")

    def test_get_user_returns_200_user_and_etag(self):
        u = self.create_user(self.org, first_name="Gina")
        r = self.S.get(self.org.user_path(u["id"]), token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, u)
        self.assertTrue(r.headers.get("ETag"))
        self.assertIn("application/json", r.headers.get("Content-Type", ""))

    def test_list_users_is_a_bare_json_array_of_user_objects(self):
        u = self.create_user(self.org)
        r = self.list_users(self.org, limit=1000)
        self.assertIsInstance(r.body, list)
        ids = [x["id"] for x in r.body]
        self.assertIn(u["id"], ids)
        for x in r.body:
            self.assertUserShape(x)
            self.assertEqual(x["org_id"], self.org.id)

    def test_get_unknown_user_id_is_404_problem(self):
        r = self.S.get(self.org.user_path(str(uuid.uuid4())), token=self.tok)
        self.assertProblem(r, 404)

    def test_get_non_uuid_user_id_is_404_or_400_problem(self):
        r = self.S.get(self.org.user_path("not-a-uuid"), token=self.tok)
        self.assertIn(r.status, (400, 404), r)
        self.assertProblem(r, r.status)

    def test_put_unknown_user_is_404_and_creates_nothing(self):
        uid = str(uuid.uuid4())
        r = self.S.request("PUT", self.org.user_path(uid), body={"first_name": "X"}, token=self.tok)
        self.assertProblem(r, 404)
        self.assertEqual(self.S.get(self.org.user_path(uid), token=self.tok).status, 404)

    def test_delete_restore_erase_unknown_user_are_404(self):
        uid = str(uuid.uuid4())
        self.assertProblem(self.S.request("DELETE", self.org.user_path(uid), token=self.tok), 404)
        self.assertProblem(self.S.request("POST", self.org.user_path(uid) + "/restore", token=self.tok), 404)
        self.assertProblem(self.S.request("POST", self.org.user_path(uid) + "/erase", token=self.tok), 404)

    def test_put_is_a_partial_update_only_sent_fields_change(self):
        u = self.create_user(self.org, first_name="John", last_name="Doe",
                             external_user_id=uniq("ext"), zip_code="1010", town="Wien")
        time.sleep(0.005)
        r = self.S.request("PUT", self.org.user_path(u["id"]), body={"town": "Linz"}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("ETag"))
        after = r.body
        self.assertEqual(after["town"], "Linz")
        for k in ("id", "org_id", "role", "email", "first_name", "last_name",
                  "external_user_id", "zip_code", "created_at", "deleted_at",
                  "street_and_number", "street_add_info", "country_iso2"):
            self.assertEqual(after[k], u[k], k)
        self.assertGreater(after["updated_at"], u["updated_at"])
        self.assertEqual(self.get_user(self.org, u["id"]), after)

    def test_put_null_clears_an_optional_field(self):
        u = self.create_user(self.org, first_name="Anna", town="Wien", external_user_id=uniq("ext"))
        r = self.S.request("PUT", self.org.user_path(u["id"]),
                           body={"town": None, "external_user_id": None}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["town"])
        self.assertIsNone(r.body["external_user_id"])
        self.assertEqual(r.body["first_name"], "Anna")
        stored = self.get_user(self.org, u["id"])
        self.assertIsNone(stored["town"])
        self.assertIsNone(stored["external_user_id"])

    def test_put_empty_object_is_200_and_changes_no_field(self):
        u = self.create_user(self.org, first_name="Empty")
        r = self.S.request("PUT", self.org.user_path(u["id"]), body={}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        for k in harness.USER_FIELDS:
            if k != "updated_at":
                self.assertEqual(r.body[k], u[k], k)

    def test_put_can_change_email_and_role_as_admin(self):
        u = self.create_user(self.org)
        new_email = unique_email("changed")
        r = self.S.request("PUT", self.org.user_path(u["id"]),
                           body={"email": new_email, "role": "staff"}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["email"], new_email)
        self.assertEqual(r.body["role"], "staff")
        self.assertEqual(self.get_user(self.org, u["id"])["email"], new_email)

    def test_each_write_returns_a_new_etag(self):
        r = self.S.request("POST", self.org.users, body={"email": unique_email()}, token=self.tok)
        tags = [r.headers["ETag"]]
        path = self.org.user_path(r.body["id"])
        for name in ("A", "B", "C"):
            r = self.S.request("PUT", path, body={"first_name": name}, token=self.tok)
            self.assertEqual(r.status, 200, r)
            tags.append(r.headers["ETag"])
        self.assertEqual(len(set(tags)), 4, tags)
        self.assertEqual(self.S.get(path, token=self.tok).headers["ETag"], tags[-1])

    def test_get_modify_put_round_trip_with_read_only_fields_is_200(self):
        u = self.create_user(self.org, first_name="Round", last_name="Trip")
        u2 = dict(u)
        u2["first_name"] = "Rounder"
        r = self.S.request("PUT", self.org.user_path(u["id"]), body=u2, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["first_name"], "Rounder")
        self.assertEqual(r.body["last_name"], "Trip")
        self.assertEqual(r.body["id"], u["id"])
        self.assertEqual(r.body["created_at"], u["created_at"])

    def test_country_iso2_lower_case_is_accepted_and_stored_upper_case(self):
        u = self.create_user(self.org, country_iso2="at")
        self.assertEqual(u["country_iso2"], "AT")
        r = self.S.request("PUT", self.org.user_path(u["id"]), body={"country_iso2": "ch"}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["country_iso2"], "CH")
        self.assertEqual(self.get_user(self.org, u["id"])["country_iso2"], "CH")

    def test_unicode_names_round_trip_unchanged(self):
        u = self.create_user(self.org, first_name="Zoë", last_name="Müller-Łukasiewicz",
                             town="Köln 東京")
        got = self.get_user(self.org, u["id"])
        self.assertEqual(got["first_name"], "Zoë")
        self.assertEqual(got["last_name"], "Müller-Łukasiewicz")
        self.assertEqual(got["town"], "Köln 東京")

    def test_fields_at_their_maximum_length_are_accepted(self):
        # 64-character local part, labels of at most 63 characters, 254 in total
        email = "a" * 64 + "@" + ("c" * 60 + ".") * 3 + "dd" + ".com"
        self.assertEqual(len(email), 254)
        body = {"email": email, "first_name": "f" * 100, "last_name": "l" * 100,
                "town": "t" * 100, "street_and_number": "s" * 200,
                "street_add_info": "i" * 200, "zip_code": "9" * 20,
                "external_user_id": uniq("x") + "e" * 244}
        self.assertEqual(len(body["external_user_id"]), 255)
        u = self.create_user(self.org, **body)
        for k, v in body.items():
            self.assertEqual(u[k], v, k)
        self.assertEqual(self.get_user(self.org, u["id"]), u)

    def test_search_by_a_full_254_character_email_finds_the_user(self):
        email = "s" * 54 + uniq("") + "@" + ("c" * 60 + ".") * 3 + "dd.com"
        self.assertEqual(len(email), 254)
        u = self.create_user(self.org, email=email)
        r = self.list_users(self.org, search=email)
        self.assertEqual([x["id"] for x in r.body], [u["id"]])

    def test_timestamps_are_rfc3339_utc_with_milliseconds(self):
        u = self.create_user(self.org)
        self.assertRegex(u["created_at"], TS_RE)
        self.assertRegex(u["updated_at"], TS_RE)
        self.assertRegex(u["id"], UUID_RE)

    def test_content_type_with_charset_is_accepted(self):
        r = self.S.request("POST", self.org.users, body={"email": unique_email()}, token=self.tok,
                           content_type="application/json; charset=utf-8")
        self.assertEqual(r.status, 201, r)

    def test_delete_is_204_with_empty_body(self):
        u = self.create_user(self.org)
        r = self.S.request("DELETE", self.org.user_path(u["id"]), token=self.tok)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        self.assertIsNotNone(self.get_user(self.org, u["id"])["deleted_at"])


if __name__ == "__main__":
    unittest.main()
