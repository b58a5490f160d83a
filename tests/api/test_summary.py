"""GET .../users/{id}/summary equals the product document's
generate_user_summary() computed from the API's own responses: GET user (its
null fields dropped, so the document's .get(k, '') defaults apply), GET each
device list, GET buildings."""

import datetime
import json
import uuid

import doc_functions as doc
import harness
from harness import ApiTestCase, fmt_ts, unique_email

harness.use_server(globals())

TYPES = ("heat-pumps", "electric-vehicles", "inverters")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def hour_ago(hours):
    """An interval start on the hour, `hours` back (readings are hourly intervals)."""
    t = utcnow().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=hours)
    return fmt_ts(t)


def typed(v):
    """A JSON value as text that tells 0 from 0.0 (the document's totals stay int 0
    when there is nothing to add)."""
    return json.dumps(v, sort_keys=True)


class SummaryTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create()
        cls.admin = cls.org.token("admin")
        cls.integration = cls.org.token("integration")

    # ---- helpers
    def user(self, **fields):
        return self.create_user(self.org, **fields)

    def device(self, uid, dtype, **fields):
        r = self.S.request("POST", "%s/%s" % (self.org.user_path(uid), dtype), body=fields, token=self.admin)
        self.assertEqual(r.status, 201, r)
        return r.body

    def readings(self, uid, dtype, dev_id, *readings):
        """Posts readings [(timestamp, kwh), ...] through the integration token."""
        body = {"readings": [{"timestamp": ts, "consumption_kwh": kwh} for ts, kwh in readings]}
        r = self.S.request("POST", "%s/%s/%s/state" % (self.org.user_path(uid), dtype, dev_id),
                           body=body, token=self.integration)
        self.assertEqual(r.status, 200, r)
        return r.body

    def device_with(self, uid, dtype, day, month_extra=0.0, **fields):
        """A device whose last day is `day` kWh and last month day + month_extra."""
        d = self.device(uid, dtype, **fields)
        rs = [(hour_ago(1), day)]
        if month_extra:
            rs.append((hour_ago(24 * 10), month_extra))
        return self.readings(uid, dtype, d["id"], *rs)

    def expected(self, uid):
        """generate_user_summary() from the API's responses."""
        path = self.org.user_path(uid)
        r = self.S.get(path, token=self.admin)
        self.assertEqual(r.status, 200, r)
        user = doc.user_without_nulls(r.body)
        lists = []
        for dtype in TYPES:
            r = self.S.get("%s/%s" % (path, dtype), token=self.admin)
            self.assertEqual(r.status, 200, r)
            lists.append(r.body)
        r = self.S.get(path + "/buildings", token=self.admin)
        self.assertEqual(r.status, 200, r)
        return doc.generate_user_summary(user, doc.user_devices(*lists), r.body)

    def summary(self, uid, token=None):
        r = self.S.get(self.org.user_path(uid) + "/summary", token=token or self.admin)
        self.assertEqual(r.status, 200, r)
        return r.body

    def assertSummary(self, uid):
        got, want = self.summary(uid), self.expected(uid)
        self.assertEqual(got, want)
        self.assertEqual(typed(got), typed(want))   # int 0 stays int, floats stay floats
        return got

    # ---- devices and consumption
    def test_user_without_devices_has_integer_zero_consumption(self):
        u = self.user(first_name="Nora", last_name="Null")
        s = self.assertSummary(u["id"])
        self.assertEqual(s["consumption"], {"today": 0, "this_month": 0})
        self.assertIsInstance(s["consumption"]["today"], int)
        self.assertEqual(s["devices"], {"total": 0, "optimized": 0,
                                        "by_type": {"heat_pumps": 0, "electric_vehicles": 0, "inverters": 0}})
        self.assertEqual(s["buildings"], 0)

    def test_devices_without_readings_give_float_zero(self):
        u = self.user()
        self.device(u["id"], "heat-pumps")
        s = self.assertSummary(u["id"])
        self.assertIsInstance(s["consumption"]["today"], float)

    def test_rounding_2_675_and_1_005(self):
        # last day 1.005 -> round(1.005, 2) == 1.0; last month 1.005 + 1.67 = 2.675 -> 2.67
        u = self.user()
        dev = self.device_with(u["id"], "heat-pumps", 1.005, 1.67)
        self.assertEqual(dev["consumption_last_day_kwh"], 1.005)
        self.assertEqual(dev["consumption_last_month_kwh"], 2.675)
        s = self.assertSummary(u["id"])
        self.assertEqual(s["consumption"], {"today": round(1.005, 2), "this_month": round(2.675, 2)})
        self.assertEqual(s["consumption"], {"today": 1.0, "this_month": 2.67})

    def test_rounding_2_675_over_two_devices(self):
        u = self.user()
        self.device_with(u["id"], "electric-vehicles", 2.0)
        self.device_with(u["id"], "inverters", 0.675)
        s = self.assertSummary(u["id"])
        self.assertEqual(s["consumption"]["today"], round(2.0 + 0.675, 2))

    def test_sums_follow_the_documents_order(self):
        # 4.814 + 4.091 + 4.14: (hp + ev) + iv is 13.045000000000002 -> 13.05,
        # summed the other way round it is 13.045 -> 13.04
        u = self.user()
        self.device_with(u["id"], "heat-pumps", 4.814)
        self.device_with(u["id"], "electric-vehicles", 4.091)
        self.device_with(u["id"], "inverters", 4.14)
        self.assertEqual(round((4.814 + 4.091) + 4.14, 2), 13.05)
        self.assertNotEqual(round((4.14 + 4.091) + 4.814, 2), 13.05)
        s = self.assertSummary(u["id"])
        self.assertEqual(s["consumption"]["today"], 13.05)

    def test_many_devices_and_optimized_count(self):
        u = self.user(first_name="Max", last_name="Power")
        vals = [0.1, 0.2, 0.3, 1.115, 2.225]
        for i, v in enumerate(vals):
            self.device_with(u["id"], TYPES[i % 3], v, 0.333 * (i + 1),
                             is_smart_optimization_active=(i % 2 == 0))
        s = self.assertSummary(u["id"])
        self.assertEqual(s["devices"]["total"], 5)
        self.assertEqual(s["devices"]["optimized"], 3)
        self.assertEqual(s["devices"]["by_type"], {"heat_pumps": 2, "electric_vehicles": 2, "inverters": 1})

    def test_soft_deleted_devices_are_excluded(self):
        u = self.user()
        keep = self.device_with(u["id"], "heat-pumps", 1.5, 3.0)
        gone = self.device_with(u["id"], "heat-pumps", 7.25, 1.0)
        gone_ev = self.device_with(u["id"], "electric-vehicles", 2.0)
        for dtype, d in (("heat-pumps", gone), ("electric-vehicles", gone_ev)):
            r = self.S.request("DELETE", "%s/%s/%s" % (self.org.user_path(u["id"]), dtype, d["id"]),
                               token=self.admin)
            self.assertEqual(r.status, 204, r)
        s = self.assertSummary(u["id"])
        self.assertEqual(s["devices"]["total"], 1)
        self.assertEqual(s["devices"]["by_type"]["electric_vehicles"], 0)
        self.assertEqual(s["consumption"], {"today": keep["consumption_last_day_kwh"],
                                            "this_month": round(keep["consumption_last_month_kwh"], 2)})

    def test_buildings_are_counted_and_deleted_ones_not(self):
        u = self.user()
        path = self.org.user_path(u["id"])
        ids = []
        for name in ("Home", "Office", "Shed"):
            r = self.S.request("POST", path + "/buildings", body={"name": name}, token=self.admin)
            self.assertEqual(r.status, 201, r)
            ids.append(r.body["id"])
        r = self.S.request("DELETE", "%s/buildings/%s" % (path, ids[2]), token=self.admin)
        self.assertEqual(r.status, 204, r)
        s = self.assertSummary(u["id"])
        self.assertEqual(s["buildings"], 2)

    # ---- name and location
    def test_name_and_location_formatting(self):
        cases = [
            (dict(first_name="Ann", last_name="Lee", town="Graz", country_iso2="AT"), "Ann Lee", "Graz, AT"),
            (dict(town="Graz"), "", "Graz"),
            (dict(country_iso2="de"), "", "DE"),
            (dict(), "", ""),
            (dict(first_name="  Ann ", last_name=" Lee  "), "Ann   Lee", ""),
            (dict(first_name="Ann"), "Ann", ""),
            (dict(last_name="Lee"), "Lee", ""),
            (dict(first_name=" ", last_name=" "), "", ""),
            (dict(town=", Graz,", country_iso2="AT"), "", "Graz,, AT"),
            (dict(town=" Graz ", country_iso2="CH"), "", "Graz , CH"),
            (dict(first_name="Zo\u00eb", last_name="\u00c5se\u00a0"), "Zo\u00eb \u00c5se", ""),
            (dict(external_user_id="crm-77"), "", ""),
            (dict(first_name="\u3000Ann\u2007", last_name="\u2003"), "Ann", ""),
            (dict(first_name="Ann\u200b"), "Ann\u200b", ""),
            (dict(town="Graz, ", country_iso2="AT"), "", "Graz, , AT"),
            (dict(town=" ,Graz, "), "", "Graz"),
        ]
        for fields, name, location in cases:
            with self.subTest(fields=fields):
                u = self.user(**fields)
                s = self.assertSummary(u["id"])
                self.assertEqual(s["user"]["name"], name)
                self.assertEqual(s["user"]["location"], location)
                self.assertEqual(s["user"]["id"], u["id"])
                self.assertEqual(s["user"]["email"], u["email"])
                self.assertEqual(s["user"]["external_id"], fields.get("external_user_id"))

    def test_fields_cleared_to_null_count_as_absent(self):
        u = self.user(first_name="Ann", last_name="Lee", town="Graz", country_iso2="AT",
                      external_user_id="x-1")
        r = self.S.request("PUT", self.org.user_path(u["id"]),
                           body={"first_name": None, "town": None, "external_user_id": None}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        s = self.assertSummary(u["id"])
        self.assertEqual(s["user"], {"id": u["id"], "email": u["email"], "name": "Lee", "external_id": None,
                                     "location": "AT"})

    # ---- access
    def test_unknown_user_404(self):
        self.assertProblem(self.S.get(self.org.user_path(uuid.uuid4()) + "/summary", token=self.admin), 404)
        self.assertProblem(self.S.get(self.org.user_path("nope") + "/summary", token=self.admin), 404)

    def test_other_orgs_user_404(self):
        u = self.user()
        other = self.S.org_create()
        r = self.S.get(other.user_path(u["id"]) + "/summary", token=other.token("admin"))
        self.assertProblem(r, 404)
        r = self.S.get(self.org.user_path(u["id"]) + "/summary", token=other.token("admin"))
        self.assertProblem(r, 404)

    def test_viewer_may_read_integration_may_not(self):
        u = self.user(first_name="Vi")
        self.assertEqual(self.summary(u["id"], token=self.org.token("viewer")), self.expected(u["id"]))
        r = self.S.get(self.org.user_path(u["id"]) + "/summary", token=self.integration)
        self.assertProblem(r, 403)
