"""Devices: /users/{user_id}/{heat-pumps|electric-vehicles|inverters} CRUD,
defaults, settings vs state fields, the range and order rules of each type,
ETag / If-Match, soft delete, actions[], pause, building references, the
reset forms and the audit records (issue 3)."""

import datetime
import json
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import TS_RE, fmt_ts, parse_ts  # noqa: E402
from devapi import (DeviceApiTestCase, TYPES, MODEL_TYPE, TYPE_DEFAULTS, TYPE_SETTING,  # noqa: E402
                    TYPE_STATE, utcnow)

harness.use_server(globals())


class _PerType:
    """The rules every device type shares; TYPE is set by the concrete class."""

    TYPE = None

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Devices %s" % cls.TYPE)
        cls.admin = cls.org.token("admin")

    def setUp(self):
        self.user = self.create_user(self.org)
        self.uid = self.user["id"]

    def path(self, dev_id=None, tail=None):
        return self.dpath(self.org, self.uid, self.TYPE, dev_id, tail)

    def create(self, body=None, expect=201):
        return self.new_device(self.org, self.uid, self.TYPE, body, expect=expect)

    def get(self, dev_id):
        return self.get_device(self.org, self.uid, self.TYPE, dev_id)

    def put(self, dev_id, body, **kw):
        return self.put_device(self.org, self.uid, self.TYPE, dev_id, body, **kw)

    # ---- create ---------------------------------------------------------
    def test_create_with_empty_body_fills_every_default(self):
        t0 = utcnow() - datetime.timedelta(seconds=5)
        r = self.S.request("POST", self.path(), body={}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        d = r.body
        self.assertDeviceShape(d, self.TYPE)
        self.assertEqual(r.headers.get("Location"), self.path(d["id"]))
        etag = r.headers.get("ETag")
        self.assertRegex(etag or "", r'^"[^"]+"$')
        self.assertEqual(d["user_id"], self.uid)
        expect = {
            "external_device_id": None, "building": None, "building_id": None,
            "lifecycle_state": "active", "comment": None,
            "device_model": {"manufacturer": None, "model": None, "year": None,
                             "device_type": MODEL_TYPE[self.TYPE]},
            "is_authenticated": False, "authorization_url": None,
            "connection_status": "unknown", "monitoring_status": "unknown", "steering_status": "unknown",
            "is_smart_optimization_active": True, "pause_power_until": None,
            "is_pause_power_active": False, "optimization_score": None, "current_mode": None,
            "operational_mode": None, "current_state_last_updated_at": None,
            "consumption_last_day_kwh": 0.0, "consumption_last_week_kwh": 0.0,
            "consumption_last_month_kwh": 0.0,
            "actions": [{"code": "reauthenticate", "resolution_link": None}],
            "deleted_at": None,
        }
        expect.update(TYPE_DEFAULTS[self.TYPE])
        for k, v in expect.items():
            self.assertEqual(d[k], v, k)
        self.assertGreaterEqual(parse_ts(d["created_at"]), t0)
        self.assertEqual(d["created_at"], d["updated_at"])

    def test_create_accepts_settings_and_state_fields(self):
        setting, value, _ = TYPE_SETTING[self.TYPE]
        state, svalue = TYPE_STATE[self.TYPE]
        body = {
            setting: value, state: svalue,
            "external_device_id": "ext-" + uuid.uuid4().hex[:8], "comment": "in the basement",
            "operational_mode": "eco", "is_smart_optimization_active": False,
            "is_authenticated": True, "connection_status": "ok",
            "current_state_last_updated_at": "2026-01-02T10:00:00+02:00",
            "device_model": {"manufacturer": "Acme", "model": "X1", "year": 2024},
        }
        d = self.create(body)
        self.assertDeviceShape(d, self.TYPE)
        for k in (setting, state, "external_device_id", "comment", "operational_mode",
                  "is_smart_optimization_active", "is_authenticated", "connection_status"):
            self.assertEqual(d[k], body[k], k)
        self.assertEqual(d["current_state_last_updated_at"], "2026-01-02T08:00:00.000Z")
        self.assertEqual(d["device_model"], {"manufacturer": "Acme", "model": "X1", "year": 2024,
                                             "device_type": MODEL_TYPE[self.TYPE]})
        self.assertEqual(d["actions"], [])
        self.assertEqual(self.get(d["id"]), d)

    def test_create_with_unknown_field_is_422_and_stores_nothing(self):
        r = self.S.request("POST", self.path(), body={"colour": "red"}, token=self.admin)
        self.assertProblemFields(r, 422, "colour")
        self.assertEqual(self.list_devices(self.org, self.uid, self.TYPE), [])

    def test_create_with_output_only_fields_is_422(self):
        for field, value in (("consumption_last_day_kwh", 1.5), ("actions", []),
                             ("id", str(uuid.uuid4())), ("is_pause_power_active", False),
                             ("created_at", "2026-01-01T00:00:00Z"), ("building", None)):
            with self.subTest(field=field):
                r = self.S.request("POST", self.path(), body={field: value}, token=self.admin)
                self.assertProblemFields(r, 422, field)
        self.assertEqual(self.list_devices(self.org, self.uid, self.TYPE), [])

    def test_create_for_unknown_user_is_404(self):
        r = self.S.request("POST", self.dpath(self.org, str(uuid.uuid4()), self.TYPE), body={},
                           token=self.admin)
        self.assertProblem(r, 404)

    def test_create_for_deleted_user_is_409(self):
        self.assertEqual(self.S.request("DELETE", self.org.user_path(self.uid), token=self.admin).status, 204)
        r = self.S.request("POST", self.path(), body={}, token=self.admin)
        self.assertProblem(r, 409)

    # ---- list, get ----------------------------------------------------------
    def test_list_is_a_bare_array_of_the_types_live_devices_oldest_first(self):
        a = self.create({"comment": "first"})
        b = self.create({"comment": "second"})
        other = [t for t in TYPES if t != self.TYPE][0]
        self.new_device(self.org, self.uid, other)
        r = self.S.get(self.path(), token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))
        self.assertIsInstance(r.body, list)
        self.assertEqual([x["id"] for x in r.body], [a["id"], b["id"]])
        for x in r.body:
            self.assertDeviceShape(x, self.TYPE)
        self.assertEqual(r.body[0], self.get(a["id"]))

    def test_list_of_a_user_without_devices_is_empty_array(self):
        self.assertEqual(self.list_devices(self.org, self.uid, self.TYPE), [])

    def test_get_has_etag_and_if_none_match_gives_304(self):
        d = self.create()
        r = self.S.get(self.path(d["id"]), token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, d)
        etag = r.headers.get("ETag")
        self.assertTrue(etag)
        r2 = self.S.get(self.path(d["id"]), token=self.admin, headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 304, r2)
        self.assertEqual(r2.raw, b"")
        self.assertEqual(r2.headers.get("ETag"), etag)
        # a change gives a new ETag and the old one no longer matches
        self.assertEqual(self.put(d["id"], {"comment": "changed"}).status, 200)
        r3 = self.S.get(self.path(d["id"]), token=self.admin, headers={"If-None-Match": etag})
        self.assertEqual(r3.status, 200, r3)
        self.assertNotEqual(r3.headers.get("ETag"), etag)
        self.assertEqual(r3.body["comment"], "changed")

    def test_get_unknown_device_is_404(self):
        self.assertProblem(self.S.get(self.path(str(uuid.uuid4())), token=self.admin), 404)
        self.assertProblem(self.S.get(self.path("not-a-uuid"), token=self.admin), 404)

    # ---- update ---------------------------------------------------------------
    def test_partial_put_changes_only_the_settings_sent(self):
        d = self.create()
        setting, value, _ = TYPE_SETTING[self.TYPE]
        body = {setting: value, "comment": "moved to the garage", "operational_mode": "comfort",
                "is_smart_optimization_active": False, "lifecycle_state": "inactive",
                "external_device_id": "vendor-42"}
        r = self.put(d["id"], body)
        self.assertEqual(r.status, 200, r)
        self.assertDeviceShape(r.body, self.TYPE)
        want = dict(d, **body)
        for k in ("updated_at",):
            want[k] = r.body[k]
        self.assertEqual(r.body, want)
        self.assertGreaterEqual(r.body["updated_at"], d["updated_at"])
        self.assertEqual(self.get(d["id"]), r.body)
        self.assertTrue(r.headers.get("ETag"))

    def test_put_of_a_state_field_is_422_naming_it(self):
        d = self.create()
        state, value = TYPE_STATE[self.TYPE]
        for field, v in ((state, value), ("is_authenticated", True), ("connection_status", "ok"),
                         ("current_state_last_updated_at", "2026-01-01T00:00:00Z"),
                         ("authorization_url", "https://vendor.example/auth")):
            with self.subTest(field=field):
                r = self.put(d["id"], {field: v, "comment": "should not be stored"})
                body = self.assertProblemFields(r, 422, field)
                err = [e for e in body["errors"] if e["field"] == field][0]
                self.assertIn("integration", err["detail"])
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)

    def test_put_of_the_get_body_round_trips(self):
        d = self.create({"comment": "as read"})
        r = self.put(d["id"], d)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, d)  # nothing changed, nothing written
        # the GET body with one setting changed is a valid PUT too
        setting, value, _ = TYPE_SETTING[self.TYPE]
        body = dict(d, **{setting: value, "comment": "edited"})
        r2 = self.put(d["id"], body)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body[setting], value)
        self.assertEqual(r2.body["comment"], "edited")

    def test_put_of_unknown_field_is_422(self):
        d = self.create()
        self.assertProblemFields(self.put(d["id"], {"colour": "red", "comment": "x"}), 422, "colour")
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)

    def test_put_of_output_only_fields_with_other_values_is_422(self):
        d = self.create()
        cases = [("consumption_last_day_kwh", 12.5), ("consumption_last_month_kwh", 1.0),
                 ("actions", []), ("id", str(uuid.uuid4())), ("user_id", str(uuid.uuid4())),
                 ("is_pause_power_active", True), ("deleted_at", "2026-01-01T00:00:00Z")]
        if self.TYPE == "inverters":
            cases.append(("production_last_week_kwh", 3.0))
        for field, value in cases:
            with self.subTest(field=field):
                self.assertProblemFields(self.put(d["id"], {field: value}), 422, field)
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)

    def test_put_with_null_for_a_non_nullable_setting_is_422(self):
        d = self.create()
        setting = TYPE_SETTING[self.TYPE][0]
        self.assertProblemFields(self.put(d["id"], {setting: None}), 422, setting)
        self.assertProblemFields(self.put(d["id"], {"is_smart_optimization_active": None}), 422,
                                 "is_smart_optimization_active")
        self.assertProblemFields(self.put(d["id"], {"lifecycle_state": "retired"}), 422, "lifecycle_state")
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)

    def test_if_match_stale_is_412_and_current_is_200(self):
        r = self.S.request("POST", self.path(), body={}, token=self.admin)
        d, etag = r.body, r.headers["ETag"]
        r1 = self.put(d["id"], {"comment": "one"}, headers={"If-Match": etag})
        self.assertEqual(r1.status, 200, r1)
        new = r1.headers["ETag"]
        self.assertNotEqual(new, etag)
        self.assertProblem(self.put(d["id"], {"comment": "two"}, headers={"If-Match": etag}), 412)
        self.assertEqual(self.get(d["id"])["comment"], "one")
        self.assertProblem(self.S.request("DELETE", self.path(d["id"]), token=self.admin,
                                          headers={"If-Match": etag}), 412)
        self.assertIsNone(self.get(d["id"])["deleted_at"])
        r2 = self.put(d["id"], {"comment": "two"}, headers={"If-Match": new})
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body["comment"], "two")

    # ---- delete -------------------------------------------------------------
    def test_delete_is_soft_get_shows_it_list_hides_it_and_writes_are_409(self):
        d = self.create()
        keep = self.create()
        r = self.S.request("DELETE", self.path(d["id"]), token=self.admin)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        g = self.get(d["id"])
        self.assertRegex(g["deleted_at"] or "", TS_RE)
        self.assertEqual([x["id"] for x in self.list_devices(self.org, self.uid, self.TYPE)], [keep["id"]])
        self.assertProblem(self.put(d["id"], {"comment": "zombie"}), 409)
        self.assertProblem(self.S.request("POST", self.path(d["id"], "reset-optimization"),
                                          token=self.admin), 409)
        self.assertEqual(self.get(d["id"]), g)

    # ---- computed fields ------------------------------------------------------
    def test_actions_ask_to_reauthenticate_with_the_authorization_url_until_authenticated(self):
        url = "https://vendor.example/oauth/authorize?device=%s" % uuid.uuid4().hex
        d = self.create({"authorization_url": url})
        self.assertEqual(d["actions"], [{"code": "reauthenticate", "resolution_link": url}])
        plain = self.create({"is_authenticated": False})
        self.assertEqual(plain["actions"], [{"code": "reauthenticate", "resolution_link": None}])
        ok = self.create({"is_authenticated": True, "authorization_url": url})
        self.assertEqual(ok["actions"], [])
        # a report that authenticates the device clears the action
        rep = self.report_ok(self.org, self.uid, self.TYPE, d["id"], {"state": {"is_authenticated": True}})
        self.assertEqual(rep["actions"], [])
        rep = self.report_ok(self.org, self.uid, self.TYPE, d["id"], {"state": {"is_authenticated": False}})
        self.assertEqual(rep["actions"], [{"code": "reauthenticate", "resolution_link": url}])

    def test_is_pause_power_active_follows_pause_power_until(self):
        d = self.create()
        future = utcnow() + datetime.timedelta(hours=2)
        r = self.put(d["id"], {"pause_power_until": future.isoformat()})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["pause_power_until"], fmt_ts(future))
        self.assertTrue(r.body["is_pause_power_active"])
        self.assertTrue(self.get(d["id"])["is_pause_power_active"])
        r = self.put(d["id"], {"pause_power_until": "2020-01-01T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.body["is_pause_power_active"])
        r = self.put(d["id"], {"pause_power_until": None})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["pause_power_until"])
        self.assertFalse(r.body["is_pause_power_active"])
        self.assertProblemFields(self.put(d["id"], {"pause_power_until": "tomorrow"}), 422,
                                 "pause_power_until")

    # ---- buildings ----------------------------------------------------------
    def test_building_id_must_be_a_live_building_of_the_same_user(self):
        mine = self.new_building(self.org, self.uid)
        other_user = self.create_user(self.org)
        theirs = self.new_building(self.org, other_user["id"])
        for bid in (theirs["id"], str(uuid.uuid4())):
            with self.subTest(building_id=bid):
                r = self.S.request("POST", self.path(), body={"building_id": bid}, token=self.admin)
                self.assertProblemFields(r, 422, "building_id")
        self.assertProblemFields(self.S.request("POST", self.path(), body={"building_id": "abc"},
                                                token=self.admin), 422, "building_id")
        self.assertEqual(self.list_devices(self.org, self.uid, self.TYPE), [])
        d = self.create({"building_id": mine["id"]})
        self.assertEqual(d["building_id"], mine["id"])
        self.assertEqual(d["building"], mine["id"])
        # PUT: another user's building is refused and nothing changes
        self.assertProblemFields(self.put(d["id"], {"building_id": theirs["id"]}), 422, "building_id")
        self.assertEqual(self.get(d["id"])["building_id"], mine["id"])
        # a deleted building is refused too
        spare = self.new_building(self.org, self.uid, name="Spare")
        self.assertEqual(self.S.request("DELETE", self.rpath(self.org, self.uid, "buildings", spare["id"]),
                                        token=self.admin).status, 204)
        self.assertProblemFields(self.put(d["id"], {"building_id": spare["id"]}), 422, "building_id")
        r = self.put(d["id"], {"building_id": None})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["building"])

    # ---- the reset forms -------------------------------------------------------
    def test_document_reset_put_resumes_optimisation_and_clears_the_pause(self):
        d = self.create()
        future = utcnow() + datetime.timedelta(hours=3)
        r = self.put(d["id"], {"is_smart_optimization_active": False, "pause_power_until": fmt_ts(future)})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body["is_pause_power_active"])
        r = self.put(d["id"], {"is_smart_optimization_active": True, "pause_power_until": None})
        self.assertEqual(r.status, 200, r)
        self.assertDeviceShape(r.body, self.TYPE)
        self.assertTrue(r.body["is_smart_optimization_active"])
        self.assertIsNone(r.body["pause_power_until"])
        self.assertFalse(r.body["is_pause_power_active"])

    def test_post_reset_optimization_returns_the_reset_device(self):
        d = self.create({"is_smart_optimization_active": False,
                         "pause_power_until": fmt_ts(utcnow() + datetime.timedelta(hours=1))})
        self.assertTrue(d["is_pause_power_active"])
        r = self.S.request("POST", self.path(d["id"], "reset-optimization"), token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertDeviceShape(r.body, self.TYPE)
        self.assertTrue(r.body["is_smart_optimization_active"])
        self.assertIsNone(r.body["pause_power_until"])
        self.assertFalse(r.body["is_pause_power_active"])
        self.assertTrue(r.headers.get("ETag"))
        self.assertEqual(self.get(d["id"]), r.body)

    # ---- audit ------------------------------------------------------------------
    def test_audit_records_create_update_reset_and_delete(self):
        d = self.create({"comment": "audited"})
        self.assertEqual(self.put(d["id"], {"comment": "audited twice"}).status, 200)
        self.assertEqual(self.put(d["id"], {"is_smart_optimization_active": False}).status, 200)
        self.assertEqual(self.S.request("POST", self.path(d["id"], "reset-optimization"),
                                        token=self.admin).status, 200)
        self.assertEqual(self.S.request("DELETE", self.path(d["id"]), token=self.admin).status, 204)
        recs = self.audit_records(self.org, target_id=d["id"])
        self.assertEqual([x["action"] for x in recs],
                         ["device.delete", "device.reset_optimization", "device.update", "device.update",
                          "device.create"])
        for x in recs:
            self.assertEqual(x["target"], {"type": "device", "id": d["id"]})
            self.assertEqual(x["actor"]["id"], self.org.token_id("admin"))
        create, upd1, upd2, reset, delete = reversed(recs)
        self.assertEqual(create["changes"]["comment"]["after"], "audited")
        self.assertEqual(upd1["changes"], {"comment": {"before": "audited", "after": "audited twice"}})
        self.assertEqual(upd2["changes"], {"is_smart_optimization_active": {"before": True, "after": False}})
        self.assertEqual(reset["changes"]["is_smart_optimization_active"], {"before": False, "after": True})
        self.assertIsNone(delete["changes"]["deleted_at"]["before"])
        self.assertRegex(delete["changes"]["deleted_at"]["after"], TS_RE)


class HeatPumpTest(_PerType, DeviceApiTestCase):
    TYPE = "heat-pumps"

    def test_temperature_ranges(self):
        d = self.create()
        cases = [("minimum_temperature_limit", 4.9), ("minimum_temperature_limit", 30.5),
                 ("maximum_temperature_limit", 9.5), ("maximum_temperature_limit", 35.1),
                 ("minimum_dhw_temperature_limit", 19), ("minimum_dhw_temperature_limit", 66),
                 ("indoor_target_temperature", 4), ("indoor_target_temperature", 36),
                 ("dhw_standard_temperature", 19.9), ("dhw_standard_temperature", 75.5),
                 ("minimum_temperature_limit", "18"), ("indoor_target_temperature", True)]
        for field, v in cases:
            with self.subTest(field=field, value=v):
                self.assertProblemFields(self.put(d["id"], {field: v}), 422, field)
                self.assertProblemFields(self.S.request("POST", self.path(), body={field: v},
                                                        token=self.admin), 422, field)
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)
        self.assertEqual(len(self.list_devices(self.org, self.uid, self.TYPE)), 1)
        # the bounds themselves are valid
        r = self.put(d["id"], {"minimum_temperature_limit": 5, "indoor_target_temperature": 5,
                               "maximum_temperature_limit": 35, "dhw_standard_temperature": 75,
                               "minimum_dhw_temperature_limit": 20})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["minimum_temperature_limit"], 5.0)
        self.assertEqual(r.body["maximum_temperature_limit"], 35.0)

    def test_minimum_above_maximum_is_422_in_both_orders(self):
        d = self.create()  # 18 <= 21 <= 24, dhw 40 <= 50
        # the minimum raised above the stored maximum names the minimum
        self.assertProblemFields(self.put(d["id"], {"minimum_temperature_limit": 25,
                                                    "indoor_target_temperature": 24}),
                                 422, "minimum_temperature_limit")
        # the maximum lowered below the stored minimum names the maximum
        self.assertProblemFields(self.put(d["id"], {"maximum_temperature_limit": 17,
                                                    "indoor_target_temperature": 17}),
                                 422, "maximum_temperature_limit")
        # both sent, crossed
        self.assertProblemFields(self.put(d["id"], {"minimum_temperature_limit": 26,
                                                    "maximum_temperature_limit": 20}),
                                 422, "minimum_temperature_limit")
        # the target outside the limits, on either side
        self.assertProblemFields(self.put(d["id"], {"indoor_target_temperature": 30}), 422,
                                 "indoor_target_temperature")
        self.assertProblemFields(self.put(d["id"], {"indoor_target_temperature": 10}), 422,
                                 "indoor_target_temperature")
        # dhw minimum above the dhw standard, either way
        self.assertProblemFields(self.put(d["id"], {"minimum_dhw_temperature_limit": 55}), 422,
                                 "minimum_dhw_temperature_limit")
        self.assertProblemFields(self.put(d["id"], {"dhw_standard_temperature": 35}), 422,
                                 "dhw_standard_temperature")
        # on create, against the defaults
        self.assertProblemFields(self.S.request("POST", self.path(), body={"minimum_temperature_limit": 25},
                                                token=self.admin), 422, "minimum_temperature_limit")
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)
        # equal limits are in order
        r = self.put(d["id"], {"minimum_temperature_limit": 21, "maximum_temperature_limit": 21})
        self.assertEqual(r.status, 200, r)

    def test_optimization_level_and_away_mode(self):
        d = self.create()
        self.assertProblemFields(self.put(d["id"], {"optimization_level": "High"}), 422, "optimization_level")
        self.assertProblemFields(self.put(d["id"], {"optimization_level": "mid"}), 422, "optimization_level")
        r = self.put(d["id"], {"optimization_level": "Max"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["optimization_level"], "Max")
        self.assertProblemFields(self.put(d["id"], {"away_mode_start": "2026-12-20T10:00:00Z",
                                                    "away_mode_end": "2026-12-10T10:00:00Z"}),
                                 422, "away_mode_start")
        r = self.put(d["id"], {"is_away_mode_enabled": True, "away_mode_start": "2026-12-20T10:00:00+01:00",
                               "away_mode_end": "2026-12-27T18:30:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["away_mode_start"], "2026-12-20T09:00:00.000Z")
        self.assertEqual(r.body["away_mode_end"], "2026-12-27T18:30:00.000Z")
        # an end before the stored start names the end
        self.assertProblemFields(self.put(d["id"], {"away_mode_end": "2026-12-01T00:00:00Z"}), 422,
                                 "away_mode_end")


class ElectricVehicleTest(_PerType, DeviceApiTestCase):
    TYPE = "electric-vehicles"

    def test_percentage_ranges(self):
        d = self.create()
        for field, v in (("minimum_charge_limit", -1), ("minimum_charge_limit", 100.5),
                         ("charge_target_min", 101), ("charge_target_max", 101), ("charge_target_max", -0.5)):
            with self.subTest(field=field, value=v):
                self.assertProblemFields(self.put(d["id"], {field: v}), 422, field)
        for field, v in (("battery_level", 101), ("battery_level", -1), ("minimum_charge_limit", 150)):
            with self.subTest(create=field, value=v):
                self.assertProblemFields(self.S.request("POST", self.path(), body={field: v},
                                                        token=self.admin), 422, field)
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)
        r = self.put(d["id"], {"minimum_charge_limit": 0, "charge_target_min": 0, "charge_target_max": 100})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["minimum_charge_limit"], r.body["charge_target_max"]), (0.0, 100.0))
        full = self.create({"battery_level": 100, "is_plugged_in": True, "boost_state": "requested"})
        self.assertEqual(full["battery_level"], 100.0)
        self.assertEqual(full["boost_state"], "requested")
        self.assertProblemFields(self.S.request("POST", self.path(), body={"boost_state": "boosting"},
                                                token=self.admin), 422, "boost_state")

    def test_charge_order_is_enforced_in_both_directions(self):
        d = self.create()  # 20 <= 50 <= 80
        self.assertProblemFields(self.put(d["id"], {"minimum_charge_limit": 60}), 422, "minimum_charge_limit")
        self.assertProblemFields(self.put(d["id"], {"charge_target_min": 10}), 422, "charge_target_min")
        self.assertProblemFields(self.put(d["id"], {"charge_target_min": 90}), 422, "charge_target_min")
        self.assertProblemFields(self.put(d["id"], {"charge_target_max": 40}), 422, "charge_target_max")
        self.assertProblemFields(self.put(d["id"], {"charge_target_min": 70, "charge_target_max": 60}), 422,
                                 "charge_target_min")
        self.assertProblemFields(self.S.request("POST", self.path(), body={"charge_target_max": 10},
                                                token=self.admin), 422, "charge_target_max")
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)
        r = self.put(d["id"], {"minimum_charge_limit": 30, "charge_target_min": 30, "charge_target_max": 30})
        self.assertEqual(r.status, 200, r)

    def test_charge_deadline_is_hh_mm(self):
        d = self.create()
        for bad in ("24:00", "7:00", "ab:cd", "23:60", "12:5", "12-30", "07:00:00", 700, "", None):
            with self.subTest(value=bad):
                self.assertProblemFields(self.put(d["id"], {"charge_deadline_at": bad}), 422, "charge_deadline_at")
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)
        for good in ("00:00", "23:59", "19:05"):
            with self.subTest(value=good):
                r = self.put(d["id"], {"charge_deadline_at": good})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["charge_deadline_at"], good)


class InverterTest(_PerType, DeviceApiTestCase):
    TYPE = "inverters"

    def test_battery_percentages_and_order(self):
        d = self.create()  # 10 <= 100
        for field, v in (("min_battery_charge", -1), ("min_battery_charge", 101),
                         ("max_battery_charge", 100.01), ("max_battery_charge", -5)):
            with self.subTest(field=field, value=v):
                self.assertProblemFields(self.put(d["id"], {field: v}), 422, field)
        self.assertProblemFields(self.put(d["id"], {"min_battery_charge": 60, "max_battery_charge": 50}), 422,
                                 "min_battery_charge")
        self.assertProblemFields(self.put(d["id"], {"max_battery_charge": 5}), 422, "max_battery_charge")
        self.assertProblemFields(self.put(d["id"], {"min_battery_charge": 100.0, "max_battery_charge": 99}),
                                 422, "min_battery_charge")
        for v in (101, -0.1):
            self.assertProblemFields(self.S.request("POST", self.path(),
                                                    body={"battery_charge_level_percent": v},
                                                    token=self.admin), 422, "battery_charge_level_percent")
        self.assertUnchangedDevice(self.org, self.uid, self.TYPE, d)
        r = self.put(d["id"], {"min_battery_charge": 0, "max_battery_charge": 0})
        self.assertEqual(r.status, 200, r)
        iv = self.create({"battery_charge_level_percent": 100, "is_battery_connected": True,
                          "solar_power_rating_kw": 9.8})
        self.assertEqual(iv["battery_charge_level_percent"], 100.0)
        self.assertEqual(iv["solar_power_rating_kw"], 9.8)


class DeviceEdgeTest(DeviceApiTestCase):
    """Cross-type rules and the edges found while testing."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Device edges")
        cls.admin = cls.org.token("admin")

    def test_wrong_type_segment_and_other_users_path_are_404(self):
        u1 = self.create_user(self.org)["id"]
        u2 = self.create_user(self.org)["id"]
        hp = self.new_device(self.org, u1, "heat-pumps")
        for typ in ("electric-vehicles", "inverters"):
            self.assertProblem(self.S.get(self.dpath(self.org, u1, typ, hp["id"]), token=self.admin), 404)
            self.assertProblem(self.put_device(self.org, u1, typ, hp["id"], {"comment": "x"}), 404)
        self.assertProblem(self.S.get(self.dpath(self.org, u2, "heat-pumps", hp["id"]), token=self.admin), 404)
        self.assertProblem(self.S.request("DELETE", self.dpath(self.org, u2, "heat-pumps", hp["id"]),
                                          token=self.admin), 404)
        self.assertIsNone(self.get_device(self.org, u1, "heat-pumps", hp["id"])["deleted_at"])

    def test_error_pointer_is_a_json_pointer_into_the_body(self):
        u = self.create_user(self.org)["id"]
        r = self.S.request("POST", self.dpath(self.org, u, "heat-pumps"),
                           body={"device_model": {"colour": "red"}}, token=self.admin)
        body = self.assertProblemFields(r, 422, "device_model/colour")
        err = [e for e in body["errors"] if e["field"] == "device_model/colour"][0]
        self.assertEqual(err["pointer"], "/device_model/colour")

    def test_put_back_of_a_get_body_sent_with_integral_numbers_as_integers(self):
        # A JavaScript client re-serialises 0.0 as 0 and 21.0 as 21: JSON does not tell them apart,
        # so the GET body sent back that way must still count as "equal to the current value".
        u = self.create_user(self.org)["id"]
        d = self.new_device(self.org, u, "heat-pumps", {"indoor_actual_temperature": 20.0})
        js = json.loads(json.dumps(d), parse_float=lambda s: int(float(s)) if float(s).is_integer()
                        else float(s))
        self.assertEqual(js["consumption_last_day_kwh"], 0)
        self.assertIsInstance(js["consumption_last_day_kwh"], int)
        r = self.put_device(self.org, u, "heat-pumps", d["id"], js)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, d)

    def test_if_none_match_is_not_304_once_the_pause_has_ended(self):
        u = self.create_user(self.org)["id"]
        d = self.new_device(self.org, u, "inverters")
        until = utcnow() + datetime.timedelta(seconds=1.2)
        r = self.put_device(self.org, u, "inverters", d["id"], {"pause_power_until": fmt_ts(until)})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body["is_pause_power_active"])
        etag = r.headers["ETag"]
        time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.3)
        r2 = self.S.get(self.dpath(self.org, u, "inverters", d["id"]), token=self.admin,
                        headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 200, r2)
        self.assertFalse(r2.body["is_pause_power_active"])

    def test_post_with_no_body_or_a_non_object_body_is_refused(self):
        u = self.create_user(self.org)["id"]
        r = self.S.request("POST", self.dpath(self.org, u, "heat-pumps"), raw="[]", token=self.admin)
        self.assertProblem(r, 422)
        r = self.S.request("POST", self.dpath(self.org, u, "heat-pumps"), raw="{", token=self.admin)
        self.assertProblem(r, 400)
        self.assertEqual(self.list_devices(self.org, u, "heat-pumps"), [])


if __name__ == "__main__":
    unittest.main()
