"""POST .../users/{id}/migration: the document's "User Migration" steps in
one transaction (create the new user with the old system's id, move the
buildings, devices and contracts, verify, archive the old user)."""

import threading
import uuid

import harness
from harness import API, ApiTestCase, UUID_RE, unique_email, uniq

harness.use_server(globals())

INVENTORY_KEYS = ["buildings", "devices", "energy_contracts", "building_ids", "device_ids", "energy_contract_ids"]
COPIED = ("role", "email", "first_name", "last_name", "street_and_number", "street_add_info", "zip_code",
          "town", "country_iso2")


class MigrationBase(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create()
        cls.admin = cls.org.token("admin")

    def post(self, path, body, token=None, expect=201):
        r = self.S.request("POST", path, body=body, token=token or self.admin)
        self.assertEqual(r.status, expect, r)
        return r.body

    def get(self, path, expect=200):
        r = self.S.get(path, token=self.admin)
        self.assertEqual(r.status, expect, r)
        return r.body

    def populated_user(self, **fields):
        """A user with 2 buildings, 3 devices (with building_id), 2 contracts and one
        deleted device; returns (user, {"buildings": [...], "devices": [(type, dev)], ...})."""
        base = dict(first_name="Greta", last_name="Gruber", street_and_number="Hauptplatz 1",
                    street_add_info="Top 4", zip_code="8010", town="Graz", country_iso2="AT",
                    external_user_id=uniq("crm-"))
        base.update(fields)
        u = self.create_user(self.org, **base)
        p = self.org.user_path(u["id"])
        b1 = self.post(p + "/buildings", {"name": "Home", "town": "Graz"})
        b2 = self.post(p + "/buildings", {"name": "Cabin", "num_occupants": 2})
        devs = [("heat-pumps", self.post(p + "/heat-pumps", {"building_id": b1["id"], "is_authenticated": True})),
                ("electric-vehicles", self.post(p + "/electric-vehicles", {"building_id": b1["id"]})),
                ("inverters", self.post(p + "/inverters", {"building_id": b2["id"]}))]
        k1 = self.post(p + "/energy-contracts", {"energy_contract_type": "monthly", "building_id": b1["id"],
                                                "meter_id": "AT0010000000000001"})
        k2 = self.post(p + "/energy-contracts", {"energy_contract_type": "spot_hourly"})
        gone = self.post(p + "/heat-pumps", {"comment": "replaced"})
        r = self.S.request("DELETE", "%s/heat-pumps/%s" % (p, gone["id"]), token=self.admin)
        self.assertEqual(r.status, 204, r)
        return u, {"buildings": [b1, b2], "devices": devs, "contracts": [k1, k2], "deleted_device": gone}

    def migrate(self, user_id, body, expect=201, token=None, headers=None):
        r = self.S.request("POST", self.org.user_path(user_id) + "/migration", body=body,
                           token=token or self.admin, headers=headers)
        self.assertEqual(r.status, expect, r)
        return r

    def snapshot(self, uid, recs):
        """Every record of the user as the API shows it (under that user's path)."""
        p = self.org.user_path(uid)
        out = {"user": self.get(p)}
        for dtype in ("heat-pumps", "electric-vehicles", "inverters"):
            out[dtype] = self.get("%s/%s" % (p, dtype))
        out["buildings"] = self.get(p + "/buildings")
        out["contracts"] = self.get(p + "/energy-contracts")
        out["deleted"] = self.get("%s/heat-pumps/%s" % (p, recs["deleted_device"]["id"]))
        return out


class MigrationTest(MigrationBase):
    def test_migration_moves_everything(self):
        u, recs = self.populated_user()
        old_path = self.org.user_path(u["id"])
        r = self.migrate(u["id"], {"external_user_id": "old-system-4711"})
        rep = r.body
        self.assertEqual(list(rep), ["old_user_id", "new_user_id", "before", "after", "new_user", "verified"])
        self.assertEqual(rep["old_user_id"], u["id"])
        self.assertRegex(rep["new_user_id"], UUID_RE)
        self.assertNotEqual(rep["new_user_id"], u["id"])
        self.assertIs(rep["verified"], True)
        self.assertEqual(r.headers.get("Location"), self.org.user_path(rep["new_user_id"]))
        building_ids = [b["id"] for b in recs["buildings"]]
        device_ids = [d["id"] for _, d in recs["devices"]]
        contract_ids = [k["id"] for k in recs["contracts"]]
        want = {"buildings": 2, "devices": 3, "energy_contracts": 2, "building_ids": building_ids,
                "device_ids": device_ids, "energy_contract_ids": contract_ids}
        self.assertEqual(rep["before"], want)
        self.assertEqual(list(rep["before"]), INVENTORY_KEYS)
        self.assertEqual(rep["after"], rep["before"])

        # the new user: the old user's fields, the body's external_user_id
        new = self.get(self.org.user_path(rep["new_user_id"]))
        self.assertEqual(new, rep["new_user"])
        self.assertUserShape(new)
        for k in COPIED:
            self.assertEqual(new[k], u[k], k)
        self.assertEqual(new["external_user_id"], "old-system-4711")
        self.assertIsNone(new["deleted_at"])
        self.assertEqual(new["org_id"], self.org.id)

        # the old user: archived, email and external_user_id cleared
        old = self.get(old_path)
        self.assertIsNotNone(old["deleted_at"])
        self.assertIsNone(old["email"])
        self.assertIsNone(old["external_user_id"])
        self.assertEqual(old["first_name"], u["first_name"])

        # the records: same ids under the new user, 404 under the old one
        new_path = self.org.user_path(rep["new_user_id"])
        for dtype, d in recs["devices"]:
            moved = self.get("%s/%s/%s" % (new_path, dtype, d["id"]))
            self.assertEqual(moved["user_id"], rep["new_user_id"])
            self.assertEqual(moved["building_id"], d["building_id"])
            self.assertProblem(self.S.get("%s/%s/%s" % (old_path, dtype, d["id"]), token=self.admin), 404)
            self.assertEqual(self.get("%s/%s" % (old_path, dtype)), [])
        for b in recs["buildings"]:
            moved = self.get("%s/buildings/%s" % (new_path, b["id"]))
            self.assertEqual(moved["user_id"], rep["new_user_id"])
            self.assertEqual(moved["name"], b["name"])
            self.assertProblem(self.S.get("%s/buildings/%s" % (old_path, b["id"]), token=self.admin), 404)
        for k in recs["contracts"]:
            moved = self.get("%s/energy-contracts/%s" % (new_path, k["id"]))
            self.assertEqual(moved["user_id"], rep["new_user_id"])
            self.assertEqual((moved["building_id"], moved["meter_id"]), (k["building_id"], k["meter_id"]))
            self.assertProblem(self.S.get("%s/energy-contracts/%s" % (old_path, k["id"]), token=self.admin), 404)
        self.assertEqual([b["id"] for b in self.get(new_path + "/buildings")], building_ids)
        self.assertEqual([k["id"] for k in self.get(new_path + "/energy-contracts")], contract_ids)
        self.assertEqual(self.get(old_path + "/buildings"), [])
        self.assertEqual(self.get(old_path + "/energy-contracts"), [])

        # the moved records still work under the new user: the summary sees them
        s = self.get(new_path + "/summary")
        self.assertEqual((s["devices"]["total"], s["buildings"]), (3, 2))
        self.assertEqual(s["user"]["external_id"], "old-system-4711")

        # audit: user.migrate on the new user, the old user's archive, the new user's creation
        recs_m = self.audit_records(self.org, action="user.migrate", target_id=rep["new_user_id"])
        self.assertEqual(len(recs_m), 1, recs_m)
        self.assertEqual(recs_m[0]["changes"]["user_id"], {"before": u["id"], "after": rep["new_user_id"]})
        self.assertEqual(recs_m[0]["actor"]["type"], "token")
        self.assertEqual(len(self.audit_records(self.org, action="user.archive", target_id=u["id"])), 1)
        self.assertEqual(len(self.audit_records(self.org, action="user.create",
                                                target_id=rep["new_user_id"])), 1)

    def test_user_without_records(self):
        u = self.create_user(self.org, first_name="Solo")
        rep = self.migrate(u["id"], {}).body
        empty = {"buildings": 0, "devices": 0, "energy_contracts": 0, "building_ids": [], "device_ids": [],
                 "energy_contract_ids": []}
        self.assertEqual((rep["before"], rep["after"]), (empty, empty))
        self.assertEqual(rep["new_user"]["email"], u["email"])
        self.assertEqual(rep["new_user"]["first_name"], "Solo")

    def test_body_fields_override(self):
        u = self.create_user(self.org, first_name="Old", town="Wien", external_user_id=uniq("x"))
        email = unique_email("new")
        rep = self.migrate(u["id"], {"email": email, "first_name": "New", "town": None}).body
        self.assertEqual(rep["new_user"]["email"], email)
        self.assertEqual(rep["new_user"]["first_name"], "New")
        self.assertIsNone(rep["new_user"]["town"])
        self.assertEqual(rep["new_user"]["external_user_id"], u["external_user_id"])

    def test_deleted_device_stays_with_the_old_user(self):
        u, recs = self.populated_user()
        rep = self.migrate(u["id"], {"external_user_id": uniq("o")}).body
        gone = recs["deleted_device"]["id"]
        self.assertNotIn(gone, rep["after"]["device_ids"])
        r = self.S.get("%s/heat-pumps/%s" % (self.org.user_path(u["id"]), gone), token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(r.body["deleted_at"])

    def test_user_with_a_device_connected_to_a_deleted_building(self):
        u = self.create_user(self.org)
        p = self.org.user_path(u["id"])
        b = self.post(p + "/buildings", {"name": "Gone"})
        s = self.post("%s/org/%s/device-onboarding" % (API, self.org.id),
                      {"user_id": u["id"], "building_id": b["id"], "device_type": "hp",
                       "success_url": "https://partner.example.com/ok", "cancel_url": "https://partner.example.com/no"})
        self.assertEqual(self.S.request("DELETE", "%s/buildings/%s" % (p, b["id"]), token=self.admin).status, 204)
        path = "/connect/" + s["authentication_url"].rsplit("/", 1)[1]
        r = self.S.request("POST", path, raw="action=connect&manufacturer=a&model=b",
                           content_type="application/x-www-form-urlencoded")
        self.assertLess(r.status, 500, r)
        r = self.migrate(u["id"], {"external_user_id": uniq("gone-")})
        self.assertEqual(r.body["before"], r.body["after"])

    def test_migrating_again_409(self):
        u = self.create_user(self.org)
        self.migrate(u["id"], {"external_user_id": uniq("a")})
        r = self.migrate(u["id"], {"external_user_id": uniq("b")}, expect=409)
        self.assertProblem(r, 409)
        # a deleted user is just as much 409
        v = self.create_user(self.org)
        self.assertEqual(self.S.request("DELETE", self.org.user_path(v["id"]), token=self.admin).status, 204)
        self.assertProblem(self.migrate(v["id"], {}, expect=409), 409)

    def test_body_validation_422(self):
        u = self.create_user(self.org, external_user_id=uniq("v"))
        cases = [({"email": "not-an-email"}, "email"), ({"surprise": True}, "surprise"),
                 ({"country_iso2": "XX"}, "country_iso2"), ({"role": "integration"}, "role"),
                 ({"email": None}, "email"), ({"first_name": 5}, "first_name"), ({"id": str(uuid.uuid4())}, "id")]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertProblem(self.migrate(u["id"], body, expect=422), 422, field)
        r = self.S.request("POST", self.org.user_path(u["id"]) + "/migration", raw="[1, 2]",
                           token=self.admin)
        self.assertIn(r.status, (400, 422), r)
        self.assertUnchanged(self.org, u)
        self.assertEqual([x for x in self.audit_records(self.org, action="user.migrate")
                          if x["changes"]["user_id"]["before"] == u["id"]], [])

    def test_email_taken_by_another_user_409(self):
        other = self.create_user(self.org)
        u, recs = self.populated_user()
        before = self.snapshot(u["id"], recs)
        r = self.migrate(u["id"], {"email": other["email"]}, expect=409)
        self.assertProblem(r, 409, "email")
        self.assertEqual(self.snapshot(u["id"], recs), before)

    def test_unknown_user_404(self):
        self.assertProblem(self.migrate(str(uuid.uuid4()), {}, expect=404), 404)
        other = self.S.org_create()
        u = self.create_user(self.org)
        self.assertProblem(self.migrate(u["id"], {}, expect=404, token=other.token("admin")), 404)
        self.assertUnchanged(self.org, u)

    def test_roles(self):
        staff = self.org.token("staff")
        # staff may migrate a user ...
        u = self.create_user(self.org)
        self.migrate(u["id"], {"external_user_id": uniq("s")}, token=staff)
        # ... but not a staff user, and may not make a user staff
        s = self.create_user(self.org, role="staff")
        self.assertProblem(self.migrate(s["id"], {}, expect=403, token=staff), 403)
        self.assertUnchanged(self.org, s)
        v = self.create_user(self.org)
        self.assertProblem(self.migrate(v["id"], {"role": "admin"}, expect=403, token=staff), 403)
        self.assertUnchanged(self.org, v)
        for role in ("viewer", "integration"):
            self.assertProblem(self.migrate(v["id"], {}, expect=403, token=self.org.token(role)), 403)
        self.assertUnchanged(self.org, v)
        # admin may migrate the staff user
        rep = self.migrate(s["id"], {}).body
        self.assertEqual(rep["new_user"]["role"], "staff")

    def test_concurrent_migrations_of_one_user_succeed_once(self):
        u, recs = self.populated_user()
        results = []

        def go(i):
            r = self.S.request("POST", self.org.user_path(u["id"]) + "/migration",
                               body={"external_user_id": "race-%d-%s" % (i, u["id"][:8])}, token=self.admin)
            results.append(r)
        threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses.count(201), 1, results)
        self.assertTrue(all(st in (201, 409, 412, 503) for st in statuses), results)
        winner = [r for r in results if r.status == 201][0].body
        self.assertEqual(winner["after"]["device_ids"], [d["id"] for _, d in recs["devices"]])
        migrated = [x for x in self.audit_records(self.org, action="user.migrate")
                    if x["changes"]["user_id"]["before"] == u["id"]]
        self.assertEqual(len(migrated), 1, migrated)
        found = self.list_users(self.org, search=u["email"]).body
        self.assertEqual([x["id"] for x in found], [winner["new_user_id"]])

    def test_if_match(self):
        u, recs = self.populated_user()
        r = self.S.get(self.org.user_path(u["id"]), token=self.admin)
        etag = r.headers.get("ETag")
        self.assertTrue(etag, r)
        r = self.S.request("PUT", self.org.user_path(u["id"]), body={"first_name": "Changed"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        before = self.snapshot(u["id"], recs)
        r = self.migrate(u["id"], {"external_user_id": uniq("m")}, expect=412, headers={"If-Match": etag})
        self.assertProblem(r, 412)
        self.assertEqual(self.snapshot(u["id"], recs), before)
        fresh = self.S.get(self.org.user_path(u["id"]), token=self.admin).headers.get("ETag")
        rep = self.migrate(u["id"], {"external_user_id": uniq("m")}, headers={"If-Match": fresh}).body
        self.assertEqual(rep["new_user"]["first_name"], "Changed")


class FaultInjectionTest(MigrationBase):
    """A server whose migration fails after moving the buildings and contracts
    (FLEETDESK_FAULT=migration.move): nothing at all may change."""

    @classmethod
    def setUpClass(cls):
        cls.S = harness.Server()
        try:
            cls.S.start(env={"FLEETDESK_FAULT": "migration.move"})
        except BaseException:
            cls.S.stop()
            cls.S.cleanup()
            raise
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        code = cls.S.stop()
        tail = cls.S.stderr_tail()
        cls.S.cleanup()
        assert code == 0, "server exit status %r\n%s" % (code, tail)

    def test_failed_migration_changes_nothing(self):
        u, recs = self.populated_user()
        before = self.snapshot(u["id"], recs)
        counts_path = "%s/org/%s/devices/counts" % (API, self.org.id)
        counts = self.get(counts_path)
        users_before = self.list_users(self.org, include_deleted="true", limit=1000).body
        audit_before = self.audit_records(self.org)
        r = self.migrate(u["id"], {"external_user_id": "old-system-1"}, expect=500)
        self.assertProblem(r, 500)
        self.assertEqual(self.snapshot(u["id"], recs), before)
        self.assertIsNone(before["user"]["deleted_at"])
        self.assertEqual(self.get(counts_path), counts)
        self.assertEqual(self.list_users(self.org, include_deleted="true", limit=1000).body, users_before)
        found = self.list_users(self.org, search=u["email"], include_deleted="true").body
        self.assertEqual([x["id"] for x in found], [u["id"]])
        self.assertEqual(self.list_users(self.org, search="old-system-1", include_deleted="true").body, [])
        self.assertEqual(self.audit_records(self.org), audit_before)
        # and the user can still be used: a device can be added
        self.post(self.org.user_path(u["id"]) + "/heat-pumps", {})
