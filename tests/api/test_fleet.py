"""The org-wide fleet view (GET /org/{org}/devices, /devices/counts) and the
consumption comparison (GET .../{type}/{id}/consumption-comparison), on a
server of their own so every count is exact."""

import datetime
import itertools
import math
import time
import urllib.parse
import uuid

import harness
from harness import API, OwnServerTestCase, fmt_ts, next_link

TYPES = ("heat-pumps", "electric-vehicles", "inverters")
TYPE_KEYS = {"heat-pumps": "heat_pumps", "electric-vehicles": "electric_vehicles", "inverters": "inverters"}
BOOLS = (None, True, False)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def ago(**kw):
    return fmt_ts(utcnow() - datetime.timedelta(**kw))


def hour_start(hours_back):
    t = utcnow().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=hours_back)
    return fmt_ts(t)


# The fleet: (type, authenticated, optimization active, last state) with last
# state "recent" (minutes ago), "old" (hours ago) or None (never reported).
FLEET = [
    ("heat-pumps", True, True, "recent"),            # healthy
    ("heat-pumps", False, True, "recent"),           # not_authenticated
    ("heat-pumps", True, False, "recent"),           # optimization_off
    ("electric-vehicles", True, True, "old"),        # stale
    ("electric-vehicles", False, True, None),        # not_authenticated, stale
    ("electric-vehicles", True, True, "recent"),     # healthy
    ("inverters", True, False, "old"),               # optimization_off, stale
    ("inverters", True, True, "recent"),             # healthy
    ("inverters", False, False, "recent"),           # not_authenticated, optimization_off
    ("heat-pumps", False, False, "old"),             # all three
    ("inverters", True, True, None),                 # stale (never reported)
]


def attention_of(auth, opt, last):
    a = []
    if not auth:
        a.append("not_authenticated")
    if not opt:
        a.append("optimization_off")
    if last != "recent":
        a.append("stale")
    return a


def pct(sorted_v, q):
    """numpy.percentile(v, 100 * q) with the default linear interpolation."""
    pos = q * (len(sorted_v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_v) - 1)
    return sorted_v[lo] + (sorted_v[hi] - sorted_v[lo]) * (pos - lo)


def rank(values, x):
    below = sum(1 for v in values if v < x)
    ties = sum(1 for v in values if v == x)
    return 100.0 * (below + 0.5 * ties) / len(values)


class FleetTest(OwnServerTestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create("Fleet Org")
        cls.admin = cls.org.token("admin")
        cls.devices_path = "%s/org/%s/devices" % (API, cls.org.id)
        users = []
        for _ in range(2):
            r = cls.S.request("POST", cls.org.users, body={"email": harness.unique_email("fleet")},
                              token=cls.admin)
            assert r.status == 201, r
            users.append(r.body["id"])
        cls.users = users
        cls.expected = []        # (id, type, attention) in creation order
        for i, (dtype, auth, opt, last) in enumerate(FLEET):
            body = {"is_authenticated": auth, "is_smart_optimization_active": opt}
            if last == "recent":
                body["current_state_last_updated_at"] = ago(minutes=5 + i)
            elif last == "old":
                body["current_state_last_updated_at"] = ago(hours=3 + i)
            r = cls.S.request("POST", "%s/%s" % (cls.org.user_path(users[i % 2]), dtype), body=body,
                              token=cls.admin)
            assert r.status == 201, r
            cls.expected.append((r.body["id"], dtype, attention_of(auth, opt, last)))
        # a deleted healthy heat pump: never listed, never counted
        r = cls.S.request("POST", "%s/heat-pumps" % cls.org.user_path(users[0]),
                          body={"is_authenticated": True, "current_state_last_updated_at": ago(minutes=1)},
                          token=cls.admin)
        assert r.status == 201, r
        cls.deleted_id = r.body["id"]
        r = cls.S.request("DELETE", "%s/heat-pumps/%s" % (cls.org.user_path(users[0]), cls.deleted_id),
                          token=cls.admin)
        assert r.status == 204, r
        # another org with devices of every kind
        cls.other = cls.S.org_create("Other Org")
        r = cls.S.request("POST", cls.other.users, body={"email": harness.unique_email("other")},
                          token=cls.other.token("admin"))
        assert r.status == 201, r
        cls.other_ids = []
        for dtype, auth, opt, last in FLEET[:6]:
            body = {"is_authenticated": auth, "is_smart_optimization_active": opt}
            if last:
                body["current_state_last_updated_at"] = ago(minutes=3)
            rr = cls.S.request("POST", "%s/%s" % (cls.other.user_path(r.body["id"]), dtype), body=body,
                               token=cls.other.token("admin"))
            assert rr.status == 201, rr
            cls.other_ids.append(rr.body["id"])

    # ---- helpers
    def model(self, type=None, authenticated=None, stale=None, optimization_active=None, needs_attention=None):
        out = []
        for did, dtype, att in self.expected:
            if type is not None and dtype != type:
                continue
            if authenticated is not None and ("not_authenticated" not in att) != authenticated:
                continue
            if stale is not None and ("stale" in att) != stale:
                continue
            if optimization_active is not None and ("optimization_off" not in att) != optimization_active:
                continue
            if needs_attention is not None and bool(att) != needs_attention:
                continue
            out.append(did)
        return out

    @staticmethod
    def params(**filters):
        return {k: ("true" if v else "false") if isinstance(v, bool) else v
                for k, v in filters.items() if v is not None}

    def fleet(self, token=None, **params):
        q = urllib.parse.urlencode(params)
        return self.S.get(self.devices_path + ("?" + q if q else ""), token=token or self.admin)

    def walk_ids(self, **params):
        items, pages = self.walk(self.org, path=self.devices_path, **params)
        for p in pages:
            self.assertEqual(p.headers.get("X-Total-Count"), pages[0].headers.get("X-Total-Count"))
        return [d["id"] for d in items], int(pages[0].headers["X-Total-Count"]), pages

    # ---- list
    def test_unfiltered_list(self):
        r = self.fleet()
        self.assertEqual(r.status, 200, r)
        self.assertEqual([d["id"] for d in r.body], self.model())
        self.assertEqual(r.headers.get("X-Total-Count"), str(len(FLEET)))
        self.assertIsNone(next_link(r))
        self.assertNotIn(self.deleted_id, [d["id"] for d in r.body])

    def test_items_are_the_device_plus_type_and_attention(self):
        r = self.fleet()
        by_id = {d["id"]: d for d in r.body}
        for did, dtype, att in self.expected:
            item = by_id[did]
            self.assertEqual(item["device_type"], dtype)
            self.assertEqual(item["attention"], att, item)
            dev = self.S.get("%s/%s/%s" % (self.org.user_path(item["user_id"]), dtype, did), token=self.admin)
            self.assertEqual(dev.status, 200, dev)
            rest = {k: v for k, v in item.items() if k not in ("device_type", "attention", "user")}
            self.assertEqual(rest, dev.body)
            owner = self.S.get(self.org.user_path(item["user_id"]), token=self.admin).body
            self.assertEqual(item["user"], {k: owner.get(k) for k in ("email", "first_name", "last_name")})

    def test_every_filter_combination(self):
        """All combinations but the contradictory ones (needs_attention=false
        with a filter that asks for an attention bit: see the test below)."""
        n = 0
        for t, a, s, o, na in itertools.product((None,) + TYPES, BOOLS, BOOLS, BOOLS, BOOLS):
            if na is False and (a is False or s is True or o is False):
                continue
            f = dict(type=t, authenticated=a, stale=s, optimization_active=o, needs_attention=na)
            with self.subTest(**f):
                r = self.fleet(limit=1000, **self.params(**f))
                self.assertEqual(r.status, 200, r)
                want = self.model(**f)
                self.assertEqual([d["id"] for d in r.body], want)
                self.assertEqual(r.headers.get("X-Total-Count"), str(len(want)))
                n += 1
        self.assertGreater(n, 200)

    def test_user_id_narrows_to_one_users_devices_with_the_other_filters(self):
        for i, uid in enumerate(self.users):
            mine = [e for k, e in enumerate(self.expected) if k % 2 == i]
            for f in (dict(), dict(needs_attention=True), dict(type="heat-pumps"),
                      dict(authenticated=False, type="electric-vehicles"), dict(stale=True)):
                with self.subTest(user=i, **f):
                    r = self.fleet(limit=1000, user_id=uid, **self.params(**f))
                    self.assertEqual(r.status, 200, r)
                    want = [d for d in self.model(**f) if d in {e[0] for e in mine}]
                    self.assertEqual([d["id"] for d in r.body], want)
                    self.assertEqual(r.headers.get("X-Total-Count"), str(len(want)))
                    self.assertTrue(all(d["user_id"] == uid for d in r.body))

    def test_user_id_of_another_org_or_unknown_is_empty_and_a_non_uuid_is_400(self):
        other_user = self.S.get(self.other.users, token=self.other.token("admin")).body[0]["id"]
        for uid in (other_user, "00000000-0000-4000-8000-000000000000"):
            r = self.fleet(user_id=uid)
            self.assertEqual((r.status, r.body, r.headers.get("X-Total-Count")), (200, [], "0"))
        self.assertProblem(self.fleet(user_id="nope"), 400, "user_id")

    def test_needs_attention_false_with_a_contradicting_filter_is_empty(self):
        for f in (dict(authenticated=False), dict(stale=True), dict(optimization_active=False),
                  dict(authenticated=False, type="heat-pumps")):
            with self.subTest(**f):
                r = self.fleet(limit=1000, needs_attention="false", **self.params(**f))
                self.assertEqual(r.status, 200, r)
                self.assertEqual([d["id"] for d in r.body], [])
                self.assertEqual(r.headers.get("X-Total-Count"), "0")

    def test_paging_with_limit_2_visits_every_device_once(self):
        for f in (dict(), dict(needs_attention=True), dict(type="inverters"), dict(stale=True),
                  dict(type="heat-pumps", needs_attention=True), dict(authenticated=True, optimization_active=True),
                  dict(needs_attention=False)):
            with self.subTest(**f):
                ids, total, pages = self.walk_ids(limit=2, **self.params(**f))
                want = self.model(**f)
                self.assertEqual(ids, want)
                self.assertEqual(len(set(ids)), len(ids))
                self.assertEqual(total, len(want))
                self.assertEqual(len(pages), max(1, math.ceil(len(want) / 2)))
                for p in pages:
                    self.assertLessEqual(len(p.body), 2)
                    nxt = next_link(p)
                    if nxt:   # the filters travel with the cursor
                        q = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)
                        for k, v in self.params(**f).items():
                            self.assertEqual(q.get(k), [v], nxt)

    def test_bad_filter_values_400(self):
        for k, v in (("type", "heat_pumps"), ("type", "pumps"), ("type", ""), ("authenticated", "yes"),
                     ("stale", "2"), ("optimization_active", "TRUE"), ("needs_attention", ""),
                     ("limit", "0"), ("limit", "1001"), ("limit", "x"), ("cursor", "garbage")):
            with self.subTest(**{k: v}):
                r = self.fleet(**{k: v})
                self.assertProblem(r, 400)
                if k not in ("limit", "cursor"):
                    self.assertProblem(r, 400, k)

    def test_counts_match(self):
        r = self.S.get(self.devices_path + "/counts", token=self.admin)
        self.assertEqual(r.status, 200, r)

        def tally(rows):
            return {"total": len(rows),
                    "needs_attention": sum(1 for _, _, a in rows if a),
                    "not_authenticated": sum(1 for _, _, a in rows if "not_authenticated" in a),
                    "stale": sum(1 for _, _, a in rows if "stale" in a),
                    "optimization_off": sum(1 for _, _, a in rows if "optimization_off" in a)}
        want = tally(self.expected)
        want["by_type"] = {TYPE_KEYS[t]: tally([e for e in self.expected if e[1] == t]) for t in TYPES}
        self.assertEqual(r.body, want)
        # and each count is what the list says
        for key, f in (("needs_attention", dict(needs_attention="true")),
                       ("not_authenticated", dict(authenticated="false")),
                       ("stale", dict(stale="true")), ("optimization_off", dict(optimization_active="false"))):
            self.assertEqual(self.fleet(**f).headers.get("X-Total-Count"), str(r.body[key]))

    def test_viewer_reads_the_fleet_integration_and_anonymous_do_not(self):
        r = self.fleet(token=self.org.token("viewer"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), len(FLEET))
        # the fleet view is the team's: an integration reads devices, not the org's picture
        self.assertProblem(self.fleet(token=self.org.token("integration")), 403)
        self.assertProblem(self.S.get(self.devices_path + "/counts", token=self.org.token("integration")), 403)
        self.assertProblem(self.S.get(self.devices_path), 401)

    def test_other_org_isolation(self):
        mine = {d for d, _, _ in self.expected}
        for params in ({}, {"needs_attention": "true"}, {"type": "heat-pumps"}):
            r = self.S.get("%s/org/%s/devices?%s" % (API, self.other.id, urllib.parse.urlencode(params)),
                           token=self.other.token("admin"))
            self.assertEqual(r.status, 200, r)
            ids = {d["id"] for d in r.body}
            self.assertFalse(ids & mine)
            self.assertTrue(ids <= set(self.other_ids))
        r = self.S.get("%s/org/%s/devices/counts" % (API, self.other.id), token=self.other.token("admin"))
        self.assertEqual(r.body["total"], len(self.other_ids))
        # org B's token on org A's fleet: 404, as for an unknown org
        self.assertProblem(self.S.get(self.devices_path, token=self.other.token("admin")), 404)
        self.assertProblem(self.S.get(self.devices_path + "/counts", token=self.other.token("admin")), 404)
        self.assertProblem(self.S.get("%s/org/%s/devices" % (API, uuid.uuid4()), token=self.admin), 404)
        # and org A's list never holds org B's devices
        ids = {d["id"] for d in self.fleet(limit=1000).body}
        self.assertFalse(ids & set(self.other_ids))


class FleetChangesTest(OwnServerTestCase):
    """The attention flags follow writes and time (the once-a-second stale sweep)."""

    def setUp(self):
        self.org = self.S.org_create()
        self.admin = self.org.token("admin")
        r = self.S.request("POST", self.org.users, body={"email": harness.unique_email()}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        self.upath = self.org.user_path(r.body["id"])
        self.devices_path = "%s/org/%s/devices" % (API, self.org.id)

    def counts(self):
        r = self.S.get(self.devices_path + "/counts", token=self.admin)
        self.assertEqual(r.status, 200, r)
        return r.body

    def attention(self, did):
        r = self.S.get(self.devices_path + "?limit=1000", token=self.admin)
        self.assertEqual(r.status, 200, r)
        return {d["id"]: d["attention"] for d in r.body}[did]

    def test_device_goes_stale_by_the_sweep(self):
        # last state 2 h minus 2 s ago: fresh now, stale within a few seconds
        t = utcnow() - datetime.timedelta(hours=2) + datetime.timedelta(seconds=2)
        r = self.S.request("POST", self.upath + "/heat-pumps",
                           body={"is_authenticated": True, "current_state_last_updated_at": fmt_ts(t)},
                           token=self.admin)
        self.assertEqual(r.status, 201, r)
        did = r.body["id"]
        self.assertEqual(self.attention(did), [])
        self.assertEqual(self.counts()["stale"], 0)
        deadline = time.time() + 8
        while self.attention(did) == [] and time.time() < deadline:
            time.sleep(0.25)
        self.assertEqual(self.attention(did), ["stale"])
        c = self.counts()
        self.assertEqual((c["stale"], c["needs_attention"], c["by_type"]["heat_pumps"]["stale"]), (1, 1, 1))
        # a report makes it fresh again
        r = self.S.request("POST", "%s/heat-pumps/%s/state" % (self.upath, did), body={"state": {}},
                           token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.attention(did), [])
        self.assertEqual(self.counts()["stale"], 0)

    def test_flags_follow_updates_and_deletes(self):
        r = self.S.request("POST", self.upath + "/inverters",
                           body={"is_authenticated": True, "current_state_last_updated_at": ago(minutes=1)},
                           token=self.admin)
        self.assertEqual(r.status, 201, r)
        did = r.body["id"]
        self.assertEqual(self.attention(did), [])
        r = self.S.request("PUT", "%s/inverters/%s" % (self.upath, did),
                           body={"is_smart_optimization_active": False}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.attention(did), ["optimization_off"])
        self.assertEqual(self.counts()["optimization_off"], 1)
        r = self.S.request("POST", "%s/inverters/%s/state" % (self.upath, did),
                           body={"state": {"is_authenticated": False}}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.attention(did), ["not_authenticated", "optimization_off"])
        r = self.S.request("POST", "%s/inverters/%s/reset-optimization" % (self.upath, did), token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.attention(did), ["not_authenticated"])
        r = self.S.request("DELETE", "%s/inverters/%s" % (self.upath, did), token=self.admin)
        self.assertEqual(r.status, 204, r)
        c = self.counts()
        self.assertEqual((c["total"], c["needs_attention"], c["not_authenticated"]), (0, 0, 0))
        r = self.S.get(self.devices_path, token=self.admin)
        self.assertEqual((r.body, r.headers.get("X-Total-Count")), ([], "0"))


class ConsumptionComparisonTest(OwnServerTestCase):
    """5 heat pumps with known last-day and last-month consumption (readings)."""

    DAY = [1.0, 2.0, 2.0, 4.0, 10.0]
    MONTH = [10.0, 20.0, 20.0, 40.0, 100.0]   # the day's reading + one 10 days ago

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create()
        admin = cls.org.token("admin")
        integration = cls.org.token("integration")
        r = cls.S.request("POST", cls.org.users, body={"email": harness.unique_email()}, token=admin)
        assert r.status == 201, r
        cls.upath = cls.org.user_path(r.body["id"])
        cls.hps = []
        for i, (day, month) in enumerate(zip(cls.DAY, cls.MONTH)):
            body = {"is_authenticated": True}
            if i == 4:
                body.update(operational_mode="comfort", is_smart_optimization_active=False)
            r = cls.S.request("POST", cls.upath + "/heat-pumps", body=body, token=admin)
            assert r.status == 201, r
            rr = cls.S.request("POST", "%s/heat-pumps/%s/state" % (cls.upath, r.body["id"]), token=integration,
                               body={"state": {"current_mode": "heating"},
                                     "readings": [{"timestamp": hour_start(2), "consumption_kwh": day},
                                                  {"timestamp": hour_start(240), "consumption_kwh": month - day}]})
            assert rr.status == 200, rr
            assert rr.body["consumption_last_day_kwh"] == day, rr.body
            assert rr.body["consumption_last_month_kwh"] == month, rr.body
            cls.hps.append(rr.body)
        # an EV: another type, not a peer of the heat pumps
        r = cls.S.request("POST", cls.upath + "/electric-vehicles", body={}, token=admin)
        assert r.status == 201, r
        cls.ev = r.body

    def compare(self, dtype, did, token=None):
        r = self.S.get("%s/%s/%s/consumption-comparison" % (self.upath, dtype, did),
                       token=token or self.org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r.body

    def expected_part(self, x, values):
        v = sorted(values)
        med = pct(v, 0.5)
        return {"kwh": x, "median": round(med, 2), "p90": round(pct(v, 0.9), 2),
                "percentile_rank": round(rank(v, x), 2),
                "ratio_to_median": round(x / med, 2) if med > 0 else None}

    def test_distribution_and_assessment(self):
        self.assertEqual(pct(sorted(self.DAY), 0.5), 2.0)
        self.assertAlmostEqual(pct(sorted(self.DAY), 0.9), 7.6)
        self.assertEqual(rank(self.DAY, 2.0), 40.0)
        assessments = []
        for dev in self.hps:
            with self.subTest(device=dev["id"]):
                c = self.compare("heat-pumps", dev["id"])
                self.assertEqual(list(c), ["device_id", "device_type", "peers_as_of", "peers", "last_day",
                                           "last_month", "assessment", "operational_mode", "current_mode",
                                           "is_smart_optimization_active"])
                self.assertEqual(c["device_id"], dev["id"])
                self.assertEqual(c["device_type"], "heat-pumps")
                self.assertRegex(c["peers_as_of"], harness.TS_RE)
                self.assertEqual(c["peers"], 5)
                day, month = dev["consumption_last_day_kwh"], dev["consumption_last_month_kwh"]
                self.assertEqual(c["last_day"], self.expected_part(day, self.DAY))
                self.assertEqual(c["last_month"], self.expected_part(month, self.MONTH))
                v = sorted(self.MONTH)
                want = ("above_p90" if month > pct(v, 0.9) else
                        "above_median" if month > pct(v, 0.5) else "at_or_below_median")
                self.assertEqual(c["assessment"], want)
                self.assertEqual(c["operational_mode"], dev["operational_mode"])
                self.assertEqual(c["current_mode"], "heating")
                self.assertEqual(c["is_smart_optimization_active"], dev["is_smart_optimization_active"])
                assessments.append(c["assessment"])
        self.assertEqual(assessments, ["at_or_below_median", "at_or_below_median", "at_or_below_median",
                                       "above_median", "above_p90"])
        top = self.compare("heat-pumps", self.hps[4]["id"])
        self.assertEqual(top["last_day"], {"kwh": 10.0, "median": 2.0, "p90": 7.6, "percentile_rank": 90.0,
                                           "ratio_to_median": 5.0})
        self.assertEqual(top["last_month"]["p90"], 76.0)
        self.assertEqual(top["operational_mode"], "comfort")

    def test_other_type_has_its_own_peers(self):
        c = self.compare("electric-vehicles", self.ev["id"])
        self.assertEqual(c["peers"], 1)
        self.assertEqual(c["last_month"], {"kwh": 0.0, "median": 0.0, "p90": 0.0, "percentile_rank": 50.0,
                                           "ratio_to_median": None})
        self.assertEqual(c["assessment"], "at_or_below_median")

    def test_viewer_may_compare_other_org_404(self):
        self.compare("heat-pumps", self.hps[0]["id"], token=self.org.token("viewer"))
        other = self.S.org_create()
        r = self.S.get("%s/heat-pumps/%s/consumption-comparison" % (self.upath, self.hps[0]["id"]),
                       token=other.token("admin"))
        self.assertProblem(r, 404)
        r = self.S.get("%s/inverters/%s/consumption-comparison" % (self.upath, self.hps[0]["id"]),
                       token=self.org.token("admin"))
        self.assertProblem(r, 404)
