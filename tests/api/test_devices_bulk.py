"""POST /org/{org_id}/devices/bulk: reset_optimization or update (pause,
resume, other settings) of many devices at once.

With device_ids (1 to 1000): 200 and one result per id in request order, each
device checked against its own type and state; unknown, other org's (404) and
deleted (409) devices fail alone; one audit record per changed device with
the request's id; each id weighs one request against the rate limit.

With filter (the fleet view's filters, zip_code the user's): 202 and a
devices.update job that works through every matching device in batches of
500, counts what it did, lists by ordinal and id the devices it could not
change, and can be cancelled.

The request's shape (every error listed at once as problem+json), the roles
(staff and admin; viewer, user and integration 403; another org 404; no
token 401), org isolation, Idempotency-Key replays, and the zip_code filter
of GET /devices and GET /devices/export.

Three classes run a server of their own: the jobs over more than 500 devices
(so that what they leave behind cannot disturb the rest), the rate limit
(refilling one request a second, so a reply's RateLimit says exactly what
the request weighed), and the request whose device_ids hold a non-string
before a valid id (which must not take the server down)."""

import csv
import datetime
import io
import json
import re
import secrets
import time
import urllib.parse
import uuid

import harness
from harness import API, OwnServerTestCase, TS_RE, UUID_RE, next_link, unique_email
from devapi import DeviceApiTestCase, TYPES, utcnow, iso

harness.use_server(globals())

HP, EV, IV = TYPES
PAUSE_AT = "2030-01-01T00:00:00Z"
PAUSE_STORED = "2030-01-01T00:00:00.000Z"
JOB_KEYS = {"id", "kind", "state", "total", "processed", "succeeded", "failed", "progress",
            "rate_per_second", "eta_seconds", "errors_kept", "cancel_requested", "error", "links"}
DONE = ("succeeded", "failed", "cancelled")
JOB_TIMEOUT = 60
RATELIMIT_RE = re.compile(r'^"per-credential";r=(\d+);t=(\d+)$')
OK_KEYS = {"index", "device_id", "status", "status_code", "data"}
ERR_KEYS = {"index", "device_id", "status", "status_code", "error"}


def devices_path(org):
    return "%s/org/%s/devices" % (API, org.id)


def bulk_path(org):
    return devices_path(org) + "/bulk"


def jobs_path(org, job_id=None, tail=""):
    p = "%s/org/%s/jobs" % (API, org.id)
    if job_id is not None:
        p += "/" + job_id
    return p + tail


def new_rid():
    return "dbulk-" + secrets.token_hex(8)


def new_key():
    return "key-" + secrets.token_hex(12)


def future(hours=3):
    return iso(utcnow() + datetime.timedelta(hours=hours))


def recent(minutes=5):
    return iso(utcnow() - datetime.timedelta(minutes=minutes))


class BulkDevicesCase(DeviceApiTestCase):
    """Helpers shared by the device bulk tests."""

    maxDiff = 6000

    # ---- requests ------------------------------------------------------------------
    def bulk(self, org, body, token=None, rid=None, headers=None, **kw):
        h = dict(headers or {})
        if rid:
            h["X-Request-Id"] = rid
        return self.S.request("POST", bulk_path(org), body=body, token=token or org.token("admin"),
                              headers=h, **kw)

    def new_devices(self, org, uid, typ, n, body=None, token=None):
        return [self.new_device(org, uid, typ, dict(body or {}), token=token) for _ in range(n)]

    def device_now(self, org, dev, typ, token=None):
        return self.get_device(org, dev["user_id"], typ, dev["id"], token=token)

    def fleet_all(self, org, token=None, **params):
        """Every live device of the org (fleet view items) by id, in list order."""
        params.setdefault("limit", 1000)
        items, pages = self.walk(org, token=token, path=devices_path(org), **params)
        self.assertEqual(len({d["id"] for d in items}), len(items))
        return {d["id"]: d for d in items}

    def wait_job(self, org, job_id, token=None, timeout=JOB_TIMEOUT):
        token = token or org.token("admin")
        deadline = time.monotonic() + timeout
        while True:
            r = self.S.get(jobs_path(org, job_id), token=token)
            self.assertEqual(r.status, 200, r)
            if r.body["state"] in DONE:
                return r.body
            self.assertIn(r.body["state"], ("queued", "running"), r)
            if time.monotonic() > deadline:
                self.fail("job %s did not end within %s s: %r" % (job_id, timeout, r.body))
            time.sleep(0.05)

    def job_errors(self, org, job_id, token=None, **query):
        query.setdefault("limit", 1000)
        r = self.S.get(jobs_path(org, job_id, "/errors?" + urllib.parse.urlencode(query)),
                       token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list, r)
        return r.body

    def org_jobs(self, org):
        items, _ = self.walk(org, path=jobs_path(org), limit=100)
        return items

    def records_of_request(self, org, rid, **params):
        return [rec for rec in self.audit_records(org, **params) if rec["request_id"] == rid]

    def start_job(self, org, body, token=None, rid=None):
        """POSTs a filter request; checks the 202 and returns the job view."""
        r = self.bulk(org, body, token=token, rid=rid)
        self.assertEqual(r.status, 202, r)
        self.assertJobView(org, r.body)
        self.assertEqual(r.headers.get("Location"), r.body["links"]["self"], r)
        self.assertEqual(r.body["state"], "queued", r)
        self.assertEqual((r.body["processed"], r.body["succeeded"], r.body["failed"]), (0, 0, 0), r)
        return r.body

    # ---- assertions ------------------------------------------------------------------
    def assertInvalid(self, r, *fields, either=()):
        """A 422 problem whose errors are exactly fields (plus one of either, if given),
        each with pointer "/" + field and a detail."""
        body = self.assertProblem(r, 422)
        errs = body.get("errors")
        self.assertIsInstance(errs, list, r)
        got = []
        for e in errs:
            self.assertIsInstance(e.get("field"), str, r)
            self.assertEqual(e.get("pointer"), "/" + e["field"], r)
            self.assertIsInstance(e.get("detail"), str, r)
            self.assertTrue(e["detail"], r)
            got.append(e["field"])
        rest = [f for f in got if f not in either]
        self.assertEqual(sorted(rest), sorted(fields), r)
        if either:
            self.assertEqual(len(got) - len(rest), 1, "expected one error naming one of %r: %r" % (either, r))
        return body

    def assertBulkReply(self, r, n):
        """A 200 reply of n results in request order; returns the results."""
        self.assertEqual(r.status, 200, r)
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/json", r)
        self.assertEqual(set(r.body), {"results", "succeeded", "failed"}, r)
        res = r.body["results"]
        self.assertIsInstance(res, list, r)
        self.assertEqual(len(res), n, r)
        self.assertEqual([x["index"] for x in res], list(range(n)), r)
        ok = sum(1 for x in res if x["status"] == "success")
        self.assertEqual((r.body["succeeded"], r.body["failed"]), (ok, n - ok), r.body)
        return res

    def assertItemOk(self, res, dev_id, typ):
        """A success result for dev_id of type typ; returns data without device_type."""
        self.assertEqual(set(res), OK_KEYS, res)
        self.assertEqual((res["status"], res["status_code"], res["device_id"]), ("success", 200, dev_id), res)
        data = res["data"]
        self.assertIsInstance(data, dict, res)
        self.assertEqual(list(data)[-1], "device_type", "device_type is added after the device's fields")
        self.assertEqual(data["device_type"], typ, res)
        dev = {k: v for k, v in data.items() if k != "device_type"}
        self.assertDeviceShape(dev, typ)
        self.assertEqual(dev["id"], dev_id)
        return dev

    def assertItemError(self, res, dev_id, status, field=None):
        self.assertEqual(set(res), ERR_KEYS, res)
        self.assertEqual((res["status"], res["status_code"], res["device_id"]), ("error", status, dev_id), res)
        err = res["error"]
        self.assertIsInstance(err, dict, res)
        self.assertEqual(err.get("status"), status, res)
        for k in ("type", "title", "detail"):
            self.assertIsInstance(err.get(k), str, res)
            self.assertTrue(err[k], res)
        self.assertTrue(err["type"].startswith("urn:fleetdesk:problem:"), res)
        if field is not None:
            fields = [e.get("field") for e in err.get("errors") or []]
            self.assertIn(field, fields, res)
        return err

    def assertJobView(self, org, job):
        self.assertTrue(JOB_KEYS <= set(job), job)
        self.assertRegex(job["id"], UUID_RE)
        self.assertEqual(job["kind"], "devices.update", job)
        self.assertIn(job["state"], ("queued", "running") + DONE, job)
        for k in ("total", "processed", "succeeded", "failed", "errors_kept"):
            self.assertIsInstance(job[k], int, k)
            self.assertGreaterEqual(job[k], 0, k)
        self.assertEqual(job["processed"], job["succeeded"] + job["failed"], job)
        base = jobs_path(org, job["id"])
        self.assertEqual(job["links"]["self"], base, job)
        self.assertEqual(job["links"]["errors"], base + "/errors", job)

    def assertJobDone(self, org, job, total, succeeded, failed):
        self.assertJobView(org, job)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual((job["total"], job["processed"], job["succeeded"], job["failed"]),
                         (total, succeeded + failed, succeeded, failed), job)
        self.assertEqual(job["errors_kept"], failed, job)
        self.assertEqual(job["progress"], 1, job)
        self.assertIsNone(job["error"], job)
        self.assertRegex(job["finished_at"] or "", TS_RE)

    def assertSameDevice(self, before, after, changed=()):
        """after is before with only the fields in changed (and updated_at, if any) changed."""
        keep = set(changed) | ({"updated_at"} if changed else set())
        self.assertEqual({k: v for k, v in after.items() if k not in keep},
                         {k: v for k, v in before.items() if k not in keep})


# ======================================================================= the request

class RequestShapeTest(BulkDevicesCase):
    """Refused requests go to self.quiet: they change no device, make no job and
    write no audit record of their request id."""

    @classmethod
    def setUpClass(cls):
        cls.quiet = cls.S.org_create("Devices Bulk Refused")
        cls.busy = cls.S.org_create("Devices Bulk Accepted")

    def setUp(self):
        self.user = self.create_user(self.quiet, zip_code="4020")
        self.hp = self.new_device(self.quiet, self.user["id"], HP,
                                  {"is_smart_optimization_active": False, "pause_power_until": future()})
        self.ev = self.new_device(self.quiet, self.user["id"], EV)

    def assertQuiet(self, rid=None):
        """The devices and the job list are as they were; no record has rid."""
        self.assertEqual(self.device_now(self.quiet, self.hp, HP), self.hp)
        self.assertEqual(self.device_now(self.quiet, self.ev, EV), self.ev)
        self.assertEqual(self.org_jobs(self.quiet), [], "a refused request made a job")
        if rid:
            self.assertEqual(self.records_of_request(self.quiet, rid), [])

    def refused(self, body, *fields, either=(), **kw):
        rid = new_rid()
        r = self.bulk(self.quiet, body, rid=rid, **kw)
        self.assertInvalid(r, *fields, either=either)
        self.assertQuiet(rid)
        return r

    # ---- top level ------------------------------------------------------------------------
    def test_both_device_ids_and_filter_is_422(self):
        self.refused({"action": "reset_optimization", "device_ids": [self.hp["id"]],
                      "filter": {"type": HP}}, either=("device_ids", "filter"))

    def test_neither_device_ids_nor_filter_is_422(self):
        self.refused({"action": "reset_optimization"}, either=("device_ids", "filter"))

    def test_an_empty_body_names_the_action_and_the_missing_target_together(self):
        self.refused({}, "action", either=("device_ids", "filter"))

    def test_unknown_top_level_members_are_422_naming_each(self):
        self.refused({"action": "reset_optimization", "device_ids": [self.hp["id"]], "atomic": True,
                      "dry_run": False}, "atomic", "dry_run")

    def test_action_missing_or_not_one_of_the_two_is_422(self):
        for action in (None, "", "reset", "pause", "RESET_OPTIMIZATION", 1, ["update"]):
            with self.subTest(action=action):
                body = {"device_ids": [self.hp["id"]]}
                if action is not None:
                    body["action"] = action
                self.refused(body, "action")

    def test_reset_optimization_takes_no_settings(self):
        for settings in ({"comment": "x"}, {}, None):
            with self.subTest(settings=settings):
                self.refused({"action": "reset_optimization", "settings": settings,
                              "device_ids": [self.hp["id"]]}, "settings")

    def test_update_needs_a_non_empty_settings_object(self):
        for settings in ("missing", None, {}, [], "pause", 5, [{"pause_power_until": None}]):
            with self.subTest(settings=settings):
                body = {"action": "update", "device_ids": [self.hp["id"]]}
                if settings != "missing":
                    body["settings"] = settings
                self.refused(body, "settings")

    def test_settings_no_device_takes_are_422_naming_them_under_settings(self):
        for settings, field in (({"colour": "red"}, "colour"),
                                ({"is_authenticated": True}, "is_authenticated"),
                                ({"battery_level": 50}, "battery_level"),
                                ({"consumption_last_day_kwh": 1.0}, "consumption_last_day_kwh"),
                                ({"pause_power_until": "tomorrow"}, "pause_power_until"),
                                ({"is_smart_optimization_active": "yes"}, "is_smart_optimization_active"),
                                ({"is_smart_optimization_active": None}, "is_smart_optimization_active"),
                                ({"indoor_target_temperature": 99}, "indoor_target_temperature")):
            with self.subTest(settings=settings):
                self.refused({"action": "update", "settings": settings, "device_ids": [self.hp["id"]]},
                             "settings/" + field)
                self.refused({"action": "update", "settings": settings, "filter": {}}, "settings/" + field)

    def test_settings_must_suit_the_filters_type(self):
        for typ in (EV, IV):
            with self.subTest(type=typ):
                self.refused({"action": "update", "settings": {"indoor_target_temperature": 22.5},
                              "filter": {"type": typ}}, "settings/indoor_target_temperature")
        self.refused({"action": "update", "settings": {"charge_deadline_at": "06:30"},
                      "filter": {"type": HP}}, "settings/charge_deadline_at")

    # ---- device_ids -----------------------------------------------------------------------
    def test_device_ids_not_an_array_of_1_to_1000_is_422(self):
        for ids in (None, [], "x", self.hp["id"], {"0": self.hp["id"]}, 5,
                    [str(uuid.uuid4()) for _ in range(1001)]):
            with self.subTest(ids=str(ids)[:60]):
                self.refused({"action": "reset_optimization", "device_ids": ids}, "device_ids")

    def test_each_bad_or_repeated_id_is_422_pointing_at_it(self):
        other = str(uuid.uuid4())
        ids = ["not-a-uuid", self.hp["id"], other, self.hp["id"], "", other, self.ev["id"] + "0", 7, None]
        self.refused({"action": "reset_optimization", "device_ids": ids},
                     "device_ids/0", "device_ids/3", "device_ids/4", "device_ids/5", "device_ids/6",
                     "device_ids/7", "device_ids/8")

    def test_every_error_is_listed_at_once(self):
        self.refused({"action": "nope", "device_ids": ["x", self.hp["id"]], "extra": 1},
                     "action", "device_ids/0", "extra")
        self.refused({"action": "update", "settings": {"colour": 1},
                      "filter": {"type": EV, "foo": 1, "zip_code": ""}},
                     "settings/colour", "filter/foo", "filter/zip_code")

    # ---- filter -----------------------------------------------------------------------------
    def test_filter_not_an_object_is_422(self):
        for f in ("heat-pumps", [], None, 1, True):
            with self.subTest(filter=f):
                self.refused({"action": "reset_optimization", "filter": f}, "filter")

    def test_bad_filter_members_are_422_naming_each_under_filter(self):
        for f, fields in (({"colour": "red"}, ["filter/colour"]),
                          ({"user_id": self.user["id"], "search": "x"}, ["filter/user_id", "filter/search"]),
                          ({"type": "heat_pumps"}, ["filter/type"]),
                          ({"type": ""}, ["filter/type"]),
                          ({"type": 1}, ["filter/type"]),
                          ({"authenticated": "true"}, ["filter/authenticated"]),
                          ({"stale": 1}, ["filter/stale"]),
                          ({"optimization_active": "false"}, ["filter/optimization_active"]),
                          ({"needs_attention": 0}, ["filter/needs_attention"]),
                          ({"zip_code": ""}, ["filter/zip_code"]),
                          ({"zip_code": "1" * 21}, ["filter/zip_code"]),
                          ({"zip_code": 4020}, ["filter/zip_code"]),
                          ({"type": "pumps", "stale": "no", "zip_code": ""},
                           ["filter/type", "filter/stale", "filter/zip_code"])):
            with self.subTest(filter=f):
                self.refused({"action": "reset_optimization", "filter": f}, *fields)

    # ---- the body itself ------------------------------------------------------------------
    def test_malformed_json_is_400(self):
        r = self.S.request("POST", bulk_path(self.quiet), token=self.quiet.token("admin"),
                           raw='{"action": "reset_optimization", "device_ids": ["%s"]' % self.hp["id"])
        self.assertProblem(r, 400)
        self.assertQuiet()

    def test_a_body_that_is_not_an_object_is_refused(self):
        for raw in ('["reset_optimization"]', '"reset_optimization"', "null"):
            with self.subTest(raw=raw):
                r = self.S.request("POST", bulk_path(self.quiet), token=self.quiet.token("admin"), raw=raw)
                self.assertIn(r.status, (400, 422), r)
                self.assertProblem(r, r.status)
        self.assertQuiet()

    def test_wrong_content_type_is_415(self):
        for ctype in ("text/plain", None):
            with self.subTest(ctype=ctype):
                r = self.S.request("POST", bulk_path(self.quiet), token=self.quiet.token("admin"),
                                   body={"action": "reset_optimization", "device_ids": [self.hp["id"]]},
                                   content_type=ctype)
                self.assertProblem(r, 415)
        self.assertQuiet()

    # ---- accepted edges (in the other org) ---------------------------------------------
    def test_settings_that_suit_the_type_in_scope_are_accepted(self):
        u = self.create_user(self.busy, zip_code="4021")
        hp = self.new_device(self.busy, u["id"], HP)
        ev = self.new_device(self.busy, u["id"], EV)
        # any type: a heat pump setting is accepted, the EV fails alone
        r = self.bulk(self.busy, {"action": "update", "settings": {"indoor_target_temperature": 22.5},
                                  "device_ids": [ev["id"], hp["id"]]})
        res = self.assertBulkReply(r, 2)
        self.assertItemError(res[0], ev["id"], 422, "settings/indoor_target_temperature")
        self.assertEqual(self.assertItemOk(res[1], hp["id"], HP)["indoor_target_temperature"], 22.5)
        # the filter's type has it: a job
        zip20 = "Z" * 20  # 20 characters: the longest zip code, matched by nobody
        job = self.start_job(self.busy, {"action": "update", "settings": {"indoor_target_temperature": 23.0},
                                         "filter": {"type": HP, "zip_code": zip20}})
        self.assertEqual(job["total"], 0, job)
        self.assertJobDone(self.busy, self.wait_job(self.busy, job["id"]), 0, 0, 0)
        self.assertEqual(self.device_now(self.busy, hp, HP)["indoor_target_temperature"], 22.5)

    def test_null_filter_members_are_no_filter(self):
        u = self.create_user(self.busy, zip_code="4022")
        hp = self.new_device(self.busy, u["id"], HP, {"pause_power_until": future()})
        job = self.start_job(self.busy, {"action": "update", "settings": {"pause_power_until": None},
                                         "filter": {"type": None, "stale": None, "authenticated": None,
                                                    "optimization_active": None, "needs_attention": None,
                                                    "zip_code": "4022"}})
        self.assertEqual(job["total"], 1, job)
        self.assertJobDone(self.busy, self.wait_job(self.busy, job["id"]), 1, 1, 0)
        self.assertIsNone(self.device_now(self.busy, hp, HP)["pause_power_until"])

    def test_1000_ids_are_accepted(self):
        u = self.create_user(self.busy)
        hp = self.new_device(self.busy, u["id"], HP)
        ids = [str(uuid.uuid4()) for _ in range(999)] + [hp["id"]]
        r = self.bulk(self.busy, {"action": "update", "settings": {"comment": "one of 1000"}, "device_ids": ids},
                      token=self.S.token_create(self.busy.id, "admin", "thousand-" + secrets.token_hex(3)))
        res = self.assertBulkReply(r, 1000)
        for i, x in enumerate(res[:999]):
            self.assertItemError(x, ids[i], 404)
        self.assertEqual(self.assertItemOk(res[999], hp["id"], HP)["comment"], "one of 1000")
        self.assertEqual(self.device_now(self.busy, hp, HP)["comment"], "one of 1000")


# ======================================================================= device_ids

class DeviceIdsTest(BulkDevicesCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Devices Bulk Ids")
        cls.other = cls.S.org_create("Devices Bulk Ids Other")

    def setUp(self):
        self.uid = self.create_user(self.org)["id"]

    def paused(self, typ, uid=None):
        return self.new_device(self.org, uid or self.uid, typ,
                               {"is_smart_optimization_active": False, "pause_power_until": future()})

    def test_reset_optimization_resets_every_type_and_answers_each_device_as_shown(self):
        devs = [(self.paused(t), t) for t in (HP, EV, IV)]
        for d, _ in devs:
            self.assertTrue(d["is_pause_power_active"], d)
        rid = new_rid()
        r = self.bulk(self.org, {"action": "reset_optimization", "device_ids": [d["id"] for d, _ in devs]}, rid=rid)
        self.assertEqual(r.headers.get("X-Request-Id"), rid)
        res = self.assertBulkReply(r, 3)
        for x, (d, t) in zip(res, devs):
            data = self.assertItemOk(x, d["id"], t)
            self.assertIs(data["is_smart_optimization_active"], True)
            self.assertIsNone(data["pause_power_until"])
            self.assertIs(data["is_pause_power_active"], False)
            self.assertSameDevice(d, data, ("is_smart_optimization_active", "pause_power_until",
                                            "is_pause_power_active"))
            self.assertEqual(self.device_now(self.org, d, t), data)
        recs = self.records_of_request(self.org, rid)
        self.assertEqual(sorted(x["target"]["id"] for x in recs), sorted(d["id"] for d, _ in devs))
        for rec in recs:
            self.assertEqual(rec["action"], "device.reset_optimization", rec)
            self.assertEqual(rec["target"]["type"], "device", rec)
            self.assertEqual(rec["actor"]["id"], self.org.token_id("admin"), rec)
            self.assertEqual(rec["changes"]["is_smart_optimization_active"], {"before": False, "after": True})
            self.assertIsNone(rec["changes"]["pause_power_until"]["after"], rec)

    def test_update_pauses_resumes_and_switches_optimization_off(self):
        devs = [(self.new_device(self.org, self.uid, t), t) for t in (HP, EV, IV)]
        ids = [d["id"] for d, _ in devs]
        for settings, check in (
                ({"pause_power_until": PAUSE_AT},
                 {"pause_power_until": PAUSE_STORED, "is_pause_power_active": True}),
                ({"pause_power_until": None}, {"pause_power_until": None, "is_pause_power_active": False}),
                ({"is_smart_optimization_active": False}, {"is_smart_optimization_active": False})):
            with self.subTest(settings=settings):
                rid = new_rid()
                res = self.assertBulkReply(self.bulk(self.org, {"action": "update", "settings": settings,
                                                                "device_ids": ids}, rid=rid), 3)
                for x, (d, t) in zip(res, devs):
                    data = self.assertItemOk(x, d["id"], t)
                    for k, v in check.items():
                        self.assertEqual(data[k], v, k)
                    self.assertEqual(self.device_now(self.org, d, t), data)
                recs = self.records_of_request(self.org, rid)
                self.assertEqual(sorted(x["target"]["id"] for x in recs), sorted(ids))
                for rec in recs:
                    self.assertEqual(rec["action"], "device.update", rec)
                    self.assertEqual(set(rec["changes"]), set(settings), rec)

    def test_results_follow_request_order_and_404_409_items_do_not_stop_the_others(self):
        hp, ev = self.paused(HP), self.paused(EV)
        gone = self.paused(HP)
        r = self.S.request("DELETE", self.dpath(self.org, self.uid, HP, gone["id"]), token=self.org.token("admin"))
        self.assertEqual(r.status, 204, r)
        gone = self.device_now(self.org, gone, HP)
        ou = self.create_user(self.other)
        foreign = self.new_device(self.other, ou["id"], HP, {"pause_power_until": future()})
        unknown = str(uuid.uuid4())
        ids = [hp["id"], unknown, gone["id"], foreign["id"], ev["id"]]
        rid = new_rid()
        r = self.bulk(self.org, {"action": "update", "settings": {"pause_power_until": None}, "device_ids": ids},
                      rid=rid)
        res = self.assertBulkReply(r, 5)
        self.assertIsNone(self.assertItemOk(res[0], hp["id"], HP)["pause_power_until"])
        self.assertItemError(res[1], unknown, 404)
        self.assertItemError(res[2], gone["id"], 409)
        self.assertItemError(res[3], foreign["id"], 404)
        self.assertIsNone(self.assertItemOk(res[4], ev["id"], EV)["pause_power_until"])
        self.assertEqual((r.body["succeeded"], r.body["failed"]), (2, 3))
        # the refused ones are as they were
        self.assertEqual(self.device_now(self.org, gone, HP), gone)
        self.assertEqual(self.device_now(self.other, foreign, HP), foreign)
        self.assertEqual(sorted(x["target"]["id"] for x in self.records_of_request(self.org, rid)),
                         sorted([hp["id"], ev["id"]]))
        self.assertEqual(self.records_of_request(self.other, rid), [])

    def test_a_setting_the_devices_type_lacks_fails_that_item_only(self):
        ev, hp, iv = (self.new_device(self.org, self.uid, t) for t in (EV, HP, IV))
        rid = new_rid()
        r = self.bulk(self.org, {"action": "update", "settings": {"indoor_target_temperature": 22.5,
                                                                  "comment": "warmer"},
                                 "device_ids": [ev["id"], hp["id"], iv["id"]]}, rid=rid)
        res = self.assertBulkReply(r, 3)
        self.assertItemError(res[0], ev["id"], 422, "settings/indoor_target_temperature")
        data = self.assertItemOk(res[1], hp["id"], HP)
        self.assertEqual((data["indoor_target_temperature"], data["comment"]), (22.5, "warmer"))
        self.assertItemError(res[2], iv["id"], 422, "settings/indoor_target_temperature")
        self.assertEqual(self.device_now(self.org, ev, EV), ev)
        self.assertEqual(self.device_now(self.org, iv, IV), iv)
        self.assertEqual([x["target"]["id"] for x in self.records_of_request(self.org, rid)], [hp["id"]])

    def test_settings_are_checked_against_each_devices_current_values_as_a_put_would(self):
        low = self.new_device(self.org, self.uid, HP)                       # target 21
        high = self.new_device(self.org, self.uid, HP, {"indoor_target_temperature": 23.0})
        settings = {"minimum_temperature_limit": 22.0}
        r = self.bulk(self.org, {"action": "update", "settings": settings, "device_ids": [low["id"], high["id"]]})
        res = self.assertBulkReply(r, 2)
        err = self.assertItemError(res[0], low["id"], 422, "settings/minimum_temperature_limit")
        self.assertEqual(self.assertItemOk(res[1], high["id"], HP)["minimum_temperature_limit"], 22.0)
        self.assertEqual(self.device_now(self.org, low, HP), low)
        # the item's errors are the PUT's, under settings/
        put = self.put_device(self.org, self.uid, HP, low["id"], settings)
        self.assertProblemFields(put, 422, "minimum_temperature_limit")
        self.assertEqual(sorted(e["field"] for e in err["errors"]),
                         sorted("settings/" + e["field"] for e in put.body["errors"]))
        for e in err["errors"]:
            self.assertEqual(e["pointer"], "/" + e["field"], err)

    def test_building_id_must_be_a_building_of_each_devices_user(self):
        other_uid = self.create_user(self.org)["id"]
        b = self.new_building(self.org, self.uid)
        mine, theirs = self.new_device(self.org, self.uid, HP), self.new_device(self.org, other_uid, EV)
        r = self.bulk(self.org, {"action": "update", "settings": {"building_id": b["id"]},
                                 "device_ids": [mine["id"], theirs["id"]]})
        res = self.assertBulkReply(r, 2)
        self.assertEqual(self.assertItemOk(res[0], mine["id"], HP)["building_id"], b["id"])
        self.assertItemError(res[1], theirs["id"], 422)
        self.assertEqual(self.device_now(self.org, theirs, EV), theirs)

    def test_a_device_already_so_succeeds_unchanged_and_writes_no_record(self):
        d = self.new_device(self.org, self.uid, IV)   # optimization on, no pause: reset changes nothing
        rid = new_rid()
        res = self.assertBulkReply(self.bulk(self.org, {"action": "reset_optimization", "device_ids": [d["id"]]},
                                             rid=rid), 1)
        self.assertEqual(self.assertItemOk(res[0], d["id"], IV), d)
        self.assertEqual(self.device_now(self.org, d, IV), d)
        self.assertEqual(self.records_of_request(self.org, rid), [])

    def test_every_changed_device_has_one_record_with_the_requests_id(self):
        devs = [self.paused(t) for t in (HP, HP, EV, IV, IV)]
        unchanged = self.new_device(self.org, self.uid, EV)
        rid = new_rid()
        ids = [d["id"] for d in devs] + [unchanged["id"]]
        res = self.assertBulkReply(self.bulk(self.org, {"action": "reset_optimization", "device_ids": ids},
                                             rid=rid), 6)
        self.assertEqual([x["status"] for x in res], ["success"] * 6)
        recs = self.records_of_request(self.org, rid)
        self.assertEqual(sorted(x["target"]["id"] for x in recs), sorted(d["id"] for d in devs))
        self.assertEqual({x["action"] for x in recs}, {"device.reset_optimization"})


# ======================================================================= roles

class RolesTest(BulkDevicesCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Devices Bulk Roles")
        cls.other = cls.S.org_create("Devices Bulk Roles Other")

    def setUp(self):
        self.zip = "R" + secrets.token_hex(4)
        self.uid = self.create_user(self.org, zip_code=self.zip)["id"]
        self.hp = self.new_device(self.org, self.uid, HP, {"pause_power_until": future()})
        ou = self.create_user(self.other, zip_code=self.zip)["id"]
        self.foreign = self.new_device(self.other, ou, HP, {"pause_power_until": future()})

    def bodies(self):
        return ({"action": "reset_optimization", "device_ids": [self.hp["id"]]},
                {"action": "reset_optimization", "filter": {"zip_code": self.zip}})

    def assertNothingChanged(self, jobs_before):
        self.assertEqual(self.device_now(self.org, self.hp, HP), self.hp)
        self.assertEqual(self.device_now(self.other, self.foreign, HP), self.foreign)
        self.assertEqual(len(self.org_jobs(self.org)), jobs_before, "a refused request made a job")

    def test_viewer_user_and_integration_tokens_are_403(self):
        jobs = len(self.org_jobs(self.org))
        for role in ("viewer", "user", "integration"):
            for body in self.bodies():
                with self.subTest(role=role, body=body):
                    rid = new_rid()
                    self.assertProblem(self.bulk(self.org, body, token=self.org.token(role), rid=rid), 403)
                    self.assertEqual(self.records_of_request(self.org, rid), [])
        self.assertNothingChanged(jobs)

    def test_no_token_is_401_with_www_authenticate_bearer(self):
        jobs = len(self.org_jobs(self.org))
        for body in self.bodies():
            r = self.S.request("POST", bulk_path(self.org), body=body)
            self.assertProblem(r, 401)
            self.assertTrue((r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r)
        self.assertNothingChanged(jobs)

    def test_another_orgs_token_or_an_unknown_org_is_404(self):
        jobs, their_jobs = len(self.org_jobs(self.org)), len(self.org_jobs(self.other))
        for body in self.bodies():
            for role in ("admin", "staff"):
                with self.subTest(role=role, body=body):
                    self.assertProblem(self.bulk(self.org, body, token=self.other.token(role)), 404)
            r = self.S.request("POST", "%s/org/%s/devices/bulk" % (API, uuid.uuid4()), body=body,
                               token=self.org.token("admin"))
            self.assertProblem(r, 404)
        self.assertNothingChanged(jobs)
        self.assertEqual(len(self.org_jobs(self.other)), their_jobs)

    def test_staff_may_use_both_forms(self):
        staff = self.org.token("staff")
        rid = new_rid()
        res = self.assertBulkReply(self.bulk(self.org, {"action": "update", "settings": {"comment": "by staff"},
                                                        "device_ids": [self.hp["id"]]}, token=staff, rid=rid), 1)
        self.assertEqual(self.assertItemOk(res[0], self.hp["id"], HP)["comment"], "by staff")
        rec, = self.records_of_request(self.org, rid)
        self.assertEqual(rec["actor"]["id"], self.org.token_id("staff"))
        rid = new_rid()
        job = self.start_job(self.org, {"action": "update", "settings": {"pause_power_until": None},
                                        "filter": {"zip_code": self.zip}}, token=staff, rid=rid)
        self.assertEqual(job["total"], 1, job)
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"], token=staff), 1, 1, 0)
        self.assertIsNone(self.device_now(self.org, self.hp, HP)["pause_power_until"])
        rec, = self.records_of_request(self.org, rid, action="device.update")
        self.assertEqual(rec["target"]["id"], self.hp["id"])
        self.assertEqual(rec["actor"]["id"], self.org.token_id("staff"))
        # the other org's device of the same zip code and type is untouched
        self.assertEqual(self.device_now(self.other, self.foreign, HP), self.foreign)

    def test_another_orgs_device_ids_are_404_items_for_staff_and_admin(self):
        for role in ("staff", "admin"):
            with self.subTest(role=role):
                rid = new_rid()
                r = self.bulk(self.org, {"action": "update", "settings": {"is_smart_optimization_active": False},
                                         "device_ids": [self.foreign["id"], self.hp["id"]]},
                              token=self.org.token(role), rid=rid)
                res = self.assertBulkReply(r, 2)
                self.assertItemError(res[0], self.foreign["id"], 404)
                self.assertIs(self.assertItemOk(res[1], self.hp["id"], HP)["is_smart_optimization_active"], False)
                self.assertEqual(self.device_now(self.other, self.foreign, HP), self.foreign)
                self.assertEqual(self.records_of_request(self.other, rid), [])

    def test_a_filter_job_never_reaches_another_orgs_devices(self):
        for role in ("staff", "admin"):
            with self.subTest(role=role):
                job = self.start_job(self.org, {"action": "update", "settings": {"comment": role},
                                                "filter": {"type": HP, "zip_code": self.zip}},
                                     token=self.org.token(role))
                self.assertEqual(job["total"], 1, job)
                self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), 1, 1, 0)
                self.assertEqual(self.device_now(self.org, self.hp, HP)["comment"], role)
                self.assertEqual(self.device_now(self.other, self.foreign, HP), self.foreign)
        # and the other org's staff does not reach this org's devices either
        hp = self.device_now(self.org, self.hp, HP)
        job = self.start_job(self.other, {"action": "update", "settings": {"pause_power_until": None},
                                          "filter": {"zip_code": self.zip}}, token=self.other.token("staff"))
        self.assertEqual(job["total"], 1, job)
        self.assertJobDone(self.other, self.wait_job(self.other, job["id"]), 1, 1, 0)
        self.assertEqual(self.device_now(self.org, hp, HP), hp)
        self.assertIsNone(self.device_now(self.other, self.foreign, HP)["pause_power_until"])
        # a job of another org is not found here
        self.assertProblem(self.S.get(jobs_path(self.org, job["id"]), token=self.org.token("admin")), 404)


# ======================================================================= rate limit, idempotency

class RateLimitTest(OwnServerTestCase, BulkDevicesCase):
    """A server of its own with --rate-limit 1 --rate-burst 1000: the bucket of a
    fresh token holds 1000 and refills by one a second, so what a request took
    is what the RateLimit header says is left."""

    ARGS = ("--rate-limit", "1", "--rate-burst", "1000")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create("Devices Bulk Rate")

    def setUp(self):
        self.uid = self.create_user(self.org)["id"]
        self.hp = self.new_device(self.org, self.uid, HP)

    def fresh_token(self):
        return self.S.token_create(self.org.id, "admin", "rate-" + secrets.token_hex(4))

    def remaining(self, r):
        m = RATELIMIT_RE.match(r.headers.get("RateLimit") or "")
        self.assertTrue(m, r)
        return int(m.group(1))

    def test_each_id_weighs_one_request(self):
        for n in (1, 2, 25, 300):
            with self.subTest(n=n):
                ids = [self.hp["id"]] + [str(uuid.uuid4()) for _ in range(n - 1)]
                r = self.bulk(self.org, {"action": "reset_optimization", "device_ids": ids}, token=self.fresh_token())
                self.assertBulkReply(r, n)
                self.assertEqual(self.remaining(r), 1000 - n, r.headers.get("RateLimit"))

    def test_1000_ids_take_the_whole_bucket_and_the_next_1000_are_429_applying_nothing(self):
        tok = self.fresh_token()
        ids = [self.hp["id"]] + [str(uuid.uuid4()) for _ in range(999)]
        r = self.bulk(self.org, {"action": "update", "settings": {"comment": "first"}, "device_ids": ids}, token=tok)
        self.assertBulkReply(r, 1000)
        self.assertEqual(self.remaining(r), 0, r.headers.get("RateLimit"))
        rid = new_rid()
        r = self.bulk(self.org, {"action": "update", "settings": {"comment": "second"}, "device_ids": ids},
                      token=tok, rid=rid)
        self.assertProblem(r, 429)
        self.assertRegex(r.headers.get("Retry-After") or "", r"^\d+$")
        self.assertNotIn("results", r.body)
        self.assertEqual(self.device_now(self.org, self.hp, HP)["comment"], "first")
        self.assertEqual(self.records_of_request(self.org, rid), [])


class IdempotencyTest(BulkDevicesCase):
    KEY_HEADER = "Idempotency-Key"

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Devices Bulk Idempotency")

    def setUp(self):
        self.zip = "I" + secrets.token_hex(4)
        self.uid = self.create_user(self.org, zip_code=self.zip)["id"]
        self.hp = self.new_device(self.org, self.uid, HP)

    def post(self, body, key):
        return self.bulk(self.org, body, headers={self.KEY_HEADER: key})

    def assertReplayOf(self, first, again):
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true", again)
        self.assertEqual(again.status, first.status, again)
        self.assertEqual(again.raw, first.raw)
        self.assertEqual(again.headers.get("Location"), first.headers.get("Location"))

    def test_a_device_ids_request_is_replayed_and_applied_once(self):
        key = new_key()
        body = {"action": "update", "settings": {"pause_power_until": PAUSE_AT}, "device_ids": [self.hp["id"]]}
        r1 = self.post(body, key)
        self.assertBulkReply(r1, 1)
        self.assertIsNone(r1.headers.get("Idempotent-Replayed"), r1)
        # resumed in between: a replay must not pause it again
        r = self.put_device(self.org, self.uid, HP, self.hp["id"], {"pause_power_until": None})
        self.assertEqual(r.status, 200, r)
        r2 = self.post(body, key)
        self.assertReplayOf(r1, r2)
        self.assertIsNone(self.device_now(self.org, self.hp, HP)["pause_power_until"])
        recs = self.audit_records(self.org, target_id=self.hp["id"], action="device.update")
        self.assertEqual(len(recs), 2, recs)   # the bulk and the PUT

    def test_a_filter_request_is_replayed_and_makes_one_job(self):
        key = new_key()
        body = {"action": "update", "settings": {"comment": "once"}, "filter": {"zip_code": self.zip}}
        before = len(self.org_jobs(self.org))
        r1 = self.post(body, key)
        self.assertEqual(r1.status, 202, r1)
        self.assertJobDone(self.org, self.wait_job(self.org, r1.body["id"]), 1, 1, 0)
        r2 = self.post(body, key)
        self.assertReplayOf(r1, r2)
        self.assertEqual(len(self.org_jobs(self.org)), before + 1)
        self.assertEqual(len(self.audit_records(self.org, target_id=self.hp["id"], action="device.update")), 1)

    def test_the_same_key_with_another_body_is_422_and_applies_nothing(self):
        key = new_key()
        r1 = self.post({"action": "update", "settings": {"comment": "a"}, "device_ids": [self.hp["id"]]}, key)
        self.assertBulkReply(r1, 1)
        r2 = self.post({"action": "update", "settings": {"comment": "b"}, "device_ids": [self.hp["id"]]}, key)
        self.assertProblem(r2, 422)
        self.assertEqual(self.device_now(self.org, self.hp, HP)["comment"], "a")


# ======================================================================= cancel

class CancelTest(BulkDevicesCase):
    """The server runs one job at a time: a job queued behind a long import is
    cancelled at once, before it touched anything."""

    IMPORT_ROWS = 20000

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Devices Bulk Cancel")
        cls.blocker = cls.S.org_create("Devices Bulk Cancel Import")

    def setUp(self):
        self.zip = "C" + secrets.token_hex(4)
        self.uid = self.create_user(self.org, zip_code=self.zip)["id"]
        self.hps = self.new_devices(self.org, self.uid, HP, 3)

    def test_a_queued_job_is_cancelled_at_once_and_changes_nothing(self):
        data = "email\n" + "".join("blk%05d.%s@example.com\n" % (i, self.zip.lower())
                                    for i in range(self.IMPORT_ROWS))
        imp = self.S.request("POST", "%s/org/%s/users/import" % (API, self.blocker.id), raw=data,
                             token=self.blocker.token("admin"), content_type="text/csv", timeout=60)
        self.assertEqual(imp.status, 202, imp)
        self.addCleanup(self.S.request, "POST", jobs_path(self.blocker, imp.body["id"], "/cancel"),
                        token=self.blocker.token("admin"))
        rid = new_rid()
        job = self.start_job(self.org, {"action": "update", "settings": {"pause_power_until": PAUSE_AT},
                                        "filter": {"zip_code": self.zip}}, token=self.org.token("staff"), rid=rid)
        self.assertEqual(job["total"], 3, job)
        g = self.S.get(jobs_path(self.blocker, imp.body["id"]), token=self.blocker.token("admin"))
        self.assertIn(g.body["state"], ("queued", "running"),
                      "the import ended too soon to hold the devices job back: %r" % g.body)
        c = self.S.request("POST", jobs_path(self.org, job["id"], "/cancel"), token=self.org.token("staff"))
        self.assertEqual(c.status, 202, c)
        self.assertJobView(self.org, c.body)
        self.assertEqual(c.body["state"], "cancelled", c.body)
        self.assertIs(c.body["cancel_requested"], True)
        # let the worker go
        self.S.request("POST", jobs_path(self.blocker, imp.body["id"], "/cancel"), token=self.blocker.token("admin"))
        self.wait_job(self.blocker, imp.body["id"], token=self.blocker.token("admin"))
        done = self.wait_job(self.org, job["id"])
        self.assertEqual(done["state"], "cancelled", done)
        self.assertEqual((done["processed"], done["succeeded"], done["failed"]), (0, 0, 0), done)
        for d in self.hps:
            self.assertEqual(self.device_now(self.org, d, HP), d)
        self.assertProblem(self.S.request("POST", jobs_path(self.org, job["id"], "/cancel"),
                                          token=self.org.token("staff")), 409)
        self.assertEqual(self.records_of_request(self.org, rid, action="device.update"), [])
        recs = self.audit_records(self.org, target_id=job["id"])
        self.assertEqual([x["action"] for x in recs], ["job.cancel", "job.create"], recs)

    def test_a_finished_job_cannot_be_cancelled_and_keeps_its_changes(self):
        job = self.start_job(self.org, {"action": "update", "settings": {"comment": "kept"},
                                        "filter": {"zip_code": self.zip}})
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), 3, 3, 0)
        self.assertProblem(self.S.request("POST", jobs_path(self.org, job["id"], "/cancel"),
                                          token=self.org.token("admin")), 409)
        for d in self.hps:
            self.assertEqual(self.device_now(self.org, d, HP)["comment"], "kept")

    def test_viewer_may_not_cancel(self):
        job = self.start_job(self.org, {"action": "update", "settings": {"comment": "viewer"},
                                        "filter": {"zip_code": self.zip}})
        r = self.S.request("POST", jobs_path(self.org, job["id"], "/cancel"), token=self.org.token("viewer"))
        self.assertProblem(r, 403)
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), 3, 3, 0)


# ======================================================================= zip_code in the fleet view

class FleetZipTest(BulkDevicesCase):
    """Each test has orgs of its own, so every count is exact."""

    def setUp(self):
        self.org = self.S.org_create("Devices Zip")
        self.other = self.S.org_create("Devices Zip Other")
        self.ZIP, self.OTHER_ZIP = "8" + secrets.token_hex(3), "9" + secrets.token_hex(3)
        a1 = self.create_user(self.org, zip_code=self.ZIP)["id"]
        a2 = self.create_user(self.org, zip_code=self.ZIP)["id"]
        self.b = self.create_user(self.org, zip_code=self.OTHER_ZIP)["id"]
        n = self.create_user(self.org)["id"]
        healthy = {"is_authenticated": True, "current_state_last_updated_at": recent()}
        self.want = []           # (id, type, healthy) of the ZIP devices, in creation order
        self.rest = []           # (id, type, user) of the others
        for uid, typ, body in ((a1, HP, healthy), (self.b, HP, {}), (a1, EV, {}), (n, EV, healthy),
                               (a2, IV, healthy), (a2, HP, {}), (self.b, IV, {}), (a1, HP, {})):
            d = self.new_device(self.org, uid, typ, body)
            if uid in (a1, a2):
                self.want.append((d["id"], typ, bool(body)))
            else:
                self.rest.append((d["id"], typ, uid))
        gone = self.new_device(self.org, a2, HP)
        r = self.S.request("DELETE", self.dpath(self.org, a2, HP, gone["id"]), token=self.org.token("admin"))
        self.assertEqual(r.status, 204, r)
        self.gone = gone["id"]
        ou = self.create_user(self.other, zip_code=self.ZIP)["id"]
        self.foreign = self.new_device(self.other, ou, HP)["id"]

    def of_b(self):
        return [i for i, t, uid in self.rest if uid == self.b]

    def fleet(self, org=None, path="", **params):
        org = org or self.org
        return self.S.get(devices_path(org) + path + "?" + urllib.parse.urlencode(params),
                          token=org.token("admin"))

    def expect(self, typ=None, healthy=None):
        return [i for i, t, h in self.want if (typ is None or t == typ) and (healthy is None or h == healthy)]

    def test_the_list_selects_by_the_users_zip_code_with_the_right_total(self):
        for params, want in (({}, self.expect()),
                             ({"type": HP}, self.expect(HP)),
                             ({"type": EV}, self.expect(EV)),
                             ({"needs_attention": "true"}, self.expect(healthy=False)),
                             ({"needs_attention": "false"}, self.expect(healthy=True)),
                             ({"authenticated": "true", "type": IV}, self.expect(IV, True)),
                             ({"stale": "true", "type": HP}, self.expect(HP, False))):
            with self.subTest(**params):
                r = self.fleet(zip_code=self.ZIP, limit=1000, **params)
                self.assertEqual(r.status, 200, r)
                self.assertEqual([d["id"] for d in r.body], want)
                self.assertEqual(r.headers.get("X-Total-Count"), str(len(want)))
        r = self.fleet(zip_code=self.OTHER_ZIP)
        self.assertEqual([d["id"] for d in r.body], self.of_b())
        self.assertEqual(r.headers.get("X-Total-Count"), "2")
        r = self.fleet(zip_code="0000")
        self.assertEqual((r.status, r.body, r.headers.get("X-Total-Count")), (200, [], "0"))
        # the whole fleet is still counted without the filter
        self.assertEqual(self.fleet().headers.get("X-Total-Count"), str(len(self.want) + len(self.rest)))

    def test_paging_keeps_the_zip_code_and_the_total(self):
        ids, pages = [], []
        r = self.fleet(zip_code=self.ZIP, limit=2)
        while True:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get("X-Total-Count"), str(len(self.want)))
            ids += [d["id"] for d in r.body]
            pages.append(r)
            nxt = next_link(r)
            if not nxt:
                break
            self.assertEqual(urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query).get("zip_code"), [self.ZIP])
            r = self.S.follow(nxt, self.org.token("admin"))
        self.assertEqual(ids, self.expect())
        self.assertEqual(len(pages), (len(self.want) + 1) // 2)

    def test_the_zip_code_is_the_users_current_one(self):
        r = self.S.request("PUT", self.org.user_path(self.b), body={"zip_code": self.ZIP},
                           token=self.org.token("admin"))
        self.assertEqual(r.status, 200, r)
        r = self.fleet(zip_code=self.ZIP, limit=1000)
        self.assertEqual(sorted(d["id"] for d in r.body), sorted(self.expect() + self.of_b()))
        self.assertEqual(r.headers.get("X-Total-Count"), str(len(self.want) + 2))
        r = self.fleet(zip_code=self.OTHER_ZIP)
        self.assertEqual((r.body, r.headers.get("X-Total-Count")), ([], "0"))
        r = self.fleet(path="/export", zip_code=self.OTHER_ZIP, format="jsonl")
        self.assertEqual((r.status, r.raw), (200, b""))

    def test_another_orgs_zip_code_twins_are_never_listed(self):
        r = self.fleet(zip_code=self.ZIP, limit=1000)
        self.assertNotIn(self.foreign, [d["id"] for d in r.body])
        self.assertNotIn(self.gone, [d["id"] for d in r.body])
        r = self.fleet(org=self.other, zip_code=self.ZIP)
        self.assertEqual([d["id"] for d in r.body], [self.foreign])
        self.assertEqual(r.headers.get("X-Total-Count"), "1")

    def test_a_bad_zip_code_is_400_naming_it(self):
        for path in ("", "/export"):
            for z in ("", "1" * 21):
                with self.subTest(path=path, zip_code=z):
                    self.assertProblem(self.fleet(path=path, zip_code=z), 400, "zip_code")
        r = self.fleet(zip_code="1" * 20)
        self.assertEqual((r.status, r.body, r.headers.get("X-Total-Count")), (200, [], "0"))

    def test_the_export_selects_by_zip_code(self):
        for params, want in (({}, self.expect()), ({"type": HP}, self.expect(HP)), ({"type": IV}, self.expect(IV))):
            with self.subTest(**params):
                r = self.fleet(path="/export", zip_code=self.ZIP, format="jsonl", **params)
                self.assertEqual(r.status, 200, r)
                lines = [json.loads(x) for x in r.raw.decode().splitlines() if x]
                self.assertEqual([d["id"] for d in lines], want)
                r = self.fleet(path="/export", zip_code=self.ZIP, **params)
                self.assertEqual(r.status, 200, r)
                rows = list(csv.reader(io.StringIO(r.raw.decode())))
                self.assertEqual(rows[0][0], "id")
                self.assertEqual([row[0] for row in rows[1:]], want)
        r = self.fleet(path="/export", zip_code="1" * 20, format="jsonl")
        self.assertEqual((r.status, r.raw), (200, b""))


# ======================================================================= a job over > 500 devices

class BigFilterJobTest(OwnServerTestCase, BulkDevicesCase):
    """610 heat pumps of 13 users of zip code 1010, with a few EVs and inverters
    of theirs created in between (some after the 500th device, so that the
    second batch has some); devices of another zip code, of a user without
    one, a deleted heat pump, and another org's devices of the same zip code.
    A server of its own."""

    ZIP, OTHER_ZIP = "1010", "1020"
    N_HP = 610
    OTHERS_AT = {0: EV, 150: IV, 499: EV, 500: IV, 555: EV, 609: IV}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        S = cls.S
        cls.org = S.org_create("Devices Bulk Big")
        cls.other = S.org_create("Devices Bulk Big Other")
        setup = S.token_create(cls.org.id, "admin", "setup-" + secrets.token_hex(3))

        def users(n, zip_code):
            items = [{"op": "create", "data": dict({"email": unique_email("big")},
                                                  **({"zip_code": zip_code} if zip_code else {}))}
                     for _ in range(n)]
            r = S.request("POST", cls.org.users + "/bulk", body={"items": items}, token=setup)
            assert r.status == 200 and r.body["succeeded"] == n, r
            return [x["user_id"] for x in r.body["results"]]

        def device(uid, typ, org=None, token=None):
            org = org or cls.org
            r = S.request("POST", "%s/%s" % (org.user_path(uid), typ), body={}, token=token or setup)
            assert r.status == 201, r
            return r.body["id"]

        a_users, b_users, (n_user,) = users(13, cls.ZIP), users(2, cls.OTHER_ZIP), users(1, None)
        cls.a_live = []          # (id, type) of the ZIP's live devices in creation order
        cls.rest = []            # (id, type) of the org's other live devices
        for i in range(cls.N_HP):
            uid = a_users[i // 47]
            cls.a_live.append((device(uid, HP), HP))
            if i in cls.OTHERS_AT:
                cls.a_live.append((device(a_users[i % 13], cls.OTHERS_AT[i]), cls.OTHERS_AT[i]))
            if i == 300:
                gone = device(a_users[12], HP)
                r = S.request("DELETE", "%s/heat-pumps/%s" % (cls.org.user_path(a_users[12]), gone), token=setup)
                assert r.status == 204, r
                cls.gone = (gone, a_users[12])
            if i % 200 == 100:
                cls.rest.append((device(b_users[i % 2], HP), HP))
                cls.rest.append((device(n_user, HP), HP))
        cls.rest.append((device(b_users[0], EV), EV))
        ou = S.request("POST", cls.other.users, body={"email": unique_email("bigother"), "zip_code": cls.ZIP},
                       token=cls.other.token("admin"))
        assert ou.status == 201, ou
        cls.foreign = [device(ou.body["id"], t, cls.other, cls.other.token("admin")) for t in (HP, HP, EV)]
        cls.a_hps = [i for i, t in cls.a_live if t == HP]
        assert len(cls.a_hps) == cls.N_HP and len(cls.a_live) == cls.N_HP + len(cls.OTHERS_AT)

    def snapshot(self):
        mine = self.fleet_all(self.org)
        self.assertEqual(set(mine), {i for i, _ in self.a_live + self.rest})
        theirs = self.fleet_all(self.other)
        self.assertEqual(set(theirs), set(self.foreign))
        gone = self.get_device(self.org, self.gone[1], HP, self.gone[0])
        return mine, theirs, gone

    def assertOnlyChanged(self, before, changed_ids, fields, check):
        """Every device in changed_ids changed fields (check(item) holds), every other
        device of both orgs (and the deleted one) is as it was."""
        mine, theirs, gone = self.snapshot()
        changed_ids = set(changed_ids)
        for i, item in mine.items():
            if i in changed_ids:
                self.assertSameDevice(before[0][i], item, fields)
                check(item)
            else:
                self.assertEqual(item, before[0][i], "device %s changed" % i)
        self.assertEqual(theirs, before[1])
        self.assertEqual(gone, before[2])

    def test_a_filter_job_pauses_every_matching_device_over_two_batches_and_no_other(self):
        before = self.snapshot()
        rid = new_rid()
        job = self.start_job(self.org, {"action": "update", "settings": {"pause_power_until": PAUSE_AT},
                                        "filter": {"type": HP, "zip_code": self.ZIP}}, rid=rid)
        self.assertEqual(job["total"], self.N_HP, job)
        done = self.wait_job(self.org, job["id"])
        self.assertJobDone(self.org, done, self.N_HP, self.N_HP, 0)
        self.assertEqual(self.job_errors(self.org, job["id"]), [])

        def paused(item):
            self.assertEqual((item["pause_power_until"], item["is_pause_power_active"]), (PAUSE_STORED, True))
        self.assertOnlyChanged(before, self.a_hps, ("pause_power_until", "is_pause_power_active"), paused)
        recs = self.records_of_request(self.org, rid, action="device.update")
        self.assertEqual(sorted(x["target"]["id"] for x in recs), sorted(self.a_hps))
        self.assertEqual({x["actor"]["id"] for x in recs}, {self.org.token_id("admin")})
        self.assertEqual(self.records_of_request(self.other, rid), [])

        # and resumed by filter, every type of the zip code: only the paused ones change
        before = self.snapshot()
        rid = new_rid()
        job = self.start_job(self.org, {"action": "update", "settings": {"pause_power_until": None},
                                        "filter": {"zip_code": self.ZIP}}, rid=rid)
        self.assertEqual(job["total"], len(self.a_live), job)
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), len(self.a_live), len(self.a_live), 0)

        def resumed(item):
            self.assertEqual((item["pause_power_until"], item["is_pause_power_active"]), (None, False))
        self.assertOnlyChanged(before, self.a_hps, ("pause_power_until", "is_pause_power_active"), resumed)
        recs = self.records_of_request(self.org, rid, action="device.update")
        self.assertEqual(sorted(x["target"]["id"] for x in recs), sorted(self.a_hps))

    def restore_heat_pumps(self):
        """Leaves the zip code's heat pumps unpaused and optimized, whatever the reset did."""
        r = self.bulk(self.org, {"action": "update",
                                 "settings": {"pause_power_until": None, "is_smart_optimization_active": True},
                                 "filter": {"type": HP, "zip_code": self.ZIP}})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(self.wait_job(self.org, r.body["id"])["state"], "succeeded")

    def test_reset_optimization_by_filter_resets_every_matching_device(self):
        # pause the zip code's heat pumps and switch their optimization off first (a job, like the reset)
        job = self.start_job(self.org, {"action": "update",
                                        "settings": {"pause_power_until": PAUSE_AT,
                                                     "is_smart_optimization_active": False},
                                        "filter": {"type": HP, "zip_code": self.ZIP}})
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), self.N_HP, self.N_HP, 0)
        self.addCleanup(self.restore_heat_pumps)
        before = self.snapshot()
        rid = new_rid()
        job = self.start_job(self.org, {"action": "reset_optimization", "filter": {"zip_code": self.ZIP}}, rid=rid)
        self.assertEqual(job["total"], len(self.a_live), job)
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), len(self.a_live), len(self.a_live), 0)

        def reset(item):
            self.assertEqual((item["pause_power_until"], item["is_pause_power_active"],
                              item["is_smart_optimization_active"]), (None, False, True))
            self.assertNotIn("optimization_off", item["attention"])
        self.assertOnlyChanged(before, self.a_hps, ("pause_power_until", "is_pause_power_active",
                                                    "is_smart_optimization_active", "attention"), reset)
        recs = self.records_of_request(self.org, rid, action="device.reset_optimization")
        self.assertEqual(sorted(x["target"]["id"] for x in recs), sorted(self.a_hps))
        self.assertEqual(self.records_of_request(self.org, rid, action="device.update"), [])

    def test_a_filter_job_lists_the_devices_it_could_not_change_by_ordinal_and_id(self):
        before = self.snapshot()
        rid = new_rid()
        temp = 22.0 + secrets.randbelow(20) / 10
        job = self.start_job(self.org, {"action": "update", "settings": {"indoor_target_temperature": temp},
                                        "filter": {"zip_code": self.ZIP}}, rid=rid)
        total = len(self.a_live)
        self.assertEqual(job["total"], total, job)
        failing = [(n, i) for n, (i, t) in enumerate(self.a_live, 1) if t != HP]
        done = self.wait_job(self.org, job["id"])
        self.assertJobDone(self.org, done, total, self.N_HP, len(failing))
        errs = self.job_errors(self.org, job["id"])
        self.assertEqual([(e["line"], e["row"]) for e in errs], failing)
        self.assertTrue([n for n, _ in failing if n > 500], "no failure in the second batch")
        for e in errs:
            self.assertEqual(e["error"]["status"], 422, e)
            self.assertIn("settings/indoor_target_temperature", [x.get("field") for x in e["error"]["errors"]], e)
        self.assertEqual([e["line"] for e in self.job_errors(self.org, job["id"], after_line=500)],
                         [n for n, _ in failing if n > 500])

        def warmer(item):
            self.assertEqual(item["indoor_target_temperature"], temp)
        self.assertOnlyChanged(before, self.a_hps, ("indoor_target_temperature",), warmer)
        self.assertEqual(len(self.records_of_request(self.org, rid, action="device.update")), self.N_HP)

    def test_state_filters_choose_the_devices_and_a_device_leaving_the_filter_is_not_skipped(self):
        evs = [i for i, t in self.a_live + self.rest if t == EV]
        off = devices_path(self.org) + "?type=electric-vehicles&optimization_active=false&limit=1000"
        job = self.start_job(self.org, {"action": "update", "settings": {"is_smart_optimization_active": False},
                                        "filter": {"type": EV, "optimization_active": True}})
        self.assertEqual(job["total"], len(evs), job)
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), len(evs), len(evs), 0)
        r = self.S.get(off, token=self.org.token("admin"))
        self.assertEqual(sorted(d["id"] for d in r.body), sorted(evs))
        # switch them on again: each leaves the filter as it is changed, and none is skipped
        job = self.start_job(self.org, {"action": "update", "settings": {"is_smart_optimization_active": True},
                                        "filter": {"type": EV, "optimization_active": False}})
        self.assertEqual(job["total"], len(evs), job)
        self.assertJobDone(self.org, self.wait_job(self.org, job["id"]), len(evs), len(evs), 0)
        r = self.S.get(off, token=self.org.token("admin"))
        self.assertEqual((r.body, r.headers.get("X-Total-Count")), ([], "0"))
        self.assertIs(self.fleet_all(self.other)[self.foreign[2]]["is_smart_optimization_active"], True)


# ======================================================================= a non-string id

class NonStringIdTest(OwnServerTestCase, BulkDevicesCase):
    """device_ids holding a non-string before a valid id: a 422 like any bad id
    (a server of its own, in case it does not survive the request)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.S.org_create("Devices Bulk Non-string")

    def test_a_non_string_entry_before_a_valid_id_is_422_pointing_at_it(self):
        uid = self.create_user(self.org)["id"]
        hp = self.new_device(self.org, uid, HP)
        ev = self.new_device(self.org, uid, EV)
        for ids, fields in (([5, hp["id"]], ["device_ids/0"]),
                            ([None, hp["id"]], ["device_ids/0"]),
                            ([hp["id"], {}, ev["id"]], ["device_ids/1"]),
                            ([[hp["id"]], True, hp["id"], ev["id"]], ["device_ids/0", "device_ids/1"])):
            with self.subTest(ids=ids):
                r = self.bulk(self.org, {"action": "reset_optimization", "device_ids": ids})
                self.assertInvalid(r, *fields)
                self.assertEqual(self.S.get("/healthz").status, 200)
        self.assertEqual(self.device_now(self.org, hp, HP), hp)
