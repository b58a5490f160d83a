"""Buildings and energy contracts: /users/{user_id}/buildings and
/users/{user_id}/energy-contracts CRUD, validation, references between them
and devices, ETags, roles, the GDPR erase of their personal fields, and
isolation between users and orgs (issue 3)."""

import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import TS_RE, UUID_RE  # noqa: E402
from devapi import DeviceApiTestCase  # noqa: E402

harness.use_server(globals())

BUILDING_FIELDS = ("id", "user_id", "name", "property_type", "property_size_m2", "property_age", "num_occupants",
                   "space_heating", "water_heating", "street_and_number", "zip_code", "town", "country_iso2",
                   "created_at", "updated_at", "deleted_at")
CONTRACT_FIELDS = ("id", "user_id", "energy_contract_type", "energy_prices", "building_id", "meter_id", "supplier",
                   "currency_energy_price", "valid_from", "valid_to", "created_at", "updated_at", "deleted_at")


class _Base(DeviceApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Records %s" % cls.__name__)
        cls.admin = cls.org.token("admin")

    def setUp(self):
        self.uid = self.create_user(self.org)["id"]

    def path(self, kind, rec_id=None, uid=None):
        return self.rpath(self.org, uid or self.uid, kind, rec_id)

    def post(self, kind, body, token=None, uid=None):
        return self.S.request("POST", self.path(kind, uid=uid), body=body, token=token or self.admin)

    def put(self, kind, rec_id, body, token=None, headers=None, uid=None):
        return self.S.request("PUT", self.path(kind, rec_id, uid=uid), body=body, token=token or self.admin,
                              headers=headers)

    def delete(self, kind, rec_id, token=None, headers=None, uid=None):
        return self.S.request("DELETE", self.path(kind, rec_id, uid=uid), token=token or self.admin,
                              headers=headers)

    def get(self, kind, rec_id, uid=None):
        return self.get_record(self.org, uid or self.uid, kind, rec_id)

    def lst(self, kind, uid=None, token=None):
        r = self.S.get(self.path(kind, uid=uid), token=token or self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list, r)
        return r.body


class BuildingTest(_Base):
    FULL = {"name": "Family home", "property_type": "detached", "property_size_m2": 142.5, "property_age": 37,
            "num_occupants": 4, "space_heating": "heat_pump", "water_heating": "heat_pump",
            "street_and_number": "Hauptstrasse 5", "zip_code": "8010", "town": "Graz", "country_iso2": "at"}

    def test_create_get_list_update_delete(self):
        r = self.post("buildings", self.FULL)
        self.assertEqual(r.status, 201, r)
        b = r.body
        self.assertEqual(list(b), list(BUILDING_FIELDS))
        self.assertRegex(b["id"], UUID_RE)
        self.assertEqual(b["user_id"], self.uid)
        for k, v in self.FULL.items():
            self.assertEqual(b[k], "AT" if k == "country_iso2" else v, k)
        self.assertRegex(b["created_at"], TS_RE)
        self.assertIsNone(b["deleted_at"])
        self.assertEqual(r.headers.get("Location"), self.path("buildings", b["id"]))
        self.assertRegex(r.headers.get("ETag") or "", r'^"[^"]+"$')
        self.assertEqual(self.get("buildings", b["id"]), b)
        b2 = self.new_building(self.org, self.uid, name="Holiday flat")
        self.assertEqual([x["id"] for x in self.lst("buildings")], [b["id"], b2["id"]])
        self.assertEqual(self.lst("buildings")[0], b)
        # partial PUT
        r = self.put("buildings", b["id"], {"town": "Wien", "num_occupants": 5})
        self.assertEqual(r.status, 200, r)
        want = dict(b, town="Wien", num_occupants=5, updated_at=r.body["updated_at"])
        self.assertEqual(r.body, want)
        self.assertEqual(self.get("buildings", b["id"]), want)
        # nulls clear
        r = self.put("buildings", b["id"], {"property_type": None})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["property_type"])
        # delete
        r = self.delete("buildings", b2["id"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual([x["id"] for x in self.lst("buildings")], [b["id"]])
        gone = self.get("buildings", b2["id"])
        self.assertRegex(gone["deleted_at"] or "", TS_RE)
        self.assertProblem(self.put("buildings", b2["id"], {"name": "back"}), 409)
        self.assertEqual(self.get("buildings", b2["id"]), gone)

    def test_create_with_empty_body_gives_all_null_fields(self):
        r = self.post("buildings", {})
        self.assertEqual(r.status, 201, r)
        for k in BUILDING_FIELDS[2:13]:
            self.assertIsNone(r.body[k], k)

    def test_building_validation(self):
        cases = [
            ({"property_size_m2": 0}, "property_size_m2"), ({"property_size_m2": 100001}, "property_size_m2"),
            ({"property_size_m2": "120"}, "property_size_m2"),
            ({"property_age": 1.5}, "property_age"), ({"property_age": -1}, "property_age"),
            ({"property_age": 1001}, "property_age"),
            ({"num_occupants": 1001}, "num_occupants"), ({"num_occupants": -2}, "num_occupants"),
            ({"num_occupants": 2.5}, "num_occupants"),
            ({"country_iso2": "XX"}, "country_iso2"), ({"country_iso2": "DEU"}, "country_iso2"),
            ({"country_iso2": "D"}, "country_iso2"), ({"country_iso2": 49}, "country_iso2"),
            ({"name": "n" * 101}, "name"), ({"name": "tab\there"}, "name"), ({"zip_code": "1" * 21}, "zip_code"),
            ({"street_and_number": "s" * 201}, "street_and_number"), ({"town": 7}, "town"),
            ({"roof": "flat"}, "roof"), ({"id": str(uuid.uuid4())}, "id"),
            ({"user_id": str(uuid.uuid4())}, "user_id"), ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ]
        b = self.new_building(self.org, self.uid, name="Valid")
        for body, field in cases:
            with self.subTest(body=body):
                self.assertProblemFields(self.post("buildings", body), 422, field)
                self.assertProblemFields(self.put("buildings", b["id"], body), 422, field)
        self.assertEqual([x["id"] for x in self.lst("buildings")], [b["id"]])
        self.assertEqual(self.get("buildings", b["id"]), b)
        # the bounds and a PUT of the GET body are fine
        r = self.put("buildings", b["id"], {"property_size_m2": 1, "property_age": 1000, "num_occupants": 0,
                                            "name": "n" * 100, "country_iso2": "ch"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["country_iso2"], "CH")
        r2 = self.put("buildings", b["id"], r.body)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body, r.body)

    def test_etags_if_none_match_and_if_match(self):
        r = self.post("buildings", {"name": "Etag"})
        b, etag = r.body, r.headers["ETag"]
        g = self.S.get(self.path("buildings", b["id"]), token=self.admin, headers={"If-None-Match": etag})
        self.assertEqual(g.status, 304, g)
        r1 = self.put("buildings", b["id"], {"name": "Etag 2"}, headers={"If-Match": etag})
        self.assertEqual(r1.status, 200, r1)
        self.assertNotEqual(r1.headers["ETag"], etag)
        self.assertProblem(self.delete("buildings", b["id"], headers={"If-Match": etag}), 412)
        self.assertIsNone(self.get("buildings", b["id"])["deleted_at"])
        self.assertEqual(self.delete("buildings", b["id"], headers={"If-Match": r1.headers["ETag"]}).status, 204)

    def test_put_with_a_stale_if_match_is_412(self):
        r = self.post("buildings", {"name": "Stale"})
        b, etag = r.body, r.headers["ETag"]
        self.assertEqual(self.put("buildings", b["id"], {"name": "Stale 2"}).status, 200)
        self.assertProblem(self.put("buildings", b["id"], {"name": "Stale 3"}, headers={"If-Match": etag}), 412)
        self.assertEqual(self.get("buildings", b["id"])["name"], "Stale 2")

    def test_audit_records_of_a_building(self):
        b = self.new_building(self.org, self.uid, name="Audited")
        self.assertEqual(self.put("buildings", b["id"], {"name": "Audited 2"}).status, 200)
        self.assertEqual(self.delete("buildings", b["id"]).status, 204)
        recs = self.audit_records(self.org, target_id=b["id"])
        self.assertEqual([x["action"] for x in recs], ["building.delete", "building.update", "building.create"])
        self.assertEqual(recs[1]["changes"], {"name": {"before": "Audited", "after": "Audited 2"}})
        self.assertEqual(recs[0]["target"], {"type": "building", "id": b["id"]})


class ContractTest(_Base):
    def test_create_get_list_update_delete(self):
        b = self.new_building(self.org, self.uid)
        body = {"energy_contract_type": "spot_hourly",
                "energy_prices": [{"price": 0.2512, "timestamp": "2026-01-01T00:00:00Z"},
                                  {"price": -0.01, "timestamp": "2026-01-01T01:00:00+01:00"}],
                "building_id": b["id"], "meter_id": "AT0010000000000001", "supplier": "Wien Energie",
                "currency_energy_price": "CHF", "valid_from": "2026-01-01T00:00:00Z",
                "valid_to": "2026-12-31T23:00:00Z"}
        r = self.post("energy-contracts", body)
        self.assertEqual(r.status, 201, r)
        c = r.body
        self.assertEqual(list(c), list(CONTRACT_FIELDS))
        self.assertEqual(c["user_id"], self.uid)
        self.assertEqual(c["energy_prices"], [{"price": 0.2512, "timestamp": "2026-01-01T00:00:00.000Z"},
                                              {"price": -0.01, "timestamp": "2026-01-01T00:00:00.000Z"}])
        for k in ("energy_contract_type", "building_id", "meter_id", "supplier", "currency_energy_price"):
            self.assertEqual(c[k], body[k], k)
        self.assertEqual((c["valid_from"], c["valid_to"]), ("2026-01-01T00:00:00.000Z", "2026-12-31T23:00:00.000Z"))
        self.assertEqual(r.headers.get("Location"), self.path("energy-contracts", c["id"]))
        self.assertEqual(self.get("energy-contracts", c["id"]), c)
        self.assertEqual(self.lst("energy-contracts"), [c])
        r = self.put("energy-contracts", c["id"], {"supplier": "Verbund", "energy_contract_type": "yearly"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, dict(c, supplier="Verbund", energy_contract_type="yearly",
                                      updated_at=r.body["updated_at"]))
        self.assertEqual(self.delete("energy-contracts", c["id"]).status, 204)
        self.assertEqual(self.lst("energy-contracts"), [])
        self.assertRegex(self.get("energy-contracts", c["id"])["deleted_at"] or "", TS_RE)
        self.assertProblem(self.put("energy-contracts", c["id"], {"supplier": "x"}), 409)
        recs = self.audit_records(self.org, target_id=c["id"])
        self.assertEqual([x["action"] for x in recs],
                         ["energy_contract.delete", "energy_contract.update", "energy_contract.create"])

    def test_defaults_with_only_the_type(self):
        c = self.new_contract(self.org, self.uid, energy_contract_type="monthly")
        self.assertEqual((c["energy_prices"], c["currency_energy_price"]), ([], "EUR"))
        for k in ("building_id", "meter_id", "supplier", "valid_from", "valid_to", "deleted_at"):
            self.assertIsNone(c[k], k)

    def test_contract_validation(self):
        ts = "2026-01-01T00:00:00Z"
        cases = [
            ({}, "energy_contract_type"),
            ({"supplier": "S"}, "energy_contract_type"),
            ({"energy_contract_type": "weekly"}, "energy_contract_type"),
            ({"energy_contract_type": None}, "energy_contract_type"),
            ({"energy_contract_type": "monthly", "meter_id": "1" * 20}, "meter_id"),
            ({"energy_contract_type": "monthly", "supplier": "s" * 101}, "supplier"),
            ({"energy_contract_type": "monthly", "currency_energy_price": "XYZ"}, "currency_energy_price"),
            ({"energy_contract_type": "monthly", "currency_energy_price": "eur"}, "currency_energy_price"),
            ({"energy_contract_type": "monthly", "energy_prices": {"price": 1, "timestamp": ts}}, "energy_prices"),
            ({"energy_contract_type": "monthly", "energy_prices": [{"price": 1}]}, "energy_prices/0"),
            ({"energy_contract_type": "monthly", "energy_prices": [{"timestamp": ts}]}, "energy_prices/0"),
            ({"energy_contract_type": "monthly", "energy_prices": [{"price": 1, "timestamp": ts, "unit": "kWh"}]},
             "energy_prices/0"),
            ({"energy_contract_type": "monthly", "energy_prices": [1.5]}, "energy_prices/0"),
            ({"energy_contract_type": "monthly", "energy_prices": [{"price": "1", "timestamp": ts}]},
             "energy_prices/0/price"),
            ({"energy_contract_type": "monthly", "energy_prices": [{"price": 1, "timestamp": ts},
                                                                   {"price": 1, "timestamp": "noon"}]},
             "energy_prices/1/timestamp"),
            ({"energy_contract_type": "monthly", "valid_from": "2026-06-01T00:00:00Z",
              "valid_to": "2026-05-31T23:59:59Z"}, "valid_from"),
            ({"energy_contract_type": "monthly", "valid_from": "June"}, "valid_from"),
            ({"energy_contract_type": "monthly", "building_id": "b-1"}, "building_id"),
            ({"energy_contract_type": "monthly", "tariff": "night"}, "tariff"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertProblemFields(self.post("energy-contracts", body), 422, field)
        self.assertEqual(self.lst("energy-contracts"), [])
        # the limits themselves are fine
        c = self.new_contract(self.org, self.uid, meter_id="1" * 19, supplier="s" * 100,
                              valid_from="2026-01-01T00:00:00Z", valid_to="2026-01-01T00:00:00Z")
        self.assertEqual(len(c["meter_id"]), 19)
        # PUT: valid_to before the stored valid_from names valid_to; a PUT cannot drop the type
        self.assertProblemFields(self.put("energy-contracts", c["id"], {"valid_to": "2025-12-31T00:00:00Z"}), 422,
                                 "valid_to")
        self.assertProblemFields(self.put("energy-contracts", c["id"], {"energy_contract_type": None}), 422,
                                 "energy_contract_type")
        self.assertProblemFields(self.put("energy-contracts", c["id"], {"meter_id": "m" * 20}), 422, "meter_id")
        self.assertEqual(self.get("energy-contracts", c["id"]), c)

    def test_building_id_must_be_a_live_building_of_the_same_user(self):
        other = self.create_user(self.org)["id"]
        theirs = self.new_building(self.org, other)
        mine = self.new_building(self.org, self.uid)
        for bid in (theirs["id"], str(uuid.uuid4())):
            with self.subTest(building_id=bid):
                self.assertProblemFields(self.post("energy-contracts", {"energy_contract_type": "yearly",
                                                                        "building_id": bid}), 422, "building_id")
        self.assertEqual(self.lst("energy-contracts"), [])
        c = self.new_contract(self.org, self.uid, building_id=mine["id"])
        self.assertEqual(c["building_id"], mine["id"])
        self.assertProblemFields(self.put("energy-contracts", c["id"], {"building_id": theirs["id"]}), 422,
                                 "building_id")
        self.assertEqual(self.get("energy-contracts", c["id"])["building_id"], mine["id"])

    def test_deleting_a_building_still_referenced_is_409(self):
        b = self.new_building(self.org, self.uid, name="Referenced")
        c = self.new_contract(self.org, self.uid, building_id=b["id"])
        d = self.new_device(self.org, self.uid, "heat-pumps", {"building_id": b["id"]})
        r = self.delete("buildings", b["id"])
        self.assertProblem(r, 409)
        self.assertIsNone(self.get("buildings", b["id"])["deleted_at"])
        # the contract alone still holds it
        self.assertEqual(self.S.request("DELETE", self.dpath(self.org, self.uid, "heat-pumps", d["id"]),
                                        token=self.admin).status, 204)
        self.assertProblem(self.delete("buildings", b["id"]), 409)
        # and the device alone too
        b2 = self.new_building(self.org, self.uid, name="Device only")
        ev = self.new_device(self.org, self.uid, "electric-vehicles", {"building_id": b2["id"]})
        self.assertProblem(self.delete("buildings", b2["id"]), 409)
        self.assertEqual(self.put_device(self.org, self.uid, "electric-vehicles", ev["id"],
                                         {"building_id": None}).status, 200)
        self.assertEqual(self.delete("buildings", b2["id"]).status, 204)
        # once the contract points elsewhere, the first building can go
        self.assertEqual(self.put("energy-contracts", c["id"], {"building_id": None}).status, 200)
        self.assertEqual(self.delete("buildings", b["id"]).status, 204)
        self.assertEqual(self.lst("buildings"), [])

    def test_if_match_on_contracts(self):
        r = self.post("energy-contracts", {"energy_contract_type": "monthly"})
        c, etag = r.body, r.headers["ETag"]
        self.assertEqual(self.S.get(self.path("energy-contracts", c["id"]), token=self.admin,
                                    headers={"If-None-Match": etag}).status, 304)
        r1 = self.put("energy-contracts", c["id"], {"supplier": "A"}, headers={"If-Match": etag})
        self.assertEqual(r1.status, 200, r1)
        self.assertProblem(self.delete("energy-contracts", c["id"], headers={"If-Match": etag}), 412)
        self.assertIsNone(self.get("energy-contracts", c["id"])["deleted_at"])
        self.assertProblem(self.put("energy-contracts", c["id"], {"supplier": "B"}, headers={"If-Match": etag}), 412)
        self.assertEqual(self.get("energy-contracts", c["id"])["supplier"], "A")


class RecordRolesTest(_Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.viewer = cls.org.token("viewer")
        cls.staff = cls.org.token("staff")

    def test_viewer_reads_but_may_not_write(self):
        b = self.new_building(self.org, self.uid, name="Viewed")
        c = self.new_contract(self.org, self.uid)
        v = self.viewer
        self.assertEqual(self.lst("buildings", token=v), [b])
        self.assertEqual(self.lst("energy-contracts", token=v), [c])
        self.assertEqual(self.S.get(self.path("buildings", b["id"]), token=v).body, b)
        self.assertEqual(self.S.get(self.path("energy-contracts", c["id"]), token=v).body, c)
        self.assertProblem(self.post("buildings", {"name": "No"}, token=v), 403)
        self.assertProblem(self.post("energy-contracts", {"energy_contract_type": "yearly"}, token=v), 403)
        self.assertProblem(self.put("buildings", b["id"], {"name": "No"}, token=v), 403)
        self.assertProblem(self.put("energy-contracts", c["id"], {"supplier": "No"}, token=v), 403)
        self.assertProblem(self.delete("buildings", b["id"], token=v), 403)
        self.assertProblem(self.delete("energy-contracts", c["id"], token=v), 403)
        # viewers read devices but do not write them either
        d = self.new_device(self.org, self.uid, "inverters")
        self.assertEqual(self.S.get(self.dpath(self.org, self.uid, "inverters", d["id"]), token=v).status, 200)
        self.assertProblem(self.S.request("POST", self.dpath(self.org, self.uid, "inverters"), body={}, token=v),
                           403)
        self.assertProblem(self.put_device(self.org, self.uid, "inverters", d["id"], {"comment": "x"}, token=v),
                           403)
        self.assertEqual(self.lst("buildings"), [b])
        self.assertEqual(self.lst("energy-contracts"), [c])

    def test_staff_writes(self):
        r = self.post("buildings", {"name": "Staff made"}, token=self.staff)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.put("buildings", r.body["id"], {"town": "Linz"}, token=self.staff).status, 200)
        r = self.post("energy-contracts", {"energy_contract_type": "yearly"}, token=self.staff)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.delete("energy-contracts", r.body["id"], token=self.staff).status, 204)
        r = self.S.request("POST", self.dpath(self.org, self.uid, "heat-pumps"), body={"comment": "staff"},
                           token=self.staff)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.put_device(self.org, self.uid, "heat-pumps", r.body["id"], {"comment": "edited"},
                                         token=self.staff).status, 200)
        self.assertEqual(self.S.request("DELETE", self.dpath(self.org, self.uid, "heat-pumps", r.body["id"]),
                                        token=self.staff).status, 204)


class EraseTest(_Base):
    def test_gdpr_erase_removes_building_name_and_address_and_contract_meter_id(self):
        b = self.new_building(self.org, self.uid, name="Villa Kunterbunt", street_and_number="Seeweg 1",
                              zip_code="12345", town="Taka-Tuka", country_iso2="SE", property_size_m2=300,
                              num_occupants=2)
        c = self.new_contract(self.org, self.uid, building_id=b["id"], meter_id="SE-METER-0001",
                              supplier="Vattenfall")
        r = self.S.request("POST", self.org.user_path(self.uid) + "/erase", token=self.admin)
        self.assertEqual(r.status, 200, r)
        gb = self.get("buildings", b["id"])
        for k in ("name", "street_and_number", "zip_code", "town"):
            self.assertIsNone(gb[k], k)
        self.assertEqual((gb["property_size_m2"], gb["num_occupants"]), (300.0, 2))
        gc = self.get("energy-contracts", c["id"])
        self.assertIsNone(gc["meter_id"])
        self.assertEqual((gc["supplier"], gc["building_id"]), ("Vattenfall", b["id"]))
        # the audit records of those records keep no personal value either
        for rec in self.audit_records(self.org, target_id=b["id"]) + self.audit_records(self.org, target_id=c["id"]):
            text = repr(rec.get("changes"))
            for secret in ("Villa Kunterbunt", "Seeweg 1", "12345", "Taka-Tuka", "SE-METER-0001"):
                self.assertNotIn(secret, text, rec)


class RecordIsolationTest(_Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org_b = cls.S.org_create("Records isolation B")
        cls.b_admin = cls.org_b.token("admin")

    def test_another_orgs_token_gets_404(self):
        b = self.new_building(self.org, self.uid, name="A's")
        c = self.new_contract(self.org, self.uid)
        d = self.new_device(self.org, self.uid, "heat-pumps")
        paths = [self.path("buildings"), self.path("buildings", b["id"]), self.path("energy-contracts"),
                 self.path("energy-contracts", c["id"]), self.dpath(self.org, self.uid, "heat-pumps"),
                 self.dpath(self.org, self.uid, "heat-pumps", d["id"])]
        for p in paths:
            with self.subTest(path=p):
                self.assertProblem(self.S.get(p, token=self.b_admin), 404)
        self.assertProblem(self.S.request("PUT", self.path("buildings", b["id"]), body={"name": "B's"},
                                          token=self.b_admin), 404)
        self.assertProblem(self.S.request("DELETE", self.path("energy-contracts", c["id"]), token=self.b_admin), 404)
        self.assertProblem(self.S.request("POST", self.path("buildings"), body={"name": "B's"}, token=self.b_admin),
                           404)
        # org B's own path with org A's user and ids
        ub = self.create_user(self.org_b)["id"]
        for kind, rid in (("buildings", b["id"]), ("energy-contracts", c["id"])):
            self.assertProblem(self.S.get(self.rpath(self.org_b, ub, kind, rid), token=self.b_admin), 404)
            self.assertProblem(self.S.get(self.rpath(self.org_b, self.uid, kind, rid), token=self.b_admin), 404)
        self.assertProblem(self.S.get(self.dpath(self.org_b, ub, "heat-pumps", d["id"]), token=self.b_admin), 404)
        self.assertEqual(self.get("buildings", b["id"])["name"], "A's")
        self.assertIsNone(self.get("energy-contracts", c["id"])["deleted_at"])

    def test_user_as_records_under_user_bs_path_are_404(self):
        other = self.create_user(self.org)["id"]
        b = self.new_building(self.org, self.uid, name="Mine")
        c = self.new_contract(self.org, self.uid)
        d = self.new_device(self.org, self.uid, "electric-vehicles")
        for kind, rid in (("buildings", b["id"]), ("energy-contracts", c["id"])):
            with self.subTest(kind=kind):
                self.assertProblem(self.S.get(self.path(kind, rid, uid=other), token=self.admin), 404)
                self.assertProblem(self.put(kind, rid, {"supplier" if kind != "buildings" else "name": "x"},
                                            uid=other), 404)
                self.assertProblem(self.delete(kind, rid, uid=other), 404)
                self.assertEqual(self.lst(kind, uid=other), [])
        self.assertProblem(self.S.get(self.dpath(self.org, other, "electric-vehicles", d["id"]), token=self.admin),
                           404)
        self.assertProblem(self.put_device(self.org, other, "electric-vehicles", d["id"], {"comment": "x"}), 404)
        self.assertEqual(self.get("buildings", b["id"])["name"], "Mine")
        self.assertIsNone(self.get("energy-contracts", c["id"])["supplier"])
        self.assertIsNone(self.get_device(self.org, self.uid, "electric-vehicles", d["id"])["comment"])

    def test_wrong_kind_or_device_type_segment_is_404(self):
        b = self.new_building(self.org, self.uid)
        d = self.new_device(self.org, self.uid, "inverters")
        self.assertProblem(self.S.get(self.path("energy-contracts", b["id"]), token=self.admin), 404)
        for typ in ("heat-pumps", "electric-vehicles"):
            self.assertProblem(self.S.get(self.dpath(self.org, self.uid, typ, d["id"]), token=self.admin), 404)
            self.assertProblem(self.S.request("DELETE", self.dpath(self.org, self.uid, typ, d["id"]),
                                              token=self.admin), 404)
        self.assertProblem(self.S.get(self.dpath(self.org, self.uid, "inverters", b["id"]), token=self.admin), 404)
        self.assertIsNone(self.get_device(self.org, self.uid, "inverters", d["id"])["deleted_at"])

    def test_unknown_user_is_404(self):
        ghost = str(uuid.uuid4())
        for kind in ("buildings", "energy-contracts"):
            self.assertProblem(self.S.get(self.path(kind, uid=ghost), token=self.admin), 404)
            self.assertProblem(self.post(kind, {"energy_contract_type": "monthly"} if kind != "buildings" else {},
                                         uid=ghost), 404)


if __name__ == "__main__":
    unittest.main()
