"""Optimistic concurrency: ETag, If-Match (412) and If-None-Match (304)."""

import unittest

import harness
from harness import ApiTestCase

harness.use_server(globals())


class EtagTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Etag Org")
        cls.tok = cls.org.token("admin")

    def fresh(self, **fields):
        fields.setdefault("first_name", "Etag")
        u = self.create_user(self.org, **fields)
        r = self.S.get(self.org.user_path(u["id"]), token=self.tok)
        self.assertEqual(r.status, 200, r)
        return r.body, r.headers["ETag"]

    def req(self, method, uid, suffix="", body=None, **headers):
        return self.S.request(method, self.org.user_path(uid) + suffix, body=body, token=self.tok,
                              headers=headers)

    def test_get_etag_is_a_strong_quoted_validator(self):
        _, etag = self.fresh()
        self.assertRegex(etag, r'^"[^"\s]+"$')

    def test_get_with_matching_if_none_match_is_304_without_body(self):
        u, etag = self.fresh()
        r = self.req("GET", u["id"], **{"If-None-Match": etag})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.raw, b"")
        self.assertEqual(r.headers.get("ETag"), etag)

    def test_get_with_stale_if_none_match_is_200_with_new_etag(self):
        u, etag = self.fresh()
        r = self.req("PUT", u["id"], body={"first_name": "Newer"})
        self.assertEqual(r.status, 200, r)
        r = self.req("GET", u["id"], **{"If-None-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["first_name"], "Newer")
        self.assertNotEqual(r.headers.get("ETag"), etag)

    def test_put_with_stale_if_match_is_412_and_user_unchanged(self):
        u, etag = self.fresh()
        r = self.req("PUT", u["id"], body={"first_name": "First"})
        self.assertEqual(r.status, 200, r)
        current = r.body
        r = self.req("PUT", u["id"], body={"first_name": "Second", "town": "Lost"}, **{"If-Match": etag})
        self.assertProblem(r, 412)
        self.assertUnchanged(self.org, current)

    def test_put_with_made_up_if_match_is_412(self):
        u, _ = self.fresh()
        r = self.req("PUT", u["id"], body={"first_name": "X"}, **{"If-Match": '"not-the-etag"'})
        self.assertProblem(r, 412)
        self.assertUnchanged(self.org, u)

    def test_put_with_current_if_match_is_200_with_a_new_etag(self):
        u, etag = self.fresh()
        r = self.req("PUT", u["id"], body={"first_name": "Fresh"}, **{"If-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertNotEqual(r.headers.get("ETag"), etag)
        g = self.req("GET", u["id"])
        self.assertEqual(g.headers.get("ETag"), r.headers.get("ETag"))
        self.assertEqual(g.body["first_name"], "Fresh")

    def test_put_without_if_match_goes_through(self):
        u, _ = self.fresh()
        self.req("PUT", u["id"], body={"first_name": "One"})
        r = self.req("PUT", u["id"], body={"first_name": "Two"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get_user(self.org, u["id"])["first_name"], "Two")

    def test_two_agents_never_silently_overwrite_each_other(self):
        u, etag = self.fresh()
        r1 = self.req("PUT", u["id"], body={"last_name": "AgentOne"}, **{"If-Match": etag})
        self.assertEqual(r1.status, 200, r1)
        r2 = self.req("PUT", u["id"], body={"last_name": "AgentTwo"}, **{"If-Match": etag})
        self.assertProblem(r2, 412)
        self.assertEqual(self.get_user(self.org, u["id"])["last_name"], "AgentOne")

    def test_delete_with_stale_if_match_is_412_and_user_not_deleted(self):
        u, etag = self.fresh()
        current = self.req("PUT", u["id"], body={"town": "Moved"}).body
        r = self.req("DELETE", u["id"], **{"If-Match": etag})
        self.assertProblem(r, 412)
        self.assertUnchanged(self.org, current)

    def test_delete_with_current_if_match_is_204(self):
        u, etag = self.fresh()
        r = self.req("DELETE", u["id"], **{"If-Match": etag})
        self.assertEqual(r.status, 204, r)
        self.assertIsNotNone(self.get_user(self.org, u["id"])["deleted_at"])

    def test_restore_with_stale_if_match_is_412_and_user_stays_deleted(self):
        u, etag = self.fresh()
        self.assertEqual(self.req("DELETE", u["id"]).status, 204)
        deleted = self.get_user(self.org, u["id"])
        r = self.req("POST", u["id"], "/restore", **{"If-Match": etag})
        self.assertProblem(r, 412)
        self.assertUnchanged(self.org, deleted)

    def test_restore_with_current_if_match_is_200(self):
        u, _ = self.fresh()
        self.assertEqual(self.req("DELETE", u["id"]).status, 204)
        etag = self.req("GET", u["id"]).headers["ETag"]
        r = self.req("POST", u["id"], "/restore", **{"If-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["deleted_at"])

    def test_erase_with_stale_if_match_is_412_and_data_kept(self):
        u, etag = self.fresh(last_name="KeepMe")
        current = self.req("PUT", u["id"], body={"town": "Salzburg"}).body
        r = self.req("POST", u["id"], "/erase", **{"If-Match": etag})
        self.assertProblem(r, 412)
        self.assertUnchanged(self.org, current)

    def test_erase_with_current_if_match_is_200(self):
        u, etag = self.fresh()
        r = self.req("POST", u["id"], "/erase", **{"If-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertIn(r.body["email"], (None, ""))

    def test_delete_and_restore_change_the_etag(self):
        u, e1 = self.fresh()
        self.assertEqual(self.req("DELETE", u["id"]).status, 204)
        e2 = self.req("GET", u["id"]).headers["ETag"]
        r = self.req("POST", u["id"], "/restore")
        self.assertEqual(r.status, 200, r)
        e3 = self.req("GET", u["id"]).headers["ETag"]
        self.assertEqual(len({e1, e2, e3}), 3, (e1, e2, e3))

    def test_concurrent_puts_with_the_same_if_match_let_exactly_one_win(self):
        import threading
        for round_ in range(3):
            u, etag = self.fresh()
            barrier = threading.Barrier(6)
            results = {}

            def go(i):
                barrier.wait()
                r = self.req("PUT", u["id"], body={"first_name": "Agent%d" % i}, **{"If-Match": etag})
                results[i] = r.status

            threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            winners = [i for i, st in results.items() if st == 200]
            self.assertEqual(sorted(results.values()), [200] + [412] * 5, results)
            self.assertEqual(self.get_user(self.org, u["id"])["first_name"], "Agent%d" % winners[0])

    def test_concurrent_delete_and_put_with_the_same_if_match_let_exactly_one_win(self):
        import threading
        u, etag = self.fresh()
        barrier = threading.Barrier(2)
        results = {}

        def go(kind):
            barrier.wait()
            if kind == "put":
                results[kind] = self.req("PUT", u["id"], body={"town": "Race"}, **{"If-Match": etag}).status
            else:
                results[kind] = self.req("DELETE", u["id"], **{"If-Match": etag}).status

        threads = [threading.Thread(target=go, args=(k,)) for k in ("put", "delete")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(results.values()), [200, 412] if results["put"] == 200 else [204, 412],
                         results)
        after = self.get_user(self.org, u["id"])
        if results["put"] == 200:
            self.assertEqual(after["town"], "Race")
            self.assertIsNone(after["deleted_at"])
        else:
            self.assertIsNone(after["town"])
            self.assertIsNotNone(after["deleted_at"])

    def test_if_none_match_list_containing_the_etag_is_304(self):
        u, etag = self.fresh()
        r = self.req("GET", u["id"], **{"If-None-Match": '"nope", %s' % etag})
        self.assertEqual(r.status, 304, r)

    def test_if_match_list_containing_the_current_etag_is_200(self):
        u, etag = self.fresh()
        r = self.req("PUT", u["id"], body={"town": "Listed"}, **{"If-Match": '"nope", %s' % etag})
        self.assertEqual(r.status, 200, r)

    def test_etag_is_stable_without_writes(self):
        u, e1 = self.fresh()
        self.assertEqual(self.req("GET", u["id"]).headers["ETag"], e1)


if __name__ == "__main__":
    unittest.main()
