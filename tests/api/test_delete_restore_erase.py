"""Soft delete, restore and GDPR erase."""

import json
import time
import unittest

import harness
from harness import ApiTestCase, unique_email, uniq, TS_RE, PERSONAL_FIELDS

harness.use_server(globals())


class DeleteRestoreEraseTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Lifecycle Org")
        cls.tok = cls.org.token("admin")

    def delete(self, uid, token=None):
        return self.S.request("DELETE", self.org.user_path(uid), token=token or self.tok)

    def restore(self, uid, token=None):
        return self.S.request("POST", self.org.user_path(uid) + "/restore", token=token or self.tok)

    def erase(self, uid, token=None):
        return self.S.request("POST", self.org.user_path(uid) + "/erase", token=token or self.tok)

    def listed(self, uid, **params):
        r = self.list_users(self.org, limit=1000, **params)
        return uid in [u["id"] for u in r.body]

    def full_user(self):
        tag = uniq("pii")
        return self.create_user(
            self.org, email="%s@example.com" % tag, first_name=tag + "F", last_name=tag + "L",
            external_user_id=tag + "X", street_and_number=tag + "S", street_add_info=tag + "A",
            zip_code=tag[-8:], town=tag + "T", country_iso2="DE"), tag

    # ---- soft delete --------------------------------------------------------------
    def test_delete_sets_deleted_at_and_user_can_still_be_read_by_id(self):
        u = self.create_user(self.org, first_name="Del")
        self.assertEqual(self.delete(u["id"]).status, 204)
        got = self.get_user(self.org, u["id"])
        self.assertRegex(got["deleted_at"], TS_RE)
        self.assertGreaterEqual(got["deleted_at"], u["created_at"])
        for k in PERSONAL_FIELDS + ("role", "country_iso2", "created_at"):
            self.assertEqual(got[k], u[k], k)

    def test_deleted_user_is_hidden_from_list_and_total_count(self):
        u = self.create_user(self.org)
        before = int(self.list_users(self.org, limit=1).headers["X-Total-Count"])
        self.assertTrue(self.listed(u["id"]))
        self.assertEqual(self.delete(u["id"]).status, 204)
        self.assertFalse(self.listed(u["id"]))
        after = int(self.list_users(self.org, limit=1).headers["X-Total-Count"])
        self.assertEqual(after, before - 1)

    def test_include_deleted_true_lists_deleted_users(self):
        u = self.create_user(self.org)
        self.assertEqual(self.delete(u["id"]).status, 204)
        self.assertTrue(self.listed(u["id"], include_deleted="true"))
        r = self.list_users(self.org, search=u["email"], include_deleted="true")
        self.assertEqual([x["id"] for x in r.body], [u["id"]])
        self.assertIsNotNone(r.body[0]["deleted_at"])
        self.assertEqual(r.headers.get("X-Total-Count"), "1")

    def test_include_deleted_false_hides_deleted_users(self):
        u = self.create_user(self.org)
        self.assertEqual(self.delete(u["id"]).status, 204)
        self.assertFalse(self.listed(u["id"], include_deleted="false"))

    # ---- restore ------------------------------------------------------------------
    def test_restore_clears_deleted_at_and_lists_the_user_again(self):
        u = self.create_user(self.org, first_name="Back")
        self.assertEqual(self.delete(u["id"]).status, 204)
        r = self.restore(u["id"])
        self.assertEqual(r.status, 200, r)
        self.assertUserShape(r.body)
        self.assertIsNone(r.body["deleted_at"])
        self.assertEqual(r.body["first_name"], "Back")
        self.assertEqual(r.body["email"], u["email"])
        self.assertIsNone(self.get_user(self.org, u["id"])["deleted_at"])
        self.assertTrue(self.listed(u["id"]))

    def test_restore_without_body_or_content_type_works(self):
        u = self.create_user(self.org)
        self.assertEqual(self.delete(u["id"]).status, 204)
        r = self.S.request("POST", self.org.user_path(u["id"]) + "/restore", token=self.tok,
                           headers={"Content-Length": "0"})
        self.assertEqual(r.status, 200, r)

    def test_staff_can_delete_and_restore_end_users(self):
        staff = self.org.token("staff")
        u = self.create_user(self.org)
        self.assertEqual(self.delete(u["id"], staff).status, 204)
        r = self.restore(u["id"], staff)
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["deleted_at"])

    # ---- erase ---------------------------------------------------------------------
    def test_erase_blanks_every_personal_field_and_sets_deleted_at(self):
        u, tag = self.full_user()
        r = self.erase(u["id"])
        self.assertEqual(r.status, 200, r)
        e = r.body
        self.assertUserShape(e)
        self.assertEqual(e["id"], u["id"])
        self.assertEqual(e["org_id"], u["org_id"])
        for k in PERSONAL_FIELDS:
            self.assertIn(e[k], (None, ""), "%s not blanked: %r" % (k, e[k]))
        self.assertRegex(e["deleted_at"], TS_RE)
        self.assertNotIn(tag, json.dumps(e))
        stored = self.get_user(self.org, u["id"])
        self.assertEqual(stored, e)
        self.assertNotIn(tag, json.dumps(stored))

    def test_erase_of_a_deleted_user_keeps_its_deleted_at(self):
        u, _ = self.full_user()
        self.assertEqual(self.delete(u["id"]).status, 204)
        deleted_at = self.get_user(self.org, u["id"])["deleted_at"]
        time.sleep(0.01)
        r = self.erase(u["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["deleted_at"], deleted_at)

    def test_erased_user_is_hidden_from_lists_and_search(self):
        u, tag = self.full_user()
        self.assertEqual(self.erase(u["id"]).status, 200)
        self.assertFalse(self.listed(u["id"]))
        r = self.list_users(self.org, search=tag, include_deleted="true")
        self.assertEqual(r.body, [])

    def test_erased_user_cannot_be_restored(self):
        u, tag = self.full_user()
        erased = self.erase(u["id"]).body
        r = self.restore(u["id"])
        self.assertIn(r.status, (409, 422), r)
        self.assertProblem(r, r.status)
        self.assertUnchanged(self.org, erased)

    def test_erase_strips_earlier_audit_values_and_leaves_a_clean_erase_record(self):
        u, tag = self.full_user()
        r = self.S.request("PUT", self.org.user_path(u["id"]),
                           body={"first_name": tag + "G", "town": tag + "W"}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.delete(u["id"]).status, 204)
        self.assertEqual(self.restore(u["id"]).status, 200)
        before = self.audit_records(self.org, target_id=u["id"])
        self.assertIn(tag, json.dumps(before), "the audit log should hold the values before erase")
        self.assertEqual(self.erase(u["id"]).status, 200)
        recs = self.audit_records(self.org, target_id=u["id"])
        self.assertNotIn(tag, json.dumps(recs))
        self.assertEqual([x["action"] for x in recs],
                         ["user.erase", "user.restore", "user.delete", "user.update", "user.create"])
        self.assertEqual([x["id"] for x in recs[1:]], [x["id"] for x in before])
        everything = self.audit_records(self.org)
        self.assertNotIn(tag, json.dumps(everything))

    def test_erased_email_and_external_user_id_are_free_again(self):
        u, tag = self.full_user()
        self.assertEqual(self.erase(u["id"]).status, 200)
        again = self.create_user(self.org, email=u["email"], external_user_id=u["external_user_id"])
        self.assertNotEqual(again["id"], u["id"])

    def test_erase_by_staff_or_viewer_is_403_and_keeps_the_data(self):
        u, tag = self.full_user()
        for role in ("staff", "viewer", "user"):
            with self.subTest(role=role):
                r = self.erase(u["id"], self.org.token(role))
                self.assertProblem(r, 403)
                self.assertUnchanged(self.org, u)

    def test_erase_twice_leaves_the_user_erased(self):
        u, tag = self.full_user()
        first = self.erase(u["id"]).body
        r = self.erase(u["id"])
        self.assertIn(r.status, (200, 409, 422), r)
        stored = self.get_user(self.org, u["id"])
        for k in PERSONAL_FIELDS:
            self.assertIn(stored[k], (None, ""), k)
        self.assertEqual(stored["deleted_at"], first["deleted_at"])


if __name__ == "__main__":
    unittest.main()
