"""GET /users: paging (limit, cursor, Link rel=next), X-Total-Count, sort,
filters and search, and paging while users are added concurrently."""

import datetime
import json
import random
import threading
import time
import unittest
import urllib.parse

import harness
from harness import ApiTestCase, OwnServerTestCase, doc_filter, unique_email, next_link

harness.use_server(globals())

LAST_NAMES = ["Adler", "Bauer", "Berger", "Fischer", "Gruber", "Huber", "Koch", "Lang",
              "Mayer", "Moser", "Novak", "Pichler", "Schmid", "Wagner", "Wolf"]
WORDS = ["kiwi", "apple", "mango", "zebra", "lemon", "olive", "peach", "berry", "cocoa",
         "delta", "fig", "grape", "hazel", "iris", "jade"]


class PagingTest(ApiTestCase):
    """One org with 130 users: 6 staff, 4 viewers, 5 deleted."""

    N = 130

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Paging Org")
        cls.tok = cls.org.token("admin")
        rnd = random.Random(4711)
        cls.created = []
        for i in range(cls.N):
            role = "staff" if i % 20 == 3 else ("viewer" if i % 30 == 7 else "user")
            body = {"email": "%s%03d.%s@example.com" % (rnd.choice(WORDS), rnd.randrange(1000), i),
                    "first_name": "First%d" % i, "last_name": rnd.choice(LAST_NAMES),
                    "role": role}
            r = cls.S.request("POST", cls.org.users, body=body, token=cls.tok)
            assert r.status == 201, r
            cls.created.append(r.body)
        cls.deleted_ids = set()
        for u in [u for u in cls.created if u["role"] == "user"][5:10]:
            r = cls.S.request("DELETE", cls.org.user_path(u["id"]), token=cls.tok)
            assert r.status == 204, r
            cls.deleted_ids.add(u["id"])
        cls.live = [u for u in cls.created if u["id"] not in cls.deleted_ids]
        cls.live_ids = [u["id"] for u in cls.live]

    def total(self, r):
        v = r.headers.get("X-Total-Count")
        self.assertIsNotNone(v, "no X-Total-Count: %r" % r)
        return int(v)

    # ---- limit ------------------------------------------------------------------
    def test_default_limit_is_100_with_total_count_and_next_link(self):
        r = self.list_users(self.org)
        self.assertEqual(len(r.body), 100)
        self.assertEqual(self.total(r), len(self.live))
        self.assertIsNotNone(next_link(r), r.headers.get("Link"))

    def test_limit_1000_is_accepted_and_last_page_has_no_next_link(self):
        r = self.list_users(self.org, limit=1000)
        self.assertEqual([u["id"] for u in r.body], self.live_ids)
        self.assertIsNone(next_link(r), r.headers.get("Link"))
        self.assertEqual(self.total(r), len(self.live))

    def test_limit_1001_is_400_naming_limit(self):
        r = self.S.get(self.org.users + "?limit=1001", token=self.tok)
        self.assertProblem(r, 400, "limit")

    def test_limit_zero_negative_and_non_numeric_are_400(self):
        for bad in ("0", "-1", "abc", "10x", "1.5", "99999999999999999999"):
            with self.subTest(limit=bad):
                r = self.S.get(self.org.users + "?limit=" + bad, token=self.tok)
                self.assertProblem(r, 400, "limit")

    def test_limit_1_returns_one_user_and_full_total(self):
        r = self.list_users(self.org, limit=1)
        self.assertEqual(len(r.body), 1)
        self.assertEqual(r.body[0]["id"], self.live_ids[0])
        self.assertEqual(self.total(r), len(self.live))

    # ---- Link rel=next -------------------------------------------------------------
    def test_next_link_is_an_absolute_url_to_the_users_path_with_a_cursor(self):
        r = self.list_users(self.org, limit=10)
        link = next_link(r)
        self.assertTrue(link.startswith(self.S.base + self.org.users + "?"), link)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        self.assertIn("cursor", q)
        self.assertTrue(q["cursor"][0])

    def test_following_next_reads_every_user_exactly_once_in_creation_order(self):
        items, pages = self.walk(self.org, limit=7)
        ids = [u["id"] for u in items]
        self.assertEqual(ids, self.live_ids)
        self.assertEqual(len(pages), (len(self.live) + 6) // 7)
        for p in pages:
            self.assertEqual(self.total(p), len(self.live))
        self.assertIsNone(next_link(pages[-1]))

    def test_next_link_keeps_filters_and_limit(self):
        expected = [u["id"] for u in self.live if u["role"] == "user"]
        items, pages = self.walk(self.org, limit=10, role="user")
        self.assertEqual([u["id"] for u in items], expected)
        for p in pages[:-1]:
            self.assertEqual(len(p.body), 10)
            self.assertEqual(self.total(p), len(expected))
        self.assertTrue(all(u["role"] == "user" for u in items))

    def test_include_deleted_walk_reads_all_130_users_once(self):
        items, pages = self.walk(self.org, limit=50, include_deleted="true")
        self.assertEqual([u["id"] for u in items], [u["id"] for u in self.created])
        self.assertEqual(self.total(pages[0]), self.N)

    # ---- X-Total-Count with filters ------------------------------------------------------
    def test_total_count_is_correct_with_each_filter(self):
        cases = [
            ({}, len(self.live)),
            ({"role": "staff"}, sum(u["role"] == "staff" for u in self.live)),
            ({"role": "viewer"}, sum(u["role"] == "viewer" for u in self.live)),
            ({"role": "user"}, sum(u["role"] == "user" for u in self.live)),
            ({"role": "admin"}, 0),
            ({"include_deleted": "true"}, self.N),
            ({"include_deleted": "true", "role": "user"},
             sum(u["role"] == "user" for u in self.created)),
            ({"search": "kiwi"}, len(doc_filter(self.live, "kiwi"))),
            ({"search": "FIRST12"}, len(doc_filter(self.live, "first12"))),
            ({"search": "first1", "role": "staff"},
             len([u for u in doc_filter(self.live, "first1") if u["role"] == "staff"])),
        ]
        for params, n in cases:
            with self.subTest(params=params):
                r = self.list_users(self.org, limit=2, **params)
                self.assertEqual(self.total(r), n)
                self.assertEqual(len(r.body), min(2, n))

    def test_count_limit_caps_the_total_and_says_so(self):
        n_kiwi = len(doc_filter(self.live, "kiwi"))
        self.assertGreater(n_kiwi, 2)
        cases = [({"search": "kiwi", "count_limit": 2}, 2, True),
                 ({"search": "kiwi", "count_limit": n_kiwi + 1}, n_kiwi, False),
                 ({"count_limit": 10}, 10, True),                    # a plain total is capped alike
                 ({"count_limit": 1000}, len(self.live), False),
                 ({"role": "staff", "count_limit": 1}, 1, True),
                 ({"search": "zz-nobody", "count_limit": 1}, 0, False)]
        for params, total, capped in cases:
            with self.subTest(**params):
                r = self.list_users(self.org, limit=1, **params)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.total(r), total)
                self.assertEqual(r.headers.get("X-Total-Count-Capped"), "true" if capped else None)
        # paging is not capped: the walk still reads every match, and the next link keeps count_limit
        items, pages = self.walk(self.org, limit=2, search="kiwi", count_limit=2)
        self.assertEqual([u["id"] for u in items], [u["id"] for u in doc_filter(self.live, "kiwi")])
        self.assertIn("count_limit=2", next_link(pages[0]))

    def test_bad_count_limit_is_400_naming_it(self):
        for bad in ("0", "-1", "x", "1000001"):
            with self.subTest(count_limit=bad):
                self.assertProblem(self.S.get(self.org.users + "?count_limit=" + bad, token=self.tok), 400,
                                   "count_limit")

    def test_role_filter_returns_only_that_role(self):
        r = self.list_users(self.org, role="staff", limit=1000)
        self.assertEqual([u["id"] for u in r.body],
                         [u["id"] for u in self.live if u["role"] == "staff"])

    def test_bad_role_filter_is_400_naming_role(self):
        for bad in ("boss", "ADMIN", "users"):
            with self.subTest(role=bad):
                r = self.S.get(self.org.users + "?role=" + bad, token=self.tok)
                self.assertProblem(r, 400, "role")

    def test_bad_include_deleted_value_is_400(self):
        r = self.S.get(self.org.users + "?include_deleted=banana", token=self.tok)
        self.assertProblem(r, 400, "include_deleted")

    # ---- sort --------------------------------------------------------------------------
    def check_sorted_walk(self, sort, key, descending):
        items, _ = self.walk(self.org, limit=9, sort=sort)
        ids = [u["id"] for u in items]
        self.assertEqual(len(ids), len(set(ids)), "duplicates with sort=%s" % sort)
        self.assertEqual(set(ids), set(self.live_ids))
        keys = [key(u) for u in items]
        self.assertEqual(keys, sorted(keys, reverse=descending), "sort=%s" % sort)
        return items

    def test_default_sort_is_created_at_ascending(self):
        r = self.list_users(self.org, limit=1000)
        r2 = self.list_users(self.org, limit=1000, sort="created_at")
        self.assertEqual([u["id"] for u in r.body], self.live_ids)
        self.assertEqual([u["id"] for u in r2.body], self.live_ids)

    def test_sort_minus_created_at_is_newest_first_across_pages(self):
        items, _ = self.walk(self.org, limit=9, sort="-created_at")
        self.assertEqual([u["id"] for u in items], list(reversed(self.live_ids)))

    def test_sort_email_ascending_and_descending_across_pages(self):
        items = self.check_sorted_walk("email", lambda u: u["email"], False)
        self.assertEqual([u["id"] for u in items],
                         [u["id"] for u in sorted(self.live, key=lambda u: u["email"])])
        items = self.check_sorted_walk("-email", lambda u: u["email"], True)
        self.assertEqual([u["id"] for u in items],
                         [u["id"] for u in sorted(self.live, key=lambda u: u["email"], reverse=True)])

    def test_sort_last_name_ascending_and_descending_across_pages(self):
        self.check_sorted_walk("last_name", lambda u: u["last_name"], False)
        self.check_sorted_walk("-last_name", lambda u: u["last_name"], True)

    def test_sort_updated_at_ascending_and_descending_across_pages(self):
        self.check_sorted_walk("updated_at", lambda u: u["updated_at"], False)
        self.check_sorted_walk("-updated_at", lambda u: u["updated_at"], True)

    def test_bad_sort_is_400_naming_sort(self):
        for bad in ("password", "first_name", "--email", "email,last_name", "EMAIL", "id;drop"):
            with self.subTest(sort=bad):
                r = self.S.get(self.org.users + "?" + urllib.parse.urlencode({"sort": bad}),
                               token=self.tok)
                self.assertProblem(r, 400, "sort")

    # ---- cursor ------------------------------------------------------------------------
    def test_bad_cursor_is_400_naming_cursor(self):
        for bad in ("garbage!!", "AAAA", "eyJ4Ijo1fQ", "0"):
            with self.subTest(cursor=bad):
                r = self.S.get(self.org.users + "?limit=5&cursor=" + bad, token=self.tok)
                self.assertProblem(r, 400, "cursor")

    def test_forged_cursors_are_refused_or_harmless_never_5xx(self):
        import base64
        forged = ['{"s":"email","d":false,"n":1,"k":123}', '{"s":"nope","d":false,"n":1}',
                  '{"s":"created_at","d":"x","n":"y"}', '{"n":1e308}', '[]', 'null', '"x"',
                  '{"s":"email","d":false,"n":1,"k":"' + "z" * 5000 + '"}',
                  '{"s":"created_at","d":false,"n":-9223372036854775808}', "\u0000", "{" * 500]
        for j in forged:
            cur = base64.urlsafe_b64encode(j.encode()).decode().rstrip("=")
            for sort in ("created_at", "email", "-last_name"):
                with self.subTest(cursor=j[:40], sort=sort):
                    r = self.S.get(self.org.users + "?" + urllib.parse.urlencode(
                        {"limit": 3, "sort": sort, "cursor": cur}), token=self.tok)
                    self.assertIn(r.status, (200, 400), r)
                    if r.status == 400:
                        self.assertProblem(r, 400, "cursor")
        self.assertEqual(self.S.get("/healthz").status, 200)

    def test_truncated_cursor_is_400(self):
        link = next_link(self.list_users(self.org, limit=3))
        cur = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["cursor"][0]
        r = self.S.get(self.org.users + "?" + urllib.parse.urlencode(
            {"limit": 3, "cursor": cur[: len(cur) // 2]}), token=self.tok)
        self.assertProblem(r, 400, "cursor")


class NullKeyPagingTest(ApiTestCase):
    """Keyset paging over sort keys that are NULL: users without a last_name,
    and erased users (no email) listed with include_deleted=true."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Null Keys Org")
        cls.tok = cls.org.token("admin")
        names = [None, "Berg", None, "Adler", "Berg", None, "Zuse", None, "Adler", None, "Berg", "Mayer"]
        cls.ids = []
        for i, name in enumerate(names):
            r = cls.S.request("POST", cls.org.users, token=cls.tok,
                              body={"email": "n%02d.%s@example.com" % (i, harness.uniq("")), "last_name": name})
            assert r.status == 201, r
            cls.ids.append(r.body["id"])
        for uid in (cls.ids[1], cls.ids[2], cls.ids[6]):
            r = cls.S.request("POST", cls.org.user_path(uid) + "/erase", token=cls.tok)
            assert r.status == 200, r

    def test_every_sort_pages_over_null_keys_exactly_once(self):
        live = [i for i in self.ids if i not in (self.ids[1], self.ids[2], self.ids[6])]
        for sort in ("last_name", "-last_name", "email", "-email", "updated_at", "-updated_at",
                     "created_at", "-created_at"):
            for include_deleted, expected in (("true", self.ids), ("false", live)):
                for limit in (1, 2, 5):
                    with self.subTest(sort=sort, include_deleted=include_deleted, limit=limit):
                        items, pages = self.walk(self.org, sort=sort, limit=limit,
                                                 include_deleted=include_deleted, max_pages=50)
                        got = [u["id"] for u in items]
                        self.assertEqual(len(got), len(set(got)), "duplicates: %s" % got)
                        self.assertEqual(set(got), set(expected))
                        self.assertEqual(int(pages[0].headers["X-Total-Count"]), len(expected))
                        single = self.list_users(self.org, sort=sort, limit=1000,
                                                 include_deleted=include_deleted).body
                        self.assertEqual(got, [u["id"] for u in single], "page order differs from one page")


class LinkEncodingTest(ApiTestCase):
    def test_next_link_keeps_a_search_term_with_reserved_characters(self):
        org = self.S.org_create("Link Encoding Org")
        term = "a&b +c%d=é#"
        mine = []
        for i in range(4):
            mine.append(self.create_user(org, first_name="x%s%d" % (term, i))["id"])
        self.create_user(org, first_name="a b c d")          # must not match
        self.create_user(org, first_name="ab+c%d=e")         # must not match
        items, pages = self.walk(org, search=term, limit=1)
        self.assertEqual([u["id"] for u in items], mine)
        self.assertEqual(len(pages), 4)
        for p in pages:
            self.assertEqual(p.headers.get("X-Total-Count"), "4")


class SearchTest(ApiTestCase):
    """A small hand-made org so that 1- and 2-character terms are predictable."""

    USERS = [
        dict(email="alice.smith@example.com", first_name="Alice", last_name="Smith",
             external_user_id="cust_001", town="Vienna"),
        dict(email="bob.jones@sample.org", first_name="Bob", last_name="Jones",
             external_user_id="EXT-ZZ9"),
        dict(email="carol@example.net", first_name="Carol", last_name="O'Neil", town="Quxville"),
        dict(email="dave@qmail.com", first_name="Dave", external_user_id="100%_real"),
        dict(email="eve@example.com", last_name="Xylo", external_user_id="xy-1"),
        dict(email="Frank.Upper@Example.COM", first_name="Frank", last_name="Upper",
             external_user_id="a_b"),
        dict(email="stella@staff.example.com", first_name="Stella", last_name="Staffer",
             role="staff"),
        dict(email="victor@example.com", first_name="Victor", last_name="Viewer",
             role="viewer", external_user_id="ABC"),
        dict(email="ingrid@example.com", first_name="Ingrid", last_name="Ünal"),
    ]
    DELETED = dict(email="quentin@example.org", first_name="Quentin", last_name="Deleted",
                   external_user_id="q-del")

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Search Org")
        cls.tok = cls.org.token("admin")
        for body in cls.USERS + [cls.DELETED]:
            r = cls.S.request("POST", cls.org.users, body=body, token=cls.tok)
            assert r.status == 201, r
            if body is cls.DELETED:
                cls.deleted_id = r.body["id"]
        assert cls.S.request("DELETE", cls.org.user_path(cls.deleted_id), token=cls.tok).status == 204
        r = cls.S.get(cls.org.users + "?include_deleted=true&limit=1000", token=cls.tok)
        cls.all = r.body
        cls.live = [u for u in cls.all if u["deleted_at"] is None]

    def search(self, term, **params):
        r = self.list_users(self.org, search=term, limit=1000, **params)
        return r

    def assertSearch(self, term, min_expected=0, **params):
        pool = self.all if params.get("include_deleted") == "true" else self.live
        expected = doc_filter(pool, term)
        if "role" in params:
            expected = [u for u in expected if u["role"] == params["role"]]
        r = self.search(term, **params)
        self.assertEqual(sorted(u["id"] for u in r.body), sorted(u["id"] for u in expected),
                         "search=%r: got %s, expected %s" % (term, [u["email"] for u in r.body],
                                                             [u["email"] for u in expected]))
        self.assertEqual(int(r.headers.get("X-Total-Count")), len(expected))
        self.assertGreaterEqual(len(expected), min_expected, "test data does not exercise %r" % term)
        return r.body

    def test_search_is_case_insensitive_substring_like_the_doc_filter(self):
        for term in ("smith", "SMITH", "sMiTh", "example", "EXAMPLE.COM", "@sample", "jones",
                     "o'neil", "upper", "frank.upper@example.com", "' or '1'='1", "\"", "\\"):
            with self.subTest(term=term):
                self.assertSearch(term, 0 if term in ("' or '1'='1", '"', "\\") else 1)

    def test_search_with_one_character_terms(self):
        for term in ("q", "Q", "x", "X", "z", "b", "9", ".", "@", "-", "'"):
            with self.subTest(term=term):
                self.assertSearch(term, 1)

    def test_search_with_two_character_terms(self):
        for term in ("xy", "XY", "zz", "Zz", "al", "ic", "00", "_r", "om"):
            with self.subTest(term=term):
                self.assertSearch(term, 1)

    def test_search_matches_external_user_id(self):
        self.assertEqual([u["email"] for u in self.assertSearch("ext-zz", 1)], ["bob.jones@sample.org"])
        self.assertEqual([u["email"] for u in self.assertSearch("cust_0", 1)], ["alice.smith@example.com"])

    def test_search_matches_first_and_last_name(self):
        self.assertEqual([u["email"] for u in self.assertSearch("alic", 1)], ["alice.smith@example.com"])
        self.assertEqual([u["email"] for u in self.assertSearch("xylo", 1)], ["eve@example.com"])

    def test_search_does_not_match_town(self):
        self.assertEqual(self.assertSearch("quxville"), [])
        self.assertEqual(self.assertSearch("vienna"), [])

    def test_search_treats_percent_and_underscore_literally(self):
        def emails(term, n=0):
            return sorted(u["email"].lower() for u in self.assertSearch(term, n))
        self.assertEqual(emails("_", 1), ["alice.smith@example.com", "dave@qmail.com",
                                          "frank.upper@example.com"])
        self.assertEqual(emails("%", 1), ["dave@qmail.com"])
        self.assertEqual(emails("100%_", 1), ["dave@qmail.com"])
        self.assertEqual(emails("a%b"), [])
        self.assertEqual(emails("a_b", 1), ["frank.upper@example.com"])

    def test_search_with_no_match_is_empty_array_and_zero_total(self):
        r = self.search("no-such-user-xyz")
        self.assertEqual(r.body, [])
        self.assertEqual(r.headers.get("X-Total-Count"), "0")

    def test_search_non_ascii_term(self):
        self.assertEqual([u["email"] for u in self.assertSearch("Ünal", 1)], ["ingrid@example.com"])

    def test_search_non_ascii_is_case_insensitive_like_the_doc_filter(self):
        # filter_users() lower-cases with Python's str.lower(), which folds Ü to ü
        self.assertEqual([u["email"] for u in self.assertSearch("ünal", 1)], ["ingrid@example.com"])
        self.assertEqual([u["email"] for u in self.assertSearch("ÜNAL", 1)], ["ingrid@example.com"])

    def test_search_hides_deleted_users_unless_include_deleted(self):
        self.assertNotIn(self.deleted_id, [u["id"] for u in self.assertSearch("quentin")])
        found = self.assertSearch("quentin", 1, include_deleted="true")
        self.assertEqual([u["id"] for u in found], [self.deleted_id])

    def test_search_combined_with_role(self):
        self.assertEqual([u["email"] for u in self.assertSearch("example", 1, role="staff")],
                         ["stella@staff.example.com"])
        self.assertSearch("e", 1, role="viewer")

    def test_search_results_page_with_cursor_exactly_once(self):
        expected = doc_filter(self.live, "e")
        items, pages = self.walk(self.org, search="e", limit=2)
        self.assertEqual(sorted(u["id"] for u in items), sorted(u["id"] for u in expected))
        self.assertEqual(len(items), len(set(u["id"] for u in items)))
        self.assertGreater(len(pages), 2)


class ConcurrentPagingTest(ApiTestCase):
    PRE = 60
    ADD = 100

    def test_walk_during_concurrent_inserts_sees_every_existing_user_exactly_once(self):
        org = self.S.org_create("Concurrent Org")
        tok = org.token("admin")
        rnd = random.Random(99)
        pre = []
        for i in range(self.PRE):
            u = self.create_user(org, email="%s%03d.pre%d@example.com" % (rnd.choice(WORDS), i, i),
                                 last_name=rnd.choice(LAST_NAMES))
            pre.append(u["id"])
        pre_set = set(pre)

        added, errors = [], []
        started = threading.Event()
        stop = threading.Event()

        def inserter():
            started.set()
            for i in range(self.ADD):
                if stop.is_set():
                    break
                r = self.S.request("POST", org.users, token=tok, body={
                    "email": "%s.new%d.%s@example.com" % (rnd.choice(WORDS), i, harness.uniq("")),
                    "last_name": rnd.choice(LAST_NAMES)})
                if r.status != 201:
                    errors.append(r)
                else:
                    added.append(r.body["id"])
                time.sleep(0.002)

        results = {}

        overlap = {}

        def walker(sort):
            try:
                started.wait(5)
                deadline = time.time() + 5
                while len(added) < 3 and time.time() < deadline:
                    time.sleep(0.001)
                at_start = len(added)
                ids = []
                r = self.S.get(org.users + "?" + urllib.parse.urlencode({"limit": 5, "sort": sort}),
                               token=tok)
                while True:
                    if r.status != 200:
                        errors.append(r)
                        break
                    ids.extend(u["id"] for u in r.body)
                    nxt = next_link(r)
                    if not nxt:
                        break
                    time.sleep(0.01)
                    r = self.S.follow(nxt, tok)
                results[sort] = ids
                overlap[sort] = len(added) - at_start
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=inserter)] + [
            threading.Thread(target=walker, args=(s,)) for s in ("created_at", "email", "-created_at", "last_name")]
        for t in threads:
            t.start()
        for t in threads[1:]:
            t.join(60)
        stop.set()
        threads[0].join(60)
        self.assertEqual(errors, [])
        self.assertGreater(len(added), 0)
        for sort, ids in results.items():
            with self.subTest(sort=sort):
                dups = {i for i in ids if ids.count(i) > 1}
                self.assertEqual(dups, set(), "duplicates while paging with sort=%s" % sort)
                missing = pre_set - set(ids)
                self.assertEqual(missing, set(), "pre-existing users missed with sort=%s" % sort)
                unknown = set(ids) - pre_set - set(added)
                self.assertEqual(unknown, set())
        self.assertEqual(results["created_at"][: self.PRE], pre)
        self.assertEqual(len(results), 4)
        for sort, n in overlap.items():
            self.assertGreater(n, 0, "no user was added while walking with sort=%s" % sort)


if __name__ == "__main__":
    unittest.main()


class DeletedAndAttentionFilterTest(ApiTestCase):
    """deleted=true|false and needs_attention=true|false on GET /users and its export."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Attention Filter Org")
        cls.tok = cls.org.token("admin")
        cls.org2 = cls.S.org_create("Attention Trigger Org")
        cls.tok2 = cls.org2.token("admin")
        cls.ids = {}
        recent = (datetime.datetime.now(datetime.timezone.utc)
                  - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        # name: (devices [(is_authenticated, optimization)], deleted)
        plan = {"unauth": ([(False, True)], False), "healthy": ([(True, True)], False),
                "optoff": ([(True, False), (True, True)], False), "none": ([], False),
                "gone_unauth": ([(False, True)], True), "gone_healthy": ([(True, True)], True),
                "devdeleted": ([(False, True)], False)}
        for name, (devices, deleted) in plan.items():
            r = cls.S.request("POST", cls.org.users, body={"email": unique_email(name), "last_name": name},
                              token=cls.tok)
            assert r.status == 201, r
            uid = r.body["id"]
            cls.ids[name] = uid
            for auth, opt in devices:
                d = cls.S.request("POST", cls.org.user_path(uid) + "/heat-pumps",
                                  body={"is_authenticated": auth, "is_smart_optimization_active": opt,
                                        "current_state_last_updated_at": recent}, token=cls.tok)
                assert d.status == 201, d
                if name == "devdeleted":  # its only device, deleted: it no longer counts
                    x = cls.S.request("DELETE", cls.org.user_path(uid) + "/heat-pumps/" + d.body["id"],
                                      token=cls.tok)
                    assert x.status == 204, x
            if deleted:
                x = cls.S.request("DELETE", cls.org.user_path(uid), token=cls.tok)
                assert x.status == 204, x

    def names(self, **params):
        r = self.list_users(self.org, limit=1000, **params)
        self.assertEqual(r.status, 200, r)
        inv = {v: k for k, v in self.ids.items()}
        got = sorted(inv[u["id"]] for u in r.body if u["id"] in inv)  # other tests add users of their own
        self.assertEqual(int(r.headers.get("X-Total-Count")), len(r.body))
        return got

    def test_deleted_true_lists_only_deleted_users(self):
        self.assertEqual(self.names(deleted="true"), ["gone_healthy", "gone_unauth"])

    def test_deleted_false_lists_only_live_users_like_the_default(self):
        self.assertEqual(self.names(deleted="false"), self.names())
        self.assertNotIn("gone_unauth", self.names(deleted="false"))

    def test_needs_attention_true_lists_live_users_with_a_live_device_needing_attention(self):
        self.assertEqual(self.names(needs_attention="true"), ["optoff", "unauth"])

    def test_needs_attention_false_lists_the_others(self):
        self.assertEqual(self.names(needs_attention="false"), ["devdeleted", "healthy", "none"])

    def test_filters_combine_with_deleted_role_and_search(self):
        self.assertEqual(self.names(needs_attention="true", deleted="true"), ["gone_unauth"])
        self.assertEqual(self.names(needs_attention="true", include_deleted="true"),
                         ["gone_unauth", "optoff", "unauth"])
        self.assertEqual(self.names(needs_attention="true", search="unauth"), ["unauth"])
        self.assertEqual(self.names(needs_attention="true", role="admin"), [])

    def test_total_count_with_a_short_page(self):
        r = self.list_users(self.org, limit=1, needs_attention="true")
        self.assertEqual(len(r.body), 1)
        self.assertEqual(r.headers.get("X-Total-Count"), "2")
        self.assertIn("needs_attention=true", next_link(r))

    # the trigger-kept counts, in an org of their own (the filters' tests above count theirs)
    def attention_ids(self, **params):
        r = self.list_users(self.org2, token=self.tok2, limit=1000, needs_attention="true", **params)
        self.assertEqual(r.status, 200, r)
        return {u["id"] for u in r.body}

    def new_user_with_device(self, opt):
        u = self.create_user(self.org2, token=self.tok2, email=unique_email("attn"))
        d = self.S.request("POST", self.org2.user_path(u["id"]) + "/heat-pumps",
                           body={"is_authenticated": True, "is_smart_optimization_active": opt,
                                 "current_state_last_updated_at": self.recent()}, token=self.tok2)
        self.assertEqual(d.status, 201, d)
        return u["id"], d.body["id"]

    @staticmethod
    def recent():
        return (datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def test_a_device_that_stops_or_starts_needing_attention_moves_its_user(self):
        uid, did = self.new_user_with_device(opt=False)
        self.assertIn(uid, self.attention_ids())
        path = self.org2.user_path(uid) + "/heat-pumps/" + did
        r = self.S.request("PUT", path, body={"is_smart_optimization_active": True}, token=self.tok2)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(uid, self.attention_ids())
        r = self.S.request("PUT", path, body={"is_smart_optimization_active": False}, token=self.tok2)
        self.assertEqual(r.status, 200, r)
        self.assertIn(uid, self.attention_ids())
        # a second device needing attention, then the first deleted: still listed, then not
        d2 = self.S.request("POST", self.org2.user_path(uid) + "/electric-vehicles",
                            body={"is_authenticated": False}, token=self.tok2)
        self.assertEqual(d2.status, 201, d2)
        self.assertEqual(self.S.request("DELETE", path, token=self.tok2).status, 204)
        self.assertIn(uid, self.attention_ids())
        self.assertEqual(self.S.request("DELETE", self.org2.user_path(uid) + "/electric-vehicles/" + d2.body["id"],
                                        token=self.tok2).status, 204)
        self.assertNotIn(uid, self.attention_ids())

    def test_a_migration_moves_the_attention_to_the_new_user(self):
        uid, _ = self.new_user_with_device(opt=False)
        r = self.S.request("POST", self.org2.user_path(uid) + "/migration", body={}, token=self.tok2)
        self.assertEqual(r.status, 201, r)
        new_id = r.body["new_user_id"]
        ids = self.attention_ids(include_deleted="true")
        self.assertIn(new_id, ids)
        self.assertNotIn(uid, ids)

    def test_a_non_ascii_search_with_the_filter_matches_too(self):
        # ASCII terms walk the few users needing attention; others take the term's index
        u = self.create_user(self.org2, token=self.tok2, email=unique_email("umlaut"), last_name="Jürgensen")
        d = self.S.request("POST", self.org2.user_path(u["id"]) + "/heat-pumps",
                           body={"is_smart_optimization_active": False}, token=self.tok2)
        self.assertEqual(d.status, 201, d)
        for term in ("JÜRGEN", "ürg", "jürgensen"):
            with self.subTest(term=term):
                self.assertEqual(self.attention_ids(search=term), {u["id"]})
        self.assertEqual(self.attention_ids(search="rgense"), {u["id"]})
        self.assertEqual(self.attention_ids(search="Jurgen"), set())

    def test_bad_values_and_the_deleted_include_deleted_combination_are_400(self):
        for q, field in (("needs_attention=maybe", "needs_attention"), ("deleted=2", "deleted"),
                         ("deleted=true&include_deleted=true", "deleted")):
            with self.subTest(q=q):
                self.assertProblem(self.S.get(self.org.users + "?" + q, token=self.tok), 400, field)

    def test_the_export_takes_the_same_filters(self):
        r = self.S.get(self.org.users + "/export?format=jsonl&needs_attention=true", token=self.tok)
        self.assertEqual(r.status, 200, r)
        got = sorted(json.loads(line)["id"] for line in r.raw.decode().splitlines() if line)
        self.assertEqual(got, sorted([self.ids["unauth"], self.ids["optoff"]]))


class AttentionCountCapTest(OwnServerTestCase):
    """With needs_attention the total is counted up to a cap (10,000; 3 here through the
    FLEETDESK_COUNT_CAP test hook of the ASan build), then says so; count_limit lowers it."""

    ENV = {"FLEETDESK_COUNT_CAP": "3"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create("Count Cap Org")
        cls.tok = cls.org.token("admin")
        for i in range(5):
            u = cls.S.request("POST", cls.org.users, body={"email": unique_email("cap"), "last_name": "Capper"},
                              token=cls.tok)
            assert u.status == 201, u
            d = cls.S.request("POST", cls.org.user_path(u.body["id"]) + "/heat-pumps",
                              body={"is_smart_optimization_active": False}, token=cls.tok)
            assert d.status == 201, d

    def test_the_attention_total_stops_at_the_cap_and_says_so(self):
        for params in ({}, {"search": "capper"}, {"search": "ca"}):
            with self.subTest(**params):
                r = self.list_users(self.org, token=self.tok, limit=1, needs_attention="true", **params)
                self.assertEqual(r.status, 200, r)
                self.assertEqual((r.headers.get("X-Total-Count"), r.headers.get("X-Total-Count-Capped")),
                                 ("3", "true"))
                items, _ = self.walk(self.org, token=self.tok, limit=2, needs_attention="true", **params)
                self.assertEqual(len(items), 5)  # paging is not capped

    def test_a_first_page_holding_every_match_is_exact_and_count_limit_lowers_the_cap(self):
        r = self.list_users(self.org, token=self.tok, limit=10, needs_attention="true")
        self.assertEqual((r.headers.get("X-Total-Count"), r.headers.get("X-Total-Count-Capped")), ("5", None))
        r = self.list_users(self.org, token=self.tok, limit=1, needs_attention="true", count_limit=2)
        self.assertEqual((r.headers.get("X-Total-Count"), r.headers.get("X-Total-Count-Capped")), ("2", "true"))
