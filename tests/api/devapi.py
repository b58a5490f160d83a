"""Shared helpers for the device, state and record (building, energy contract)
tests: paths, field lists in the API's order, and a test case base class with
one-call helpers.  Python standard library only; not a test module itself."""

import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # also importable as tests.api.* from the repository root
    sys.path.insert(0, HERE)

from harness import ApiTestCase, TS_RE, UUID_RE  # noqa: E402

TYPES = ("heat-pumps", "electric-vehicles", "inverters")
MODEL_TYPE = {"heat-pumps": "heat_pump", "electric-vehicles": "electric_vehicle", "inverters": "inverter"}

COMMON_HEAD = (
    "id", "user_id", "external_device_id", "building", "building_id", "lifecycle_state", "comment",
    "device_model", "is_authenticated", "authorization_url", "connection_status", "monitoring_status",
    "steering_status", "is_smart_optimization_active", "pause_power_until", "is_pause_power_active",
    "optimization_score", "current_mode", "operational_mode", "current_state_last_updated_at",
    "consumption_last_day_kwh", "consumption_last_week_kwh", "consumption_last_month_kwh",
)
COMMON_TAIL = ("actions", "created_at", "updated_at", "deleted_at")
OWN_FIELDS = {
    "heat-pumps": (
        "minimum_temperature_limit", "maximum_temperature_limit", "minimum_dhw_temperature_limit",
        "indoor_target_temperature", "dhw_standard_temperature", "indoor_actual_temperature",
        "outdoor_temperature", "current_power_consumption_w", "is_hot_water_enabled",
        "is_space_heating_enabled", "is_space_cooling_enabled", "optimization_level",
        "is_away_mode_enabled", "away_mode_start", "away_mode_end",
    ),
    "electric-vehicles": (
        "battery_level", "battery_capacity_kwh", "driving_range", "minimum_charge_limit",
        "charge_target_min", "charge_target_max", "charge_deadline_at", "is_charge_policy_enabled",
        "is_plugged_in", "is_charging", "is_fully_charged", "charge_rate_w", "charge_time_remaining",
        "charge_state_last_updated_at", "boost_state",
    ),
    "inverters": (
        "current_solar_production_w", "solar_surplus_w", "household_consumption_w",
        "current_power_to_grid_w", "production_last_day_kwh", "production_last_week_kwh",
        "production_last_month_kwh", "solar_power_rating_kw", "is_battery_connected",
        "battery_capacity_kwh", "battery_charge_level_percent", "min_battery_charge",
        "max_battery_charge",
    ),
}
FIELDS = {t: COMMON_HEAD + OWN_FIELDS[t] + COMMON_TAIL for t in TYPES}

# the type's own defaults on create (the spec: HP 18/24, 21, dhw 40/50, "Mid"; EV 20/50/80, "07:00";
# inverter 10/100)
TYPE_DEFAULTS = {
    "heat-pumps": {
        "minimum_temperature_limit": 18.0, "maximum_temperature_limit": 24.0,
        "minimum_dhw_temperature_limit": 40.0, "indoor_target_temperature": 21.0,
        "dhw_standard_temperature": 50.0, "optimization_level": "Mid",
        "is_hot_water_enabled": True, "is_space_heating_enabled": True,
        "is_space_cooling_enabled": False, "is_away_mode_enabled": False,
        "away_mode_start": None, "away_mode_end": None, "indoor_actual_temperature": None,
    },
    "electric-vehicles": {
        "minimum_charge_limit": 20.0, "charge_target_min": 50.0, "charge_target_max": 80.0,
        "charge_deadline_at": "07:00", "is_charge_policy_enabled": True, "is_plugged_in": False,
        "is_charging": False, "is_fully_charged": False, "boost_state": "unavailable",
        "battery_level": None,
    },
    "inverters": {
        "min_battery_charge": 10.0, "max_battery_charge": 100.0, "is_battery_connected": False,
        "production_last_day_kwh": 0.0, "production_last_week_kwh": 0.0,
        "production_last_month_kwh": 0.0, "battery_charge_level_percent": None,
    },
}

# a setting of each type, a valid new value for it, and the value a new device has
TYPE_SETTING = {
    "heat-pumps": ("indoor_target_temperature", 22.5, 21.0),
    "electric-vehicles": ("charge_deadline_at", "06:30", "07:00"),
    "inverters": ("max_battery_charge", 90.0, 100.0),
}
# a state field of each type and a valid value for it
TYPE_STATE = {
    "heat-pumps": ("indoor_actual_temperature", 20.5),
    "electric-vehicles": ("battery_level", 64.0),
    "inverters": ("current_solar_production_w", 3200.0),
}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(dt):
    """An RFC 3339 text of an aware datetime, with Z."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeviceApiTestCase(ApiTestCase):
    """ApiTestCase with device, building and contract helpers."""

    # ---- paths ----------------------------------------------------------
    def dpath(self, org, user_id, typ, dev_id=None, tail=None):
        p = "%s/%s" % (org.user_path(user_id), typ)
        if dev_id:
            p += "/" + dev_id
        if tail:
            p += "/" + tail
        return p

    def rpath(self, org, user_id, kind, rec_id=None):
        p = "%s/%s" % (org.user_path(user_id), kind)
        return p + "/" + rec_id if rec_id else p

    # ---- devices ----------------------------------------------------------
    def new_device(self, org, user_id, typ, body=None, token=None, expect=201):
        r = self.S.request("POST", self.dpath(org, user_id, typ), body=body if body is not None else {},
                           token=token or org.token("admin"))
        self.assertEqual(r.status, expect, r)
        return r.body

    def get_device(self, org, user_id, typ, dev_id, token=None):
        r = self.S.get(self.dpath(org, user_id, typ, dev_id), token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r.body

    def put_device(self, org, user_id, typ, dev_id, body, token=None, headers=None):
        return self.S.request("PUT", self.dpath(org, user_id, typ, dev_id), body=body,
                              token=token or org.token("admin"), headers=headers)

    def list_devices(self, org, user_id, typ, token=None):
        r = self.S.get(self.dpath(org, user_id, typ), token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list, r)
        return r.body

    def report(self, org, user_id, typ, dev_id, body, token=None):
        return self.S.request("POST", self.dpath(org, user_id, typ, dev_id, "state"), body=body,
                              token=token or org.token("integration"))

    def report_ok(self, org, user_id, typ, dev_id, body, token=None):
        r = self.report(org, user_id, typ, dev_id, body, token)
        self.assertEqual(r.status, 200, r)
        return r.body

    # ---- records ----------------------------------------------------------
    def new_record(self, org, user_id, kind, body, token=None, expect=201):
        r = self.S.request("POST", self.rpath(org, user_id, kind), body=body,
                           token=token or org.token("admin"))
        self.assertEqual(r.status, expect, r)
        return r.body

    def new_building(self, org, user_id, **fields):
        fields.setdefault("name", "Home")
        return self.new_record(org, user_id, "buildings", fields)

    def new_contract(self, org, user_id, **fields):
        fields.setdefault("energy_contract_type", "monthly")
        return self.new_record(org, user_id, "energy-contracts", fields)

    def get_record(self, org, user_id, kind, rec_id, token=None):
        r = self.S.get(self.rpath(org, user_id, kind, rec_id), token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r.body

    # ---- assertions ---------------------------------------------------------
    def assertDeviceShape(self, d, typ):
        self.assertIsInstance(d, dict, d)
        self.assertEqual(list(d.keys()), list(FIELDS[typ]), "fields or their order")
        self.assertRegex(d["id"], UUID_RE)
        self.assertRegex(d["created_at"], TS_RE)
        self.assertRegex(d["updated_at"], TS_RE)
        self.assertEqual(d["building"], d["building_id"])
        self.assertIsInstance(d["actions"], list)
        self.assertIsInstance(d["is_pause_power_active"], bool)

    def assertProblemFields(self, r, status, *fields):
        """A problem naming each field (and only problems of this status)."""
        body = self.assertProblem(r, status)
        names = [e.get("field") for e in body.get("errors") or [] if isinstance(e, dict)]
        for f in fields:
            self.assertIn(f, names, r)
        return body

    def assertUnchangedDevice(self, org, user_id, typ, before):
        self.assertEqual(self.get_device(org, user_id, typ, before["id"]), before)
