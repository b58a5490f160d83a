"""Error cases of the users API: 400, 405, 409, 413, 415, 422, and that errors
leave nothing behind."""

import json
import unittest
import uuid

import harness
from harness import ApiTestCase, unique_email, uniq

harness.use_server(globals())

DOC_EMAIL = "[email protected] "   # literally as in the product document


class ValidationTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Validation Org")
        cls.tok = cls.org.token("admin")

    # ---- helpers ---------------------------------------------------------
    def post(self, body=None, raw=None, **kw):
        return self.S.request("POST", self.org.users, body=body, raw=raw, token=self.tok, **kw)

    def put(self, uid, body=None, raw=None, **kw):
        return self.S.request("PUT", self.org.user_path(uid), body=body, raw=raw, token=self.tok, **kw)

    def assertCreateRefused(self, body, status, field=None):
        r = self.post(body)
        self.assertProblem(r, status, field)
        if isinstance(body, dict) and isinstance(body.get("email"), str) and body["email"].strip():
            self.assertNoUserWithEmail(self.org, body["email"].strip())
        return r

    def assertPutRefused(self, body, status, field=None, **create):
        u = self.create_user(self.org, **create)
        r = self.put(u["id"], body)
        self.assertProblem(r, status, field)
        self.assertUnchanged(self.org, u)
        return r

    # ---- 400 malformed JSON -----------------------------------------------
    def test_post_malformed_json_is_400_problem_and_stores_nothing(self):
        email = unique_email()
        r = self.post(raw='{"email": "%s", "first_name": ' % email)
        self.assertProblem(r, 400)
        self.assertNoUserWithEmail(self.org, email)

    def test_post_trailing_garbage_after_json_is_400(self):
        email = unique_email()
        r = self.post(raw='{"email": "%s"} xyz' % email)
        self.assertProblem(r, 400)
        self.assertNoUserWithEmail(self.org, email)

    def test_post_empty_body_with_json_content_type_is_400(self):
        r = self.post(raw=b"")
        self.assertProblem(r, 400)

    def test_post_invalid_utf8_is_400(self):
        r = self.post(raw=b'{"email": "a\xff\xfe@example.com"}')
        self.assertProblem(r, 400)

    def test_put_malformed_json_is_400_and_user_unchanged(self):
        u = self.create_user(self.org, first_name="Keep")
        r = self.put(u["id"], raw='{"first_name": "Changed",,}')
        self.assertProblem(r, 400)
        self.assertUnchanged(self.org, u)

    def test_json_body_that_is_not_an_object_is_400_or_422(self):
        for raw in ("[]", '"x"', "42", "null"):
            with self.subTest(raw=raw):
                r = self.post(raw=raw)
                self.assertIn(r.status, (400, 422), r)
                self.assertProblem(r, r.status)

    # ---- problem shape ----------------------------------------------------
    def test_problem_body_has_rfc9457_members_and_field_errors(self):
        r = self.post({"email": "john.doe@example.com "})
        p = self.assertProblem(r, 422, "email")
        self.assertTrue(p["type"].startswith("urn:fleetdesk:problem:"), p)
        self.assertIsInstance(p.get("detail"), str)
        self.assertEqual(p.get("instance"), self.org.users)
        self.assertEqual(p.get("request_id"), r.headers.get("X-Request-Id"))
        err = [e for e in p["errors"] if e["field"] == "email"][0]
        self.assertEqual(err.get("pointer"), "/email")
        self.assertIsInstance(err.get("detail"), str)
        self.assertTrue(err["detail"])

    def test_several_invalid_fields_are_all_named(self):
        r = self.post({"email": "nope", "country_iso2": "XX", "first_name": 7})
        p = self.assertProblem(r, 422)
        fields = {e["field"] for e in p["errors"]}
        self.assertTrue({"email", "country_iso2", "first_name"} <= fields, p)

    # ---- 422 unknown fields and wrong types ----------------------------------
    def test_unknown_field_on_create_is_422_naming_it(self):
        self.assertCreateRefused({"email": unique_email(), "nickname": "jo"}, 422, "nickname")

    def test_unknown_field_on_put_is_422_and_user_unchanged(self):
        self.assertPutRefused({"first_name": "New", "latitude": 48.2}, 422, "latitude",
                              first_name="Old")

    def test_podero_device_field_on_user_is_unknown_422(self):
        self.assertCreateRefused({"email": unique_email(), "password": "secret"}, 422, "password")

    def test_wrong_types_are_422_naming_the_field(self):
        cases = [
            ("email", 123), ("email", ["a@example.com"]), ("first_name", 5),
            ("last_name", True), ("town", {"name": "Wien"}), ("zip_code", 10115),
            ("role", 1), ("external_user_id", 12345), ("country_iso2", ["DE"]),
            ("street_and_number", 1.5), ("street_add_info", False),
        ]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                body = {"email": unique_email(), field: value}
                if field == "email":
                    body = {"email": value}
                self.assertCreateRefused(body, 422, field)

    def test_wrong_type_on_put_is_422_and_user_unchanged(self):
        self.assertPutRefused({"first_name": 42}, 422, "first_name", first_name="Same")

    def test_missing_email_on_create_is_422(self):
        self.assertCreateRefused({"first_name": "NoMail"}, 422, "email")

    def test_null_email_is_422_on_create_and_put(self):
        self.assertCreateRefused({"email": None}, 422, "email")
        self.assertPutRefused({"email": None}, 422, "email")

    def test_invalid_role_is_422(self):
        self.assertCreateRefused({"email": unique_email(), "role": "superuser"}, 422, "role")
        self.assertCreateRefused({"email": unique_email(), "role": "Admin"}, 422, "role")
        self.assertPutRefused({"role": "owner"}, 422, "role")

    # ---- 422 invalid email ------------------------------------------------------
    def test_doc_example_email_literal_is_422_naming_email(self):
        r = self.post({"role": "user", "email": DOC_EMAIL, "external_user_id": uniq("customer_"),
                       "first_name": "John", "last_name": "Doe"})
        self.assertProblem(r, 422, "email")

    def test_email_with_trailing_space_is_422_and_not_stored_trimmed(self):
        addr = unique_email("john.doe")
        r = self.post({"email": addr + " "})
        self.assertProblem(r, 422, "email")
        self.assertNoUserWithEmail(self.org, addr)

    def test_literal_john_doe_with_trailing_space_is_422(self):
        r = self.post({"email": "john.doe@example.com "})
        self.assertProblem(r, 422, "email")
        self.assertNoUserWithEmail(self.org, "john.doe@example.com")

    def test_email_with_leading_whitespace_is_422(self):
        addr = unique_email("lead")
        for ws in (" ", "\t", "\n"):
            with self.subTest(ws=repr(ws)):
                self.assertProblem(self.post({"email": ws + addr}), 422, "email")
        self.assertNoUserWithEmail(self.org, addr)

    def test_invalid_email_addresses_are_422(self):
        for bad in ("", "plainaddress", "@example.com", "john@", "john@@example.com",
                    "john doe@example.com", "john.doe@example.com\n", "john@exa mple.com",
                    "john.doe.example.com", "<john@example.com>"):
            with self.subTest(email=bad):
                self.assertCreateRefused({"email": bad}, 422, "email")

    def test_email_longer_than_254_characters_is_422(self):
        email = "a" * 64 + "@" + ("c" * 60 + ".") * 3 + "ddd" + ".com"
        self.assertEqual(len(email), 255)
        self.assertCreateRefused({"email": email}, 422, "email")

    def test_invalid_email_on_put_is_422_and_user_unchanged(self):
        self.assertPutRefused({"email": "john.doe@example.com "}, 422, "email")

    # ---- 422 country -----------------------------------------------------------
    def test_country_xx_is_422(self):
        self.assertCreateRefused({"email": unique_email(), "country_iso2": "XX"}, 422, "country_iso2")

    def test_country_alpha3_deu_is_422(self):
        self.assertCreateRefused({"email": unique_email(), "country_iso2": "DEU"}, 422, "country_iso2")

    def test_other_invalid_countries_are_422(self):
        for bad in ("D", "", "1A", "ZZ", "Germany", "de "):
            with self.subTest(country=bad):
                self.assertCreateRefused({"email": unique_email(), "country_iso2": bad}, 422,
                                         "country_iso2")

    def test_invalid_country_on_put_is_422_and_user_unchanged(self):
        self.assertPutRefused({"country_iso2": "DEU", "town": "Berlin"}, 422, "country_iso2",
                              country_iso2="AT", town="Wien")

    def test_reserved_but_unassigned_country_codes_are_422(self):
        # exceptionally / transitionally reserved or user-assigned, not assigned
        for bad in ("UK", "EU", "AN", "YU", "AA", "QM", "XZ"):
            with self.subTest(country=bad):
                self.assertCreateRefused({"email": unique_email(), "country_iso2": bad}, 422,
                                         "country_iso2")

    def test_valid_countries_are_accepted(self):
        for ok in ("DE", "AT", "CH", "US", "GB", "fr", "AX", "BQ", "CW", "SS", "SX", "EH", "AQ", "va"):
            with self.subTest(country=ok):
                u = self.create_user(self.org, country_iso2=ok)
                self.assertEqual(u["country_iso2"], ok.upper())

    # ---- 422 lengths ---------------------------------------------------------------
    def test_fields_over_their_maximum_length_are_422(self):
        for field, n in (("first_name", 101), ("last_name", 101), ("town", 101),
                         ("street_and_number", 201), ("street_add_info", 201),
                         ("zip_code", 21), ("external_user_id", 256)):
            with self.subTest(field=field):
                self.assertCreateRefused({"email": unique_email(), field: "x" * n}, 422, field)

    def test_maximum_lengths_count_characters_not_bytes(self):
        body = {"email": unique_email(), "first_name": "ü" * 100, "last_name": "東" * 100,
                "town": "😀" * 100, "street_and_number": "ß" * 200, "zip_code": "Ø" * 20}
        u = self.create_user(self.org, **body)
        for k, v in body.items():
            self.assertEqual(u[k], v, k)
        self.assertCreateRefused({"email": unique_email(), "first_name": "ü" * 101}, 422, "first_name")

    def test_nul_character_in_a_field_is_refused_or_kept_not_truncated(self):
        r = self.post(raw='{"email": "%s", "first_name": "Jo\\u0000hn"}' % unique_email("nul"))
        if r.status == 201:
            self.assertEqual(self.get_user(self.org, r.body["id"])["first_name"], "Jo\u0000hn")
        else:
            self.assertIn(r.status, (400, 422), r)
            self.assertProblem(r, r.status)

    def test_over_long_field_on_put_is_422_and_user_unchanged(self):
        self.assertPutRefused({"first_name": "y" * 101}, 422, "first_name", first_name="Short")

    # ---- 422 read-only fields ----------------------------------------------------------
    def test_read_only_fields_on_create_are_422(self):
        values = {"id": str(uuid.uuid4()), "org_id": self.org.id,
                  "created_at": "2026-01-01T00:00:00.000Z",
                  "updated_at": "2026-01-01T00:00:00.000Z",
                  "deleted_at": "2026-01-01T00:00:00.000Z"}
        for field, value in values.items():
            with self.subTest(field=field):
                self.assertCreateRefused({"email": unique_email(), field: value}, 422, field)

    def test_read_only_fields_with_a_different_value_on_put_are_422(self):
        for field, value in (("id", str(uuid.uuid4())), ("org_id", str(uuid.uuid4())),
                             ("created_at", "2020-01-01T00:00:00.000Z"),
                             ("updated_at", "2020-01-01T00:00:00.000Z"),
                             ("deleted_at", "2020-01-01T00:00:00.000Z")):
            with self.subTest(field=field):
                self.assertPutRefused({field: value, "first_name": "Changed"}, 422, field,
                                      first_name="Orig")

    def test_read_only_fields_equal_to_stored_on_put_are_accepted(self):
        u = self.create_user(self.org, first_name="Orig")
        body = {k: u[k] for k in ("id", "org_id", "created_at", "updated_at", "deleted_at")}
        body["first_name"] = "Accepted"
        r = self.put(u["id"], body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["first_name"], "Accepted")

    # ---- 409 duplicates ------------------------------------------------------------------
    def test_duplicate_email_is_409_naming_email(self):
        email = unique_email("dup")
        self.create_user(self.org, email=email, first_name="First")
        r = self.post({"email": email, "first_name": "Second"})
        self.assertProblem(r, 409, "email")
        matches = self.list_users(self.org, search=email).body
        self.assertEqual([m["first_name"] for m in matches], ["First"])

    def test_duplicate_email_differing_only_in_case_is_409(self):
        email = unique_email("case")
        self.create_user(self.org, email=email)
        r = self.post({"email": email.upper()})
        self.assertProblem(r, 409, "email")
        r = self.post({"email": email[0].upper() + email[1:]})
        self.assertProblem(r, 409, "email")
        self.assertEqual(len(self.list_users(self.org, search=email).body), 1)

    def test_email_of_a_deleted_user_is_still_taken_409(self):
        email = unique_email("deleted")
        u = self.create_user(self.org, email=email)
        self.assertEqual(self.S.request("DELETE", self.org.user_path(u["id"]), token=self.tok).status, 204)
        self.assertProblem(self.post({"email": email}), 409, "email")

    def test_duplicate_external_user_id_is_409_naming_it(self):
        ext = uniq("cust_")
        self.create_user(self.org, external_user_id=ext)
        email = unique_email()
        r = self.post({"email": email, "external_user_id": ext})
        self.assertProblem(r, 409, "external_user_id")
        self.assertNoUserWithEmail(self.org, email)

    def test_several_users_without_external_user_id_are_allowed(self):
        a = self.create_user(self.org)
        b = self.create_user(self.org, external_user_id=None)
        self.assertIsNone(a["external_user_id"])
        self.assertIsNone(b["external_user_id"])

    def test_put_to_another_users_email_is_409_and_user_unchanged(self):
        other = self.create_user(self.org)
        self.assertPutRefused({"email": other["email"].upper(), "first_name": "Nope"}, 409, "email",
                              first_name="Mine")

    def test_put_to_another_users_external_user_id_is_409_and_user_unchanged(self):
        other = self.create_user(self.org, external_user_id=uniq("taken_"))
        self.assertPutRefused({"external_user_id": other["external_user_id"], "town": "X"}, 409,
                              "external_user_id", external_user_id=uniq("mine_"), town="Y")

    def test_put_own_email_in_other_case_is_not_a_conflict(self):
        u = self.create_user(self.org, email=unique_email("own"))
        r = self.put(u["id"], {"email": u["email"].upper(), "first_name": "Same"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["email"].lower(), u["email"].lower())

    def test_concurrent_creates_with_the_same_email_store_exactly_one(self):
        import threading
        email = unique_email("race")
        barrier = threading.Barrier(8)
        statuses = []

        def go(i):
            barrier.wait()
            r = self.S.request("POST", self.org.users, token=self.tok,
                               body={"email": email if i % 2 else email.upper(), "first_name": "R%d" % i})
            statuses.append(r.status)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(statuses), [201] + [409] * 7)
        self.assertEqual(len(self.list_users(self.org, search=email).body), 1)

    def test_concurrent_creates_with_the_same_external_user_id_store_exactly_one(self):
        import threading
        ext = uniq("race_ext_")
        barrier = threading.Barrier(8)
        statuses = []

        def go(i):
            barrier.wait()
            r = self.S.request("POST", self.org.users, token=self.tok,
                               body={"email": unique_email("rx"), "external_user_id": ext})
            statuses.append(r.status)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(statuses), [201] + [409] * 7)
        self.assertEqual(len(self.list_users(self.org, search=ext).body), 1)

    # ---- 413 -----------------------------------------------------------------------------
    def test_body_over_1_mib_is_413_and_stores_nothing(self):
        email = unique_email("big")
        raw = json.dumps({"email": email, "first_name": "x" * (1024 * 1024 + 100)})
        r = self.post(raw=raw)
        self.assertProblem(r, 413)
        self.assertNoUserWithEmail(self.org, email)

    def test_put_body_over_1_mib_is_413_and_user_unchanged(self):
        u = self.create_user(self.org, first_name="Small")
        raw = json.dumps({"street_add_info": " " * (1024 * 1024 + 10)})
        r = self.put(u["id"], raw=raw)
        self.assertProblem(r, 413)
        self.assertUnchanged(self.org, u)

    def test_body_just_under_1_mib_is_not_413(self):
        # whitespace padding keeps the JSON valid; the answer is about content, not size
        raw = '{"email": "%s"}' % unique_email("under") + " " * (1024 * 1024 - 200)
        r = self.post(raw=raw)
        self.assertEqual(r.status, 201, r)

    def test_body_of_exactly_1_mib_is_accepted_and_one_byte_more_is_413(self):
        email = unique_email("exact")
        head = '{"email": "%s"}' % email
        raw = head + " " * (1024 * 1024 - len(head))
        self.assertEqual(len(raw), 1024 * 1024)
        r = self.post(raw=raw)
        self.assertEqual(r.status, 201, r)
        email2 = unique_email("over")
        head = '{"email": "%s"}' % email2
        r = self.post(raw=head + " " * (1024 * 1024 + 1 - len(head)))
        self.assertProblem(r, 413)
        self.assertNoUserWithEmail(self.org, email2)

    def test_declared_content_length_over_1_mib_is_413_without_sending_the_body(self):
        import socket as _socket
        email = unique_email("declared")
        head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (self.org.users, self.S.host, self.S.port, self.tok, 2 * 1024 * 1024)).encode()
        sock = _socket.create_connection((self.S.host, self.S.port), timeout=5)
        try:
            sock.sendall(head + ('{"email": "%s", "x": "' % email).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except _socket.timeout:
            self.fail("no answer to a request declaring a 2 MiB body: %r" % data)
        finally:
            sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:300])
        self.assertNoUserWithEmail(self.org, email)

    def test_deeply_nested_json_is_refused_and_the_server_keeps_serving(self):
        for raw in ("[" * 100000, '{"email": ' + "[" * 50000 + "]" * 50000 + "}"):
            with self.subTest(size=len(raw)):
                r = self.post(raw=raw)
                self.assertIn(r.status, (400, 422), r)
                self.assertProblem(r, r.status)
        self.assertEqual(self.S.get("/healthz").status, 200)

    def test_chunked_body_over_1_mib_is_413_and_a_small_chunked_body_works(self):
        import http.client
        def chunked(payload, chunk=65536):
            for i in range(0, len(payload), chunk):
                yield payload[i:i + chunk]
        for size_pad, expected in ((10, 201), (1024 * 1024 + 10, 413)):
            with self.subTest(expected=expected):
                email = unique_email("chunked")
                payload = ('{"email": "%s"}' % email + " " * size_pad).encode()
                conn = http.client.HTTPConnection(self.S.host, self.S.port, timeout=10)
                try:
                    try:
                        conn.request("POST", self.org.users, body=chunked(payload), encode_chunked=True,
                                     headers={"Authorization": "Bearer " + self.tok,
                                              "Content-Type": "application/json",
                                              "Transfer-Encoding": "chunked"})
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    resp = conn.getresponse()
                    resp.read()
                    self.assertEqual(resp.status, expected)
                finally:
                    conn.close()
                if expected == 413:
                    self.assertNoUserWithEmail(self.org, email)

    # ---- 415 -----------------------------------------------------------------------------
    def test_post_with_text_plain_is_415_and_stores_nothing(self):
        email = unique_email("plain")
        r = self.post({"email": email}, content_type="text/plain")
        self.assertProblem(r, 415)
        self.assertNoUserWithEmail(self.org, email)

    def test_post_with_form_content_type_is_415(self):
        email = unique_email("form")
        r = self.post(raw="email=" + email, content_type="application/x-www-form-urlencoded")
        self.assertProblem(r, 415)
        self.assertNoUserWithEmail(self.org, email)

    def test_look_alike_content_types_are_415(self):
        for ctype in ("application/jsonp", "application/json-patch+json", "text/json",
                      "application/javascript", "multipart/form-data; boundary=x"):
            with self.subTest(ctype=ctype):
                email = unique_email("alike")
                self.assertProblem(self.post({"email": email}, content_type=ctype), 415)
                self.assertNoUserWithEmail(self.org, email)

    def test_post_json_body_without_content_type_is_415(self):
        email = unique_email("noctype")
        r = self.post({"email": email}, content_type=None)
        self.assertProblem(r, 415)
        self.assertNoUserWithEmail(self.org, email)

    def test_put_with_wrong_content_type_is_415_and_user_unchanged(self):
        u = self.create_user(self.org, first_name="Ctype")
        r = self.put(u["id"], {"first_name": "Changed"}, content_type="text/xml")
        self.assertProblem(r, 415)
        self.assertUnchanged(self.org, u)

    # ---- 405 -----------------------------------------------------------------------------
    def assertAllow(self, r, methods):
        self.assertProblem(r, 405)
        allow = {m.strip().upper() for m in (r.headers.get("Allow") or "").split(",") if m.strip()}
        self.assertTrue(set(methods) <= allow, "Allow: %r" % r.headers.get("Allow"))

    def test_delete_on_users_collection_is_405_with_allow_get_post(self):
        self.assertAllow(self.S.request("DELETE", self.org.users, token=self.tok), {"GET", "POST"})

    def test_put_on_users_collection_is_405(self):
        r = self.S.request("PUT", self.org.users, body={"email": unique_email()}, token=self.tok)
        self.assertAllow(r, {"GET", "POST"})

    def test_patch_and_post_on_a_user_are_405_with_allow(self):
        u = self.create_user(self.org, first_name="NoPatch")
        r = self.S.request("PATCH", self.org.user_path(u["id"]), body={"first_name": "P"}, token=self.tok)
        self.assertAllow(r, {"GET", "PUT", "DELETE"})
        r = self.S.request("POST", self.org.user_path(u["id"]), body={"first_name": "P"}, token=self.tok)
        self.assertAllow(r, {"GET", "PUT", "DELETE"})
        self.assertUnchanged(self.org, u)

    def test_get_on_restore_and_erase_is_405_with_allow_post(self):
        u = self.create_user(self.org)
        self.assertAllow(self.S.get(self.org.user_path(u["id"]) + "/restore", token=self.tok), {"POST"})
        self.assertAllow(self.S.get(self.org.user_path(u["id"]) + "/erase", token=self.tok), {"POST"})

    def test_post_on_audit_log_is_405_with_allow_get(self):
        r = self.S.request("POST", self.org.audit, body={}, token=self.tok)
        self.assertAllow(r, {"GET"})

    def test_delete_on_healthz_is_405(self):
        r = self.S.request("DELETE", "/healthz")
        self.assertAllow(r, {"GET"})

    # ---- 404 for unknown paths -----------------------------------------------------------
    def test_unknown_path_under_org_is_404_problem(self):
        r = self.S.get("%s/org/%s/nothing-here" % (harness.API, self.org.id), token=self.tok)
        self.assertProblem(r, 404)


if __name__ == "__main__":
    unittest.main()
