"""Idempotency-Key on authenticated POSTs: a retry of the same request under the
same key gets the first 2xx reply again (status, body bytes, Location, ETag,
plus Idempotent-Replayed: true) and applies nothing twice; the key on another
request is 422; a malformed key is 400; failed requests keep no key; keys are
scoped per credential; concurrent duplicates apply once; the stored entry
reveals neither the key nor the reply."""

import os
import secrets
import signal
import sqlite3
import threading
import unittest
import uuid

import harness
from harness import ApiTestCase, unique_email

harness.use_server(globals())

KEY_HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def new_key():
    return "key-" + secrets.token_hex(12)


class IdemCase(ApiTestCase):
    """Helpers shared by the idempotency tests."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Idempotency Org")
        cls.tok = cls.org.token("admin")

    def post(self, path, body=None, key=None, token=None, headers=None, **kw):
        h = dict(headers or {})
        if key is not None:
            h[KEY_HEADER] = key
        return self.S.request("POST", path, body=body, token=token or self.tok, headers=h, **kw)

    def fresh_org(self):
        org = self.S.org_create("Idem " + secrets.token_hex(3))
        return org

    def total_users(self, org):
        r = self.list_users(org, include_deleted="true", limit=1000)
        return int(r.headers["X-Total-Count"]), r.body

    def users_with_email(self, org, email):
        r = self.list_users(org, search=email, include_deleted="true", limit=1000)
        return [u for u in r.body if (u.get("email") or "").lower() == email.lower()]

    def actions(self, org, **params):
        return [rec["action"] for rec in self.audit_records(org, **params)]

    # ---- assertions ---------------------------------------------------------------
    def assertNotReplayed(self, r):
        self.assertIsNone(r.headers.get(REPLAYED), r)

    def assertReplayOf(self, first, again):
        """again is the replay of first: same status, same body bytes, same Location and ETag."""
        self.assertEqual(again.headers.get(REPLAYED), "true", again)
        self.assertEqual(again.status, first.status, again)
        self.assertEqual(again.raw, first.raw)
        for h in ("Location", "ETag", "Content-Type"):
            self.assertEqual(again.headers.get(h), first.headers.get(h), h)

    def assertKeyProblem(self, r, status):
        body = self.assertProblem(r, status, field=KEY_HEADER)
        self.assertEqual(body["errors"][0].get("field"), KEY_HEADER, r)
        self.assertEqual(body["errors"][0].get("in"), "header", r)
        self.assertNotReplayed(r)
        return body


class ReplayTest(IdemCase):
    def test_retry_replays_the_first_reply_and_creates_one_user(self):
        org = self.fresh_org()
        tok = org.token("admin")
        key, email = new_key(), unique_email("idem")
        body = {"email": email, "first_name": "Once"}
        r1 = self.post(org.users, body, key, token=tok)
        self.assertEqual(r1.status, 201, r1)
        self.assertNotReplayed(r1)
        self.assertTrue(r1.headers.get("Location"), r1)
        self.assertTrue(r1.headers.get("ETag"), r1)
        r2 = self.post(org.users, body, key, token=tok)
        self.assertReplayOf(r1, r2)
        r3 = self.post(org.users, body, key, token=tok)
        self.assertReplayOf(r1, r3)
        total, users = self.total_users(org)
        self.assertEqual(total, 1, users)
        self.assertEqual([u["id"] for u in users], [r1.body["id"]])
        self.assertEqual(self.actions(org, action="user.create"), ["user.create"])
        self.assertEqual([a for a in self.actions(org) if a.startswith("user.")], ["user.create"])

    def test_replay_is_the_first_reply_even_after_the_user_changed(self):
        key = new_key()
        body = {"email": unique_email("changed"), "town": "Wien"}
        r1 = self.post(self.org.users, body, key)
        self.assertEqual(r1.status, 201, r1)
        uid = r1.body["id"]
        r = self.S.request("PUT", self.org.user_path(uid), body={"town": "Graz"}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertNotEqual(r.headers["ETag"], r1.headers["ETag"])
        r2 = self.post(self.org.users, body, key)
        self.assertReplayOf(r1, r2)
        self.assertEqual(r2.body["town"], "Wien")
        self.assertEqual(self.get_user(self.org, uid)["town"], "Graz", "the replay changed the user")

    def test_replay_carries_the_retrys_own_request_id(self):
        key = new_key()
        body = {"email": unique_email("rid")}
        r1 = self.post(self.org.users, body, key, headers={"X-Request-Id": "idem-first-1"})
        self.assertEqual(r1.status, 201, r1)
        self.assertEqual(r1.headers.get("X-Request-Id"), "idem-first-1")
        r2 = self.post(self.org.users, body, key, headers={"X-Request-Id": "idem-retry-2"})
        self.assertReplayOf(r1, r2)
        self.assertEqual(r2.headers.get_all("X-Request-Id"), ["idem-retry-2"], r2)

    def test_requests_without_the_header_run_every_time(self):
        org = self.fresh_org()
        tok = org.token("admin")
        a = self.post(org.users, {"email": unique_email("plain")}, token=tok)
        b = self.post(org.users, {"email": unique_email("plain")}, token=tok)
        self.assertEqual((a.status, b.status), (201, 201), (a, b))
        self.assertNotReplayed(a)
        self.assertNotReplayed(b)
        self.assertNotEqual(a.body["id"], b.body["id"])
        self.assertEqual(self.total_users(org)[0], 2)
        # the same body twice without a key runs twice: the second is an email conflict
        body = {"email": unique_email("twice")}
        self.assertEqual(self.post(org.users, body, token=tok).status, 201)
        again = self.post(org.users, body, token=tok)
        self.assertProblem(again, 409, field="email")
        self.assertNotReplayed(again)
        self.assertEqual(self.total_users(org)[0], 3)

    def test_keys_at_the_edges_of_the_allowed_range_work(self):
        tok = self.S.token_create(self.org.id, "admin", "edge-keys")
        visible = "".join(chr(c) for c in range(0x21, 0x7f))
        for key in ("k", "x" * 255, visible, "a:b/c=d;e,f\"g"):
            with self.subTest(key=key[:20], n=len(key)):
                body = {"email": unique_email("edge")}
                r1 = self.post(self.org.users, body, key, token=tok)
                self.assertEqual(r1.status, 201, r1)
                self.assertNotReplayed(r1)
                self.assertReplayOf(r1, self.post(self.org.users, body, key, token=tok))
                self.assertEqual(len(self.users_with_email(self.org, body["email"])), 1)

    def test_restore_200_is_replayed_and_not_applied_again(self):
        org = self.fresh_org()
        tok = org.token("admin")
        u = self.create_user(org, token=tok)
        path = org.user_path(u["id"])
        self.assertEqual(self.S.request("DELETE", path, token=tok).status, 204)
        key = new_key()
        r1 = self.post(path + "/restore", None, key, token=tok)
        self.assertEqual(r1.status, 200, r1)
        self.assertNotReplayed(r1)
        self.assertIsNone(r1.body["deleted_at"])
        self.assertEqual(self.S.request("DELETE", path, token=tok).status, 204)
        r2 = self.post(path + "/restore", None, key, token=tok)
        self.assertReplayOf(r1, r2)
        self.assertIsNotNone(self.get_user(org, u["id"], token=tok)["deleted_at"],
                             "the replay restored the user again")
        self.assertEqual(self.actions(org, target_id=u["id"]),
                         ["user.delete", "user.restore", "user.delete", "user.create"])

    def test_device_reset_optimization_200_is_replayed_and_not_applied_again(self):
        org = self.fresh_org()
        tok = org.token("admin")
        u = self.create_user(org, token=tok)
        dpath = org.user_path(u["id"]) + "/heat-pumps"
        r = self.S.request("POST", dpath, body={"is_smart_optimization_active": False}, token=tok)
        self.assertEqual(r.status, 201, r)
        dev = dpath + "/" + r.body["id"]
        key = new_key()
        r1 = self.post(dev + "/reset-optimization", None, key, token=tok)
        self.assertEqual(r1.status, 200, r1)
        self.assertNotReplayed(r1)
        self.assertTrue(r1.body["is_smart_optimization_active"])
        r = self.S.request("PUT", dev, body={"is_smart_optimization_active": False}, token=tok)
        self.assertEqual(r.status, 200, r)
        r2 = self.post(dev + "/reset-optimization", None, key, token=tok)
        self.assertReplayOf(r1, r2)
        got = self.S.get(dev, token=tok)
        self.assertEqual(got.status, 200, got)
        self.assertFalse(got.body["is_smart_optimization_active"], "the replay reset the device again")
        self.assertEqual(self.actions(org, target_id=r1.body["id"]),
                         ["device.update", "device.reset_optimization", "device.create"])

    def test_bulk_is_replayed_with_the_same_results_and_applies_nothing_twice(self):
        org = self.fresh_org()
        tok = org.token("admin")
        existing = self.create_user(org, token=tok, first_name="Before")
        items = [{"op": "create", "data": {"email": unique_email("bulk1")}},
                 {"op": "create", "data": {"email": unique_email("bulk2")}},
                 {"op": "update", "id": existing["id"], "data": {"first_name": "After"}}]
        key = new_key()
        r1 = self.post(org.users + "/bulk", {"items": items}, key, token=tok)
        self.assertEqual(r1.status, 200, r1)
        self.assertNotReplayed(r1)
        self.assertEqual([x["status"] for x in r1.body["results"]], ["success"] * 3, r1)
        self.assertEqual(self.total_users(org)[0], 3)
        # change the updated user again: a re-run would set it back to "After"
        r = self.S.request("PUT", org.user_path(existing["id"]), body={"first_name": "Later"}, token=tok)
        self.assertEqual(r.status, 200, r)
        r2 = self.post(org.users + "/bulk", {"items": items}, key, token=tok)
        self.assertReplayOf(r1, r2)
        self.assertEqual(r2.body["results"], r1.body["results"])
        self.assertEqual(self.total_users(org)[0], 3)
        self.assertEqual(self.get_user(org, existing["id"], token=tok)["first_name"], "Later")
        self.assertEqual(sorted(a for a in self.actions(org) if a.startswith("user.")),
                         sorted(["user.create"] * 3 + ["user.update"] * 2))


class MismatchTest(IdemCase):
    def test_same_key_different_body_is_422_and_applies_nothing(self):
        key = new_key()
        first = {"email": unique_email("first")}
        r1 = self.post(self.org.users, first, key)
        self.assertEqual(r1.status, 201, r1)
        other = {"email": unique_email("other")}
        r2 = self.post(self.org.users, other, key)
        self.assertKeyProblem(r2, 422)
        self.assertNoUserWithEmail(self.org, other["email"])
        # the key still answers the first request
        self.assertReplayOf(r1, self.post(self.org.users, first, key))

    def test_same_key_on_another_path_is_422(self):
        org = self.fresh_org()
        tok = org.token("admin")
        key = new_key()
        email = unique_email("path")
        r1 = self.post(org.users, {"email": email}, key, token=tok)
        self.assertEqual(r1.status, 201, r1)
        items = {"items": [{"op": "create", "data": {"email": unique_email("path2")}}]}
        r2 = self.post(org.users + "/bulk", items, key, token=tok)
        self.assertKeyProblem(r2, 422)
        self.assertEqual(self.total_users(org)[0], 1)

    def test_same_key_with_another_query_string_is_422(self):
        org = self.fresh_org()
        tok = org.token("admin")
        key = new_key()
        items = {"items": [{"op": "create", "data": {"email": unique_email("q")}}]}
        r1 = self.post(org.users + "/bulk?atomic=true", items, key, token=tok)
        self.assertEqual(r1.status, 200, r1)
        r2 = self.post(org.users + "/bulk", items, key, token=tok)
        self.assertKeyProblem(r2, 422)
        r3 = self.post(org.users + "/bulk?atomic=false", items, key, token=tok)
        self.assertKeyProblem(r3, 422)
        self.assertEqual(self.total_users(org)[0], 1)
        self.assertReplayOf(r1, self.post(org.users + "/bulk?atomic=true", items, key, token=tok))

    def test_same_key_with_another_content_type_is_422(self):
        key = new_key()
        body = {"email": unique_email("ctype")}
        r1 = self.post(self.org.users, body, key)
        self.assertEqual(r1.status, 201, r1)
        r2 = self.post(self.org.users, body, key, content_type="application/json; charset=utf-8")
        self.assertKeyProblem(r2, 422)
        self.assertEqual(len(self.users_with_email(self.org, body["email"])), 1)

    def test_same_key_with_a_reformatted_but_equal_json_body_is_422(self):
        # the body is compared byte for byte: whitespace makes it another request
        key = new_key()
        email = unique_email("bytes")
        r1 = self.post(self.org.users, None, key, raw='{"email":"%s"}' % email)
        self.assertEqual(r1.status, 201, r1)
        r2 = self.post(self.org.users, None, key, raw='{ "email": "%s" }' % email)
        self.assertKeyProblem(r2, 422)


class MalformedKeyTest(IdemCase):
    BAD = {
        "empty": "",
        "256 chars": "k" * 256,
        "inner space": "my key",
        "non-ASCII": "schl\u00fcssel",
        "DEL": "key\x7f",
        "tab": "key\tkey",
    }

    def test_malformed_keys_are_400_naming_the_header_and_apply_nothing(self):
        for name, key in self.BAD.items():
            with self.subTest(key=name):
                email = unique_email("bad")
                r = self.post(self.org.users, {"email": email}, key)
                self.assertKeyProblem(r, 400)
                self.assertNoUserWithEmail(self.org, email)

    def test_malformed_key_on_bulk_and_restore_is_400(self):
        u = self.create_user(self.org)
        r = self.post(self.org.user_path(u["id"]) + "/restore", None, "x" * 256)
        self.assertKeyProblem(r, 400)
        email = unique_email("badbulk")
        r = self.post(self.org.users + "/bulk", {"items": [{"op": "create", "data": {"email": email}}]},
                      "bad key")
        self.assertKeyProblem(r, 400)
        self.assertNoUserWithEmail(self.org, email)

    def test_get_put_delete_ignore_the_header(self):
        u = self.create_user(self.org, first_name="Ignore")
        path = self.org.user_path(u["id"])
        r = self.S.get(path, token=self.tok, headers={KEY_HEADER: "bad key"})
        self.assertEqual(r.status, 200, r)
        self.assertNotReplayed(r)
        r = self.S.get(self.org.users, token=self.tok, headers={KEY_HEADER: "k" * 300})
        self.assertEqual(r.status, 200, r)
        key = new_key()
        r1 = self.S.request("PUT", path, body={"first_name": "One"}, token=self.tok,
                            headers={KEY_HEADER: key})
        self.assertEqual(r1.status, 200, r1)
        r2 = self.S.request("PUT", path, body={"first_name": "Two"}, token=self.tok,
                            headers={KEY_HEADER: key})
        self.assertEqual(r2.status, 200, r2)
        self.assertNotReplayed(r2)
        self.assertEqual(r2.body["first_name"], "Two")
        r3 = self.S.request("PUT", path, body={"first_name": "One"}, token=self.tok,
                            headers={KEY_HEADER: key})
        self.assertEqual(r3.status, 200, r3)
        self.assertNotReplayed(r3)
        self.assertNotEqual(r3.headers["ETag"], r1.headers["ETag"])
        self.assertEqual(self.get_user(self.org, u["id"])["first_name"], "One")
        r = self.S.request("DELETE", path, token=self.tok, headers={KEY_HEADER: "bad key"})
        self.assertEqual(r.status, 204, r)
        self.assertNotReplayed(r)
        self.assertIsNotNone(self.get_user(self.org, u["id"])["deleted_at"])
        # a key used by PUT is still free for a POST
        body = {"email": unique_email("afterput")}
        r = self.post(self.org.users, body, key)
        self.assertEqual(r.status, 201, r)
        self.assertNotReplayed(r)

    def test_unauthenticated_post_with_a_key_is_401(self):
        email = unique_email("noauth")
        r = self.S.request("POST", self.org.users, body={"email": email}, headers={KEY_HEADER: new_key()})
        self.assertProblem(r, 401)
        r = self.S.request("POST", self.org.users, body={"email": email}, token="no-such-token",
                           headers={KEY_HEADER: "bad key"})
        self.assertProblem(r, 401)
        self.assertNoUserWithEmail(self.org, email)


class FailedRequestTest(IdemCase):
    def test_a_422_keeps_no_key_so_a_corrected_body_succeeds(self):
        key = new_key()
        bad = {"email": "not-an-email"}
        r1 = self.post(self.org.users, bad, key)
        self.assertProblem(r1, 422, field="email")
        r2 = self.post(self.org.users, bad, key)
        self.assertProblem(r2, 422, field="email")
        self.assertNotReplayed(r2)
        good = {"email": unique_email("fixed")}
        r3 = self.post(self.org.users, good, key)
        self.assertEqual(r3.status, 201, r3)
        self.assertNotReplayed(r3)
        self.assertReplayOf(r3, self.post(self.org.users, good, key))
        # now the key belongs to the good body
        self.assertKeyProblem(self.post(self.org.users, bad, key), 422)

    def test_a_409_keeps_no_key(self):
        taken = self.create_user(self.org)
        key = new_key()
        body = {"email": taken["email"]}
        r1 = self.post(self.org.users, body, key)
        self.assertProblem(r1, 409, field="email")
        r2 = self.post(self.org.users, body, key)
        self.assertProblem(r2, 409, field="email")
        self.assertNotReplayed(r2)
        good = {"email": unique_email("free")}
        r3 = self.post(self.org.users, good, key)
        self.assertEqual(r3.status, 201, r3)
        self.assertEqual(len(self.users_with_email(self.org, good["email"])), 1)

    def test_a_404_keeps_no_key(self):
        key = new_key()
        missing = self.org.user_path(str(uuid.uuid4())) + "/restore"
        r1 = self.post(missing, None, key)
        self.assertProblem(r1, 404)
        r2 = self.post(missing, None, key)
        self.assertProblem(r2, 404)
        self.assertNotReplayed(r2)
        # the key is free: another request may use it
        u = self.create_user(self.org)
        path = self.org.user_path(u["id"])
        self.assertEqual(self.S.request("DELETE", path, token=self.tok).status, 204)
        r3 = self.post(path + "/restore", None, key)
        self.assertEqual(r3.status, 200, r3)
        self.assertNotReplayed(r3)
        self.assertIsNone(self.get_user(self.org, u["id"])["deleted_at"])

    def test_a_refused_atomic_bulk_keeps_no_key(self):
        org = self.fresh_org()
        tok = org.token("admin")
        taken = self.create_user(org, token=tok)
        key = new_key()
        ok_email = unique_email("atomic")
        items = [{"op": "create", "data": {"email": ok_email}},
                 {"op": "create", "data": {"email": taken["email"]}}]
        path = org.users + "/bulk?atomic=true"
        r1 = self.post(path, {"items": items}, key, token=tok)
        self.assertProblem(r1, 422)
        self.assertNoUserWithEmail(org, ok_email)
        r2 = self.post(path, {"items": items[:1]}, key, token=tok)
        self.assertEqual(r2.status, 200, r2)
        self.assertNotReplayed(r2)
        self.assertEqual(len(self.users_with_email(org, ok_email)), 1)


class ScopeTest(IdemCase):
    def test_the_same_key_under_two_tokens_of_one_org_is_two_requests(self):
        org = self.fresh_org()
        tok_a = org.token("admin")
        tok_b = self.S.token_create(org.id, "admin", "second-admin")
        key = new_key()
        a = self.post(org.users, {"email": unique_email("a")}, key, token=tok_a)
        b = self.post(org.users, {"email": unique_email("b")}, key, token=tok_b)
        self.assertEqual((a.status, b.status), (201, 201), (a, b))
        self.assertNotReplayed(b)
        self.assertNotEqual(a.body["id"], b.body["id"])
        self.assertEqual(self.total_users(org)[0], 2)
        # the same body under the other token runs again (an email conflict), it is no replay
        c = self.post(org.users, {"email": a.body["email"]}, key, token=tok_b)
        self.assertNotEqual(c.status, 201, c)
        self.assertNotReplayed(c)
        d = self.post(org.users, {"email": a.body["email"]}, key, token=tok_a)
        self.assertReplayOf(a, d)

    def test_a_staff_token_gets_its_own_result_not_the_admins(self):
        org = self.fresh_org()
        admin, staff = org.token("admin"), org.token("staff")
        key = new_key()
        body = {"email": unique_email("role"), "role": "admin"}
        a = self.post(org.users, body, key, token=admin)
        self.assertEqual(a.status, 201, a)
        s = self.post(org.users, body, key, token=staff)
        self.assertProblem(s, 403)
        self.assertNotReplayed(s)


class ConcurrencyTest(IdemCase):
    def race(self, org, tok, n, body, key):
        barrier = threading.Barrier(n)
        out = [None] * n

        def go(i):
            try:
                barrier.wait(timeout=10)
                out[i] = self.post(org.users, body, key, token=tok)
            except Exception as e:  # surfaced by the assertions below
                out[i] = e

        threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return out

    def test_concurrent_duplicates_apply_exactly_once(self):
        org = self.fresh_org()
        tok = org.token("admin")
        for rnd in range(6):
            n = 2 if rnd < 3 else 6
            with self.subTest(round=rnd, threads=n):
                key, body = new_key(), {"email": unique_email("race")}
                out = self.race(org, tok, n, body, key)
                for r in out:
                    self.assertIsInstance(r, harness.Resp, r)
                firsts = [r for r in out if r.status == 201 and r.headers.get(REPLAYED) is None]
                self.assertEqual(len(firsts), 1, out)
                for r in out:
                    if r is firsts[0]:
                        continue
                    if r.status == 409:
                        self.assertProblem(r, 409)
                        ra = r.headers.get("Retry-After")
                        self.assertIsNotNone(ra, r)
                        self.assertRegex(ra, r"^\d+$")
                        self.assertGreaterEqual(int(ra), 1)
                    else:
                        self.assertReplayOf(firsts[0], r)
                self.assertEqual(len(self.users_with_email(org, body["email"])), 1)
                # afterwards every retry is a replay
                self.assertReplayOf(firsts[0], self.post(org.users, body, key, token=tok))
        self.assertEqual(self.total_users(org)[0], 6)
        self.assertEqual(len(self.actions(org, action="user.create")), 6)


class StorageTest(IdemCase):
    def rows(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.S.db, uri=True, timeout=10)
        try:
            cols = [c[1] for c in con.execute("PRAGMA table_info(idempotency)")]
            rows = con.execute("SELECT * FROM idempotency").fetchall()
        finally:
            con.close()
        return cols, rows

    @staticmethod
    def as_bytes(v):
        if v is None:
            return b""
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        return str(v).encode("utf-8")

    def test_the_stored_entry_reveals_neither_the_key_nor_the_reply(self):
        cols, before = self.rows()
        self.assertTrue(cols, "no table idempotency")
        key = "secret-key-" + secrets.token_hex(10)
        email = unique_email("stored")
        r = self.post(self.org.users, {"email": email, "first_name": "Sealedname"}, key)
        self.assertEqual(r.status, 201, r)
        cols, after = self.rows()
        new = [row for row in after if row not in before]
        self.assertEqual(len(new), 1, (cols, new))
        for row in after:
            for name, v in zip(cols, row):
                b = self.as_bytes(v)
                for secret in (key, email, r.body["id"], "Sealedname"):
                    with self.subTest(column=name, secret=secret[:12]):
                        self.assertNotIn(secret.encode(), b)
                        self.assertNotIn(secret.encode().hex().encode(), b.lower())
        # the reply is kept, as an opaque blob
        blobs = [v for v in new[0] if isinstance(v, bytes)]
        self.assertTrue(blobs and max(len(b) for b in blobs) >= len(r.raw), (cols, new))
        # and still opens for the caller
        self.assertReplayOf(r, self.post(self.org.users, {"email": email, "first_name": "Sealedname"}, key))

    def test_a_failed_request_leaves_no_entry(self):
        _, before = self.rows()
        key = new_key()
        r = self.post(self.org.users, {"email": "nope"}, key)
        self.assertProblem(r, 422)
        r = self.post(self.org.user_path(str(uuid.uuid4())) + "/restore", None, new_key())
        self.assertProblem(r, 404)
        _, after = self.rows()
        self.assertEqual(sorted(map(repr, after)), sorted(map(repr, before)))


class RestartTest(unittest.TestCase):
    """Keys are kept (24 h), so a retry after a restart is still a replay."""

    def test_a_retry_after_a_restart_is_replayed(self):
        s = harness.Server()
        try:
            org = s.org_create("Idem Restart Org")
            tok = org.token("admin")
            s.start()
            key, body = new_key(), {"email": unique_email("restart")}
            r1 = s.request("POST", org.users, body=body, token=tok, headers={KEY_HEADER: key})
            self.assertEqual(r1.status, 201, r1)
            self.assertEqual(s.stop(), 0)
            s.start()
            r2 = s.request("POST", org.users, body=body, token=tok, headers={KEY_HEADER: key})
            self.assertEqual(r2.headers.get(REPLAYED), "true", r2)
            self.assertEqual((r2.status, r2.raw), (r1.status, r1.raw))
            self.assertEqual(r2.headers.get("Location"), r1.headers.get("Location"))
            self.assertEqual(r2.headers.get("ETag"), r1.headers.get("ETag"))
            lst = s.get(org.users + "?include_deleted=true", token=tok)
            self.assertEqual(lst.headers.get("X-Total-Count"), "1", lst)
            self.assertEqual(s.stop(), 0)
        finally:
            s.stop(signal.SIGKILL)
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
