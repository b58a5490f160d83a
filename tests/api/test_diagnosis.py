"""GET .../{type}/{id}/diagnosis: "connection" is the product document's
troubleshoot_device_connection() applied to the API's own device JSON (run
with an aware UTC now(), see doc_functions), "optimization" is the document's
"Optimization Not Working" checklist; and POST .../reset-optimization."""

import datetime
import uuid

import doc_functions as doc
import harness
from harness import ApiTestCase, TS_RE, fmt_ts, unique_email

harness.use_server(globals())

TYPES = ("heat-pumps", "electric-vehicles", "inverters")
CHECKS = ["optimization_active", "authenticated", "limits", "energy_contract"]
STALE = {"issue": "Data appears stale",
         "resolution": "Monitor for updates or contact manufacturer API support"}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def ago(**kw):
    return utcnow() - datetime.timedelta(**kw)


class DiagnosisBase(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create()
        cls.admin = cls.org.token("admin")
        r = cls.S.request("POST", cls.org.users, body={"email": unique_email("diag")}, token=cls.admin)
        assert r.status == 201, r
        cls.user = r.body

    def new_user(self):
        return self.create_user(self.org)["id"]

    def dev_path(self, dtype, dev_id, user_id=None):
        return "%s/%s/%s" % (self.org.user_path(user_id or self.user["id"]), dtype, dev_id)

    def create_device(self, dtype, user_id=None, **fields):
        r = self.S.request("POST", "%s/%s" % (self.org.user_path(user_id or self.user["id"]), dtype),
                           body=fields, token=self.admin)
        self.assertEqual(r.status, 201, r)
        return r.body

    def get_device(self, dtype, dev_id, user_id=None):
        r = self.S.get(self.dev_path(dtype, dev_id, user_id), token=self.admin)
        self.assertEqual(r.status, 200, r)
        return r.body

    def diagnosis(self, dtype, dev_id, user_id=None, token=None):
        r = self.S.get(self.dev_path(dtype, dev_id, user_id) + "/diagnosis", token=token or self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, dict, r)
        return r.body

    def create_record(self, user_id, kind, **fields):
        r = self.S.request("POST", "%s/%s" % (self.org.user_path(user_id), kind), body=fields,
                           token=self.admin)
        self.assertEqual(r.status, 201, r)
        return r.body

    def checks(self, diag):
        opt = diag["optimization"]
        self.assertEqual([c["check"] for c in opt["checks"]], CHECKS, diag)
        for c in opt["checks"]:
            self.assertEqual(set(c), {"check", "title", "passed", "detail", "resolution"}, c)
            self.assertIsInstance(c["passed"], bool, c)
            self.assertTrue(c["title"] and c["detail"], c)
            if c["passed"]:
                self.assertEqual(c["resolution"], "", c)
            else:
                self.assertTrue(c["resolution"], c)
        self.assertEqual(opt["ok"], all(c["passed"] for c in opt["checks"]), diag)
        return {c["check"]: c for c in opt["checks"]}


class ConnectionTest(DiagnosisBase):
    """Each branch of troubleshoot_device_connection, for each device type."""

    def assertMatchesDocument(self, dtype, dev_id, user_id=None):
        diag = self.diagnosis(dtype, dev_id, user_id)
        dev = self.get_device(dtype, dev_id, user_id)
        expected = doc.troubleshoot_with_aware_now(dev)
        self.assertEqual(diag["connection"], expected, (diag, dev))
        # the response's frame
        self.assertEqual(list(diag), ["device_id", "device_type", "checked_at", "connection",
                                      "optimization", "actions"])
        self.assertEqual(diag["device_id"], dev_id)
        self.assertEqual(diag["device_type"], dtype)
        self.assertRegex(diag["checked_at"], TS_RE)
        self.assertEqual(diag["actions"], dev["actions"])
        return diag

    def test_not_authenticated_with_authorization_url_asks_to_reconnect(self):
        for dtype in TYPES:
            with self.subTest(dtype=dtype):
                url = "https://auth.example.com/reconnect?d=%s" % uuid.uuid4().hex
                d = self.create_device(dtype, is_authenticated=False, authorization_url=url,
                                       current_state_last_updated_at=fmt_ts(ago(minutes=5)))
                diag = self.assertMatchesDocument(dtype, d["id"])
                self.assertEqual(diag["connection"]["issue"], "Device requires re-authentication")
                self.assertEqual(diag["connection"]["action_url"], url)
                self.assertEqual(diag["actions"], [{"code": "reauthenticate", "resolution_link": url}])

    def test_not_authenticated_without_url_suggests_onboarding(self):
        for dtype in TYPES:
            with self.subTest(dtype=dtype):
                # even with a stale timestamp: authentication is checked first
                d = self.create_device(dtype, current_state_last_updated_at=fmt_ts(ago(hours=9)))
                diag = self.assertMatchesDocument(dtype, d["id"])
                self.assertEqual(diag["connection"]["issue"], "Device not authenticated")
                self.assertNotIn("action_url", diag["connection"])
                self.assertEqual(diag["actions"], [{"code": "reauthenticate", "resolution_link": None}])

    def test_stale_three_hours_with_milliseconds(self):
        for dtype in TYPES:
            with self.subTest(dtype=dtype):
                t = ago(hours=3).replace(second=0, microsecond=250000)
                ts = fmt_ts(t)
                self.assertTrue(ts.endswith(":00.250Z"), ts)
                d = self.create_device(dtype, is_authenticated=True, current_state_last_updated_at=ts)
                self.assertEqual(d["current_state_last_updated_at"], ts)
                diag = self.assertMatchesDocument(dtype, d["id"])
                self.assertEqual(diag["connection"], dict(
                    STALE, last_update=t.strftime("%Y-%m-%dT%H:%M:00.250000+00:00")))
                self.assertEqual(list(diag["connection"]), ["issue", "last_update", "resolution"])
                self.assertEqual(diag["actions"], [])

    def test_stale_on_a_whole_second_has_no_fraction(self):
        t = ago(hours=5).replace(microsecond=0)
        d = self.create_device("heat-pumps", is_authenticated=True,
                               current_state_last_updated_at=t.strftime("%Y-%m-%dT%H:%M:%SZ"))
        diag = self.assertMatchesDocument("heat-pumps", d["id"])
        self.assertEqual(diag["connection"]["last_update"], t.strftime("%Y-%m-%dT%H:%M:%S+00:00"))

    def test_stale_with_an_offset_timestamp_is_shown_in_utc(self):
        # sent as +02:00, stored and shown in UTC; the document sees the stored value
        t = ago(hours=4).replace(microsecond=0)
        local = t.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
        d = self.create_device("inverters", is_authenticated=True,
                               current_state_last_updated_at=local.isoformat())
        diag = self.assertMatchesDocument("inverters", d["id"])
        self.assertEqual(diag["connection"]["last_update"], t.strftime("%Y-%m-%dT%H:%M:%S+00:00"))

    def test_edge_timestamps(self):
        for ts in ("1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.001Z", "0001-01-01T00:00:00Z",
                   "1900-03-01T12:00:00.5Z", "2024-02-29T10:00:00Z", "9999-12-31T23:59:59.999Z"):
            with self.subTest(ts=ts):
                d = self.create_device("heat-pumps", is_authenticated=True, current_state_last_updated_at=ts)
                diag = self.assertMatchesDocument("heat-pumps", d["id"])
                if ts.startswith("9999"):
                    self.assertEqual(diag["connection"], {"status": "healthy"})
                else:
                    self.assertEqual(diag["connection"]["issue"], STALE["issue"])

    def test_healthy_with_a_recent_timestamp(self):
        for dtype in TYPES:
            with self.subTest(dtype=dtype):
                d = self.create_device(dtype, is_authenticated=True,
                                       current_state_last_updated_at=fmt_ts(ago(minutes=10)))
                diag = self.assertMatchesDocument(dtype, d["id"])
                self.assertEqual(diag["connection"], {"status": "healthy"})

    def test_two_hours_is_the_threshold(self):
        fresh = self.create_device("heat-pumps", is_authenticated=True,
                                   current_state_last_updated_at=fmt_ts(ago(hours=1, minutes=58)))
        old = self.create_device("heat-pumps", is_authenticated=True,
                                 current_state_last_updated_at=fmt_ts(ago(hours=2, minutes=2)))
        self.assertEqual(self.assertMatchesDocument("heat-pumps", fresh["id"])["connection"],
                         {"status": "healthy"})
        self.assertEqual(self.assertMatchesDocument("heat-pumps", old["id"])["connection"]["issue"],
                         STALE["issue"])

    def test_a_state_report_makes_a_stale_device_healthy(self):
        d = self.create_device("electric-vehicles", is_authenticated=True,
                               current_state_last_updated_at=fmt_ts(ago(hours=6)))
        self.assertEqual(self.assertMatchesDocument("electric-vehicles", d["id"])["connection"]["issue"],
                         STALE["issue"])
        r = self.S.request("POST", self.dev_path("electric-vehicles", d["id"]) + "/state",
                           body={"state": {"battery_level": 55}}, token=self.org.token("integration"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.assertMatchesDocument("electric-vehicles", d["id"])["connection"],
                         {"status": "healthy"})

    def test_never_reported_is_stale_with_null_last_update(self):
        # Documented deviation: the document's function cannot handle a device that
        # never reported (datetime.fromisoformat(None) raises TypeError); the API
        # answers with the stale branch and last_update null.
        for dtype in TYPES:
            with self.subTest(dtype=dtype):
                d = self.create_device(dtype, is_authenticated=True)
                dev = self.get_device(dtype, d["id"])
                self.assertIsNone(dev["current_state_last_updated_at"])
                with self.assertRaises(TypeError):
                    doc.troubleshoot_with_aware_now(dev)
                diag = self.diagnosis(dtype, d["id"])
                self.assertEqual(diag["connection"], dict(STALE, last_update=None))
                self.assertEqual(list(diag["connection"]), ["issue", "last_update", "resolution"])


class OptimizationChecklistTest(DiagnosisBase):
    def healthy(self, dtype, user_id=None, **fields):
        base = dict(is_authenticated=True, current_state_last_updated_at=fmt_ts(ago(minutes=1)))
        base.update(fields)
        return self.create_device(dtype, user_id=user_id, **base)

    def check(self, dtype, dev_id, name, user_id=None):
        return self.checks(self.diagnosis(dtype, dev_id, user_id))[name]

    # ---- optimization_active
    def test_optimization_active_fails_when_off(self):
        d = self.healthy("heat-pumps", is_smart_optimization_active=False)
        c = self.check("heat-pumps", d["id"], "optimization_active")
        self.assertFalse(c["passed"], c)
        self.assertIn("is_smart_optimization_active is false", c["detail"])
        self.assertIn("reset-optimization", c["resolution"])

    def test_optimization_active_fails_when_paused(self):
        until = fmt_ts(utcnow() + datetime.timedelta(hours=1))
        d = self.healthy("electric-vehicles", pause_power_until=until)
        self.assertTrue(d["is_pause_power_active"])
        c = self.check("electric-vehicles", d["id"], "optimization_active")
        self.assertFalse(c["passed"], c)
        self.assertIn(until, c["detail"])

    def test_optimization_active_passes_when_on_and_a_pause_is_over(self):
        d = self.healthy("inverters", pause_power_until=fmt_ts(ago(minutes=5)))
        self.assertFalse(d["is_pause_power_active"])
        c = self.check("inverters", d["id"], "optimization_active")
        self.assertTrue(c["passed"], c)

    # ---- authenticated
    def test_authenticated_check(self):
        url = "https://auth.example.com/again"
        with_url = self.create_device("heat-pumps", authorization_url=url)
        without = self.create_device("heat-pumps")
        ok = self.healthy("heat-pumps")
        c = self.check("heat-pumps", with_url["id"], "authenticated")
        self.assertFalse(c["passed"])
        self.assertIn("authorization_url", c["resolution"])
        c = self.check("heat-pumps", without["id"], "authenticated")
        self.assertFalse(c["passed"])
        self.assertIn("onboarding", c["resolution"])
        c = self.check("heat-pumps", ok["id"], "authenticated")
        self.assertTrue(c["passed"], c)
        self.assertEqual(c["detail"], "is_authenticated is true")

    # ---- limits
    def test_limits_heat_pump(self):
        ok = self.healthy("heat-pumps")                      # defaults 18..24, target 21
        self.assertTrue(self.check("heat-pumps", ok["id"], "limits")["passed"])
        narrow = self.healthy("heat-pumps", minimum_temperature_limit=20, maximum_temperature_limit=20.5,
                              indoor_target_temperature=20.2)
        c = self.check("heat-pumps", narrow["id"], "limits")
        self.assertFalse(c["passed"], c)
        self.assertIn("20 to 20.5", c["detail"])

    def test_limits_ev_charge_policy(self):
        ok = self.healthy("electric-vehicles")
        c = self.check("electric-vehicles", ok["id"], "limits")
        self.assertTrue(c["passed"], c)
        self.assertIn("charge policy on", c["detail"])
        off = self.healthy("electric-vehicles", is_charge_policy_enabled=False)
        c = self.check("electric-vehicles", off["id"], "limits")
        self.assertFalse(c["passed"], c)
        self.assertIn("charge policy off", c["detail"])
        self.assertIn("charge policy", c["resolution"])
        # minimum_charge_limit == charge_target_max leaves no room either
        full = self.healthy("electric-vehicles", minimum_charge_limit=80, charge_target_min=80,
                            charge_target_max=80)
        self.assertFalse(self.check("electric-vehicles", full["id"], "limits")["passed"])

    def test_limits_inverter_battery(self):
        no_battery = self.healthy("inverters", min_battery_charge=50, max_battery_charge=50)
        c = self.check("inverters", no_battery["id"], "limits")
        self.assertTrue(c["passed"], c)
        self.assertIn("no battery", c["detail"])
        stuck = self.healthy("inverters", is_battery_connected=True, min_battery_charge=50,
                             max_battery_charge=50)
        c = self.check("inverters", stuck["id"], "limits")
        self.assertFalse(c["passed"], c)
        self.assertIn("50 % and 50 %", c["detail"])
        room = self.healthy("inverters", is_battery_connected=True, min_battery_charge=10,
                            max_battery_charge=90)
        self.assertTrue(self.check("inverters", room["id"], "limits")["passed"])

    # ---- energy_contract (each case with a user of its own)
    def test_no_contract(self):
        uid = self.new_user()
        d = self.healthy("heat-pumps", user_id=uid)
        c = self.check("heat-pumps", d["id"], "energy_contract", uid)
        self.assertFalse(c["passed"], c)
        self.assertEqual(c["detail"], "the user has no energy contract")

    def test_contract_expired(self):
        uid = self.new_user()
        self.create_record(uid, "energy-contracts", energy_contract_type="monthly",
                           valid_from=fmt_ts(ago(days=400)), valid_to=fmt_ts(ago(days=35)))
        d = self.healthy("heat-pumps", user_id=uid)
        c = self.check("heat-pumps", d["id"], "energy_contract", uid)
        self.assertFalse(c["passed"], c)
        self.assertIn("none of the user's 1 energy contracts", c["detail"])

    def test_contract_not_yet_valid(self):
        uid = self.new_user()
        self.create_record(uid, "energy-contracts", energy_contract_type="yearly",
                           valid_from=fmt_ts(utcnow() + datetime.timedelta(days=3)))
        d = self.healthy("electric-vehicles", user_id=uid)
        self.assertFalse(self.check("electric-vehicles", d["id"], "energy_contract", uid)["passed"])

    def test_contract_for_another_building(self):
        uid = self.new_user()
        b1 = self.create_record(uid, "buildings", name="Home")
        b2 = self.create_record(uid, "buildings", name="Cabin")
        self.create_record(uid, "energy-contracts", energy_contract_type="spot_hourly", building_id=b2["id"])
        d = self.healthy("heat-pumps", user_id=uid, building_id=b1["id"])
        c = self.check("heat-pumps", d["id"], "energy_contract", uid)
        self.assertFalse(c["passed"], c)
        # the same contract covers a device in its building
        d2 = self.healthy("heat-pumps", user_id=uid, building_id=b2["id"])
        self.assertTrue(self.check("heat-pumps", d2["id"], "energy_contract", uid)["passed"])

    def test_current_contract_passes_and_everything_ok(self):
        uid = self.new_user()
        b = self.create_record(uid, "buildings", name="Home")
        k = self.create_record(uid, "energy-contracts", energy_contract_type="monthly", building_id=b["id"],
                               valid_from=fmt_ts(ago(days=10)),
                               valid_to=fmt_ts(utcnow() + datetime.timedelta(days=300)))
        d = self.healthy("heat-pumps", user_id=uid, building_id=b["id"])
        diag = self.diagnosis("heat-pumps", d["id"], uid)
        checks = self.checks(diag)
        c = checks["energy_contract"]
        self.assertTrue(c["passed"], c)
        self.assertIn(k["id"], c["detail"])
        self.assertIn("monthly", c["detail"])
        self.assertTrue(diag["optimization"]["ok"], diag)
        self.assertEqual(diag["connection"], {"status": "healthy"})

    def test_deleted_contract_does_not_count(self):
        uid = self.new_user()
        k = self.create_record(uid, "energy-contracts", energy_contract_type="monthly")
        d = self.healthy("inverters", user_id=uid)
        self.assertTrue(self.check("inverters", d["id"], "energy_contract", uid)["passed"])
        r = self.S.request("DELETE", "%s/energy-contracts/%s" % (self.org.user_path(uid), k["id"]),
                           token=self.admin)
        self.assertEqual(r.status, 204, r)
        c = self.check("inverters", d["id"], "energy_contract", uid)
        self.assertFalse(c["passed"], c)
        self.assertEqual(c["detail"], "the user has no energy contract")

    # ---- reset-optimization
    def test_reset_optimization_then_diagnosis_passes(self):
        d = self.healthy("heat-pumps", is_smart_optimization_active=False,
                         pause_power_until=fmt_ts(utcnow() + datetime.timedelta(days=1)))
        self.assertFalse(self.check("heat-pumps", d["id"], "optimization_active")["passed"])
        r = self.S.request("POST", self.dev_path("heat-pumps", d["id"]) + "/reset-optimization",
                           token=self.org.token("staff"))
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.body["is_smart_optimization_active"], True)
        self.assertIsNone(r.body["pause_power_until"])
        self.assertIs(r.body["is_pause_power_active"], False)
        self.assertEqual(r.body, self.get_device("heat-pumps", d["id"]))
        self.assertTrue(self.check("heat-pumps", d["id"], "optimization_active")["passed"])
        recs = self.audit_records(self.org, target_id=d["id"], action="device.reset_optimization")
        self.assertEqual(len(recs), 1, recs)

    def test_reset_optimization_of_a_deleted_device_409(self):
        d = self.healthy("inverters", is_smart_optimization_active=False)
        r = self.S.request("DELETE", self.dev_path("inverters", d["id"]), token=self.admin)
        self.assertEqual(r.status, 204, r)
        r = self.S.request("POST", self.dev_path("inverters", d["id"]) + "/reset-optimization", token=self.admin)
        self.assertProblem(r, 409)
        self.assertFalse(self.get_device("inverters", d["id"])["is_smart_optimization_active"])
        r = self.S.request("POST", self.dev_path("heat-pumps", d["id"]) + "/reset-optimization", token=self.admin)
        self.assertProblem(r, 404)

    def test_reset_optimization_needs_staff(self):
        d = self.healthy("heat-pumps", is_smart_optimization_active=False)
        for role in ("viewer", "integration"):
            r = self.S.request("POST", self.dev_path("heat-pumps", d["id"]) + "/reset-optimization",
                               token=self.org.token(role))
            self.assertProblem(r, 403)
        self.assertFalse(self.get_device("heat-pumps", d["id"])["is_smart_optimization_active"])


class DiagnosisAccessTest(DiagnosisBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.S.request("POST", cls.org.user_path(cls.user["id"]) + "/heat-pumps",
                          body={"is_authenticated": True}, token=cls.admin)
        assert r.status == 201, r
        cls.dev = r.body

    def test_viewer_may_read_diagnosis(self):
        diag = self.diagnosis("heat-pumps", self.dev["id"], token=self.org.token("viewer"))
        self.assertEqual(diag["device_id"], self.dev["id"])

    def test_other_org_gets_404(self):
        other = self.S.org_create()
        tok = other.token("admin")
        r = self.S.get(self.dev_path("heat-pumps", self.dev["id"]) + "/diagnosis", token=tok)
        self.assertProblem(r, 404)
        path = "%s/heat-pumps/%s/diagnosis" % (other.user_path(self.user["id"]), self.dev["id"])
        self.assertProblem(self.S.get(path, token=tok), 404)

    def test_other_user_gets_404(self):
        uid = self.new_user()
        r = self.S.get(self.dev_path("heat-pumps", self.dev["id"], uid) + "/diagnosis", token=self.admin)
        self.assertProblem(r, 404)

    def test_wrong_type_and_unknown_id_get_404(self):
        for dtype in ("electric-vehicles", "inverters"):
            r = self.S.get(self.dev_path(dtype, self.dev["id"]) + "/diagnosis", token=self.admin)
            self.assertProblem(r, 404)
        r = self.S.get(self.dev_path("heat-pumps", uuid.uuid4()) + "/diagnosis", token=self.admin)
        self.assertProblem(r, 404)
        r = self.S.get(self.dev_path("heat-pumps", "not-a-uuid") + "/diagnosis", token=self.admin)
        self.assertProblem(r, 404)

    def test_without_token_401(self):
        r = self.S.get(self.dev_path("heat-pumps", self.dev["id"]) + "/diagnosis")
        self.assertProblem(r, 401)
