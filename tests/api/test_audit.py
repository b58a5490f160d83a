"""GET /audit-log: records for every change, before/after, request ids,
filters, paging, and no secrets."""

import datetime
import json
import time
import unittest
import urllib.parse

import harness
from harness import ApiTestCase, unique_email, uniq, TS_RE, next_link

harness.use_server(globals())


class AuditTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Audit Org")
        cls.admin = cls.org.token("admin")
        cls.staff = cls.org.token("staff")
        cls.admin_id = cls.org.token_id("admin")
        cls.staff_id = cls.org.token_id("staff")

    def audit(self, **params):
        return self.audit_records(self.org, **params)

    def put(self, uid, body, token=None, **headers):
        r = self.S.request("PUT", self.org.user_path(uid), body=body, token=token or self.admin,
                           headers=headers)
        return r

    # ---- records and shape --------------------------------------------------------
    def test_every_user_change_leaves_one_record_newest_first(self):
        u = self.create_user(self.org, first_name="Life")
        path = self.org.user_path(u["id"])
        self.assertEqual(self.put(u["id"], {"first_name": "Cycle"}).status, 200)
        self.assertEqual(self.S.request("DELETE", path, token=self.admin).status, 204)
        self.assertEqual(self.S.request("POST", path + "/restore", token=self.admin).status, 200)
        self.assertEqual(self.S.request("POST", path + "/erase", token=self.admin).status, 200)
        recs = self.audit(target_id=u["id"])
        self.assertEqual([r["action"] for r in recs],
                         ["user.erase", "user.restore", "user.delete", "user.update", "user.create"])
        ids = [r["id"] for r in recs]
        self.assertEqual(ids, sorted(ids, reverse=True))
        ats = [r["at"] for r in recs]
        self.assertEqual(ats, sorted(ats, reverse=True))

    def test_record_shape_names_actor_action_target_time_and_request(self):
        u = self.create_user(self.org, first_name="Shape")
        rec = self.audit(target_id=u["id"])[0]
        self.assertIsInstance(rec["id"], int)
        self.assertRegex(rec["at"], TS_RE)
        self.assertRegex(rec["request_id"], harness.REQ_ID_RE)
        self.assertEqual(rec["action"], "user.create")
        self.assertEqual(rec["target"], {"type": "user", "id": u["id"]})
        self.assertEqual(rec["actor"]["type"], "token")
        self.assertEqual(rec["actor"]["id"], self.admin_id)
        self.assertEqual(rec["actor"]["name"], self.org.token_names["admin"])

    def test_create_record_has_after_values(self):
        email = unique_email("created")
        u = self.create_user(self.org, email=email, first_name="Newbie")
        rec = self.audit(target_id=u["id"], action="user.create")[0]
        ch = rec["changes"]
        self.assertEqual(ch["email"]["after"], email)
        self.assertIsNone(ch["email"].get("before"))
        self.assertEqual(ch["first_name"]["after"], "Newbie")

    def test_update_record_has_before_and_after_of_changed_fields_only(self):
        u = self.create_user(self.org, first_name="John", last_name="Doe", town="Wien")
        r = self.put(u["id"], {"first_name": "Peter", "last_name": "Doe", "town": None}, token=self.staff)
        self.assertEqual(r.status, 200, r)
        recs = self.audit(target_id=u["id"], action="user.update")
        self.assertEqual(len(recs), 1)
        ch = recs[0]["changes"]
        self.assertEqual(ch["first_name"], {"before": "John", "after": "Peter"})
        self.assertEqual(ch["town"], {"before": "Wien", "after": None})
        self.assertNotIn("email", ch)
        self.assertNotIn("last_name", ch)
        self.assertEqual(recs[0]["actor"]["id"], self.staff_id)

    # ---- request ids ------------------------------------------------------------------
    def test_record_request_id_matches_the_generated_x_request_id_of_the_change(self):
        r = self.S.request("POST", self.org.users, body={"email": unique_email()}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        rid = r.headers.get("X-Request-Id")
        self.assertTrue(rid)
        rec = self.audit(target_id=r.body["id"])[0]
        self.assertEqual(rec["request_id"], rid)

    def test_record_request_id_matches_a_client_supplied_x_request_id(self):
        u = self.create_user(self.org)
        rid = "audit-" + uniq("") + ".Req_1"
        r = self.put(u["id"], {"town": "Innsbruck"}, **{"X-Request-Id": rid})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("X-Request-Id"), rid)
        rec = self.audit(target_id=u["id"], action="user.update")[0]
        self.assertEqual(rec["request_id"], rid)

    # ---- filters ----------------------------------------------------------------------
    def test_target_id_filter_returns_only_that_target(self):
        u1 = self.create_user(self.org)
        u2 = self.create_user(self.org)
        self.put(u2["id"], {"town": "Graz"})
        recs = self.audit(target_id=u2["id"])
        self.assertEqual(len(recs), 2)
        self.assertTrue(all(r["target"]["id"] == u2["id"] for r in recs))
        self.assertEqual(len(self.audit(target_id=u1["id"])), 1)

    def test_actor_id_filter_returns_only_that_actors_records(self):
        u = self.create_user(self.org, token=self.staff)
        self.put(u["id"], {"town": "Linz"}, token=self.admin)
        staff_recs = self.audit(actor_id=self.staff_id)
        self.assertTrue(staff_recs)
        self.assertTrue(all(r["actor"]["id"] == self.staff_id for r in staff_recs))
        self.assertIn((u["id"], "user.create"), [(r["target"]["id"], r["action"]) for r in staff_recs])
        self.assertNotIn((u["id"], "user.update"), [(r["target"]["id"], r["action"]) for r in staff_recs])
        admin_recs = self.audit(actor_id=self.admin_id, target_id=u["id"])
        self.assertEqual([r["action"] for r in admin_recs], ["user.update"])

    def test_action_filter_returns_only_that_action(self):
        u = self.create_user(self.org)
        self.put(u["id"], {"town": "Wels"})
        recs = self.audit(action="user.update")
        self.assertTrue(recs)
        self.assertTrue(all(r["action"] == "user.update" for r in recs))
        self.assertIn(u["id"], [r["target"]["id"] for r in recs])

    def test_target_type_filter(self):
        self.create_user(self.org)
        users = self.audit(target_type="user")
        self.assertTrue(users)
        self.assertTrue(all(r["target"]["type"] == "user" for r in users))
        tokens = self.audit(target_type="token")
        self.assertTrue(tokens, "token.create records are missing")
        self.assertTrue(all(r["target"]["type"] == "token" for r in tokens))

    def test_from_and_to_filters_select_a_time_range(self):
        u = self.create_user(self.org)
        for name in ("One", "Two", "Three"):
            time.sleep(0.03)
            self.assertEqual(self.put(u["id"], {"first_name": name}).status, 200)
        recs = list(reversed(self.audit(target_id=u["id"])))  # oldest first: create, One, Two, Three
        t = [harness.parse_ts(r["at"]) for r in recs]
        ms = datetime.timedelta(milliseconds=1)
        self.assertLess(t[1], t[2])
        frm = harness.fmt_ts(t[1] + ms)      # after "One"
        to = harness.fmt_ts(t[3] - ms)       # before "Three"
        got = self.audit(target_id=u["id"], **{"from": frm, "to": to})
        self.assertEqual([r["changes"]["first_name"]["after"] for r in got], ["Two"])
        got = self.audit(target_id=u["id"], **{"from": frm})
        self.assertEqual([r["changes"]["first_name"]["after"] for r in got], ["Three", "Two"])
        got = self.audit(target_id=u["id"], to=to)
        self.assertEqual([r["action"] for r in got], ["user.update", "user.update", "user.create"])
        self.assertEqual(got[0]["changes"]["first_name"]["after"], "Two")

    def test_from_and_to_accept_any_rfc3339_offset(self):
        u = self.create_user(self.org)
        for name in ("One", "Two", "Three"):
            time.sleep(0.03)
            self.assertEqual(self.put(u["id"], {"first_name": name}).status, 200)
        recs = list(reversed(self.audit(target_id=u["id"])))
        t = [harness.parse_ts(r["at"]) for r in recs]
        ms = datetime.timedelta(milliseconds=1)
        plus_one = datetime.timezone(datetime.timedelta(hours=1))
        frm = (t[1] + ms).astimezone(plus_one).isoformat(timespec="milliseconds")   # ...+01:00
        to = (t[3] - ms).astimezone(plus_one).isoformat(timespec="milliseconds")
        self.assertTrue(frm.endswith("+01:00"), frm)
        got = self.audit(target_id=u["id"], **{"from": frm, "to": to})
        self.assertEqual([r["changes"]["first_name"]["after"] for r in got], ["Two"])
        # without fractional seconds, rounded outwards to whole seconds
        whole_from = (t[0] - datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        got = self.audit(target_id=u["id"], **{"from": whole_from})
        self.assertEqual(len(got), 4)

    def test_paging_while_records_are_added_reads_each_existing_record_once(self):
        import threading
        org = self.S.org_create("Audit Concurrent Org")
        tok = org.token("admin")
        for _ in range(20):
            self.create_user(org, token=tok)
        existing = [r["id"] for r in self.audit_records(org)]
        stop = threading.Event()

        def writer():
            while not stop.is_set():
                self.S.request("POST", org.users, body={"email": unique_email("aw")}, token=tok)

        t = threading.Thread(target=writer)
        t.start()
        try:
            seen = []
            r = self.S.get(org.audit + "?limit=3", token=tok)
            while True:
                self.assertEqual(r.status, 200, r)
                seen.extend(x["id"] for x in r.body)
                nxt = next_link(r)
                if not nxt:
                    break
                time.sleep(0.005)
                r = self.S.follow(nxt, tok)
        finally:
            stop.set()
            t.join(30)
        self.assertEqual(len(seen), len(set(seen)), "duplicates while paging the audit log")
        self.assertEqual([i for i in seen if i in set(existing)], existing)

    def test_bad_filters_are_400(self):
        for params, field in (({"from": "yesterday"}, "from"), ({"to": "2026-13-45"}, "to"),
                              ({"limit": "1001"}, "limit"), ({"limit": "0"}, "limit"),
                              ({"cursor": "garbage!!"}, "cursor")):
            with self.subTest(params=params):
                r = self.S.get(self.org.audit + "?" + urllib.parse.urlencode(params), token=self.admin)
                self.assertProblem(r, 400, field)

    # ---- paging -----------------------------------------------------------------------
    def test_paging_with_cursor_reads_every_record_exactly_once_newest_first(self):
        u = self.create_user(self.org)
        for i in range(6):
            self.put(u["id"], {"zip_code": str(1000 + i)})
        full = self.audit(target_id=u["id"])
        self.assertEqual(len(full), 7)
        items, pages = self.walk(self.org, path=self.org.audit, target_id=u["id"], limit=2)
        self.assertEqual([r["id"] for r in items], [r["id"] for r in full])
        self.assertEqual(len(pages), 4)
        link = next_link(pages[0])
        self.assertTrue(link.startswith(self.S.base + self.org.audit + "?"), link)

    def test_default_limit_is_100(self):
        org = self.S.org_create("Audit Paging Org")
        tok = org.token("admin")
        for _ in range(101):
            self.create_user(org, token=tok)
        r = self.S.get(org.audit, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), 100)
        self.assertIsNotNone(next_link(r))
        r = self.S.get(org.audit + "?limit=1000", token=tok)
        self.assertGreaterEqual(len(r.body), 101)
        self.assertIsNone(next_link(r))

    # ---- CLI and OAuth2 actors, no secrets --------------------------------------------
    def test_cli_token_create_and_revoke_are_recorded_with_actor_cli(self):
        name = "cli-" + uniq("")
        tok = self.S.token_create(self.org.id, "viewer", name)
        tid = [t["id"] for t in self.S.token_list(self.org.id) if t["name"] == name][0]
        harness.cli_ok(["token", "revoke", "--org", self.org.id, "--id", tid], self.S.db)
        recs = self.audit(target_id=tid)
        self.assertEqual([r["action"] for r in recs], ["token.revoke", "token.create"])
        for r in recs:
            self.assertEqual(r["actor"]["type"], "cli")
            self.assertEqual(r["target"], {"type": "token", "id": tid})
        self.assertNotIn(tok, json.dumps(recs))

    def test_org_create_is_recorded(self):
        recs = self.audit(action="org.create")
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["target"]["id"], self.org.id)
        self.assertEqual(recs[0]["actor"]["type"], "cli")

    def test_client_create_is_recorded_without_its_secret(self):
        c = self.S.client_create(self.org.id, name="audit-client")
        recs = self.audit(target_id=c["client_id"])
        self.assertEqual([r["action"] for r in recs], ["client.create"])
        self.assertNotIn(c["client_secret"], json.dumps(recs))

    def test_changes_through_an_oauth2_token_have_actor_type_client(self):
        c = self.S.client_create(self.org.id, name="actor-client")
        r = self.S.request("POST", "/oauth2/token/", body={"grant_type": "client_credentials"},
                           basic=(c["client_id"], c["client_secret"]))
        self.assertEqual(r.status, 200, r)
        access = r.body["access_token"]
        self.S.secrets.append(access)
        u = self.create_user(self.org, token=access)
        rec = self.audit(target_id=u["id"])[0]
        self.assertEqual(rec["actor"]["type"], "client")
        self.assertEqual(rec["actor"]["id"], c["client_id"])
        self.assertNotIn(access, json.dumps(rec))

    def test_no_token_secret_or_hash_appears_anywhere_in_the_audit_log(self):
        for role in harness.ROLES:
            self.org.token(role)
        self.org.client()
        self.create_user(self.org)
        text = json.dumps(self.audit())
        self.assertTrue(self.S.secrets)
        for s in self.S.secrets:
            self.assertNotIn(s, text)
            self.assertNotIn(harness.sha256_hex(s), text)
            self.assertNotIn(harness.sha256_hex(s).upper(), text)

    # ---- errors leave no record ---------------------------------------------------------
    def test_failed_writes_leave_no_audit_record(self):
        u = self.create_user(self.org, first_name="Stable")
        etag = self.S.get(self.org.user_path(u["id"]), token=self.admin).headers["ETag"]
        self.assertEqual(self.put(u["id"], {"first_name": "Moved"}).status, 200)
        before = self.audit(target_id=u["id"])
        self.assertProblem(self.put(u["id"], {"first_name": "Stale"}, **{"If-Match": etag}), 412)
        self.assertProblem(self.put(u["id"], {"country_iso2": "XX"}), 422)
        self.assertProblem(self.put(u["id"], {"first_name": "Viewer"}, token=self.org.token("viewer")), 403)
        self.assertProblem(self.S.request("POST", self.org.user_path(u["id"]) + "/erase",
                                          token=self.staff), 403)
        self.assertEqual(self.audit(target_id=u["id"]), before)
        n_creates = len(self.audit(action="user.create"))
        self.assertProblem(self.S.request("POST", self.org.users, body={"email": "bad email"},
                                          token=self.admin), 422)
        self.assertProblem(self.S.request("POST", self.org.users, body={"email": u["email"]},
                                          token=self.admin), 409)
        self.assertEqual(len(self.audit(action="user.create")), n_creates)


if __name__ == "__main__":
    unittest.main()
