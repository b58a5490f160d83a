"""Device state and readings: POST .../state (single), POST /device-states
(batch), the derived consumption/production figures, GET .../statistics,
who may report (integration, admin) and the device.connection / device.report
audit records (issue 3)."""

import datetime
import os
import sys
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import API, TS_RE, fmt_ts, parse_ts  # noqa: E402
from devapi import DeviceApiTestCase, TYPES, TYPE_STATE, utcnow, iso  # noqa: E402

harness.use_server(globals())

H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)


def wh(x):
    """The server's rounding: to the Wh, 3 decimals."""
    return round(x * 1000) / 1000


class _Base(DeviceApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("State A")
        cls.admin = cls.org.token("admin")
        cls.integ = cls.org.token("integration")

    def setUp(self):
        self.uid = self.create_user(self.org)["id"]

    def dev(self, typ="heat-pumps", body=None, uid=None):
        return self.new_device(self.org, uid or self.uid, typ, body)

    def rep(self, typ, dev_id, body, token=None, uid=None):
        return self.report(self.org, uid or self.uid, typ, dev_id, body, token=token or self.integ)

    def get(self, typ, dev_id, uid=None):
        return self.get_device(self.org, uid or self.uid, typ, dev_id)

    @property
    def batch_path(self):
        return "%s/org/%s/device-states" % (API, self.org.id)


class SingleReportTest(_Base):
    def test_state_report_updates_state_fields_and_last_updated(self):
        for typ in TYPES:
            with self.subTest(type=typ):
                d = self.dev(typ)
                field, value = TYPE_STATE[typ]
                t0 = utcnow() - datetime.timedelta(seconds=2)
                r = self.rep(typ, d["id"], {"state": {field: value, "is_authenticated": True,
                                                      "connection_status": "ok", "steering_status": "warning",
                                                      "current_mode": "heating", "optimization_score": 87.5}})
                t1 = utcnow() + datetime.timedelta(seconds=2)
                self.assertEqual(r.status, 200, r)
                got = r.body
                self.assertDeviceShape(got, typ)
                self.assertEqual(got[field], value)
                self.assertTrue(got["is_authenticated"])
                self.assertEqual(got["actions"], [])
                self.assertEqual((got["connection_status"], got["steering_status"], got["current_mode"],
                                  got["optimization_score"]), ("ok", "warning", "heating", 87.5))
                self.assertRegex(got["current_state_last_updated_at"], TS_RE)
                self.assertTrue(t0 <= parse_ts(got["current_state_last_updated_at"]) <= t1, got)
                self.assertIsNone(d["current_state_last_updated_at"])
                # settings are untouched
                for k in ("is_smart_optimization_active", "comment", "lifecycle_state"):
                    self.assertEqual(got[k], d[k], k)
                self.assertEqual(self.get(typ, d["id"]), got)

    def test_a_partial_device_model_report_completes_the_stored_model(self):
        d = self.dev("heat-pumps", {"device_model": {"manufacturer": "Vaillant", "model": "aroTHERM",
                                                     "year": 2020}})
        self.assertEqual(d["device_model"], {"manufacturer": "Vaillant", "model": "aroTHERM", "year": 2020,
                                             "device_type": "heat_pump"})
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"], {"state": {"device_model": {"year": 2022}}})
        self.assertEqual(got["device_model"], {"manufacturer": "Vaillant", "model": "aroTHERM", "year": 2022,
                                               "device_type": "heat_pump"})
        self.assertEqual(self.get("heat-pumps", d["id"])["device_model"], got["device_model"])

    def test_state_may_say_when_it_was_current(self):
        d = self.dev()
        when = utcnow() - datetime.timedelta(minutes=10)
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"],
                             {"state": {"current_state_last_updated_at": when.astimezone(
                                 datetime.timezone(datetime.timedelta(hours=2))).isoformat()}})
        self.assertEqual(got["current_state_last_updated_at"], fmt_ts(when))

    def test_a_readings_only_report_also_marks_the_state_current(self):
        d = self.dev("electric-vehicles")
        t0 = utcnow() - datetime.timedelta(seconds=2)
        got = self.report_ok(self.org, self.uid, "electric-vehicles", d["id"],
                             {"readings": [{"timestamp": iso(utcnow() - H), "consumption_kwh": 1.0}]})
        self.assertGreaterEqual(parse_ts(got["current_state_last_updated_at"]), t0)
        self.assertEqual(got["consumption_last_day_kwh"], 1.0)

    def _readings_at(self, values, key="consumption_kwh", other=None):
        now = utcnow().replace(microsecond=0)
        out = []
        for delta, v in zip((H, 3 * D, 20 * D, 40 * D), values):
            item = {"timestamp": iso(now - delta), key: v}
            if other:
                item[other[0]] = other[1]
            out.append(item)
        return out

    def test_derived_consumption_sums_last_day_week_and_month_to_the_wh(self):
        vals = (1.2344, 2.0003, 4.1116, 8.0)  # at now-1h, now-3d, now-20d, now-40d
        for typ in TYPES:
            with self.subTest(type=typ):
                d = self.dev(typ)
                got = self.report_ok(self.org, self.uid, typ, d["id"], {"readings": self._readings_at(vals)})
                self.assertEqual(got["consumption_last_day_kwh"], 1.234)
                self.assertEqual(got["consumption_last_week_kwh"], 3.235)
                self.assertEqual(got["consumption_last_month_kwh"], 7.346)
                self.assertEqual(got["consumption_last_week_kwh"], wh(vals[0] + vals[1]))
                self.assertEqual(self.get(typ, d["id"])["consumption_last_month_kwh"], 7.346)
                # more readings add up
                got = self.report_ok(self.org, self.uid, typ, d["id"], {"readings": [
                    {"timestamp": iso(utcnow() - 2 * H), "consumption_kwh": 0.5}]})
                self.assertEqual(got["consumption_last_day_kwh"], 1.734)
                self.assertEqual(got["consumption_last_month_kwh"], 7.846)

    def test_a_reading_leaves_the_last_day_once_it_is_older_than_24_hours(self):
        d = self.dev()
        ts = utcnow().replace(microsecond=0) - D + datetime.timedelta(seconds=2)
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"], {"readings": [
            {"timestamp": iso(ts), "consumption_kwh": 2.0}]})
        self.assertEqual((got["consumption_last_day_kwh"], got["consumption_last_week_kwh"]), (2.0, 2.0))
        time.sleep(max(0.0, (ts + D - utcnow()).total_seconds()) + 1.5)
        now = self.get("heat-pumps", d["id"])
        self.assertEqual(now["consumption_last_week_kwh"], 2.0)
        self.assertEqual(now["consumption_last_day_kwh"], 0.0)

    def test_inverter_production_is_derived_from_production_readings(self):
        d = self.dev("inverters")
        readings = self._readings_at((10.5, 20.25, 40.125, 80.0), key="production_kwh",
                                     other=("consumption_kwh", 1.0))
        got = self.report_ok(self.org, self.uid, "inverters", d["id"], {"readings": readings})
        self.assertEqual((got["production_last_day_kwh"], got["production_last_week_kwh"],
                          got["production_last_month_kwh"]), (10.5, 30.75, 70.875))
        self.assertEqual((got["consumption_last_day_kwh"], got["consumption_last_week_kwh"],
                          got["consumption_last_month_kwh"]), (1.0, 2.0, 3.0))
        # heat pumps and EVs have no production figures at all
        hp = self.report_ok(self.org, self.uid, "heat-pumps", self.dev()["id"], {"readings": readings})
        self.assertNotIn("production_last_day_kwh", hp)
        self.assertEqual(hp["consumption_last_week_kwh"], 2.0)

    def test_a_reading_with_the_same_timestamp_replaces_the_earlier_one(self):
        d = self.dev()
        ts = (utcnow() - 2 * H).replace(microsecond=0)
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"],
                             {"readings": [{"timestamp": iso(ts), "consumption_kwh": 5.0}]})
        self.assertEqual(got["consumption_last_day_kwh"], 5.0)
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"],
                             {"readings": [{"timestamp": iso(ts), "consumption_kwh": 2.0}]})
        self.assertEqual(got["consumption_last_day_kwh"], 2.0)
        # the same instant written with an offset is the same interval
        other = ts.astimezone(datetime.timezone(datetime.timedelta(hours=1))).isoformat()
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"],
                             {"readings": [{"timestamp": other, "consumption_kwh": 0.75}]})
        self.assertEqual(got["consumption_last_day_kwh"], 0.75)
        # within one report, the later reading wins
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"],
                             {"readings": [{"timestamp": iso(ts), "consumption_kwh": 9.0},
                                           {"timestamp": iso(ts), "consumption_kwh": 3.0}]})
        self.assertEqual(got["consumption_last_day_kwh"], 3.0)
        self.assertEqual(got["consumption_last_month_kwh"], 3.0)

    def test_invalid_readings_are_422_naming_the_reading_and_change_nothing(self):
        d = self.dev()
        ok = {"timestamp": iso(utcnow() - H), "consumption_kwh": 1.0}
        cases = [
            ([{"timestamp": iso(utcnow() + H), "consumption_kwh": 1.0}], "readings/0/timestamp"),
            ([{"timestamp": "yesterday", "consumption_kwh": 1.0}], "readings/0/timestamp"),
            ([{"timestamp": "1999-12-31T23:59:59Z", "consumption_kwh": 1.0}], "readings/0/timestamp"),
            ([{"consumption_kwh": 1.0}], "readings/0/timestamp"),
            ([{"timestamp": 1700000000, "consumption_kwh": 1.0}], "readings/0/timestamp"),
            ([{"timestamp": iso(utcnow() - H), "consumption_kwh": -0.1}], "readings/0"),
            ([{"timestamp": iso(utcnow() - H), "production_kwh": -3}], "readings/0"),
            ([{"timestamp": iso(utcnow() - H), "consumption_kwh": 1000000.5}], "readings/0"),
            ([{"timestamp": iso(utcnow() - H), "consumption_kwh": "1.0"}], "readings/0"),
            ([{"timestamp": iso(utcnow() - H), "consumption_kwh": 1.0, "voltage": 230}], "readings/0"),
            (["2026-01-01T00:00:00Z"], "readings/0"),
            ([ok, {"timestamp": iso(utcnow() + 2 * H), "consumption_kwh": 1.0}], "readings/1/timestamp"),
            ({"timestamp": iso(utcnow() - H)}, "readings"),
        ]
        for readings, field in cases:
            with self.subTest(field=field, readings=readings):
                self.assertProblemFields(self.rep("heat-pumps", d["id"], {"readings": readings}), 422, field)
        self.assertUnchangedDevice(self.org, self.uid, "heat-pumps", d)
        # the bounds are valid: 2000-01-01, a few minutes ahead, 0 and 1e6
        got = self.report_ok(self.org, self.uid, "heat-pumps", d["id"], {"readings": [
            {"timestamp": "2000-01-01T00:00:00Z", "consumption_kwh": 1000000},
            {"timestamp": iso(utcnow() + datetime.timedelta(minutes=2)), "consumption_kwh": 0},
            {"timestamp": iso(utcnow() - H), "consumption_kwh": None, "production_kwh": 0.0}]})
        self.assertEqual(got["consumption_last_month_kwh"], 0.0)

    def test_settings_and_unknown_keys_in_a_report_are_422(self):
        d = self.dev("electric-vehicles")
        cases = [
            ({"state": {"comment": "x"}}, "state/comment"),
            ({"state": {"charge_target_max": 90}}, "state/charge_target_max"),
            ({"state": {"is_smart_optimization_active": False}}, "state/is_smart_optimization_active"),
            ({"state": {"consumption_last_day_kwh": 3}}, "state/consumption_last_day_kwh"),
            ({"state": {"battery_level": 101}}, "state/battery_level"),
            ({"state": {"boost_state": "turbo"}}, "state/boost_state"),
            ({"state": {"warp_drive": True}}, "state/warp_drive"),
            ({"state": "ok"}, "state"),
            ({"state": {}, "settings": {}}, "settings"),
            ({}, "state"),
        ]
        for body, field in cases:
            with self.subTest(field=field):
                self.assertProblemFields(self.rep("electric-vehicles", d["id"], body), 422, field)
        self.assertUnchangedDevice(self.org, self.uid, "electric-vehicles", d)

    def test_report_on_unknown_deleted_wrong_type_or_other_users_device(self):
        d = self.dev()
        other_uid = self.create_user(self.org)["id"]
        body = {"state": {"connection_status": "ok"}}
        self.assertProblem(self.rep("heat-pumps", str(uuid.uuid4()), body), 404)
        self.assertProblem(self.rep("inverters", d["id"], body), 404)
        self.assertProblem(self.rep("heat-pumps", d["id"], body, uid=other_uid), 404)
        self.assertEqual(self.S.request("DELETE", self.dpath(self.org, self.uid, "heat-pumps", d["id"]),
                                        token=self.admin).status, 204)
        self.assertProblem(self.rep("heat-pumps", d["id"], body), 409)
        self.assertEqual(self.get("heat-pumps", d["id"])["connection_status"], "unknown")


class BatchReportTest(_Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org_b = cls.S.org_create("State B")

    def batch(self, body, token=None):
        return self.S.request("POST", self.batch_path, body=body, token=token or self.integ)

    def test_batch_applies_valid_items_and_reports_each_item_in_order(self):
        hp = self.dev("heat-pumps")
        ev = self.dev("electric-vehicles")
        gone = self.dev("inverters")
        self.assertEqual(self.S.request("DELETE", self.dpath(self.org, self.uid, "inverters", gone["id"]),
                                        token=self.admin).status, 204)
        ub = self.create_user(self.org_b)["id"]
        foreign = self.new_device(self.org_b, ub, "heat-pumps")
        unknown = str(uuid.uuid4())
        now = utcnow().replace(microsecond=0)
        reports = [
            {"device_id": hp["id"], "device_type": "heat-pumps",
             "state": {"connection_status": "ok", "indoor_actual_temperature": 19.5},
             "readings": [{"timestamp": iso(now - 2 * H), "consumption_kwh": 1.5}]},
            {"device_id": hp["id"], "device_type": "heat-pumps",
             "readings": [{"timestamp": iso(now + 3 * H), "consumption_kwh": 100.0}]},
            {"device_id": unknown, "device_type": "heat-pumps", "state": {"connection_status": "ok"}},
            {"device_id": ev["id"], "device_type": "heat-pumps", "state": {"connection_status": "error"}},
            {"device_id": foreign["id"], "device_type": "heat-pumps", "state": {"connection_status": "ok"}},
            {"device_id": gone["id"], "device_type": "inverters", "state": {"connection_status": "ok"}},
            {"device_id": ev["id"], "device_type": "electric-vehicles", "state": {"battery_level": 55},
             "readings": [{"timestamp": iso(now - H), "consumption_kwh": 7.25},
                          {"timestamp": iso(now - 3 * D), "consumption_kwh": 11.0}]},
            {"device_id": "not-a-uuid", "device_type": "heat-pumps", "state": {}},
            {"device_id": hp["id"], "device_type": "toasters", "state": {}},
            {"device_id": hp["id"], "device_type": "heat-pumps", "state": {"comment": "settings are PUT"}},
        ]
        r = self.batch({"reports": reports})
        self.assertEqual(r.status, 200, r)
        b = r.body
        self.assertEqual((b["applied"], b["failed"], b["readings"]), (2, 8, 3), b)
        res = b["results"]
        self.assertEqual([x["device_id"] for x in res], [x["device_id"] for x in reports])
        self.assertEqual([x["status"] for x in res],
                         ["success", "error", "error", "error", "error", "error", "success", "error", "error",
                          "error"])
        self.assertEqual([x["error"]["status"] for x in res if x["status"] == "error"],
                         [422, 404, 404, 404, 409, 422, 422, 422])
        self.assertNotIn("error", res[0])

        def fields(i):
            return [e["field"] for e in res[i]["error"]["errors"]]
        self.assertIn("reports/1/readings/0/timestamp", fields(1))
        self.assertIn("reports/7/device_id", fields(7))
        self.assertIn("reports/8/device_type", fields(8))
        self.assertIn("reports/9/state/comment", fields(9))
        for i in (2, 3, 4, 5):
            self.assertTrue(fields(i), res[i])
            self.assertIsInstance(res[i]["error"]["title"], str)
        # the valid items were applied, the invalid ones not
        g = self.get("heat-pumps", hp["id"])
        self.assertEqual((g["connection_status"], g["indoor_actual_temperature"]), ("ok", 19.5))
        self.assertEqual(g["consumption_last_day_kwh"], 1.5)
        self.assertIsNone(g["comment"])
        e = self.get("electric-vehicles", ev["id"])
        self.assertEqual(e["battery_level"], 55.0)
        self.assertEqual(e["connection_status"], "unknown")
        self.assertEqual((e["consumption_last_day_kwh"], e["consumption_last_week_kwh"]), (7.25, 18.25))
        self.assertEqual(self.get("inverters", gone["id"])["connection_status"], "unknown")
        f = self.get_device(self.org_b, ub, "heat-pumps", foreign["id"])
        self.assertEqual(f["connection_status"], "unknown")
        # one device.report record for the batch
        recs = self.audit_records(self.org, action="device.report", target_id=self.org.id)
        self.assertTrue(recs)
        self.assertEqual(recs[0]["target"], {"type": "org", "id": self.org.id})
        self.assertEqual(recs[0]["changes"]["devices"], 2)
        self.assertEqual(recs[0]["changes"]["readings"], 3)

    def test_batch_where_every_item_fails_is_still_200(self):
        r = self.batch({"reports": [{"device_id": str(uuid.uuid4()), "device_type": "inverters",
                                     "state": {"connection_status": "ok"}}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["applied"], r.body["failed"], r.body["readings"]), (0, 1, 0))
        self.assertEqual(r.body["results"][0]["error"]["status"], 404)

    def test_batch_size_limits(self):
        item = {"device_id": str(uuid.uuid4()), "device_type": "heat-pumps", "state": {"connection_status": "ok"}}
        for body in ({"reports": []}, {"reports": [item] * 1001}, {}, {"reports": item},
                     {"reports": [item], "dry_run": True}):
            with self.subTest(n=len(body.get("reports", [])) if isinstance(body.get("reports"), list) else None,
                              keys=sorted(body)):
                self.assertProblemFields(self.batch(body), 422, "reports")
        r = self.batch({"reports": [item] * 1000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["applied"], r.body["failed"]), (0, 1000))
        self.assertEqual(len(r.body["results"]), 1000)


class StatisticsTest(_Base):
    READINGS = [
        # 1DAY, 2023-03-10 .. 2023-03-15
        ("2023-03-09T23:00:00Z", 7.0), ("2023-03-10T01:00:00Z", 1.5), ("2023-03-10T13:00:00Z", 2.25),
        ("2023-03-12T00:00:00Z", 4.0), ("2023-03-14T23:00:00Z", 0.125), ("2023-03-15T00:00:00Z", 9.0),
        # 1WEEK, from Wednesday 2023-01-04 to 2023-01-25
        ("2023-01-04T10:00:00Z", 1.0), ("2023-01-08T23:00:00Z", 2.0), ("2023-01-09T00:00:00Z", 4.0),
        ("2023-01-24T12:00:00Z", 0.5),
        # 1MONTH, 2024-01-15 .. 2024-04-01 (a leap year)
        ("2024-01-20T00:00:00Z", 1.0), ("2024-02-29T12:00:00Z", 2.0), ("2024-03-31T23:00:00Z", 3.0),
        ("2024-04-01T00:00:00Z", 5.0),
        # 1QUARTER and 1YEAR, 2021
        ("2021-05-05T05:00:00Z", 1.0), ("2021-11-30T00:00:00Z", 2.0),
    ]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.suid = cls.S.request("POST", cls.org.users, body={"email": harness.unique_email("stats")},
                                 token=cls.admin).body["id"]
        r = cls.S.request("POST", "%s/heat-pumps" % cls.org.user_path(cls.suid), body={}, token=cls.admin)
        cls.hp = r.body["id"]
        recent = (utcnow() - H).replace(microsecond=0)
        readings = [{"timestamp": t, "consumption_kwh": v} for t, v in cls.READINGS]
        readings.append({"timestamp": iso(recent), "consumption_kwh": 0.625})
        r = cls.S.request("POST", "%s/heat-pumps/%s/state" % (cls.org.user_path(cls.suid), cls.hp),
                          body={"readings": readings}, token=cls.integ)
        assert r.status == 200, r
        r = cls.S.request("POST", "%s/inverters" % cls.org.user_path(cls.suid), body={}, token=cls.admin)
        cls.iv = r.body["id"]
        r = cls.S.request("POST", "%s/inverters/%s/state" % (cls.org.user_path(cls.suid), cls.iv),
                          body={"readings": [
                              {"timestamp": "2023-03-10T10:00:00Z", "consumption_kwh": 1.0, "production_kwh": 6.5},
                              {"timestamp": "2023-03-11T10:00:00Z", "production_kwh": 7.25}]},
                          token=cls.integ)
        assert r.status == 200, r

    def stats(self, typ="heat-pumps", dev=None, token=None, **params):
        q = "?" + urllib.parse.urlencode(params) if params else ""
        return self.S.get(self.dpath(self.org, self.suid, typ, dev or (self.hp if typ == "heat-pumps" else self.iv),
                                     "statistics") + q, token=token or self.admin)

    def totals(self, r, key="consumption"):
        return [x[key]["total"] for x in r.body["data"]]

    def starts(self, r):
        return [x["period"]["start_period"] for x in r.body["data"]]

    def test_daily_buckets_and_totals(self):
        r = self.stats(resolution="1DAY", keywords="consumption", **{"from": "2023-03-10T00:00:00Z",
                                                                    "to": "2023-03-15T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.totals(r), [3.75, 0.0, 4.0, 0.0, 0.125])
        self.assertEqual(self.starts(r), ["2023-03-%02dT00:00:00.000Z" % d for d in range(10, 15)])
        self.assertEqual([x["period"]["end_period"] for x in r.body["data"]],
                         ["2023-03-%02dT00:00:00.000Z" % d for d in range(11, 16)])
        for x in r.body["data"]:
            self.assertEqual(x["resolution"], "1DAY")
            self.assertEqual(set(x), {"resolution", "period", "consumption"})
        md = r.body["metadata"]
        self.assertRegex(md["requested_at"], TS_RE)
        self.assertIsNone(md["error"])
        self.assertEqual(md["units"], {"consumption": "kWh"})
        q = md["query"]
        self.assertEqual((q["device_id"], q["resolution"], q["from"], q["to"], q["keywords"]),
                         (self.hp, "1DAY", "2023-03-10T00:00:00.000Z", "2023-03-15T00:00:00.000Z", ["consumption"]))

    def test_weeks_start_on_monday(self):
        r = self.stats(resolution="1WEEK", **{"from": "2023-01-04T00:00:00Z", "to": "2023-01-25T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.starts(r), ["2023-01-02T00:00:00.000Z", "2023-01-09T00:00:00.000Z",
                                          "2023-01-16T00:00:00.000Z", "2023-01-23T00:00:00.000Z"])
        self.assertEqual(r.body["data"][-1]["period"]["end_period"], "2023-01-30T00:00:00.000Z")
        self.assertEqual(self.totals(r), [3.0, 4.0, 0.0, 0.5])

    def test_months_quarters_and_years(self):
        r = self.stats(resolution="1MONTH", **{"from": "2024-01-15T00:00:00Z", "to": "2024-04-01T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([(x["period"]["start_period"], x["period"]["end_period"]) for x in r.body["data"]],
                         [("2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"),
                          ("2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"),
                          ("2024-03-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z")])
        self.assertEqual(self.totals(r), [1.0, 2.0, 3.0])
        r = self.stats(resolution="1QUARTER", **{"from": "2021-02-01T00:00:00Z", "to": "2022-01-01T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.starts(r), ["2021-%02d-01T00:00:00.000Z" % m for m in (1, 4, 7, 10)])
        self.assertEqual(self.totals(r), [0.0, 1.0, 0.0, 2.0])
        r = self.stats(resolution="1YEAR", **{"from": "2020-06-01T00:00:00Z", "to": "2022-01-01T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.starts(r), ["2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"])
        self.assertEqual(self.totals(r), [0.0, 3.0])

    def test_defaults_are_daily_consumption_over_the_last_30_days(self):
        r = self.stats()
        self.assertEqual(r.status, 200, r)
        q = r.body["metadata"]["query"]
        self.assertEqual((q["resolution"], q["keywords"]), ("1DAY", ["consumption"]))
        self.assertEqual(parse_ts(q["to"]) - parse_ts(q["from"]), 30 * D)
        self.assertLessEqual(abs((parse_ts(q["to"]) - utcnow()).total_seconds()), 10)
        self.assertIn(len(r.body["data"]), (30, 31))
        self.assertEqual(round(sum(self.totals(r)), 3), 0.625)

    def test_inverter_production_keyword(self):
        p = {"from": "2023-03-10T00:00:00Z", "to": "2023-03-12T00:00:00Z"}
        r = self.stats("inverters", keywords="consumption,production", **p)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["metadata"]["units"], {"consumption": "kWh", "production": "kWh"})
        self.assertEqual(r.body["metadata"]["query"]["keywords"], ["consumption", "production"])
        self.assertEqual(self.totals(r, "production"), [6.5, 7.25])
        self.assertEqual(self.totals(r, "consumption"), [1.0, 0.0])
        r = self.stats("inverters", keywords="production", **p)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["metadata"]["units"], {"production": "kWh"})
        self.assertNotIn("consumption", r.body["data"][0])
        # a heat pump has no production
        self.assertProblemFields(self.stats(keywords="production", **p), 400, "keywords")

    def test_bad_parameters_are_400_naming_them(self):
        cases = [
            ({"keywords": "savings"}, "keywords"),
            ({"keywords": "consumption,savings"}, "keywords"),
            ({"keywords": "price"}, "keywords"),
            ({"resolution": "1HOUR"}, "resolution"),
            ({"resolution": "1day"}, "resolution"),
            ({"from": "2023-03-10T00:00:00Z", "to": "2023-03-10T00:00:00Z"}, "from"),
            ({"from": "2023-03-11T00:00:00Z", "to": "2023-03-10T00:00:00Z"}, "from"),
            ({"from": "last week"}, "from"),
            ({"to": "2023-13-01T00:00:00Z"}, "to"),
            ({"resolution": "1DAY", "from": "2000-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}, "from"),
        ]
        for params, field in cases:
            with self.subTest(params=params):
                self.assertProblemFields(self.stats(**params), 400, field)

    def test_savings_after_a_long_keyword_list_is_still_400(self):
        r = self.stats(keywords="consumption" + "," * 60 + "savings")
        self.assertProblemFields(r, 400, "keywords")

    def test_an_empty_keywords_parameter_does_not_give_figureless_data(self):
        r = self.stats(keywords="")
        if r.status == 200:
            self.assertEqual(r.body["metadata"]["query"]["keywords"], ["consumption"], r.body["metadata"])
            self.assertIn("consumption", r.body["data"][0])
        else:
            self.assertProblemFields(r, 400, "keywords")

    def test_statistics_of_unknown_device_is_404(self):
        self.assertProblem(self.stats(dev=str(uuid.uuid4())), 404)
        self.assertProblem(self.stats("electric-vehicles", dev=self.hp), 404)


class RolesTest(_Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.staff = cls.org.token("staff")
        cls.viewer = cls.org.token("viewer")
        cls.org_b = cls.S.org_create("State roles B")
        cls.b_integ = cls.org_b.token("integration")

    def test_staff_and_viewer_may_not_report_state(self):
        d = self.dev()
        body = {"state": {"connection_status": "ok"}}
        batch = {"reports": [{"device_id": d["id"], "device_type": "heat-pumps", **body}]}
        for name, tok in (("staff", self.staff), ("viewer", self.viewer)):
            with self.subTest(role=name):
                self.assertProblem(self.rep("heat-pumps", d["id"], body, token=tok), 403)
                self.assertProblem(self.S.request("POST", self.batch_path, body=batch, token=tok), 403)
        self.assertUnchangedDevice(self.org, self.uid, "heat-pumps", d)
        # admin and integration may
        self.assertEqual(self.rep("heat-pumps", d["id"], body, token=self.admin).status, 200)
        r = self.S.request("POST", self.batch_path, body=batch, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["applied"], 1)

    def test_integration_reads_and_creates_devices_and_nothing_else(self):
        tok = self.integ
        r = self.S.request("POST", self.dpath(self.org, self.uid, "inverters"), body={"is_authenticated": True},
                           token=tok)
        self.assertEqual(r.status, 201, r)
        d = r.body
        self.assertEqual(self.S.get(self.dpath(self.org, self.uid, "inverters"), token=tok).body[0]["id"], d["id"])
        self.assertEqual(self.S.get(self.dpath(self.org, self.uid, "inverters", d["id"]), token=tok).status, 200)
        self.assertEqual(self.S.get(self.dpath(self.org, self.uid, "inverters", d["id"], "statistics"),
                                    token=tok).status, 200)
        up = self.org.user_path(self.uid)
        forbidden = [
            ("GET", self.org.users, None), ("GET", up, None), ("PUT", up, {"first_name": "X"}),
            ("POST", self.org.users, {"email": harness.unique_email()}),
            ("GET", up + "/buildings", None), ("POST", up + "/buildings", {"name": "H"}),
            ("GET", up + "/energy-contracts", None), ("GET", up + "/summary", None),
            ("PUT", self.dpath(self.org, self.uid, "inverters", d["id"]), {"comment": "x"}),
            ("DELETE", self.dpath(self.org, self.uid, "inverters", d["id"]), None),
            ("POST", self.dpath(self.org, self.uid, "inverters", d["id"], "reset-optimization"), None),
            ("GET", self.org.audit, None),
        ]
        for method, path, body in forbidden:
            with self.subTest(method=method, path=path):
                self.assertProblem(self.S.request(method, path, body=body, token=tok), 403)
        self.assertIsNone(self.get("inverters", d["id"])["comment"])
        # the device.create record names the integration token
        rec = self.audit_records(self.org, target_id=d["id"], action="device.create")[0]
        self.assertEqual(rec["actor"]["id"], self.org.token_id("integration"))

    def test_another_orgs_integration_token_gets_404(self):
        d = self.dev()
        body = {"state": {"connection_status": "ok"}}
        self.assertProblem(self.rep("heat-pumps", d["id"], body, token=self.b_integ), 404)
        self.assertProblem(self.S.get(self.dpath(self.org, self.uid, "heat-pumps", d["id"]), token=self.b_integ),
                           404)
        self.assertProblem(self.S.request("POST", self.batch_path, body={"reports": [
            {"device_id": d["id"], "device_type": "heat-pumps", **body}]}, token=self.b_integ), 404)
        # through its own org's batch, the device is simply not found
        r = self.S.request("POST", "%s/org/%s/device-states" % (API, self.org_b.id), body={"reports": [
            {"device_id": d["id"], "device_type": "heat-pumps", **body}]}, token=self.b_integ)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["results"][0]["error"]["status"], 404)
        self.assertUnchangedDevice(self.org, self.uid, "heat-pumps", d)


class ConnectionAuditTest(_Base):
    def test_device_connection_record_when_authentication_changes(self):
        d = self.dev("electric-vehicles")
        url = "https://vendor.example/reauth/%s" % uuid.uuid4().hex
        self.report_ok(self.org, self.uid, "electric-vehicles", d["id"],
                       {"state": {"is_authenticated": True, "authorization_url": url}})
        recs = self.audit_records(self.org, target_id=d["id"], action="device.connection")
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["target"], {"type": "device", "id": d["id"]})
        self.assertEqual(recs[0]["changes"], {"is_authenticated": {"before": False, "after": True},
                                              "authorization_url": {"before": None, "after": url}})
        self.assertEqual(recs[0]["actor"]["id"], self.org.token_id("integration"))
        # a report that does not change the connection adds none
        self.report_ok(self.org, self.uid, "electric-vehicles", d["id"],
                       {"state": {"is_authenticated": True, "battery_level": 40},
                        "readings": [{"timestamp": iso(utcnow() - H), "consumption_kwh": 1}]})
        self.assertEqual(len(self.audit_records(self.org, target_id=d["id"], action="device.connection")), 1)
        # losing the connection adds one
        got = self.report_ok(self.org, self.uid, "electric-vehicles", d["id"], {"state": {"is_authenticated": False}})
        self.assertEqual(got["actions"], [{"code": "reauthenticate", "resolution_link": url}])
        recs = self.audit_records(self.org, target_id=d["id"], action="device.connection")
        self.assertEqual(len(recs), 2)
        self.assertEqual(recs[0]["changes"], {"is_authenticated": {"before": True, "after": False}})
        # and a single report leaves one device.report record on the org
        reps = self.audit_records(self.org, target_id=self.org.id, action="device.report")
        self.assertGreaterEqual(len(reps), 3)
        self.assertEqual(reps[0]["changes"], {"devices": 1, "readings": 0, "failed": 0})


if __name__ == "__main__":
    unittest.main()
