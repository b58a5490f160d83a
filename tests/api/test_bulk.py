"""POST /org/{org_id}/users/bulk: up to 1000 creates, updates, deletes and
restores in one request, each with its own result in request order; per-item
errors (shape, 404, 422, 409, 412, 403), ?atomic=true (all or nothing, also
for conflicts only the store detects), the role matrix of the single-user
calls, org isolation, and the audit records of every applied item.

Every refused or rolled-back write is checked against the stored state (GET)
and against the audit log (no record carries the request's X-Request-Id)."""

import unittest
import uuid

import harness
from harness import API, ApiTestCase, unique_email, uniq

harness.use_server(globals())

NOT_APPLIED = "urn:fleetdesk:problem:not_applied"
ROLE_ORDER = ("user", "viewer", "staff", "admin")


class BulkCase(ApiTestCase):
    """Helpers shared by the bulk tests."""

    @staticmethod
    def bulk_path(org):
        return org.users + "/bulk"

    def bulk(self, org, items=None, token=None, atomic=None, body=None, **kw):
        path = self.bulk_path(org)
        if atomic is not None:
            path += "?atomic=" + atomic
        if body is None:
            body = {"items": items}
        return self.S.request("POST", path, body=body, token=token or org.token("admin"), **kw)

    def etag(self, org, uid):
        r = self.S.get(org.user_path(uid), token=org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r.headers["ETag"]

    def deleted_user(self, org, **fields):
        u = self.create_user(org, **fields)
        r = self.S.request("DELETE", org.user_path(u["id"]), token=org.token("admin"))
        self.assertEqual(r.status, 204, r)
        return self.get_user(org, u["id"])

    def erased_user(self, org):
        u = self.create_user(org, first_name="Gone")
        r = self.S.request("POST", org.user_path(u["id"]) + "/erase", token=org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return self.get_user(org, u["id"])

    def records_of_request(self, org, request_id, **params):
        return [rec for rec in self.audit_records(org, **params) if rec["request_id"] == request_id]

    # ---- assertions --------------------------------------------------------------
    def assertBulkReply(self, r, n, atomic=False):
        """A 200 bulk reply with n results in request order; returns the results."""
        self.assertEqual(r.status, 200, r)
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/json", r)
        self.assertEqual(set(r.body), {"atomic", "succeeded", "failed", "results"}, r)
        self.assertIs(r.body["atomic"], atomic)
        self.assertResultsConsistent(r.body, n)
        return r.body["results"]

    def assertResultsConsistent(self, body, n):
        results = body["results"]
        self.assertIsInstance(results, list)
        self.assertEqual(len(results), n)
        self.assertEqual([x["index"] for x in results], list(range(n)))
        ok = sum(1 for x in results if x["status"] == "success")
        self.assertEqual(body["succeeded"], ok, body)
        self.assertEqual(body["failed"], n - ok - sum(1 for x in results if x.get("status_code") == 424),
                         body)

    def assertItemOk(self, res, op, code, user_id=None):
        self.assertEqual(res["status"], "success", res)
        self.assertEqual(res["op"], op, res)
        self.assertEqual(res["status_code"], code, res)
        self.assertNotIn("error", res)
        if user_id is not None:
            self.assertEqual(res["user_id"], user_id, res)
        self.assertRegex(res["user_id"], harness.UUID_RE)
        if code == 204:
            self.assertIsNone(res["data"], res)
        else:
            self.assertUserShape(res["data"])
            self.assertEqual(res["data"]["id"], res["user_id"])
        return res["data"]

    def assertItemError(self, res, status, field=None, pointer=None, op=None):
        self.assertEqual(res["status"], "error", res)
        self.assertEqual(res["status_code"], status, res)
        self.assertNotIn("data", res)
        if op is not None:
            self.assertEqual(res["op"], op, res)
        err = res["error"]
        self.assertIsInstance(err, dict, res)
        self.assertEqual(err.get("status"), status, res)
        for k in ("type", "title", "detail"):
            self.assertIsInstance(err.get(k), str, res)
            self.assertTrue(err[k], res)
        self.assertTrue(err["type"].startswith("urn:fleetdesk:problem:"), res)
        if field is not None:
            self.assertIsInstance(err.get("errors"), list, res)
            self.assertEqual(err["errors"][0]["field"], field, res)
            self.assertIsInstance(err["errors"][0].get("detail"), str, res)
        if pointer is not None:
            self.assertEqual(err["errors"][0]["pointer"], pointer, res)
        return err

    def assertNotApplied(self, res):
        err = self.assertItemError(res, 424)
        self.assertEqual(err["type"], NOT_APPLIED, res)

    def assertAtomicRefused(self, r, n, failed):
        """The 422 problem of an atomic batch that applied nothing; returns the results."""
        body = self.assertProblem(r, 422)
        self.assertIsInstance(body.get("detail"), str, r)
        self.assertIs(body.get("atomic"), True, r)
        self.assertEqual(body.get("succeeded"), 0, r)
        self.assertEqual(body.get("failed"), failed, r)
        results = body["results"]
        self.assertEqual(len(results), n)
        self.assertEqual([x["index"] for x in results], list(range(n)))
        self.assertFalse([x for x in results if x["status"] != "error"], r)
        self.assertEqual(sum(1 for x in results if x["status_code"] != 424), failed, r)
        return results

    def assertNoRecordsOf(self, org, r):
        rid = r.headers.get("X-Request-Id")
        self.assertTrue(rid, r)
        self.assertEqual(self.records_of_request(org, rid), [],
                         "a refused or rolled-back bulk request left audit records")


# ---------------------------------------------------------------------------------------
class BulkRequestShapeTest(BulkCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Shape Org")
        cls.admin = cls.org.token("admin")

    def count(self):
        r = self.list_users(self.org, limit=1, include_deleted="true")
        return int(r.headers["X-Total-Count"])

    def test_other_top_level_member_is_422_naming_it_and_applies_nothing(self):
        email = unique_email("toplevel")
        r = self.bulk(self.org, body={"items": [{"op": "create", "data": {"email": email}}],
                                      "atomic": True})
        body = self.assertProblem(r, 422, field="atomic")
        self.assertEqual(body["errors"][0]["field"], "atomic")
        self.assertNoUserWithEmail(self.org, email)

    def test_items_missing_not_an_array_empty_or_too_long_is_422_naming_items(self):
        one = {"op": "create", "data": {"email": unique_email()}}
        for label, body in (("missing", {}), ("object", {"items": {"0": one}}),
                            ("string", {"items": "create"}), ("null", {"items": None}),
                            ("empty", {"items": []})):
            with self.subTest(label):
                r = self.bulk(self.org, body=body)
                b = self.assertProblem(r, 422)
                self.assertEqual(b["errors"][0]["field"], "items", r)

    def test_1001_items_are_refused_whole_and_nothing_is_created(self):
        before = self.count()
        items = [{"op": "create", "data": {"email": unique_email("over")}} for _ in range(1001)]
        r = self.bulk(self.org, items)
        b = self.assertProblem(r, 422)
        self.assertEqual(b["errors"][0]["field"], "items")
        self.assertEqual(self.count(), before)
        self.assertNoUserWithEmail(self.org, items[0]["data"]["email"])

    def test_malformed_json_is_400(self):
        email = unique_email("malformed")
        r = self.S.request("POST", self.bulk_path(self.org), token=self.admin,
                           raw='{"items": [{"op": "create", "data": {"email": "%s"}}]' % email)
        self.assertProblem(r, 400)
        self.assertNoUserWithEmail(self.org, email)

    def test_wrong_content_type_is_415_and_applies_nothing(self):
        email = unique_email("ctype")
        for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
            with self.subTest(ctype=ctype):
                r = self.S.request("POST", self.bulk_path(self.org), token=self.admin,
                                   body={"items": [{"op": "create", "data": {"email": email}}]},
                                   content_type=ctype)
                self.assertProblem(r, 415)
        self.assertNoUserWithEmail(self.org, email)

    def test_atomic_accepts_true_false_1_0(self):
        for value, atomic in (("true", True), ("1", True), ("false", False), ("0", False)):
            with self.subTest(atomic=value):
                email = unique_email("atomicparam")
                r = self.bulk(self.org, [{"op": "create", "data": {"email": email}}], atomic=value)
                res = self.assertBulkReply(r, 1, atomic=atomic)
                self.assertItemOk(res[0], "create", 201)
                self.assertEqual(self.get_user(self.org, res[0]["user_id"])["email"], email)

    def test_atomic_default_is_false(self):
        r = self.bulk(self.org, [{"op": "create", "data": {"email": unique_email()}},
                                 {"op": "create", "data": {"email": "bad"}}])
        res = self.assertBulkReply(r, 2, atomic=False)
        self.assertItemOk(res[0], "create", 201)
        self.assertItemError(res[1], 422, field="email")

    def test_any_other_atomic_value_is_400_naming_atomic_and_applies_nothing(self):
        for value in ("yes", "TRUE", "", "2", "true%20"):
            with self.subTest(atomic=value):
                email = unique_email("badatomic")
                r = self.bulk(self.org, [{"op": "create", "data": {"email": email}}], atomic=value)
                b = self.assertProblem(r, 400, field="atomic")
                self.assertEqual(b["errors"][0]["field"], "atomic")
                self.assertNoUserWithEmail(self.org, email)


class BulkThousandTest(BulkCase):
    """The limit itself, in an org of its own so counts are exact.

    The server limits each token to a bucket of 1000 requests (refilled at 100 a
    second) and a bulk request weighs one request per item, so every 1000-item
    request here is sent with a token of its own whose bucket is full."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Thousand Org")

    def fresh_token(self, role="admin"):
        return self.S.token_create(self.org.id, role, "bulk-%s-%s" % (role, uniq("")))

    def count(self):
        return int(self.list_users(self.org, limit=1, include_deleted="true").headers["X-Total-Count"])

    def test_1000_creates_are_accepted_applied_and_reported_in_order(self):
        before = self.count()
        emails = ["k%04d.%s@example.com" % (i, uniq("")) for i in range(1000)]
        r = self.bulk(self.org, [{"op": "create", "data": {"email": e}} for e in emails],
                      token=self.fresh_token())
        res = self.assertBulkReply(r, 1000)
        self.assertEqual(r.body["succeeded"], 1000)
        self.assertEqual(r.body["failed"], 0)
        for i, x in enumerate(res):
            self.assertEqual(x["status_code"], 201, x)
            self.assertEqual(x["data"]["email"], emails[i])
        self.assertEqual(len({x["user_id"] for x in res}), 1000)
        self.assertEqual(self.count(), before + 1000)
        # spot checks: stored as reported
        for i in (0, 499, 999):
            self.assertEqual(self.get_user(self.org, res[i]["user_id"]), res[i]["data"])

    def test_1000_atomic_items_with_one_conflict_at_the_end_apply_nothing(self):
        before = self.count()
        taken = self.create_user(self.org)["email"]
        items = [{"op": "create", "data": {"email": unique_email("all%d" % i)}} for i in range(999)]
        items.append({"op": "create", "data": {"email": taken.upper()}})
        r = self.bulk(self.org, items, atomic="true", token=self.fresh_token())
        res = self.assertAtomicRefused(r, 1000, 1)
        self.assertItemError(res[999], 409, field="email", pointer="/items/999/data/email")
        for x in res[:999]:
            self.assertEqual(x["status_code"], 424, x)
            self.assertIsNone(x["user_id"], x)
        self.assertEqual(self.count(), before + 1)  # only the user made above
        self.assertNoUserWithEmail(self.org, items[0]["data"]["email"])
        self.assertNoUserWithEmail(self.org, items[998]["data"]["email"])

    def test_items_weigh_one_request_each_and_a_refused_batch_applies_nothing(self):
        tok = self.fresh_token("staff")
        first = [{"op": "create", "data": {"email": unique_email("w1")}} for _ in range(1000)]
        r = self.bulk(self.org, first, token=tok)
        self.assertEqual(self.assertBulkReply(r, 1000)[0]["status_code"], 201)
        before = self.count()
        second = [{"op": "create", "data": {"email": unique_email("w2")}} for _ in range(500)]
        r = self.bulk(self.org, second, token=tok)
        self.assertProblem(r, 429)
        self.assertTrue(r.headers.get("Retry-After"), r)
        self.assertNotIn("results", r.body)
        self.assertEqual(self.count(), before)
        self.assertNoUserWithEmail(self.org, second[0]["data"]["email"])
        self.assertNoRecordsOf(self.org, r)


# ---------------------------------------------------------------------------------------
class BulkAuthTest(BulkCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Auth Org")
        cls.other = cls.S.org_create("Bulk Auth Other Org")

    def setUp(self):
        self.target = self.create_user(self.org, first_name="Target")
        self.email = unique_email("authcreate")
        self.items = [{"op": "create", "data": {"email": self.email}},
                      {"op": "update", "id": self.target["id"], "data": {"first_name": "Changed"}},
                      {"op": "delete", "id": self.target["id"]}]

    def assertNothingChanged(self):
        self.assertNoUserWithEmail(self.org, self.email)
        self.assertUnchanged(self.org, self.target)
        self.assertEqual([rec["action"] for rec in self.audit_records(self.org, target_id=self.target["id"])],
                         ["user.create"])

    def test_no_token_is_401_with_www_authenticate_bearer(self):
        r = self.S.request("POST", self.bulk_path(self.org), body={"items": self.items})
        self.assertProblem(r, 401)
        self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)
        self.assertNothingChanged()

    def test_unknown_token_is_401(self):
        r = self.bulk(self.org, self.items, token="nope-" + uuid.uuid4().hex)
        self.assertProblem(r, 401)
        self.assertNothingChanged()

    def test_viewer_and_user_tokens_are_403_for_the_whole_request(self):
        for role in ("viewer", "user"):
            with self.subTest(role=role):
                r = self.bulk(self.org, self.items, token=self.org.token(role))
                self.assertProblem(r, 403)
                self.assertNotIn("results", r.body)
                self.assertNothingChanged()

    def test_viewer_is_403_even_in_atomic_mode_and_with_bad_atomic(self):
        for atomic in ("true", "nonsense"):
            with self.subTest(atomic=atomic):
                r = self.bulk(self.org, self.items, token=self.org.token("viewer"), atomic=atomic)
                self.assertProblem(r, 403)
                self.assertNothingChanged()

    def test_integration_token_is_403(self):
        r = self.bulk(self.org, self.items, token=self.org.token("integration"))
        self.assertProblem(r, 403)
        self.assertNothingChanged()

    def test_another_orgs_token_is_404_like_an_unknown_org(self):
        ref = self.S.request("POST", "%s/org/%s/users/bulk" % (API, uuid.uuid4()),
                             body={"items": self.items}, token=self.other.token("admin"))
        self.assertProblem(ref, 404)
        r = self.bulk(self.org, self.items, token=self.other.token("admin"))
        self.assertProblem(r, 404)
        self.assertEqual(r.body["type"], ref.body["type"])
        self.assertEqual(r.body.get("detail"), ref.body.get("detail"))
        self.assertNothingChanged()

    def test_staff_token_may_use_bulk(self):
        r = self.bulk(self.org, self.items[:2], token=self.org.token("staff"))
        res = self.assertBulkReply(r, 2)
        self.assertItemOk(res[0], "create", 201)
        self.assertItemOk(res[1], "update", 200, self.target["id"])
        self.assertEqual(self.get_user(self.org, self.target["id"])["first_name"], "Changed")


# ---------------------------------------------------------------------------------------
class BulkSuccessTest(BulkCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Success Org")
        cls.admin = cls.org.token("admin")

    def test_create_answers_201_with_the_stored_user(self):
        email = unique_email("bulkcreate")
        data = {"email": email, "first_name": "Bea", "last_name": "Bulk", "role": "viewer",
                "external_user_id": uniq("ext_"), "town": "Graz", "country_iso2": "at"}
        r = self.bulk(self.org, [{"op": "create", "data": data}])
        res = self.assertBulkReply(r, 1)
        self.assertEqual((r.body["succeeded"], r.body["failed"]), (1, 0))
        u = self.assertItemOk(res[0], "create", 201)
        for k, v in data.items():
            self.assertEqual(u[k], v.upper() if k == "country_iso2" else v, k)
        self.assertEqual(u["org_id"], self.org.id)
        self.assertIsNone(u["deleted_at"])
        self.assertEqual(self.get_user(self.org, u["id"]), u)

    def test_create_defaults_as_a_single_post_does(self):
        r = self.bulk(self.org, [{"op": "create", "data": {"email": unique_email()}}])
        u = self.assertItemOk(self.assertBulkReply(r, 1)[0], "create", 201)
        self.assertEqual(u["role"], "user")
        for k in ("external_user_id", "first_name", "last_name", "town", "country_iso2", "deleted_at"):
            self.assertIsNone(u[k], k)

    def test_update_is_a_partial_update_answering_200(self):
        before = self.create_user(self.org, first_name="Old", last_name="Keep", town="Wien")
        r = self.bulk(self.org, [{"op": "update", "id": before["id"],
                                  "data": {"first_name": "New", "town": None}}])
        u = self.assertItemOk(self.assertBulkReply(r, 1)[0], "update", 200, before["id"])
        self.assertEqual(u["first_name"], "New")
        self.assertIsNone(u["town"])
        for k in ("email", "last_name", "role", "created_at", "external_user_id"):
            self.assertEqual(u[k], before[k], k)
        self.assertEqual(self.get_user(self.org, before["id"]), u)

    def test_delete_answers_204_with_null_data_and_soft_deletes(self):
        before = self.create_user(self.org)
        r = self.bulk(self.org, [{"op": "delete", "id": before["id"]}])
        self.assertItemOk(self.assertBulkReply(r, 1)[0], "delete", 204, before["id"])
        after = self.get_user(self.org, before["id"])
        self.assertRegex(after["deleted_at"], harness.TS_RE)
        self.assertEqual(after["email"], before["email"])
        listed = [x["id"] for x in self.list_users(self.org, limit=1000).body]
        self.assertNotIn(before["id"], listed)

    def test_restore_answers_200_with_the_restored_user(self):
        d = self.deleted_user(self.org, first_name="Back")
        r = self.bulk(self.org, [{"op": "restore", "id": d["id"]}])
        u = self.assertItemOk(self.assertBulkReply(r, 1)[0], "restore", 200, d["id"])
        self.assertIsNone(u["deleted_at"])
        self.assertEqual(u["first_name"], "Back")
        self.assertEqual(self.get_user(self.org, d["id"]), u)

    def test_if_match_with_the_current_etag_applies(self):
        a = self.create_user(self.org)
        b = self.create_user(self.org)
        c = self.deleted_user(self.org)
        r = self.bulk(self.org, [
            {"op": "update", "id": a["id"], "data": {"town": "Linz"}, "if_match": self.etag(self.org, a["id"])},
            {"op": "delete", "id": b["id"], "if_match": self.etag(self.org, b["id"])},
            {"op": "restore", "id": c["id"], "if_match": self.etag(self.org, c["id"])},
        ])
        res = self.assertBulkReply(r, 3)
        self.assertItemOk(res[0], "update", 200, a["id"])
        self.assertItemOk(res[1], "delete", 204, b["id"])
        self.assertItemOk(res[2], "restore", 200, c["id"])
        self.assertEqual(self.get_user(self.org, a["id"])["town"], "Linz")
        self.assertIsNotNone(self.get_user(self.org, b["id"])["deleted_at"])
        self.assertIsNone(self.get_user(self.org, c["id"])["deleted_at"])

    def test_mixed_batch_results_follow_request_order(self):
        live = [self.create_user(self.org, first_name="L%d" % i) for i in range(3)]
        dead = self.deleted_user(self.org)
        e1, e2 = unique_email("order1"), unique_email("order2")
        items = [
            {"op": "delete", "id": live[2]["id"]},
            {"op": "create", "data": {"email": e1}},
            {"op": "update", "id": live[0]["id"], "data": {"last_name": "Zero"}},
            {"op": "restore", "id": dead["id"]},
            {"op": "create", "data": {"email": e2}},
            {"op": "update", "id": live[1]["id"], "data": {"last_name": "One"}},
        ]
        res = self.assertBulkReply(self.bulk(self.org, items), 6)
        self.assertEqual([x["op"] for x in res], [it["op"] for it in items])
        self.assertEqual([x["status_code"] for x in res], [204, 201, 200, 200, 201, 200])
        self.assertEqual([x["user_id"] for x in res][0], live[2]["id"])
        self.assertEqual(res[1]["data"]["email"], e1)
        self.assertEqual(res[2]["user_id"], live[0]["id"])
        self.assertEqual(res[3]["user_id"], dead["id"])
        self.assertEqual(res[4]["data"]["email"], e2)
        self.assertEqual(res[5]["user_id"], live[1]["id"])
        self.assertEqual(self.get_user(self.org, live[0]["id"])["last_name"], "Zero")
        self.assertEqual(self.get_user(self.org, live[1]["id"])["last_name"], "One")
        self.assertIsNotNone(self.get_user(self.org, live[2]["id"])["deleted_at"])
        self.assertIsNone(self.get_user(self.org, dead["id"])["deleted_at"])
        # creates made in order: the first create is older or as old as the second
        self.assertLessEqual(res[1]["data"]["created_at"], res[4]["data"]["created_at"])

    def test_two_updates_of_the_same_user_apply_in_order(self):
        u = self.create_user(self.org, first_name="Zero", town="Wien")
        r = self.bulk(self.org, [
            {"op": "update", "id": u["id"], "data": {"first_name": "One", "town": "Graz"}},
            {"op": "update", "id": u["id"], "data": {"first_name": "Two"}},
        ])
        res = self.assertBulkReply(r, 2)
        self.assertEqual(self.assertItemOk(res[0], "update", 200)["first_name"], "One")
        second = self.assertItemOk(res[1], "update", 200)
        self.assertEqual(second["first_name"], "Two")
        self.assertEqual(second["town"], "Graz")  # the first update's change is kept
        stored = self.get_user(self.org, u["id"])
        self.assertEqual(stored, second)
        recs = self.audit_records(self.org, target_id=u["id"], action="user.update")
        self.assertEqual([rec["changes"]["first_name"] for rec in recs],
                         [{"before": "One", "after": "Two"}, {"before": "Zero", "after": "One"}])

    def test_two_updates_of_the_same_user_with_a_role_change_apply_in_order(self):
        u = self.create_user(self.org)
        r = self.bulk(self.org, [
            {"op": "update", "id": u["id"], "data": {"role": "staff"}},
            {"op": "update", "id": u["id"], "data": {"first_name": "Promoted"}},
        ])
        res = self.assertBulkReply(r, 2)
        self.assertItemOk(res[0], "update", 200)
        self.assertItemOk(res[1], "update", 200)
        stored = self.get_user(self.org, u["id"])
        self.assertEqual((stored["role"], stored["first_name"]), ("staff", "Promoted"))

    def test_atomic_two_updates_of_the_same_user_apply_in_order(self):
        u = self.create_user(self.org, first_name="Zero")
        r = self.bulk(self.org, [
            {"op": "update", "id": u["id"], "data": {"first_name": "One", "town": "Graz"}},
            {"op": "update", "id": u["id"], "data": {"first_name": "Two"}},
        ], atomic="true")
        res = self.assertBulkReply(r, 2, atomic=True)
        self.assertItemOk(res[1], "update", 200)
        stored = self.get_user(self.org, u["id"])
        self.assertEqual((stored["first_name"], stored["town"]), ("Two", "Graz"))

    # Regression: the role is checked inside the transaction, against the role as stored
    # then, so an atomic batch may promote a user and then edit it.
    def test_atomic_role_change_then_update_of_the_same_user_both_apply(self):
        u = self.create_user(self.org)
        r = self.bulk(self.org, [
            {"op": "update", "id": u["id"], "data": {"role": "staff"}},
            {"op": "update", "id": u["id"], "data": {"first_name": "Promoted"}},
        ], atomic="true")
        res = self.assertBulkReply(r, 2, atomic=True)
        self.assertItemOk(res[0], "update", 200)
        self.assertItemOk(res[1], "update", 200)
        stored = self.get_user(self.org, u["id"])
        self.assertEqual((stored["role"], stored["first_name"]), ("staff", "Promoted"))

    # Regression: a chain of role changes of one user applies in order (the policy sees
    # each earlier item's role).
    def test_a_chain_of_updates_of_the_same_user_all_apply_in_order(self):
        u = self.create_user(self.org)
        roles = ("staff", "admin", "viewer", "staff")
        items = [{"op": "update", "id": u["id"], "data": {"role": role}} for role in roles]
        items.append({"op": "update", "id": u["id"], "data": {"first_name": "Last"}})
        res = self.assertBulkReply(self.bulk(self.org, items), 5)
        for i, role in enumerate(roles):
            self.assertEqual(self.assertItemOk(res[i], "update", 200)["role"], role)
        self.assertItemOk(res[4], "update", 200)
        stored = self.get_user(self.org, u["id"])
        self.assertEqual((stored["role"], stored["first_name"]), ("staff", "Last"))

    def test_delete_then_restore_of_the_same_user_in_one_batch(self):
        u = self.create_user(self.org)
        r = self.bulk(self.org, [{"op": "delete", "id": u["id"]}, {"op": "restore", "id": u["id"]},
                                 {"op": "delete", "id": u["id"]}])
        res = self.assertBulkReply(r, 3)
        self.assertItemOk(res[0], "delete", 204)
        self.assertIsNone(self.assertItemOk(res[1], "restore", 200)["deleted_at"])
        self.assertItemOk(res[2], "delete", 204)
        self.assertIsNotNone(self.get_user(self.org, u["id"])["deleted_at"])
        self.assertEqual([rec["action"] for rec in self.audit_records(self.org, target_id=u["id"])],
                         ["user.delete", "user.restore", "user.delete", "user.create"])

    def test_delete_of_a_deleted_user_succeeds_and_changes_nothing(self):
        d = self.deleted_user(self.org)
        n_records = len(self.audit_records(self.org, target_id=d["id"]))
        r = self.bulk(self.org, [{"op": "delete", "id": d["id"]}])
        self.assertItemOk(self.assertBulkReply(r, 1)[0], "delete", 204, d["id"])
        self.assertUnchanged(self.org, d)
        self.assertEqual(len(self.audit_records(self.org, target_id=d["id"])), n_records)

    def test_restore_of_a_live_user_succeeds_and_changes_nothing(self):
        u = self.create_user(self.org, first_name="Alive")
        r = self.bulk(self.org, [{"op": "restore", "id": u["id"]}])
        got = self.assertItemOk(self.assertBulkReply(r, 1)[0], "restore", 200, u["id"])
        self.assertEqual(got, u)
        self.assertUnchanged(self.org, u)
        self.assertEqual([rec["action"] for rec in self.audit_records(self.org, target_id=u["id"])],
                         ["user.create"])

    def test_update_of_a_deleted_user_applies_like_put(self):
        d = self.deleted_user(self.org, first_name="Ghost")
        single = self.S.request("PUT", self.org.user_path(d["id"]), body={"town": "Wels"}, token=self.admin)
        r = self.bulk(self.org, [{"op": "update", "id": d["id"], "data": {"first_name": "Spirit"}}])
        res = self.assertBulkReply(r, 1)[0]
        self.assertEqual(res["status_code"], single.status, (res, single))
        if single.status == 200:
            self.assertEqual(self.get_user(self.org, d["id"])["first_name"], "Spirit")

    def test_response_carries_x_request_id_and_keeps_a_client_one(self):
        rid = "bulk-" + uniq("") + ".Req_7"
        r = self.bulk(self.org, [{"op": "create", "data": {"email": unique_email()}}],
                      headers={"X-Request-Id": rid})
        self.assertBulkReply(r, 1)
        self.assertEqual(r.headers.get("X-Request-Id"), rid)


# ---------------------------------------------------------------------------------------
class BulkItemErrorTest(BulkCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Item Errors Org")
        cls.admin = cls.org.token("admin")

    def setUp(self):
        self.u = self.create_user(self.org, first_name="Stable")

    def one(self, item, status, field=None, pointer=None, index=1):
        """Sends [valid create, item, valid update]: the item fails, the others apply."""
        email = unique_email("neighbour")
        items = [{"op": "create", "data": {"email": email}}, item,
                 {"op": "update", "id": self.u["id"], "data": {"town": "Neighbourhood"}}]
        items = items[1:2] if index == 0 else items
        r = self.bulk(self.org, items)
        res = self.assertBulkReply(r, len(items))
        err = self.assertItemError(res[index], status, field=field, pointer=pointer)
        self.assertEqual(r.body["failed"], 1)
        if index == 1:
            self.assertItemOk(res[0], "create", 201)
            self.assertItemOk(res[2], "update", 200, self.u["id"])
            self.assertEqual(self.get_user(self.org, res[0]["user_id"])["email"], email)
            self.assertEqual(self.get_user(self.org, self.u["id"])["town"], "Neighbourhood")
            self.assertEqual(r.body["succeeded"], 2)
        return res[index], err, r

    # ---- shape of an item -------------------------------------------------------
    def test_unknown_member_of_an_item_is_422_naming_it(self):
        email = unique_email("unknownmember")
        self.one({"op": "create", "data": {"email": email}, "extra": 1}, 422,
                 field="extra", pointer="/items/1/extra")
        self.assertNoUserWithEmail(self.org, email)

    def test_missing_or_invalid_op_is_422_naming_op(self):
        for op in (None, "erase", "CREATE", "", 3, ["create"]):
            with self.subTest(op=op):
                item = {"id": self.u["id"]}
                if op is not None:
                    item["op"] = op
                self.one(item, 422, field="op", pointer="/items/1/op")
        self.assertIsNone(self.get_user(self.org, self.u["id"])["deleted_at"])

    def test_erase_is_not_a_bulk_op(self):
        before = self.get_user(self.org, self.u["id"])
        res, _, _ = self.one({"op": "erase", "id": self.u["id"]}, 422, field="op", index=0)
        after = self.get_user(self.org, self.u["id"])
        self.assertEqual(after["email"], before["email"])
        self.assertEqual(after["first_name"], "Stable")

    def test_id_given_to_create_is_422_naming_id(self):
        email = unique_email("withid")
        wanted = str(uuid.uuid4())
        self.one({"op": "create", "id": wanted, "data": {"email": email}}, 422,
                 field="id", pointer="/items/1/id")
        self.assertNoUserWithEmail(self.org, email)
        self.assertEqual(self.S.get(self.org.user_path(wanted), token=self.admin).status, 404)

    def test_missing_or_non_string_id_is_422_naming_id(self):
        for op in ("update", "delete", "restore"):
            for id_value in (None, 42, {"id": self.u["id"]}):
                with self.subTest(op=op, id=id_value):
                    item = {"op": op}
                    if op == "update":
                        item["data"] = {"first_name": "Nope"}
                    if id_value is not None:
                        item["id"] = id_value
                    self.one(item, 422, field="id", pointer="/items/1/id")
        self.assertEqual(self.get_user(self.org, self.u["id"])["first_name"], "Stable")

    def test_data_missing_on_create_or_update_is_422_naming_data(self):
        for item in ({"op": "create"}, {"op": "update", "id": self.u["id"]},
                     {"op": "create", "data": None}, {"op": "update", "id": self.u["id"], "data": ["x"]},
                     {"op": "create", "data": "email=a@b.c"}):
            with self.subTest(item=item):
                self.one(item, 422, field="data", pointer="/items/1/data")

    def test_data_on_delete_or_restore_is_422_naming_data(self):
        for op in ("delete", "restore"):
            for data in ({"first_name": "X"}, {}, None):
                with self.subTest(op=op, data=data):
                    self.one({"op": op, "id": self.u["id"], "data": data}, 422,
                             field="data", pointer="/items/1/data")
        self.assertIsNone(self.get_user(self.org, self.u["id"])["deleted_at"])
        self.assertEqual(self.get_user(self.org, self.u["id"])["first_name"], "Stable")

    def test_if_match_on_create_is_422_naming_if_match(self):
        email = unique_email("ifmatchcreate")
        self.one({"op": "create", "data": {"email": email}, "if_match": '"1"'}, 422,
                 field="if_match", pointer="/items/1/if_match")
        self.assertNoUserWithEmail(self.org, email)

    def test_malformed_if_match_is_422_naming_if_match(self):
        for value in ("1", "abc", '"abc"', '""', 7, None, ['"1"'], '"-1"'):
            with self.subTest(if_match=value):
                self.one({"op": "delete", "id": self.u["id"], "if_match": value}, 422,
                         field="if_match", pointer="/items/1/if_match")
        self.assertIsNone(self.get_user(self.org, self.u["id"])["deleted_at"])

    def test_an_item_that_is_not_an_object_is_422(self):
        for item in (None, "create", 5, [{"op": "create"}]):
            with self.subTest(item=item):
                res, err, _ = self.one(item, 422)
                self.assertEqual(err["errors"][0]["pointer"], "/items/1")

    # ---- the user -------------------------------------------------------------------
    def test_unknown_user_id_is_404_for_every_op(self):
        for op in ("update", "delete", "restore"):
            with self.subTest(op=op):
                uid = str(uuid.uuid4())
                item = {"op": op, "id": uid}
                if op == "update":
                    item["data"] = {"first_name": "X"}
                res, _, _ = self.one(item, 404)
                self.assertEqual(res["user_id"], uid)
                self.assertEqual(res["op"], op)
                self.assertEqual(self.S.get(self.org.user_path(uid), token=self.admin).status, 404)

    def test_id_that_is_not_a_uuid_is_404(self):
        for uid in ("not-a-uuid", "", self.u["id"] + "0", self.u["id"][:-1], "../" + self.u["id"]):
            with self.subTest(id=uid):
                self.one({"op": "delete", "id": uid}, 404)
        self.assertIsNone(self.get_user(self.org, self.u["id"])["deleted_at"])

    # ---- the data -----------------------------------------------------------------
    def test_invalid_data_is_422_naming_the_field_under_data(self):
        cases = [
            ({"op": "create", "data": {"email": "not-an-email"}}, "email"),
            ({"op": "create", "data": {"first_name": "NoEmail"}}, "email"),
            ({"op": "create", "data": {"email": unique_email(), "role": "overlord"}}, "role"),
            ({"op": "create", "data": {"email": unique_email(), "first_name": "f" * 101}}, "first_name"),
            ({"op": "create", "data": {"email": unique_email(), "country_iso2": "XX"}}, "country_iso2"),
            ({"op": "create", "data": {"email": unique_email(), "colour": "red"}}, "colour"),
            ({"op": "create", "data": {"email": unique_email(), "id": str(uuid.uuid4())}}, "id"),
            ({"op": "update", "id": None, "data": {"email": " spaced@example.com"}}, "email"),
            ({"op": "update", "id": None, "data": {"zip_code": "1" * 21}}, "zip_code"),
            ({"op": "update", "id": None, "data": {"town": 12}}, "town"),
            ({"op": "update", "id": None, "data": {"email": None}}, "email"),
            ({"op": "update", "id": None, "data": {"created_at": "2020-01-01T00:00:00.000Z"}}, "created_at"),
        ]
        for item, field in cases:
            with self.subTest(item=item):
                if item.get("id", 1) is None:
                    item["id"] = self.u["id"]
                res, _, _ = self.one(item, 422, field=field, pointer="/items/1/data/" + field)
                if item["op"] == "create":
                    self.assertIsNone(res["user_id"])
        stored = self.get_user(self.org, self.u["id"])
        self.assertEqual(stored["first_name"], "Stable")
        self.assertNotEqual(stored["created_at"], "2020-01-01T00:00:00.000Z")

    def test_item_errors_match_the_single_call_for_the_same_data(self):
        for data in ({"email": "a@@b"}, {"email": unique_email(), "last_name": "l" * 101},
                     {"email": unique_email(), "external_user_id": "e" * 256}):
            with self.subTest(data=data):
                single = self.S.request("POST", self.org.users, body=data, token=self.admin)
                self.assertProblem(single, 422)
                res, err, _ = self.one({"op": "create", "data": data}, 422)
                self.assertEqual([e["field"] for e in err["errors"]],
                                 [e["field"] for e in single.body["errors"]])

    def test_email_already_used_is_409_naming_email(self):
        other = self.create_user(self.org)
        for email in (other["email"], other["email"].upper()):
            with self.subTest(email=email):
                self.one({"op": "create", "data": {"email": email}}, 409,
                         field="email", pointer="/items/1/data/email")
        self.one({"op": "update", "id": self.u["id"], "data": {"email": other["email"]}}, 409,
                 field="email", pointer="/items/1/data/email")
        self.assertNotEqual(self.get_user(self.org, self.u["id"])["email"].lower(), other["email"].lower())

    def test_email_of_a_deleted_user_is_409(self):
        d = self.deleted_user(self.org)
        self.one({"op": "create", "data": {"email": d["email"]}}, 409, field="email")

    def test_external_user_id_already_used_is_409_naming_it(self):
        ext = uniq("ext_")
        self.create_user(self.org, external_user_id=ext)
        email = unique_email("extdup")
        self.one({"op": "create", "data": {"email": email, "external_user_id": ext}}, 409,
                 field="external_user_id", pointer="/items/1/data/external_user_id")
        self.assertNoUserWithEmail(self.org, email)
        self.one({"op": "update", "id": self.u["id"], "data": {"external_user_id": ext}}, 409,
                 field="external_user_id")
        self.assertIsNone(self.get_user(self.org, self.u["id"])["external_user_id"])

    def test_two_creates_with_the_same_email_in_one_batch_first_wins(self):
        email = unique_email("twice")
        r = self.bulk(self.org, [{"op": "create", "data": {"email": email, "first_name": "First"}},
                                 {"op": "create", "data": {"email": email.upper(), "first_name": "Second"}}])
        res = self.assertBulkReply(r, 2)
        self.assertItemOk(res[0], "create", 201)
        self.assertItemError(res[1], 409, field="email", pointer="/items/1/data/email")
        self.assertIsNone(res[1]["user_id"])
        found = [x for x in self.list_users(self.org, search=email, include_deleted="true").body
                 if x["email"].lower() == email.lower()]
        self.assertEqual([x["first_name"] for x in found], ["First"])

    def test_restore_of_an_erased_user_is_409(self):
        e = self.erased_user(self.org)
        res, err, _ = self.one({"op": "restore", "id": e["id"]}, 409)
        self.assertEqual(res["user_id"], e["id"])
        self.assertUnchanged(self.org, e)
        self.assertIsNotNone(e["deleted_at"])

    def test_stale_if_match_is_412_and_changes_nothing(self):
        v1 = self.etag(self.org, self.u["id"])
        r = self.S.request("PUT", self.org.user_path(self.u["id"]), body={"last_name": "Moved"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        before = self.get_user(self.org, self.u["id"])
        for item in ({"op": "update", "data": {"first_name": "Late"}}, {"op": "delete"}):
            with self.subTest(op=item["op"]):
                item = dict(item, id=self.u["id"], if_match=v1)
                r = self.bulk(self.org, [item])
                self.assertItemError(self.assertBulkReply(r, 1)[0], 412)
                self.assertUnchanged(self.org, before)
                self.assertNoRecordsOf(self.org, r)

    def test_if_match_of_an_earlier_item_is_stale_for_a_later_one(self):
        tag = self.etag(self.org, self.u["id"])
        r = self.bulk(self.org, [
            {"op": "update", "id": self.u["id"], "data": {"first_name": "A"}, "if_match": tag},
            {"op": "update", "id": self.u["id"], "data": {"first_name": "B"}, "if_match": tag},
        ])
        res = self.assertBulkReply(r, 2)
        self.assertItemOk(res[0], "update", 200)
        self.assertItemError(res[1], 412)
        self.assertEqual(self.get_user(self.org, self.u["id"])["first_name"], "A")

    # Regression: a weak tag never matches (If-Match compares strongly, as the single calls do).
    def test_weak_if_match_is_not_a_match_as_in_the_single_call(self):
        tag = self.etag(self.org, self.u["id"])
        single = self.S.request("DELETE", self.org.user_path(self.u["id"]), token=self.admin,
                                headers={"If-Match": "W/" + tag})
        self.assertProblem(single, 412)
        r = self.bulk(self.org, [{"op": "delete", "id": self.u["id"], "if_match": "W/" + tag}])
        res = self.assertBulkReply(r, 1)[0]
        self.assertEqual(res["status"], "error", res)
        self.assertIn(res["status_code"], (412, 422), res)
        self.assertIsNone(self.get_user(self.org, self.u["id"])["deleted_at"])

    def test_many_failures_and_successes_are_counted(self):
        d = self.deleted_user(self.org)
        e = self.erased_user(self.org)
        ok_email = unique_email("mix")
        items = [
            {"op": "create", "data": {"email": ok_email}},             # 0 ok
            {"op": "create", "data": {"email": "bad"}},                # 1 422
            {"op": "update", "id": str(uuid.uuid4()), "data": {}},     # 2 404
            {"op": "restore", "id": d["id"]},                          # 3 ok
            {"op": "restore", "id": e["id"]},                          # 4 409
            {"op": "create", "data": {"email": ok_email}},             # 5 409 (item 0's email)
            {"op": "delete", "id": self.u["id"]},                      # 6 ok
            {"op": "frobnicate", "id": self.u["id"]},                  # 7 422
        ]
        r = self.bulk(self.org, items)
        res = self.assertBulkReply(r, len(items))
        self.assertEqual((r.body["succeeded"], r.body["failed"]), (3, 5))
        self.assertEqual([x["status_code"] for x in res], [201, 422, 404, 200, 409, 409, 204, 422])
        self.assertIsNone(self.get_user(self.org, d["id"])["deleted_at"])
        self.assertIsNotNone(self.get_user(self.org, self.u["id"])["deleted_at"])
        self.assertEqual(self.get_user(self.org, res[0]["user_id"])["email"], ok_email)


# ---------------------------------------------------------------------------------------
class BulkAtomicTest(BulkCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Atomic Org")
        cls.admin = cls.org.token("admin")

    def setUp(self):
        self.live = self.create_user(self.org, first_name="Live", town="Wien")
        self.victim = self.create_user(self.org, first_name="Victim")
        self.dead = self.deleted_user(self.org, first_name="Dead")
        self.email = unique_email("atomiccreate")

    def valid_items(self):
        """Four valid items, one of each op."""
        return [
            {"op": "create", "data": {"email": self.email, "first_name": "Fresh"}},
            {"op": "update", "id": self.live["id"], "data": {"town": "Graz"}},
            {"op": "delete", "id": self.victim["id"]},
            {"op": "restore", "id": self.dead["id"]},
        ]

    def assertNothingApplied(self, r, extra_emails=()):
        self.assertNoUserWithEmail(self.org, self.email)
        for e in extra_emails:
            self.assertNoUserWithEmail(self.org, e)
        self.assertUnchanged(self.org, self.live)
        self.assertUnchanged(self.org, self.victim)
        self.assertUnchanged(self.org, self.dead)
        self.assertNoRecordsOf(self.org, r)

    def assertValidOnesNotApplied(self, res, failing):
        for i, x in enumerate(res):
            if i not in failing:
                self.assertNotApplied(x)
        self.assertIsNone(res[0]["user_id"])              # the create got no id
        self.assertEqual(res[1]["user_id"], self.live["id"])
        self.assertEqual(res[2]["user_id"], self.victim["id"])
        self.assertEqual(res[3]["user_id"], self.dead["id"])
        self.assertEqual([x["op"] for x in res[:4]], ["create", "update", "delete", "restore"])

    def test_all_valid_is_200_with_every_item_applied_and_audited(self):
        r = self.bulk(self.org, self.valid_items(), atomic="true")
        res = self.assertBulkReply(r, 4, atomic=True)
        self.assertEqual((r.body["succeeded"], r.body["failed"]), (4, 0))
        created = self.assertItemOk(res[0], "create", 201)
        self.assertEqual(created["email"], self.email)
        self.assertEqual(self.assertItemOk(res[1], "update", 200, self.live["id"])["town"], "Graz")
        self.assertItemOk(res[2], "delete", 204, self.victim["id"])
        self.assertIsNone(self.assertItemOk(res[3], "restore", 200, self.dead["id"])["deleted_at"])
        self.assertEqual(self.get_user(self.org, created["id"]), created)
        self.assertEqual(self.get_user(self.org, self.live["id"])["town"], "Graz")
        self.assertIsNotNone(self.get_user(self.org, self.victim["id"])["deleted_at"])
        self.assertIsNone(self.get_user(self.org, self.dead["id"])["deleted_at"])
        rid = r.headers["X-Request-Id"]
        got = sorted((rec["action"], rec["target"]["id"]) for rec in self.records_of_request(self.org, rid))
        self.assertEqual(got, sorted([("user.create", created["id"]), ("user.update", self.live["id"]),
                                      ("user.delete", self.victim["id"]), ("user.restore", self.dead["id"])]))

    def test_a_precheck_failure_applies_nothing_and_valid_items_are_424(self):
        items = self.valid_items() + [{"op": "update", "id": self.live["id"], "data": {"email": "broken"}}]
        r = self.bulk(self.org, items, atomic="true")
        res = self.assertAtomicRefused(r, 5, 1)
        self.assertItemError(res[4], 422, field="email", pointer="/items/4/data/email")
        self.assertValidOnesNotApplied(res, {4})
        self.assertIn("4", res[0]["error"]["detail"])  # names the item that failed
        self.assertNothingApplied(r)

    def test_every_failing_item_carries_its_own_error(self):
        items = self.valid_items()
        items[1:1] = [{"op": "update", "id": str(uuid.uuid4()), "data": {"town": "X"}},
                      {"op": "delete", "id": self.live["id"], "bogus": True}]
        r = self.bulk(self.org, items, atomic="1")
        res = self.assertAtomicRefused(r, 6, 2)
        self.assertItemError(res[1], 404)
        self.assertItemError(res[2], 422, field="bogus", pointer="/items/2/bogus")
        for i in (0, 3, 4, 5):
            self.assertNotApplied(res[i])
        self.assertNothingApplied(r)

    def test_two_creates_with_the_same_email_roll_back_everything(self):
        dup = unique_email("atomicdup")
        items = self.valid_items() + [{"op": "create", "data": {"email": dup}},
                                      {"op": "create", "data": {"email": dup.upper()}}]
        r = self.bulk(self.org, items, atomic="true")
        res = self.assertAtomicRefused(r, 6, 1)
        self.assertItemError(res[5], 409, field="email", pointer="/items/5/data/email")
        self.assertValidOnesNotApplied(res, {5})
        self.assertIsNone(res[4]["user_id"])
        self.assertNothingApplied(r, extra_emails=(dup,))

    def test_an_email_taken_by_an_existing_user_rolls_back_everything(self):
        taken = self.create_user(self.org)["email"]
        items = self.valid_items() + [{"op": "create", "data": {"email": taken}}]
        r = self.bulk(self.org, items, atomic="true")
        res = self.assertAtomicRefused(r, 5, 1)
        self.assertItemError(res[4], 409, field="email", pointer="/items/4/data/email")
        self.assertValidOnesNotApplied(res, {4})
        self.assertNothingApplied(r)

    def test_an_update_to_a_taken_email_rolls_back_everything(self):
        other = self.create_user(self.org)
        items = self.valid_items() + [{"op": "update", "id": self.live["id"], "data": {"email": other["email"]}}]
        r = self.bulk(self.org, items, atomic="true")
        res = self.assertAtomicRefused(r, 5, 1)
        self.assertItemError(res[4], 409, field="email")
        self.assertNothingApplied(r)
        self.assertUnchanged(self.org, other)

    def test_an_email_made_free_and_taken_in_one_batch_is_consistent(self):
        # the update frees the old email first, so the create may take it
        old = self.live["email"]
        r = self.bulk(self.org, [
            {"op": "update", "id": self.live["id"], "data": {"email": unique_email("moved")}},
            {"op": "create", "data": {"email": old, "first_name": "Heir"}},
        ], atomic="true")
        res = self.assertBulkReply(r, 2, atomic=True)
        self.assertItemOk(res[0], "update", 200)
        self.assertEqual(self.assertItemOk(res[1], "create", 201)["email"], old)

    def test_an_external_user_id_conflict_rolls_back_everything(self):
        ext = uniq("atomext_")
        items = self.valid_items() + [
            {"op": "create", "data": {"email": unique_email(), "external_user_id": ext}},
            {"op": "update", "id": self.live["id"], "data": {"external_user_id": ext}},
        ]
        r = self.bulk(self.org, items, atomic="true")
        res = self.assertAtomicRefused(r, 6, 1)
        self.assertItemError(res[5], 409, field="external_user_id",
                             pointer="/items/5/data/external_user_id")
        self.assertNotApplied(res[4])
        self.assertNothingApplied(r, extra_emails=(items[4]["data"]["email"],))

    def test_restoring_an_erased_user_rolls_back_everything(self):
        e = self.erased_user(self.org)
        items = self.valid_items() + [{"op": "restore", "id": e["id"]}]
        r = self.bulk(self.org, items, atomic="true")
        res = self.assertAtomicRefused(r, 5, 1)
        self.assertItemError(res[4], 409)
        self.assertValidOnesNotApplied(res, {4})
        self.assertNothingApplied(r)
        self.assertUnchanged(self.org, e)

    def test_a_stale_if_match_rolls_back_everything(self):
        stale = self.etag(self.org, self.victim["id"])
        r0 = self.S.request("PUT", self.org.user_path(self.victim["id"]), body={"town": "Moved"}, token=self.admin)
        self.assertEqual(r0.status, 200, r0)
        self.victim = self.get_user(self.org, self.victim["id"])
        items = self.valid_items()
        items[2]["if_match"] = stale
        r = self.bulk(self.org, items, atomic="true")
        res = self.assertAtomicRefused(r, 4, 1)
        self.assertItemError(res[2], 412)
        for i in (0, 1, 3):
            self.assertNotApplied(res[i])
        self.assertNothingApplied(r)

    def test_atomic_false_with_the_same_items_applies_the_valid_ones(self):
        taken = self.create_user(self.org)["email"]
        items = self.valid_items() + [{"op": "create", "data": {"email": taken}}]
        r = self.bulk(self.org, items, atomic="false")
        res = self.assertBulkReply(r, 5, atomic=False)
        self.assertEqual((r.body["succeeded"], r.body["failed"]), (4, 1))
        self.assertItemError(res[4], 409, field="email")
        self.assertEqual(self.get_user(self.org, res[0]["user_id"])["email"], self.email)
        self.assertEqual(self.get_user(self.org, self.live["id"])["town"], "Graz")
        self.assertIsNotNone(self.get_user(self.org, self.victim["id"])["deleted_at"])
        self.assertIsNone(self.get_user(self.org, self.dead["id"])["deleted_at"])

    def test_a_retry_after_a_refused_atomic_batch_applies_it(self):
        taken = self.create_user(self.org)["email"]
        items = self.valid_items() + [{"op": "create", "data": {"email": taken}}]
        self.assertAtomicRefused(self.bulk(self.org, items, atomic="true"), 5, 1)
        r = self.bulk(self.org, items[:4], atomic="true")
        res = self.assertBulkReply(r, 4, atomic=True)
        self.assertEqual(r.body["succeeded"], 4)
        self.assertEqual(self.get_user(self.org, res[0]["user_id"])["email"], self.email)


# ---------------------------------------------------------------------------------------
class BulkRoleMatrixTest(BulkCase):
    """Bulk items follow the single-user calls' matrix: staff may create, update,
    delete and restore users whose role is "user", and only give the role "user"."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Roles Org")
        cls.staff = cls.org.token("staff")
        cls.admin = cls.org.token("admin")

    def targets(self):
        live = {role: self.create_user(self.org, role=role, first_name="T-" + role) for role in ROLE_ORDER}
        dead = {role: self.deleted_user(self.org, role=role, first_name="D-" + role) for role in ROLE_ORDER}
        return live, dead

    def test_staff_items_against_every_target_role(self):
        live, dead = self.targets()
        items, expect = [], []
        for role in ROLE_ORDER:
            allowed = role == "user"
            items.append({"op": "update", "id": live[role]["id"], "data": {"town": "Staffed"}})
            expect.append(200 if allowed else 403)
            items.append({"op": "restore", "id": dead[role]["id"]})
            expect.append(200 if allowed else 403)
        for role in ROLE_ORDER:  # deletes last, so the updates above see live users
            items.append({"op": "delete", "id": live[role]["id"]})
            expect.append(204 if role == "user" else 403)
        r = self.bulk(self.org, items, token=self.staff)
        res = self.assertBulkReply(r, len(items))
        self.assertEqual([x["status_code"] for x in res], expect)
        for x in res:
            if x["status_code"] == 403:
                self.assertItemError(x, 403)
        self.assertEqual((r.body["succeeded"], r.body["failed"]), (3, 9))
        for role in ROLE_ORDER:
            with self.subTest(role=role):
                if role == "user":
                    after = self.get_user(self.org, live[role]["id"])
                    self.assertEqual(after["town"], "Staffed")
                    self.assertIsNotNone(after["deleted_at"])
                    self.assertIsNone(self.get_user(self.org, dead[role]["id"])["deleted_at"])
                else:
                    self.assertUnchanged(self.org, live[role])
                    self.assertUnchanged(self.org, dead[role])

    def test_staff_may_not_create_team_members(self):
        emails = {role: unique_email("staffmade-" + role) for role in ROLE_ORDER}
        items = [{"op": "create", "data": {"email": emails[role], "role": role}} for role in ROLE_ORDER]
        items.append({"op": "create", "data": {"email": unique_email("staffdefault")}})
        r = self.bulk(self.org, items, token=self.staff)
        res = self.assertBulkReply(r, 5)
        self.assertEqual([x["status_code"] for x in res], [201, 403, 403, 403, 201])
        self.assertEqual(res[0]["data"]["role"], "user")
        self.assertEqual(res[4]["data"]["role"], "user")
        for role in ("viewer", "staff", "admin"):
            self.assertIsNone(res[ROLE_ORDER.index(role)]["user_id"])
            self.assertNoUserWithEmail(self.org, emails[role])

    def test_staff_may_not_promote_but_may_send_role_user(self):
        users = [self.create_user(self.org, first_name="Plain") for _ in range(4)]
        items = [{"op": "update", "id": users[i]["id"], "data": {"role": role, "first_name": "Promoted"}}
                 for i, role in enumerate(ROLE_ORDER)]
        r = self.bulk(self.org, items, token=self.staff)
        res = self.assertBulkReply(r, 4)
        self.assertEqual([x["status_code"] for x in res], [200, 403, 403, 403])
        self.assertEqual(self.get_user(self.org, users[0]["id"])["first_name"], "Promoted")
        for u in users[1:]:
            self.assertUnchanged(self.org, u)

    def test_staff_may_not_demote_a_team_member_to_user(self):
        boss = self.create_user(self.org, role="admin", first_name="Boss")
        r = self.bulk(self.org, [{"op": "update", "id": boss["id"], "data": {"role": "user"}}], token=self.staff)
        self.assertItemError(self.assertBulkReply(r, 1)[0], 403)
        self.assertUnchanged(self.org, boss)

    def test_staff_refusals_are_not_audited(self):
        boss = self.create_user(self.org, role="staff")
        r = self.bulk(self.org, [{"op": "update", "id": boss["id"], "data": {"first_name": "X"}},
                                 {"op": "delete", "id": boss["id"]}], token=self.staff)
        res = self.assertBulkReply(r, 2)
        self.assertEqual([x["status_code"] for x in res], [403, 403])
        self.assertNoRecordsOf(self.org, r)
        self.assertEqual([rec["action"] for rec in self.audit_records(self.org, target_id=boss["id"])],
                         ["user.create"])

    def test_staff_atomic_batch_with_one_forbidden_item_applies_nothing(self):
        plain = self.create_user(self.org, first_name="Plain")
        boss = self.create_user(self.org, role="admin", first_name="Boss")
        email = unique_email("staffatomic")
        r = self.bulk(self.org, [
            {"op": "create", "data": {"email": email}},
            {"op": "update", "id": plain["id"], "data": {"first_name": "Edited"}},
            {"op": "delete", "id": boss["id"]},
        ], token=self.staff, atomic="true")
        res = self.assertAtomicRefused(r, 3, 1)
        self.assertItemError(res[2], 403)
        self.assertNotApplied(res[0])
        self.assertNotApplied(res[1])
        self.assertNoUserWithEmail(self.org, email)
        self.assertUnchanged(self.org, plain)
        self.assertUnchanged(self.org, boss)
        self.assertNoRecordsOf(self.org, r)

    def test_admin_may_do_every_item_to_every_role(self):
        live, dead = self.targets()
        items = []
        for role in ROLE_ORDER:
            items.append({"op": "update", "id": live[role]["id"], "data": {"town": "Admined"}})
            items.append({"op": "restore", "id": dead[role]["id"]})
            items.append({"op": "create", "data": {"email": unique_email("adm"), "role": role}})
        for role in ROLE_ORDER:
            items.append({"op": "delete", "id": live[role]["id"]})
        r = self.bulk(self.org, items, token=self.admin)
        res = self.assertBulkReply(r, len(items))
        self.assertEqual(r.body["failed"], 0, r)
        for role in ROLE_ORDER:
            self.assertEqual(self.get_user(self.org, live[role]["id"])["town"], "Admined")
            self.assertIsNotNone(self.get_user(self.org, live[role]["id"])["deleted_at"])
            self.assertIsNone(self.get_user(self.org, dead[role]["id"])["deleted_at"])
        self.assertEqual([res[3 * i + 2]["data"]["role"] for i in range(4)], list(ROLE_ORDER))

    def test_staff_403_item_precedence_matches_single_put(self):
        # invalid data for a user staff may not touch: the single PUT says 422 first
        boss = self.create_user(self.org, role="admin")
        single = self.S.request("PUT", self.org.user_path(boss["id"]), body={"email": "bad"}, token=self.staff)
        r = self.bulk(self.org, [{"op": "update", "id": boss["id"], "data": {"email": "bad"}}], token=self.staff)
        self.assertEqual(self.assertBulkReply(r, 1)[0]["status_code"], single.status)
        self.assertUnchanged(self.org, boss)


# ---------------------------------------------------------------------------------------
class BulkIsolationTest(BulkCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.S.org_create("Bulk Org A")
        cls.b = cls.S.org_create("Bulk Org B")

    def test_another_orgs_user_is_404_for_every_op_and_stays_unchanged(self):
        ub = self.create_user(self.b, first_name="Bee")
        db = self.deleted_user(self.b, first_name="DeadBee")
        ua = self.create_user(self.a)
        r = self.bulk(self.a, [
            {"op": "update", "id": ub["id"], "data": {"first_name": "Pwned"}},
            {"op": "delete", "id": ub["id"]},
            {"op": "restore", "id": db["id"]},
            {"op": "update", "id": ua["id"], "data": {"first_name": "Own"}},
        ])
        res = self.assertBulkReply(r, 4)
        ref = self.S.request("PUT", self.a.user_path(str(uuid.uuid4())), body={"first_name": "x"},
                             token=self.a.token("admin"))
        for x in res[:3]:
            err = self.assertItemError(x, 404)
            self.assertEqual(err["type"], ref.body["type"])
        self.assertItemOk(res[3], "update", 200, ua["id"])
        self.assertUnchanged(self.b, ub)
        self.assertUnchanged(self.b, db)
        self.assertEqual([rec["action"] for rec in self.audit_records(self.b, target_id=ub["id"])],
                         ["user.create"])

    def test_created_users_belong_to_the_path_org_only(self):
        email = unique_email("isocreate")
        r = self.bulk(self.a, [{"op": "create", "data": {"email": email}}])
        u = self.assertItemOk(self.assertBulkReply(r, 1)[0], "create", 201)
        self.assertEqual(u["org_id"], self.a.id)
        self.assertEqual(self.S.get(self.b.user_path(u["id"]), token=self.b.token("admin")).status, 404)
        self.assertNoUserWithEmail(self.b, email)

    def test_an_email_used_in_another_org_is_no_conflict(self):
        ub = self.create_user(self.b)
        r = self.bulk(self.a, [{"op": "create", "data": {"email": ub["email"]}}], atomic="true")
        self.assertItemOk(self.assertBulkReply(r, 1, atomic=True)[0], "create", 201)

    def test_bulk_on_the_other_orgs_path_with_own_token_is_404(self):
        ub = self.create_user(self.b)
        r = self.bulk(self.b, [{"op": "delete", "id": ub["id"]}], token=self.a.token("admin"))
        self.assertProblem(r, 404)
        self.assertUnchanged(self.b, ub)


# ---------------------------------------------------------------------------------------
class BulkAuditTest(BulkCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Bulk Audit Org")
        cls.admin = cls.org.token("admin")
        cls.staff = cls.org.token("staff")
        cls.admin_id = cls.org.token_id("admin")
        cls.staff_id = cls.org.token_id("staff")

    def test_each_applied_item_leaves_the_single_calls_record_with_the_bulk_request_id(self):
        upd = self.create_user(self.org, first_name="John", town="Wien")
        dele = self.create_user(self.org)
        rest = self.deleted_user(self.org)
        email = unique_email("auditcreate")
        rid = "bulk-audit-" + uniq("")
        r = self.bulk(self.org, [
            {"op": "create", "data": {"email": email, "first_name": "Newbie"}},
            {"op": "update", "id": upd["id"], "data": {"first_name": "Peter", "town": None}},
            {"op": "delete", "id": dele["id"]},
            {"op": "restore", "id": rest["id"]},
            {"op": "update", "id": str(uuid.uuid4()), "data": {"town": "X"}},
        ], headers={"X-Request-Id": rid})
        res = self.assertBulkReply(r, 5)
        self.assertEqual(r.headers.get("X-Request-Id"), rid)
        new_id = res[0]["user_id"]
        expected = {new_id: "user.create", upd["id"]: "user.update", dele["id"]: "user.delete",
                    rest["id"]: "user.restore"}
        for uid, action in expected.items():
            with self.subTest(action=action):
                recs = self.audit_records(self.org, target_id=uid)
                self.assertEqual(recs[0]["action"], action)
                self.assertEqual(recs[0]["request_id"], rid)
                self.assertEqual(recs[0]["target"], {"type": "user", "id": uid})
                self.assertEqual(recs[0]["actor"]["id"], self.admin_id)
                self.assertEqual(len([x for x in recs if x["request_id"] == rid]), 1)
        self.assertEqual(len(self.records_of_request(self.org, rid)), 4)
        create = self.audit_records(self.org, target_id=new_id)[0]["changes"]
        self.assertEqual(create["email"]["after"], email)
        self.assertEqual(create["first_name"]["after"], "Newbie")
        upd_ch = self.audit_records(self.org, target_id=upd["id"], action="user.update")[0]["changes"]
        self.assertEqual(upd_ch["first_name"], {"before": "John", "after": "Peter"})
        self.assertEqual(upd_ch["town"], {"before": "Wien", "after": None})
        self.assertNotIn("email", upd_ch)

    def test_bulk_records_equal_the_single_calls_records(self):
        a = self.create_user(self.org, first_name="Same", town="Wien")
        b = self.create_user(self.org, first_name="Same", town="Wien")
        single = self.S.request("PUT", self.org.user_path(a["id"]), body={"town": "Graz"}, token=self.admin)
        self.assertEqual(single.status, 200, single)
        self.assertBulkReply(self.bulk(self.org, [{"op": "update", "id": b["id"], "data": {"town": "Graz"}}]), 1)
        ra = self.audit_records(self.org, target_id=a["id"], action="user.update")
        rb = self.audit_records(self.org, target_id=b["id"], action="user.update")
        self.assertEqual(len(ra), 1)
        self.assertEqual(len(rb), 1)
        for k in ("action", "actor", "changes"):
            self.assertEqual(ra[0][k], rb[0][k], k)

    def test_generated_request_id_is_the_records_request_id(self):
        u = self.create_user(self.org)
        r = self.bulk(self.org, [{"op": "update", "id": u["id"], "data": {"last_name": "Gen"}}])
        self.assertBulkReply(r, 1)
        rid = r.headers.get("X-Request-Id")
        self.assertRegex(rid, harness.REQ_ID_RE)
        rec = self.audit_records(self.org, target_id=u["id"], action="user.update")[0]
        self.assertEqual(rec["request_id"], rid)

    def test_actor_is_the_calling_token(self):
        u = self.create_user(self.org)
        r = self.bulk(self.org, [{"op": "update", "id": u["id"], "data": {"first_name": "ByStaff"}},
                                 {"op": "create", "data": {"email": unique_email("bystaff")}}],
                      token=self.staff)
        res = self.assertBulkReply(r, 2)
        for uid in (u["id"], res[1]["user_id"]):
            rec = self.audit_records(self.org, target_id=uid)[0]
            self.assertEqual(rec["actor"]["id"], self.staff_id)
            self.assertEqual(rec["actor"]["name"], self.org.token_names["staff"])

    def test_failed_items_and_no_op_items_leave_no_record(self):
        u = self.create_user(self.org, first_name="Same")
        d = self.deleted_user(self.org)
        r = self.bulk(self.org, [
            {"op": "update", "id": u["id"], "data": {"first_name": "Same"}},      # no change
            {"op": "restore", "id": u["id"]},                                     # already live
            {"op": "delete", "id": d["id"]},                                      # already deleted
            {"op": "update", "id": u["id"], "data": {"email": "broken"}},         # 422
            {"op": "create", "data": {"email": u["email"]}},                      # 409
        ])
        res = self.assertBulkReply(r, 5)
        self.assertEqual([x["status_code"] for x in res], [200, 200, 204, 422, 409])
        self.assertNoRecordsOf(self.org, r)
        self.assertUnchanged(self.org, d)
        self.assertEqual(self.get_user(self.org, u["id"])["updated_at"], u["updated_at"])

    def test_a_rolled_back_atomic_batch_leaves_no_record(self):
        u = self.create_user(self.org)
        email = unique_email("rolledback")
        r = self.bulk(self.org, [
            {"op": "create", "data": {"email": email}},
            {"op": "update", "id": u["id"], "data": {"first_name": "Never"}},
            {"op": "create", "data": {"email": u["email"]}},
        ], atomic="true")
        self.assertAtomicRefused(r, 3, 1)
        self.assertNoRecordsOf(self.org, r)
        self.assertEqual([rec["action"] for rec in self.audit_records(self.org, target_id=u["id"])],
                         ["user.create"])
        self.assertNoUserWithEmail(self.org, email)


if __name__ == "__main__":
    unittest.main()
