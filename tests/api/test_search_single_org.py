"""Search totals on a server with a single org.

When one org owns every row and none is deleted, the server counts a
search's total on the trigram index alone; as soon as a user is deleted (or
a second org appears) it must fall back to the filtering count. Both paths
must give the same exact X-Total-Count."""

import unittest

import harness
from harness import OwnServerTestCase, doc_filter


class SingleOrgSearchTotalTest(OwnServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create("Only Org")
        cls.tok = cls.org.token("admin")
        cls.ids = []
        for i in range(12):
            name = "Quokka" if i % 3 == 0 else "Wombat"
            r = cls.S.request("POST", cls.org.users, token=cls.tok,
                              body={"email": "p%02d@zoo-example.com" % i, "last_name": name})
            assert r.status == 201, r
            cls.ids.append((r.body["id"], name))

    def search_total(self, term, **extra):
        params = {"search": term}
        params.update(extra)
        r = self.S.get(self.org.users + "?" + harness.urllib.parse.urlencode(params), token=self.tok)
        self.assertEqual(r.status, 200, r)
        return int(r.headers["X-Total-Count"]), r.body

    def test_totals_stay_exact_across_deletion_restore_and_a_second_org(self):
        total, body = self.search_total("quokka")
        self.assertEqual((total, len(body)), (4, 4))
        self.assertEqual(self.search_total("zoo-example")[0], 12)

        qid = [i for i, n in self.ids if n == "Quokka"][0]
        r = self.S.request("DELETE", self.org.user_path(qid), token=self.tok)
        self.assertEqual(r.status, 204, r)
        total, body = self.search_total("quokka")
        self.assertEqual((total, len(body)), (3, 3))
        self.assertEqual(self.search_total("quokka", include_deleted="true")[0], 4)

        r = self.S.request("POST", self.org.user_path(qid) + "/restore", token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.search_total("quokka")[0], 4)

        other = self.S.org_create("Second Org")
        otok = other.token("admin")
        r = self.S.request("POST", other.users, token=otok,
                           body={"email": "q@other-example.com", "last_name": "Quokka"})
        self.assertEqual(r.status, 201, r)
        total, body = self.search_total("quokka")
        self.assertEqual((total, len(body)), (4, 4))
        self.assertTrue(all(u["org_id"] == self.org.id for u in body))

    def test_a_cached_search_total_follows_every_write(self):
        # limit=2 leaves the first page full, so the total is counted (and cached)
        t0 = self.search_total("zoo-example", limit=2)[0]
        self.assertEqual(self.search_total("zoo-example", limit=2)[0], t0)
        r = self.S.request("POST", self.org.users, token=self.tok,
                           body={"email": "late@zoo-example.com", "last_name": "Wombat"})
        self.assertEqual(r.status, 201, r)
        new_id = r.body["id"]
        for _ in range(4):  # each worker thread has its own cache: ask several times
            self.assertEqual(self.search_total("zoo-example", limit=2)[0], t0 + 1)
        r = self.S.request("DELETE", self.org.user_path(new_id), token=self.tok)
        self.assertEqual(r.status, 204, r)
        for _ in range(4):
            self.assertEqual(self.search_total("zoo-example", limit=2)[0], t0)
        # a write made by another process (the CLI) is seen too
        self.S.org_create("Third Org")
        other_total = self.search_total("zoo-example", limit=2, include_deleted="true")[0]
        self.assertEqual(other_total, t0 + 1)

    def test_paging_a_search_in_created_order_reads_each_match_once(self):
        seen = []
        url = self.org.users + "?search=zoo-example&limit=5"
        while url:
            r = self.S.follow(url, self.tok) if url.startswith("http") else self.S.get(url, token=self.tok)
            self.assertEqual(r.status, 200, r)
            seen += [u["id"] for u in r.body]
            url = harness.next_link(r)
        self.assertEqual(sorted(seen), sorted(i for i, _ in self.ids))
        self.assertEqual(len(seen), len(set(seen)))


if __name__ == "__main__":
    unittest.main()
