"""Self-service connection links: POST /org/{org}/device-onboarding, POST
.../{type}/{id}/auth_session, and the hosted page GET/POST /connect/{secret}."""

import datetime
import re
import secrets
import threading
import time
import urllib.parse
import uuid

import harness
from harness import API, ApiTestCase, TS_RE, UUID_RE, unique_email

harness.use_server(globals())

SUCCESS = "https://partner.example.com/onboarding/done"
CANCEL = "https://partner.example.com/onboarding/cancelled?src=app"
FORM = "application/x-www-form-urlencoded"
CONNECT_RE = re.compile(r"^(http://127\.0\.0\.1:\d+)/connect/([0-9a-f]{64})$")
SESSION_FIELDS = ["id", "authentication_url", "user", "user_id", "building_id", "device_type", "success_url",
                  "cancel_url", "language", "is_smart_optimization_active_default", "expiration_date"]
ISSUED = []   # every link secret handed out in this module, for the access-log check


def end_of_next_utc_day(t):
    d = t.astimezone(datetime.timezone.utc).date() + datetime.timedelta(days=2)
    return d.strftime("%Y-%m-%dT00:00:00.000Z")


class OnboardingBase(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create()
        cls.admin = cls.org.token("admin")
        cls.onboarding = "%s/org/%s/device-onboarding" % (API, cls.org.id)

    def setUp(self):
        self.user = self.create_user(self.org)
        self.upath = self.org.user_path(self.user["id"])

    def create_session(self, expect=201, token=None, **fields):
        body = {"user_id": self.user["id"], "device_type": "hp", "success_url": SUCCESS, "cancel_url": CANCEL}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not Ellipsis}
        r = self.S.request("POST", self.onboarding, body=body, token=token or self.admin)
        self.assertEqual(r.status, expect, r)
        if r.status == 201:
            ISSUED.append(self.secret_of(r.body["authentication_url"]))
        return r

    def secret_of(self, url):
        m = CONNECT_RE.match(url)
        self.assertTrue(m, url)
        self.assertEqual(m.group(1), self.S.base)
        return m.group(2)

    def link_path(self, url):
        return "/connect/" + self.secret_of(url)

    def open_page(self, url, expect=200):
        r = self.S.get(self.link_path(url))
        self.assertEqual(r.status, expect, r)
        self.assertTrue((r.headers.get("Content-Type") or "").startswith("text/html"), r)
        return r

    def submit(self, url, expect=303, **form):
        r = self.S.request("POST", self.link_path(url), raw=urllib.parse.urlencode(form), content_type=FORM)
        self.assertEqual(r.status, expect, r)
        return r

    def connect(self, url, manufacturer="Daikin", model="Altherma"):
        return self.submit(url, action="connect", manufacturer=manufacturer, model=model)

    def redirect_params(self, r, base):
        loc = r.headers.get("Location")
        self.assertTrue(loc, r)
        u = urllib.parse.urlsplit(loc)
        b = urllib.parse.urlsplit(base)
        self.assertEqual((u.scheme, u.netloc, u.path), (b.scheme, b.netloc, b.path), loc)
        q = urllib.parse.parse_qs(u.query)
        for k, v in urllib.parse.parse_qs(b.query).items():   # the partner's own parameters survive
            self.assertEqual(q.pop(k), v, loc)
        return {k: v[0] for k, v in q.items()}

    def devices(self, dtype, uid=None):
        r = self.S.get("%s/%s" % (self.org.user_path(uid or self.user["id"]), dtype), token=self.admin)
        self.assertEqual(r.status, 200, r)
        return r.body


class CreateSessionTest(OnboardingBase):
    def test_create_201_shape(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        r = self.create_session()
        after = datetime.datetime.now(datetime.timezone.utc)
        s = r.body
        self.assertEqual(list(s), SESSION_FIELDS)
        self.assertRegex(s["id"], UUID_RE)
        self.secret_of(s["authentication_url"])
        self.assertEqual(s["user"], self.user["id"])
        self.assertEqual(s["user_id"], self.user["id"])
        self.assertIsNone(s["building_id"])
        self.assertEqual(s["device_type"], "hp")
        self.assertEqual(s["success_url"], SUCCESS)
        self.assertEqual(s["cancel_url"], CANCEL)
        self.assertEqual(s["language"], "en")
        self.assertIs(s["is_smart_optimization_active_default"], True)
        self.assertRegex(s["expiration_date"], TS_RE)
        self.assertIn(s["expiration_date"], {end_of_next_utc_day(before), end_of_next_utc_day(after)})

    def test_each_link_is_a_new_secret(self):
        a = self.create_session().body
        b = self.create_session().body
        self.assertNotEqual(a["id"], b["id"])
        self.assertNotEqual(self.secret_of(a["authentication_url"]), self.secret_of(b["authentication_url"]))

    def test_options_are_echoed(self):
        br = self.S.request("POST", self.upath + "/buildings", body={"name": "Home"}, token=self.admin)
        self.assertEqual(br.status, 201, br)
        s = self.create_session(device_type="iv", language="de", building_id=br.body["id"],
                                is_smart_optimization_active_default=False,
                                token=self.org.token("staff")).body
        self.assertEqual((s["device_type"], s["language"], s["building_id"],
                          s["is_smart_optimization_active_default"]),
                         ("iv", "de", br.body["id"], False))

    def test_validation_errors_name_the_fields(self):
        cases = [
            (dict(user_id=...), "user_id"),
            (dict(device_type=...), "device_type"),
            (dict(success_url=...), "success_url"),
            (dict(cancel_url=...), "cancel_url"),
            (dict(device_type="heatpump"), "device_type"),
            (dict(device_type="HP"), "device_type"),
            (dict(success_url="ftp://partner.example.com/x"), "success_url"),
            (dict(success_url="javascript:alert(1)"), "success_url"),
            (dict(cancel_url="/relative/path"), "cancel_url"),
            (dict(user_id="not-a-uuid"), "user_id"),
            (dict(language="xx"), "language"),
            (dict(is_smart_optimization_active_default="yes"), "is_smart_optimization_active_default"),
            (dict(surprise=1), "surprise"),
            (dict(building_id=str(uuid.uuid4())), "building_id"),
            (dict(building_id=self.other_users_building()), "building_id"),
        ]
        for fields, field in cases:
            with self.subTest(fields=fields):
                r = self.create_session(expect=422, **fields)
                self.assertProblem(r, 422, field)
        # nothing was created
        self.assertEqual(self.audit_records(self.org, action="onboarding.create", target_id=self.user["id"]), [])

    def other_users_building(self):
        other = self.create_user(self.org)
        r = self.S.request("POST", self.org.user_path(other["id"]) + "/buildings", body={"name": "Not yours"},
                           token=self.admin)
        self.assertEqual(r.status, 201, r)
        return r.body["id"]

    def test_several_errors_at_once(self):
        r = self.create_session(expect=422, device_type="xx", success_url="nope", cancel_url=3)
        fields = {e["field"] for e in r.body["errors"]}
        self.assertTrue({"device_type", "success_url", "cancel_url"} <= fields, r.body)

    def test_other_orgs_user_404(self):
        other = self.S.org_create()
        ou = self.create_user(other)
        r = self.create_session(expect=404, user_id=ou["id"])
        self.assertProblem(r, 404)
        self.assertProblem(self.create_session(expect=404, user_id=str(uuid.uuid4())), 404)
        # and org B cannot create links in org A
        r = self.create_session(expect=404, token=other.token("admin"))
        self.assertProblem(r, 404)

    def test_deleted_user_409(self):
        r = self.S.request("DELETE", self.upath, token=self.admin)
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.create_session(expect=409), 409)

    def test_viewer_and_integration_403(self):
        for role in ("viewer", "integration"):
            with self.subTest(role=role):
                self.assertProblem(self.create_session(expect=403, token=self.org.token(role)), 403)

    def test_audit_onboarding_create(self):
        s = self.create_session().body
        recs = self.audit_records(self.org, action="onboarding.create", target_id=self.user["id"])
        self.assertEqual(len(recs), 1, recs)
        rec = recs[0]
        self.assertEqual(rec["target"], {"type": "user", "id": self.user["id"]})
        self.assertEqual(rec["actor"]["type"], "token")
        self.assertEqual(rec["actor"]["id"], self.org.token_id("admin"))
        self.assertEqual(rec["changes"]["expiration_date"]["after"], s["expiration_date"])
        # the audit trail never holds the secret
        self.assertNotIn(self.secret_of(s["authentication_url"]), str(recs))


class ConnectPageTest(OnboardingBase):
    def test_page_connect_creates_an_authenticated_device(self):
        s = self.create_session().body
        r = self.open_page(s["authentication_url"])
        page = r.body
        self.assertIn("<form", page)
        self.assertRegex(page, r'<form[^>]*method="post"')
        self.assertIn('name="manufacturer"', page)
        self.assertIn('name="model"', page)
        self.assertRegex(page, r'name="action"\s+value="connect"')
        self.assertRegex(page, r'name="action"\s+value="cancel"')
        self.assertIn("heat pump", page)
        self.assertEqual(self.devices("heat-pumps"), [])

        r = self.connect(s["authentication_url"], "Daikin", "Altherma")
        q = self.redirect_params(r, SUCCESS)
        self.assertEqual(set(q), {"session_id", "device_id"}, q)
        self.assertEqual(q["session_id"], s["id"])
        devs = self.devices("heat-pumps")
        self.assertEqual([d["id"] for d in devs], [q["device_id"]])
        d = devs[0]
        self.assertIs(d["is_authenticated"], True)
        self.assertIsNone(d["authorization_url"])
        self.assertEqual(d["actions"], [])
        self.assertEqual(d["device_model"]["manufacturer"], "Daikin")
        self.assertEqual(d["device_model"]["model"], "Altherma")
        self.assertEqual(d["device_model"]["device_type"], "heat_pump")
        self.assertEqual(d["user_id"], self.user["id"])
        self.assertIs(d["is_smart_optimization_active"], True)
        self.assertRegex(d["current_state_last_updated_at"], TS_RE)
        self.assertEqual(self.devices("electric-vehicles") + self.devices("inverters"), [])

        # spent: GET and POST both 410, and no second device
        self.open_page(s["authentication_url"], expect=410)
        self.submit(s["authentication_url"], expect=410, action="connect", manufacturer="X", model="Y")
        self.submit(s["authentication_url"], expect=410, action="cancel")
        self.assertEqual(len(self.devices("heat-pumps")), 1)

        # audit: the device's creation and the completion, by the link
        recs = self.audit_records(self.org, action="onboarding.complete", target_id=self.user["id"])
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["actor"]["type"], "onboarding")
        self.assertEqual(recs[0]["actor"]["id"], s["id"])
        self.assertEqual(recs[0]["changes"]["result"]["after"], "connected")
        created = self.audit_records(self.org, action="device.create", target_id=q["device_id"])
        self.assertEqual(len(created), 1, created)
        self.assertEqual(created[0]["actor"]["type"], "onboarding")

    def test_session_options_reach_the_device(self):
        br = self.S.request("POST", self.upath + "/buildings", body={"name": "Home"}, token=self.admin)
        self.assertEqual(br.status, 201, br)
        s = self.create_session(device_type="iv", building_id=br.body["id"],
                                is_smart_optimization_active_default=False).body
        self.assertIn("solar inverter", self.open_page(s["authentication_url"]).body)
        q = self.redirect_params(self.connect(s["authentication_url"], "Fronius", "Symo"), SUCCESS)
        d = self.devices("inverters")[0]
        self.assertEqual(d["id"], q["device_id"])
        self.assertEqual(d["building_id"], br.body["id"])
        self.assertIs(d["is_smart_optimization_active"], False)
        self.assertEqual(d["device_model"]["device_type"], "inverter")

    def test_building_deleted_after_link_created(self):
        br = self.S.request("POST", self.upath + "/buildings", body={"name": "Old house"}, token=self.admin)
        self.assertEqual(br.status, 201, br)
        s = self.create_session(building_id=br.body["id"]).body
        r = self.S.request("DELETE", "%s/buildings/%s" % (self.upath, br.body["id"]), token=self.admin)
        self.assertEqual(r.status, 204, r)
        r = self.S.request("POST", self.link_path(s["authentication_url"]),
                           raw="action=connect&manufacturer=a&model=b", content_type=FORM)
        self.assertLess(r.status, 500, r)
        for d in self.devices("heat-pumps"):
            self.assertNotEqual(d["building_id"], br.body["id"], d)

    def test_ev_and_wallbox(self):
        for code, model_type in (("ev", "electric_vehicle"), ("wb", "wallbox")):
            with self.subTest(code=code):
                s = self.create_session(device_type=code).body
                q = self.redirect_params(self.connect(s["authentication_url"], "Easee", "Home"), SUCCESS)
                r = self.S.get("%s/electric-vehicles/%s" % (self.upath, q["device_id"]), token=self.admin)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["device_model"]["device_type"], model_type)
                self.assertEqual(r.body["device_model"]["manufacturer"], "Easee")
                self.assertIs(r.body["is_authenticated"], True)
        self.assertEqual(len(self.devices("electric-vehicles")), 2)
        self.assertEqual(self.devices("heat-pumps"), [])

    def test_cancel_redirects_and_spends_the_link(self):
        s = self.create_session().body
        r = self.submit(s["authentication_url"], action="cancel")
        q = self.redirect_params(r, CANCEL)
        self.assertEqual(q, {"session_id": s["id"]})
        self.open_page(s["authentication_url"], expect=410)
        self.submit(s["authentication_url"], expect=410, action="connect",
                    manufacturer="Daikin", model="Altherma")
        self.assertEqual(self.devices("heat-pumps"), [])
        recs = self.audit_records(self.org, action="onboarding.cancel", target_id=self.user["id"])
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(self.audit_records(self.org, action="onboarding.complete",
                                            target_id=self.user["id"]), [])

    def test_a_bad_answer_shows_the_form_again_and_keeps_the_link(self):
        s = self.create_session().body
        r = self.submit(s["authentication_url"], expect=422, action="maybe")
        self.assertIn("<form", r.body)
        r = self.submit(s["authentication_url"], expect=422, action="connect", manufacturer="x" * 101,
                        model="M")
        self.assertIn("<form", r.body)
        self.assertEqual(self.devices("heat-pumps"), [])
        self.open_page(s["authentication_url"])
        self.connect(s["authentication_url"])
        self.assertEqual(len(self.devices("heat-pumps")), 1)

    def test_form_values_are_not_reflected_unescaped(self):
        s = self.create_session().body
        self.connect(s["authentication_url"], '<script>alert(1)</script>', 'A&B "x"')
        d = self.devices("heat-pumps")[0]
        self.assertEqual(d["device_model"]["manufacturer"], '<script>alert(1)</script>')
        self.assertEqual(d["device_model"]["model"], 'A&B "x"')

    def test_concurrent_answers_spend_the_link_once(self):
        s = self.create_session().body
        path = self.link_path(s["authentication_url"])
        results = []

        def answer(i):
            form = "action=connect&manufacturer=M%d&model=X" % i if i % 3 else "action=cancel"
            results.append(self.S.request("POST", path, raw=form, content_type=FORM).status)
        threads = [threading.Thread(target=answer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [303] + [410] * 7, results)
        self.assertLessEqual(len(self.devices("heat-pumps")), 1)
        done = (self.audit_records(self.org, action="onboarding.complete", target_id=self.user["id"]) +
                self.audit_records(self.org, action="onboarding.cancel", target_id=self.user["id"]))
        self.assertEqual(len(done), 1, done)
        self.assertEqual(len(self.devices("heat-pumps")),
                         1 if done[0]["action"] == "onboarding.complete" else 0)

    def test_unknown_secret_404(self):
        for secret in (secrets.token_hex(32), "abc", "0" * 64, secrets.token_hex(32).upper()):
            with self.subTest(secret=secret):
                r = self.S.get("/connect/" + secret)
                self.assertEqual(r.status, 404, r)
                self.assertTrue((r.headers.get("Content-Type") or "").startswith("text/html"), r)
                self.assertNotIn("<form", r.body)
                r = self.S.request("POST", "/connect/" + secret, raw="action=connect&manufacturer=a&model=b",
                                   content_type=FORM)
                self.assertEqual(r.status, 404, r)

    def test_user_deleted_after_link_created(self):
        s = self.create_session().body
        r = self.S.request("DELETE", self.upath, token=self.admin)
        self.assertEqual(r.status, 204, r)
        r = self.S.request("POST", self.link_path(s["authentication_url"]),
                           raw="action=connect&manufacturer=a&model=b", content_type=FORM)
        self.assertIn(r.status, (404, 409, 410), r)
        self.assertIsNone(r.headers.get("Location"), r)
        self.assertEqual(self.devices("heat-pumps"), [])


class AuthSessionTest(OnboardingBase):
    def create_device(self, dtype="heat-pumps", **fields):
        r = self.S.request("POST", "%s/%s" % (self.upath, dtype), body=fields, token=self.admin)
        self.assertEqual(r.status, 201, r)
        return r.body

    def auth_session(self, dtype, dev_id, expect=201, token=None, uid=None, **body):
        body = dict({"success_url": SUCCESS, "cancel_url": CANCEL}, **body)
        path = "%s/%s/%s/auth_session" % (self.org.user_path(uid or self.user["id"]), dtype, dev_id)
        r = self.S.request("POST", path, body=body, token=token or self.admin)
        self.assertEqual(r.status, expect, r)
        if r.status == 201:
            ISSUED.append(self.secret_of(r.body["authentication_url"]))
        return r

    def test_reauthentication_makes_the_device_authenticated(self):
        d = self.create_device("electric-vehicles", authorization_url="https://oem.example.com/auth/1",
                               is_smart_optimization_active=False, minimum_charge_limit=30)
        self.assertIs(d["is_authenticated"], False)
        before = datetime.datetime.now(datetime.timezone.utc)
        s = self.auth_session("electric-vehicles", d["id"]).body
        self.assertEqual(list(s), ["authentication_url", "device_id", "session_id", "expiration_date"])
        self.assertEqual(s["device_id"], d["id"])
        self.assertRegex(s["session_id"], UUID_RE)
        self.assertIn(s["expiration_date"],
                      {end_of_next_utc_day(before), end_of_next_utc_day(datetime.datetime.now(datetime.timezone.utc))})
        page = self.open_page(s["authentication_url"]).body
        self.assertIn("Reconnect", page)
        q = self.redirect_params(self.connect(s["authentication_url"], "Tesla", "Model 3"), SUCCESS)
        self.assertEqual(q, {"session_id": s["session_id"], "device_id": d["id"]})
        r = self.S.get("%s/electric-vehicles/%s" % (self.upath, d["id"]), token=self.admin)
        self.assertEqual(r.status, 200, r)
        after = r.body
        self.assertIs(after["is_authenticated"], True)
        self.assertIsNone(after["authorization_url"])
        self.assertEqual(after["actions"], [])
        # a reconnection keeps the device's settings
        self.assertIs(after["is_smart_optimization_active"], False)
        self.assertEqual(after["minimum_charge_limit"], 30)
        self.assertEqual(len(self.devices("electric-vehicles")), 1)
        self.open_page(s["authentication_url"], expect=410)
        recs = self.audit_records(self.org, action="device.reauthenticate", target_id=d["id"])
        self.assertEqual(len(recs), 1, recs)
        recs = self.audit_records(self.org, action="onboarding.complete", target_id=self.user["id"])
        self.assertEqual(len(recs), 1, recs)

    def test_auth_session_404s(self):
        d = self.create_device("heat-pumps")
        self.assertProblem(self.auth_session("inverters", d["id"], expect=404), 404)
        self.assertProblem(self.auth_session("heat-pumps", uuid.uuid4(), expect=404), 404)
        other_user = self.create_user(self.org)
        self.assertProblem(self.auth_session("heat-pumps", d["id"], expect=404, uid=other_user["id"]), 404)
        other = self.S.org_create()
        self.assertProblem(self.auth_session("heat-pumps", d["id"], expect=404, token=other.token("admin")), 404)
        r = self.S.request("DELETE", "%s/heat-pumps/%s" % (self.upath, d["id"]), token=self.admin)
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.auth_session("heat-pumps", d["id"], expect=404), 404)

    def test_auth_session_validation_and_roles(self):
        d = self.create_device("inverters")
        self.assertProblem(self.auth_session("inverters", d["id"], expect=422, success_url="mailto:x@y.z"),
                           422, "success_url")
        self.assertProblem(self.auth_session("inverters", d["id"], expect=422, user_id=self.user["id"]),
                           422, "user_id")
        self.assertProblem(self.auth_session("inverters", d["id"], expect=403, token=self.org.token("viewer")),
                           403)


class AccessLogTest(OnboardingBase):
    def read_log_until(self, pred):
        """The access log once pred(log) holds (lines are written when a request
        completes), or after 5 s."""
        deadline = time.time() + 5
        while True:
            with open(self.S.access_log, encoding="utf-8", errors="replace") as f:
                log = f.read()
            if pred(log) or time.time() > deadline:
                return log
            time.sleep(0.05)

    def test_access_log_never_contains_a_secret(self):
        mine = []
        # a connection, reused afterwards
        s = self.create_session().body
        mine.append(self.secret_of(s["authentication_url"]))
        self.open_page(s["authentication_url"])
        self.connect(s["authentication_url"])
        self.open_page(s["authentication_url"], expect=410)
        # a cancellation
        c = self.create_session(device_type="ev").body
        mine.append(self.secret_of(c["authentication_url"]))
        self.submit(c["authentication_url"], action="cancel")
        # a re-authentication
        dev = self.devices("heat-pumps")[0]
        r = self.S.request("POST", "%s/heat-pumps/%s/auth_session" % (self.upath, dev["id"]),
                           body={"success_url": SUCCESS, "cancel_url": CANCEL}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        mine.append(self.secret_of(r.body["authentication_url"]))
        ISSUED.append(mine[-1])
        self.open_page(r.body["authentication_url"])
        self.connect(r.body["authentication_url"])
        # an unknown one
        unknown = secrets.token_hex(32)
        mine.append(unknown)
        self.assertEqual(self.S.get("/connect/" + unknown).status, 404)
        log = self.read_log_until(lambda log: log.count('"connect.page"') >= 4 and
                                  log.count('"connect.submit"') >= 3)
        self.assertIn("/connect/{secret}", log)
        self.assertGreaterEqual(log.count('"connect.page"'), 4, log[-2000:])
        self.assertGreaterEqual(log.count('"connect.submit"'), 3, log[-2000:])
        err = self.S.stderr_tail(10 ** 7)
        for secret in set(mine + ISSUED):
            self.assertEqual([line for line in log.splitlines() if secret in line], [])
            self.assertNotIn(secret, err)

    def test_other_methods_on_a_link_do_not_log_the_secret(self):
        r = self.S.request("POST", self.onboarding, token=self.admin,
                           body={"user_id": self.user["id"], "device_type": "hp", "success_url": SUCCESS,
                                 "cancel_url": CANCEL})   # (not in ISSUED: the test above stays independent)
        self.assertEqual(r.status, 201, r)
        s = r.body
        secret = self.secret_of(s["authentication_url"])
        for method in ("PUT", "DELETE", "OPTIONS"):
            r = self.S.request(method, "/connect/" + secret)
            self.assertEqual(r.status, 405, r)
        time.sleep(0.3)   # the line is written when the request completes
        with open(self.S.access_log, encoding="utf-8", errors="replace") as f:
            leaking = [line for line in f if secret in line]
        self.assertEqual(leaking, [])
        # the link still works
        self.open_page(s["authentication_url"])


class ExpiredLinkTest(ApiTestCase):
    """A server whose links live 300 ms (the test builds' hook)."""

    def test_expired_link_410(self):
        srv = harness.Server()
        try:
            srv.start(env={"FLEETDESK_TEST_ONBOARDING_TTL_MS": "300"})
            org = srv.org_create()
            tok = org.token("admin")
            u = srv.request("POST", org.users, body={"email": unique_email()}, token=tok)
            self.assertEqual(u.status, 201, u)
            t0 = time.monotonic()
            created = datetime.datetime.now(datetime.timezone.utc)
            r = srv.request("POST", "%s/org/%s/device-onboarding" % (API, org.id),
                            body={"user_id": u.body["id"], "device_type": "hp", "success_url": SUCCESS,
                                  "cancel_url": CANCEL}, token=tok)
            self.assertEqual(r.status, 201, r)
            exp = harness.parse_ts(r.body["expiration_date"])
            self.assertLess(abs((exp - created).total_seconds() - 0.3), 2.0, r.body)
            path = urllib.parse.urlsplit(r.body["authentication_url"]).path
            first = srv.get(path)
            if time.monotonic() - t0 < 0.2:   # still inside its 300 ms
                self.assertEqual(first.status, 200, first)
            time.sleep(max(0.0, 0.6 - (time.monotonic() - t0)))
            r = srv.get(path)
            self.assertEqual(r.status, 410, r)
            self.assertIn("expired", r.body)
            r = srv.request("POST", path, raw="action=connect&manufacturer=Daikin&model=Altherma",
                            content_type=FORM)
            self.assertEqual(r.status, 410, r)
            r = srv.request("POST", path, raw="action=cancel", content_type=FORM)
            self.assertEqual(r.status, 410, r)
            r = srv.get("%s/heat-pumps" % org.user_path(u.body["id"]), token=tok)
            self.assertEqual(r.body, [])
        finally:
            code = srv.stop()
            tail = srv.stderr_tail()
            srv.cleanup()
        self.assertEqual(code, 0, tail)
