"""Rate limiting: a token bucket per credential (serve --rate-limit N
--rate-burst B), the RateLimit-Policy and RateLimit headers on every
authenticated reply, 429 with Retry-After, bulk items weighing one request
each, --rate-limit 0, the defaults, the command line; and the throttling of
failed OAuth2 token exchanges per client and per address.

Every class runs a server of its own (with its own flags), so that the
address-wide throttle of failed token exchanges in one class cannot reach
another."""

import os
import re
import secrets
import shutil
import tempfile
import time
import unittest

import harness
from harness import ApiTestCase, unique_email

POLICY_RE = re.compile(r'^"per-credential";q=(\d+);w=(\d+)$')
RATELIMIT_RE = re.compile(r'^"per-credential";r=(\d+);t=(\d+)$')
TOO_MANY = "urn:fleetdesk:problem:too_many_requests"
GRANT = {"grant_type": "client_credentials"}


class OwnServerCase(ApiTestCase):
    """A class with a server of its own, started with SERVE_ARGS; it must stop with status 0."""

    SERVE_ARGS = ()

    @classmethod
    def setUpClass(cls):
        s = harness.Server()
        try:
            s.start(list(cls.SERVE_ARGS))
        except BaseException:
            s.stop()
            s.cleanup()
            raise
        cls.S = s
        cls.org = s.org_create("Rate " + secrets.token_hex(3))

    @classmethod
    def tearDownClass(cls):
        code = cls.S.stop()
        tail = cls.S.stderr_tail()
        cls.S.cleanup()
        assert code == 0, "server exit status %r\n%s" % (code, tail)

    # ---- helpers -------------------------------------------------------------------
    def fresh_token(self, role="admin"):
        """A token never used yet: its bucket is full."""
        return self.S.token_create(self.org.id, role, "%s-%s" % (role, secrets.token_hex(4)))

    def bulk_creates(self, n, prefix="bulk"):
        return {"items": [{"op": "create", "data": {"email": unique_email(prefix)}} for _ in range(n)]}

    def emails(self, bulk):
        return [it["data"]["email"] for it in bulk["items"]]

    def stored_emails(self):
        """Every email of the org, read with a token of its own (so that checking
        never spends the bucket of the token under test)."""
        r = self.S.get(self.org.users + "?include_deleted=true&limit=1000", token=self.fresh_token())
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(harness.next_link(r), "more than one page")
        return {u["email"] for u in r.body}

    def assertStored(self, emails, stored=True):
        have = self.stored_emails()
        for email in emails:
            self.assertEqual(email in have, stored, "%s stored: %s" % (email, email in have))

    def assertNoRateHeaders(self, r):
        self.assertIsNone(r.headers.get("RateLimit"), r)
        self.assertIsNone(r.headers.get("RateLimit-Policy"), r)

    def policy(self, r):
        """(q, w) of RateLimit-Policy."""
        v = r.headers.get("RateLimit-Policy")
        self.assertIsNotNone(v, r)
        self.assertEqual(len(r.headers.get_all("RateLimit-Policy")), 1, r)
        m = POLICY_RE.match(v)
        self.assertTrue(m, "RateLimit-Policy %r" % v)
        return int(m.group(1)), int(m.group(2))

    def ratelimit(self, r):
        """(r, t) of RateLimit; RateLimit-Policy must be there too."""
        self.policy(r)
        v = r.headers.get("RateLimit")
        self.assertIsNotNone(v, r)
        self.assertEqual(len(r.headers.get_all("RateLimit")), 1, r)
        m = RATELIMIT_RE.match(v)
        self.assertTrue(m, "RateLimit %r" % v)
        return int(m.group(1)), int(m.group(2))

    def retry_after(self, r):
        v = r.headers.get("Retry-After")
        self.assertIsNotNone(v, r)
        self.assertRegex(v, r"^\d+$")
        self.assertGreaterEqual(int(v), 1, r)
        return int(v)

    def assertTooMany(self, r):
        self.assertProblem(r, 429)
        self.assertEqual(r.body["type"], TOO_MANY, r)
        return self.retry_after(r)

    def drain(self, token, limit=40):
        """GETs until a 429; returns (number of 200s before it, the 429)."""
        ok = 0
        for _ in range(limit):
            r = self.S.get(self.org.users + "?limit=1", token=token)
            if r.status == 429:
                return ok, r
            self.assertEqual(r.status, 200, r)
            ok += 1
        self.fail("no 429 after %d requests" % limit)


class LimitedTest(OwnServerCase):
    """--rate-limit 2 --rate-burst 10: q=10, w=ceil(10/2)=5."""

    RATE, BURST = 2, 10
    SERVE_ARGS = ("--rate-limit", "2", "--rate-burst", "10")

    def test_a_fresh_credential_sees_the_policy_and_what_is_left(self):
        tok = self.fresh_token()
        r = self.S.get(self.org.users, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("RateLimit-Policy"), '"per-credential";q=10;w=5')
        self.assertEqual(self.ratelimit(r), (9, 1))
        prev = 9
        for _ in range(4):
            r = self.S.get(self.org.users, token=tok)
            self.assertEqual(r.status, 200, r)
            left, t = self.ratelimit(r)
            self.assertIn(left, (prev - 1, prev), "r went from %d to %d" % (prev, left))
            self.assertGreaterEqual(t, 1)
            self.assertLessEqual(t, 5)
            prev = left
        self.assertLessEqual(prev, 8)

    def test_writes_count_like_reads(self):
        tok = self.fresh_token()
        r = self.S.request("POST", self.org.users, body={"email": unique_email("w")}, token=tok)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.ratelimit(r)[0], 9)
        r = self.S.request("PUT", self.org.user_path(r.body["id"]), body={"town": "Graz"}, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertIn(self.ratelimit(r)[0], (7, 8))
        r = self.S.request("DELETE", self.org.user_path(r.body["id"]), token=tok)
        self.assertEqual(r.status, 204, r)
        self.assertIn(self.ratelimit(r)[0], (6, 7, 8))

    def test_error_replies_carry_the_headers(self):
        setup = self.fresh_token()
        u = self.create_user(self.org, token=setup)
        path = self.org.user_path(u["id"])
        stale = self.S.get(path, token=setup).headers["ETag"]
        r = self.S.request("PUT", path, body={"town": "Linz"}, token=setup)
        self.assertEqual(r.status, 200, r)
        etag = r.headers["ETag"]
        self.assertNotEqual(etag, stale)
        other_org = self.S.org_create()
        cases = [
            ("404 unknown user", 404, "admin", lambda t: self.S.get(
                self.org.user_path("00000000-0000-4000-8000-000000000000"), token=t)),
            ("404 other org", 404, "admin", lambda t: self.S.get(other_org.users, token=t)),
            ("403 viewer write", 403, "viewer", lambda t: self.S.request(
                "POST", self.org.users, body={"email": unique_email()}, token=t)),
            ("403 integration read", 403, "integration", lambda t: self.S.get(self.org.users, token=t)),
            ("422 bad email", 422, "admin", lambda t: self.S.request(
                "POST", self.org.users, body={"email": "x"}, token=t)),
            ("409 taken email", 409, "admin", lambda t: self.S.request(
                "POST", self.org.users, body={"email": u["email"]}, token=t)),
            ("400 bad json", 400, "admin", lambda t: self.S.request(
                "POST", self.org.users, raw="{", token=t)),
            ("415 media type", 415, "admin", lambda t: self.S.request(
                "POST", self.org.users, raw="email=x", token=t, content_type="text/plain")),
            ("412 stale if-match", 412, "admin", lambda t: self.S.request(
                "PUT", path, body={"town": "X"}, token=t, headers={"If-Match": stale})),
            ("304 not modified", 304, "admin", lambda t: self.S.get(
                path, token=t, headers={"If-None-Match": etag})),
            ("400 bad idempotency key", 400, "admin", lambda t: self.S.request(
                "POST", self.org.users, body={"email": unique_email()}, token=t,
                headers={"Idempotency-Key": "bad key"})),
        ]
        for name, status, role, call in cases:
            with self.subTest(case=name):
                r = call(self.fresh_token(role))
                self.assertEqual(r.status, status, r)
                self.assertEqual(self.policy(r), (10, 5))
                self.assertEqual(self.ratelimit(r), (9, 1))

    def test_401_and_unauthenticated_routes_carry_no_headers(self):
        cases = [
            ("no token", self.S.get(self.org.users)),
            ("unknown token", self.S.get(self.org.users, token="nope-" + secrets.token_hex(8))),
            ("basic instead of bearer", self.S.get(self.org.users, basic=("a", "b"))),
            ("healthz", self.S.get("/healthz")),
            ("openapi", self.S.get(harness.API + "/openapi.json")),
        ]
        for name, r in cases:
            with self.subTest(case=name):
                if name.startswith(("no", "unknown", "basic")):
                    self.assertProblem(r, 401)
                else:
                    self.assertEqual(r.status, 200, r)
                self.assertNoRateHeaders(r)

    def test_over_the_limit_is_429_problem_with_retry_after_and_applies_nothing(self):
        tok = self.fresh_token()
        started = time.monotonic()
        created = 0
        for _ in range(40):
            email = unique_email("flood")
            r = self.S.request("POST", self.org.users, body={"email": email}, token=tok)
            if r.status == 429:
                break
            self.assertEqual(r.status, 201, r)
            created += 1
        else:
            self.fail("no 429 after 40 requests")
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(created, 10)
        self.assertLessEqual(created, 10 + int(elapsed * self.RATE) + 1)
        ra = self.assertTooMany(r)
        self.assertLessEqual(ra, 5, "one request comes back in 1/rate seconds")
        self.assertEqual(self.ratelimit(r)[0], 0)
        self.assertStored([email], False)
        time.sleep(ra)
        r = self.S.request("POST", self.org.users, body={"email": email}, token=tok)
        self.assertEqual(r.status, 201, r)
        self.assertStored([email], True)

    def test_after_retry_after_a_request_succeeds(self):
        tok = self.fresh_token()
        ok, r = self.drain(tok)
        self.assertGreaterEqual(ok, 10)
        ra = self.assertTooMany(r)
        time.sleep(ra)
        r = self.S.get(self.org.users, token=tok)
        self.assertEqual(r.status, 200, r)
        self.ratelimit(r)

    def test_a_keyed_post_refused_with_429_keeps_no_key(self):
        tok = self.fresh_token()
        for _ in range(40):
            body, key = {"email": unique_email("keyed")}, "rl-" + secrets.token_hex(8)
            r = self.S.request("POST", self.org.users, body=body, token=tok, headers={"Idempotency-Key": key})
            if r.status == 429:
                break
            self.assertEqual(r.status, 201, r)
        else:
            self.fail("no 429 after 40 requests")
        ra = self.assertTooMany(r)
        self.assertStored([body["email"]], False)
        time.sleep(ra)
        first = self.S.request("POST", self.org.users, body=body, token=tok, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        self.assertIsNone(first.headers.get("Idempotent-Replayed"), first)
        self.assertStored([body["email"]], True)
        # the replay is an authenticated reply too: it carries the headers
        again = self.S.request("POST", self.org.users, body=body, token=tok, headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true", again)
        self.assertEqual(again.raw, first.raw)
        self.ratelimit(again)

    def test_buckets_are_per_credential(self):
        tok_a, tok_b = self.fresh_token(), self.fresh_token()
        ok, r = self.drain(tok_a)
        self.assertTooMany(r)
        r = self.S.get(self.org.users, token=tok_b)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ratelimit(r)[0], 9, "the second token's bucket was touched")
        # and the second token of the same org may write while the first is limited
        email = unique_email("other")
        r = self.S.request("POST", self.org.users, body={"email": email}, token=tok_b)
        self.assertEqual(r.status, 201, r)

    def test_a_bulk_weighs_one_request_per_item(self):
        tok = self.fresh_token()
        first = self.bulk_creates(8, "eight")
        r = self.S.request("POST", self.org.users + "/bulk", body=first, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["succeeded"], 8, r)
        self.assertEqual(self.ratelimit(r)[0], 2)
        second = self.bulk_creates(5, "five")
        r = self.S.request("POST", self.org.users + "/bulk", body=second, token=tok)
        self.assertTooMany(r)
        self.ratelimit(r)
        self.assertStored(self.emails(first), True)
        self.assertStored(self.emails(second), False)

    def test_a_bulk_of_exactly_the_burst_is_admitted_with_a_full_bucket(self):
        tok = self.fresh_token()
        body = self.bulk_creates(10, "ten")
        r = self.S.request("POST", self.org.users + "/bulk", body=body, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["succeeded"], 10, r)
        self.assertEqual(self.ratelimit(r)[0], 0)

    # Regression: a request never weighs more than the burst, so a full bucket admits it.
    def test_a_bulk_larger_than_the_burst_is_admitted_with_a_full_bucket(self):
        tok = self.fresh_token()
        body = self.bulk_creates(12, "twelve")
        r = self.S.request("POST", self.org.users + "/bulk", body=body, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["succeeded"], 12, r)
        self.assertStored(self.emails(body), True)

    def test_a_bulk_larger_than_the_burst_is_refused_without_a_full_bucket(self):
        tok = self.fresh_token()
        for _ in range(3):  # 7 left: refilling takes 1.5 s
            self.assertEqual(self.S.get(self.org.users, token=tok).status, 200)
        body = self.bulk_creates(12, "notfull")
        r = self.S.request("POST", self.org.users + "/bulk", body=body, token=tok)
        self.assertTooMany(r)
        self.assertStored(self.emails(body), False)


class RoundedWindowTest(OwnServerCase):
    """--rate-limit 3 --rate-burst 10: w = ceil(10/3) = 4, so a client pacing at q/w (2.5 a second) stays under 3."""

    SERVE_ARGS = ("--rate-limit", "3", "--rate-burst", "10")

    def test_a_fresh_credential_has_r_9(self):
        r = self.S.get(self.org.users, token=self.fresh_token())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.policy(r)[0], 10)
        self.assertEqual(self.ratelimit(r), (9, 1))

    def test_policy_window_is_burst_over_rate_rounded_up(self):
        r = self.S.get(self.org.users, token=self.fresh_token())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("RateLimit-Policy"), '"per-credential";q=10;w=4')


class SlowRefillTest(OwnServerCase):
    """--rate-limit 1 --rate-burst 10: one request a second comes back."""

    SERVE_ARGS = ("--rate-limit", "1", "--rate-burst", "10")

    def test_a_refused_bulk_applies_nothing(self):
        tok = self.fresh_token()
        first = self.bulk_creates(8, "slow8")
        r = self.S.request("POST", self.org.users + "/bulk", body=first, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ratelimit(r)[0], 2)
        second = self.bulk_creates(5, "slow5")
        r = self.S.request("POST", self.org.users + "/bulk", body=second, token=tok)
        self.assertTooMany(r)
        self.assertStored(self.emails(second), False)

    # Regression: a refused request costs nothing, and Retry-After is for its whole weight.
    def test_a_refused_bulk_retried_after_retry_after_succeeds(self):
        tok = self.fresh_token()
        first = self.bulk_creates(8, "ra8")
        r = self.S.request("POST", self.org.users + "/bulk", body=first, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ratelimit(r)[0], 2)
        time.sleep(0.7)  # the bucket holds about 2.7 requests
        second = self.bulk_creates(5, "ra5")
        r = self.S.request("POST", self.org.users + "/bulk", body=second, token=tok)
        ra = self.assertTooMany(r)
        time.sleep(ra)
        r = self.S.request("POST", self.org.users + "/bulk", body=second, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["succeeded"], 5, r)


class NoLimitTest(OwnServerCase):
    """--rate-limit 0 turns the limit off (even with a burst of 1)."""

    SERVE_ARGS = ("--rate-limit", "0", "--rate-burst", "1")

    def test_no_headers_and_no_429(self):
        tok = self.fresh_token()
        for i in range(30):
            r = self.S.get(self.org.users + "?limit=1", token=tok)
            self.assertEqual(r.status, 200, (i, r))
            self.assertNoRateHeaders(r)
        r = self.S.get(self.org.user_path("00000000-0000-4000-8000-000000000000"), token=tok)
        self.assertProblem(r, 404)
        self.assertNoRateHeaders(r)

    def test_bulks_are_not_limited(self):
        tok = self.fresh_token()
        for _ in range(3):
            body = self.bulk_creates(20, "nolimit")
            r = self.S.request("POST", self.org.users + "/bulk", body=body, token=tok)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body["succeeded"], 20, r)
            self.assertNoRateHeaders(r)


class TokenExchangeCase(OwnServerCase):
    def exchange(self, client_id, secret):
        return self.S.request("POST", "/oauth2/token/", body=GRANT, basic=(client_id, secret))

    def assertExchanged(self, r):
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body.get("access_token"), str, r)
        self.assertEqual(r.body.get("token_type"), "Bearer", r)
        self.S.secrets.append(r.body["access_token"])
        return r.body["access_token"]

    def assertRefused(self, r):
        self.assertProblem(r, 401)
        self.assertEqual(r.body.get("error"), "invalid_client", r)
        self.assertNotIn("access_token", r.body)

    def assertThrottled(self, r):
        ra = self.assertTooMany(r)
        self.assertNotIn("access_token", r.body)
        return ra

    def new_client(self):
        c = self.S.client_create(self.org.id)
        return c["client_id"], c["client_secret"]


class DefaultsAndAccountThrottleTest(TokenExchangeCase):
    """A server without rate flags: q=1000, w=10; failed token exchanges per client."""

    def test_default_policy_is_1000_over_10_seconds(self):
        r = self.S.get(self.org.users, token=self.fresh_token())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("RateLimit-Policy"), '"per-credential";q=1000;w=10')
        self.assertEqual(self.ratelimit(r), (999, 1))

    def test_an_exchanged_access_token_is_limited_too(self):
        cid, secret = self.new_client()
        tok = self.assertExchanged(self.exchange(cid, secret))
        r = self.S.get(self.org.users, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.policy(r), (1000, 10))
        left, _ = self.ratelimit(r)
        self.assertLess(left, 1000)

    def test_ten_failures_lock_the_client_and_not_another(self):
        cid, secret = self.new_client()
        other = self.new_client()
        for i in range(10):
            with self.subTest(attempt=i + 1):
                self.assertRefused(self.exchange(cid, secret + "x"))
        ra = self.assertThrottled(self.exchange(cid, secret))
        self.assertGreaterEqual(ra, 1)
        self.assertThrottled(self.exchange(cid, secret + "x"))
        # another client of the same org is not affected
        tok = self.assertExchanged(self.exchange(*other))
        self.assertEqual(self.S.get(self.org.users, token=tok).status, 200)
        # and the locked one is still locked
        self.assertThrottled(self.exchange(cid, secret))

    def test_a_success_clears_the_clients_failures(self):
        cid, secret = self.new_client()
        for i in range(9):
            self.assertRefused(self.exchange(cid, "wrong-%d" % i))
        self.assertExchanged(self.exchange(cid, secret))
        for i in range(9):
            with self.subTest(attempt=i + 1):
                self.assertRefused(self.exchange(cid, "wrong-again-%d" % i))
        self.assertExchanged(self.exchange(cid, secret))


class AddressThrottleTest(TokenExchangeCase):
    """50 failed exchanges from one address (127.0.0.1) lock every client from it."""

    def test_fifty_failures_from_one_address_lock_every_client(self):
        good = self.new_client()
        for i in range(30):
            with self.subTest(attempt=i + 1):
                self.assertRefused(self.exchange("ghost-" + secrets.token_hex(6), "secret"))
        # 30 failures of other ids do not touch a good client yet
        self.assertExchanged(self.exchange(*good))
        for i in range(30, 50):
            with self.subTest(attempt=i + 1):
                self.assertRefused(self.exchange("ghost-" + secrets.token_hex(6), "secret"))
        self.assertThrottled(self.exchange(*good))
        self.assertThrottled(self.exchange(*self.new_client()))
        self.assertThrottled(self.exchange("ghost-" + secrets.token_hex(6), "secret"))
        # the bearer API itself is not throttled by failed exchanges
        self.assertEqual(self.S.get(self.org.users, token=self.org.token("admin")).status, 200)


class CommandLineTest(unittest.TestCase):
    """Bad --rate-limit / --rate-burst values: exit status 2 and a usage message."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleetdesk-rl-cli-")
        cls.db = os.path.join(cls.tmp, "rl.db")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def serve(self, *args):
        return harness.run_cli(["serve", "--listen", "127.0.0.1:%d" % harness.free_port()] + list(args),
                               db=self.db, timeout=15)

    def test_bad_values_exit_2_with_a_usage_message(self):
        cases = [
            (("--rate-limit", "abc"), "--rate-limit"),
            (("--rate-limit", "-1"), "--rate-limit"),
            (("--rate-limit", "1.5"), "--rate-limit"),
            (("--rate-limit", ""), "--rate-limit"),
            (("--rate-burst", "0"), "--rate-burst"),
            (("--rate-burst", "abc"), "--rate-burst"),
            (("--rate-burst", "-5"), "--rate-burst"),
            (("--rate-limit", "5", "--rate-burst", "0"), "--rate-burst"),
        ]
        for args, names in cases:
            with self.subTest(args=args):
                p = self.serve(*args)
                self.assertEqual(p.returncode, 2, "%s -> %d\n%s" % (args, p.returncode, p.stderr))
                self.assertEqual(p.stdout, "")
                err = p.stderr.strip()
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn(names, err)
                self.assertIn("serve", err)

    def test_serve_help_documents_the_flags(self):
        p = harness.run_cli(["serve", "--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout + p.stderr
        self.assertIn("--rate-limit", out)
        self.assertIn("--rate-burst", out)


if __name__ == "__main__":
    unittest.main()
