"""GET /users/export and GET /devices/export: CSV (RFC 4180, CRLF, the
spreadsheet formula guard) and JSON lines, streamed a page of 1,000 at a time
with the list's (or the fleet view's) filters and sort; the exported CSV
imported back; roles and org isolation.

The module's server gets a demo org (fleetdesk demo, 1,350 devices) before it
starts, so the device export spans two internal pages."""

import csv
import datetime
import http.client
import io
import json
import re
import time
import urllib.parse
import uuid

import harness
from harness import API, ApiTestCase, USER_FIELDS, UUID_RE, cli_ok, doc_filter, uniq, unique_email

S = None
DEMO = None
DEMO_USERS, DEMO_DEVICES_PER_USER = 450, 3
WIDE = {}
WIDE_USERS, WIDE_LONG = 334, 600      # 1,002 demo devices, then 600 with long strings

FLEET_COLUMNS = (
    "id", "user_id", "device_type", "external_device_id", "device_model", "lifecycle_state",
    "is_authenticated", "connection_status", "monitoring_status", "steering_status",
    "is_smart_optimization_active", "operational_mode", "current_mode", "attention",
    "current_state_last_updated_at", "consumption_last_day_kwh", "consumption_last_week_kwh",
    "consumption_last_month_kwh", "building_id", "created_at", "updated_at",
)
DONE = ("succeeded", "failed", "cancelled")
FILENAME_RE = re.compile(r'^attachment; filename="(users|devices)-(\d{4}-\d{2}-\d{2})\.(csv|jsonl)"$')


def setUpModule():
    global S, DEMO
    S = harness.Server()
    try:
        DEMO = json.loads(cli_ok(["demo", "--users", str(DEMO_USERS), "--devices-per-user",
                                  str(DEMO_DEVICES_PER_USER), "--reading-days", "2", "--reading-hours", "12",
                                  "--name", "Export Demo"], S.db))
        S.secrets += [DEMO["token"], DEMO["integration_token"]]
        WIDE.update(json.loads(cli_ok(["demo", "--users", str(WIDE_USERS), "--devices-per-user", "3",
                                       "--reading-days", "0", "--name", "Export Wide"], S.db)))
        S.secrets += [WIDE["token"], WIDE["integration_token"]]
        S.start()
    except BaseException:
        S.stop()
        S.cleanup()
        raise
    ApiTestCase.S = S
    harness._servers[__name__] = S


def tearDownModule():
    ApiTestCase.S = None
    harness.stop_module_server(__name__)


# ---------------------------------------------------------------------- CSV helpers

_UNQUOTED = re.compile(r'[^",\r\n]*')


def rfc4180(text):
    """A strict RFC 4180 reader: every record ends with CRLF, a field is either
    plain (no quote, comma, CR or LF) or quoted with inner quotes doubled.
    Returns the records as lists of strings; raises AssertionError otherwise."""
    rows, row, i, n = [], [], 0, len(text)
    while i < n:
        if text[i] == '"':
            parts, j = [], i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise AssertionError("unterminated quoted field at offset %d" % i)
                parts.append(text[j:k])
                if text.startswith('"', k + 1):
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            row.append("".join(parts))
        else:
            m = _UNQUOTED.match(text, i)
            row.append(m.group())
            i = m.end()
        if text.startswith(",", i):
            i += 1
            if i == n:
                raise AssertionError("the file ends after a comma")
            continue
        if text.startswith("\r\n", i):
            rows.append(row)
            row = []
            i += 2
            continue
        raise AssertionError("not RFC 4180 at offset %d: %r" % (i, text[max(0, i - 40):i + 40]))
    if row:
        raise AssertionError("the last record does not end with CRLF")
    return rows


def guarded(v):
    """What the export writes for a string: a value whose first non-' character
    starts a spreadsheet formula gets one more ' in front (the import takes one off)."""
    return "'" + v if v.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r") else v


def user_cells(u):
    return ["" if u[k] is None else guarded(u[k]) for k in USER_FIELDS]


def csv_text(header, rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def utc_days_around(t0, t1):
    return {datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d") for t in (t0, t1)}


class ExportCase(ApiTestCase):
    maxDiff = 6000

    # ---- requests
    def export(self, org_id, kind, token, **params):
        """GET the export; a body cut short (no terminating chunk) fails the test."""
        q = urllib.parse.urlencode(params)
        path = "%s/org/%s/%s/export%s" % (API, org_id, kind, "?" + q if q else "")
        conn = http.client.HTTPConnection(self.S.host, self.S.port, timeout=120)
        try:
            conn.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
            r = conn.getresponse()
            try:
                raw = r.read()
            except http.client.IncompleteRead as e:
                self.fail("GET %s: %d, the body was cut short after %d bytes (the connection closed "
                          "without the terminating chunk)" % (path, r.status, len(e.partial)))
            return harness.Resp(r.status, r.headers, raw)
        finally:
            conn.close()

    def export_ok(self, org_id, kind, token, **params):
        t0 = time.time()
        r = self.export(org_id, kind, token, **params)
        t1 = time.time()
        self.assertEqual(r.status, 200, r)
        jsonl = params.get("format") == "jsonl"
        ctype = r.headers.get("Content-Type", "")
        if jsonl:
            self.assertEqual(ctype.split(";")[0].strip(), "application/x-ndjson", r)
        else:
            self.assertEqual(ctype.replace(" ", "").lower(), "text/csv;charset=utf-8", r)
        self.assertEqual((r.headers.get("Transfer-Encoding") or "").lower(), "chunked", r)
        self.assertIsNone(r.headers.get("Content-Length"), r)
        m = FILENAME_RE.match(r.headers.get("Content-Disposition") or "")
        self.assertIsNotNone(m, r.headers.get("Content-Disposition"))
        self.assertEqual(m.group(1), kind)
        self.assertEqual(m.group(3), "jsonl" if jsonl else "csv")
        self.assertIn(m.group(2), utc_days_around(t0, t1))
        return r

    def export_csv(self, org_id, kind, token, **params):
        """(response, header, rows) of a CSV export, checked to be strict RFC 4180 UTF-8."""
        r = self.export_ok(org_id, kind, token, **params)
        text = r.raw.decode("utf-8")   # strict: the export is UTF-8
        self.assertFalse(text.startswith("\ufeff"), "the export starts with a byte order mark")
        rows = rfc4180(text)
        self.assertGreaterEqual(len(rows), 1, "no header row")
        width = len(rows[0])
        for row in rows:
            self.assertEqual(len(row), width, row)
        return r, rows[0], rows[1:]

    def export_jsonl(self, org_id, kind, token, **params):
        r = self.export_ok(org_id, kind, token, format="jsonl", **params)
        text = r.raw.decode("utf-8")
        if not text:
            return r, []
        self.assertTrue(text.endswith("\n"), text[-200:])
        lines = text[:-1].split("\n")
        items = []
        for line in lines:
            self.assertTrue(line and not line.endswith("\r"), "a blank or CRLF line in JSON lines")
            items.append(json.loads(line))
        return r, items

    def total(self, r):
        v = r.headers.get("X-Total-Count")
        self.assertIsNotNone(v, r)
        self.assertRegex(v, r"^\d+$")
        return int(v)

    # ---- users
    def users(self, org, **params):
        """The list, walked a page of 1,000 at a time, and its X-Total-Count."""
        items, pages = self.walk(org, limit=1000, **params)
        return items, int(pages[0].headers["X-Total-Count"])

    def run_import(self, org, data):
        r = self.S.request("POST", org.users + "/import", raw=data, token=org.token("admin"),
                           content_type="text/csv", timeout=60)
        self.assertEqual(r.status, 202, r)
        path = "%s/org/%s/jobs/%s" % (API, org.id, r.body["id"])
        deadline = time.monotonic() + 60
        while True:
            g = self.S.get(path, token=org.token("admin"))
            self.assertEqual(g.status, 200, g)
            if g.body["state"] in DONE:
                return g.body
            self.assertLess(time.monotonic(), deadline, g)
            time.sleep(0.05)

    def import_users(self, org, header, rows):
        job = self.run_import(org, csv_text(header, rows))
        self.assertEqual((job["state"], job["failed"], job["succeeded"]), ("succeeded", 0, len(rows)), job)
        return job

    def user_count(self, org):
        r = self.list_users(org, limit=1, include_deleted="true")
        return int(r.headers["X-Total-Count"])


# ====================================================================== users

def big_row(i, tag):
    return [
        "big.%d.%s@example.com" % (i, tag),
        "F%d" % i,
        None if i % 2 == 0 else "L%02d" % (i % 40),     # half without a last name: ties and empties
        ("user", "user", "viewer", "staff", "user")[i % 5],
        "ext-%s-%d" % (tag, i) if i % 3 == 0 else None,
        "Graz" if i % 4 else None,
        "%05d" % i,
        "AT" if i % 2 else None,
    ]


BIG_HEADER = ["email", "first_name", "last_name", "role", "external_user_id", "town", "zip_code", "country_iso2"]
BIG_N = 2500


class UsersExportTest(ExportCase):
    """A 2,500-user org (three internal pages) and a small org with awkward values."""

    @classmethod
    def setUpClass(cls):
        cls.big = cls.S.org_create("Export Big Org")
        cls.tag = uniq("b")
        rows = [["" if v is None else v for v in big_row(i, cls.tag)] for i in range(BIG_N)]
        r = cls.S.request("POST", cls.big.users + "/import", raw=csv_text(BIG_HEADER, rows),
                          token=cls.big.token("admin"), content_type="text/csv", timeout=60)
        assert r.status == 202, r
        path = "%s/org/%s/jobs/%s" % (API, cls.big.id, r.body["id"])
        deadline = time.monotonic() + 60
        while True:
            g = cls.S.get(path, token=cls.big.token("admin"))
            assert g.status == 200, g
            if g.body["state"] in DONE:
                break
            assert time.monotonic() < deadline, g
            time.sleep(0.05)
        assert (g.body["state"], g.body["succeeded"]) == ("succeeded", BIG_N), g.body

        # awkward values: formula starts, commas, quotes, spaces at the ends, non-ASCII
        cls.odd = cls.S.org_create("Export Odd Values")
        cls.odd_users = []
        specs = [
            dict(first_name="=SUM(A1:A2)", last_name="+49 170 1234567", town="-Minus",
                 street_and_number="@home", street_add_info="'=already guarded", zip_code="=1"),
            dict(first_name="Comma, Inc.", last_name='He said "hi"', town='"quoted"',
                 street_and_number='a,"b",c', street_add_info=",", zip_code='"'),
            dict(first_name=" padded ", last_name="trailing ", town=" leading",
                 street_and_number="Straße 1", street_add_info="Zoë Müller-Łukasz, 東京 🏠", zip_code="1010"),
            dict(first_name="''+two quotes", last_name="-", town="=", street_and_number="+",
                 street_add_info="@", zip_code="-1", external_user_id="=HYPERLINK(\"http://x\",\"y\")"),
            dict(email="=eq.%s@example.com" % uniq("e"), first_name="Plain", external_user_id="-ext-" + uniq()),
            dict(email="+plus.%s@example.com" % uniq("e"), first_name="O'Brien", last_name="D'Arcy"),
            dict(email="-dash.%s@example.com" % uniq("e"), role="staff", country_iso2="de"),
            dict(first_name=None, last_name=None, town=None, role="viewer"),
        ]
        for spec in specs:
            body = {k: v for k, v in spec.items()}
            body.setdefault("email", unique_email("odd"))
            r = cls.S.request("POST", cls.odd.users, body=body, token=cls.odd.token("admin"))
            assert r.status == 201, r
            cls.odd_users.append(r.body)

    def setUp(self):
        self.admin = self.big.token("admin")

    # ---- the big org
    def test_csv_of_2500_users_is_every_user_once_in_list_order_with_every_column(self):
        listed, total = self.users(self.big)
        self.assertEqual(total, BIG_N)
        r, header, rows = self.export_csv(self.big.id, "users", self.admin)
        self.assertEqual(header, list(USER_FIELDS))
        self.assertEqual(self.total(r), BIG_N)
        self.assertEqual(len(rows), BIG_N)
        self.assertEqual([row[0] for row in rows], [u["id"] for u in listed])
        for row, u in zip(rows, listed):
            self.assertEqual(row, user_cells(u))
        # what the rows hold is what was imported, in file order
        emails = ["big.%d.%s@example.com" % (i, self.tag) for i in range(BIG_N)]
        self.assertEqual([row[4] for row in rows], emails)
        self.assertEqual(rows[3][USER_FIELDS.index("role")], "staff")
        self.assertEqual(rows[2][USER_FIELDS.index("last_name")], "")
        self.assertEqual(rows[2499][USER_FIELDS.index("external_user_id")], "ext-%s-2499" % self.tag)
        self.assertEqual(rows[2498][USER_FIELDS.index("external_user_id")], "")
        for row in rows:
            self.assertEqual(row[1], self.big.id)
            self.assertRegex(row[0], UUID_RE)
            self.assertRegex(row[12], harness.TS_RE)
            self.assertEqual(row[14], "")

    def test_csv_line_ends_are_crlf_only(self):
        r = self.export_ok(self.big.id, "users", self.admin)
        text = r.raw.decode("utf-8")
        self.assertEqual(text.count("\n"), BIG_N + 1)
        self.assertEqual(text.count("\r\n"), BIG_N + 1)
        self.assertEqual(text.count("\r"), BIG_N + 1)
        self.assertTrue(text.startswith(",".join(USER_FIELDS) + "\r\n"), text[:300])

    def test_jsonl_of_2500_users_is_each_user_as_get_shows_it(self):
        listed, _ = self.users(self.big)
        r, items = self.export_jsonl(self.big.id, "users", self.admin)
        self.assertEqual(self.total(r), BIG_N)
        self.assertEqual(items, listed)
        for u in items[::250] + items[-3:]:
            self.assertUserShape(u)
            self.assertEqual(u, self.get_user(self.big, u["id"]))

    def test_default_format_is_csv_and_format_csv_is_the_same_file(self):
        a, ha, ra = self.export_csv(self.big.id, "users", self.admin)
        b, hb, rb = self.export_csv(self.big.id, "users", self.admin, format="csv")
        self.assertEqual((ha, ra), (hb, rb))
        self.assertEqual(a.raw, b.raw)

    def test_filters_give_what_the_list_gives(self):
        everyone, _ = self.users(self.big)
        cases = [
            dict(search="big.12"), dict(search="L07"), dict(search="ext-%s-3" % self.tag),
            dict(role="staff"), dict(role="viewer", search="L1"), dict(role="admin"),
            dict(include_deleted="true"), dict(include_deleted="false"), dict(include_deleted="1"),
            dict(search="no-such-user-anywhere"), dict(role="user", sort="-last_name", search="L2"),
            dict(search="BIG.2"),
        ]
        for params in cases:
            with self.subTest(**params):
                listed, total = self.users(self.big, **params)
                r, items = self.export_jsonl(self.big.id, "users", self.admin, **params)
                self.assertEqual([u["id"] for u in items], [u["id"] for u in listed])
                self.assertEqual(self.total(r), total)
                self.assertEqual(len(items), total)
                c, header, rows = self.export_csv(self.big.id, "users", self.admin, **params)
                self.assertEqual(self.total(c), total)
                self.assertEqual(rows, [user_cells(u) for u in listed])
                if "search" in params:   # and the list is what the product document says
                    want = doc_filter(everyone, params["search"])
                    if "role" in params:
                        want = [u for u in want if u["role"] == params["role"]]
                    self.assertEqual({u["id"] for u in items}, {u["id"] for u in want})
        self.assertEqual(self.total(self.export(self.big.id, "users", self.admin, search="big.12")), 111)
        self.assertEqual(self.total(self.export(self.big.id, "users", self.admin, role="staff")), BIG_N // 5)

    def test_every_sort_orders_the_whole_export_across_pages(self):
        everyone, _ = self.users(self.big)          # creation order
        self.assertEqual(len(everyone), BIG_N)
        keys = {
            "created_at": lambda u: 0,
            "email": lambda u: (u["email"] or "").lower(),
            "last_name": lambda u: (u["last_name"] or "").lower(),   # 1,250 empty: ties over a page boundary
            "updated_at": lambda u: u["updated_at"],
        }
        for name, key in keys.items():
            for desc in (False, True):
                sort = ("-" if desc else "") + name
                with self.subTest(sort=sort):
                    want = sorted(everyone, key=key)               # stable: ties in creation order
                    if desc:
                        want = sorted(reversed(everyone), key=key, reverse=True)
                    r, items = self.export_jsonl(self.big.id, "users", self.admin, sort=sort)
                    ids = [u["id"] for u in items]
                    self.assertEqual(len(set(ids)), BIG_N, "a user is missing or exported twice")
                    self.assertEqual(ids, [u["id"] for u in want])
                    listed, _ = self.users(self.big, sort=sort)
                    self.assertEqual(ids, [u["id"] for u in listed])
                    self.assertEqual(self.total(r), BIG_N)

    # ---- awkward values
    def test_formula_guard_quoting_and_non_ascii_in_every_column(self):
        r, header, rows = self.export_csv(self.odd.id, "users", self.odd.token("admin"))
        self.assertEqual(header, list(USER_FIELDS))
        by_id = {row[0]: row for row in rows}
        self.assertEqual(set(by_id), {u["id"] for u in self.odd_users})
        for u in self.odd_users:
            self.assertEqual(by_id[u["id"]], user_cells(u))
        first = by_id[self.odd_users[0]["id"]]
        col = USER_FIELDS.index
        self.assertEqual(first[col("first_name")], "'=SUM(A1:A2)")
        self.assertEqual(first[col("last_name")], "'+49 170 1234567")
        self.assertEqual(first[col("town")], "'-Minus")
        self.assertEqual(first[col("street_and_number")], "'@home")
        self.assertEqual(first[col("street_add_info")], "''=already guarded")
        self.assertEqual(first[col("zip_code")], "'=1")
        second = by_id[self.odd_users[1]["id"]]
        self.assertEqual(second[col("first_name")], "Comma, Inc.")
        self.assertEqual(second[col("last_name")], 'He said "hi"')
        self.assertEqual(second[col("street_and_number")], 'a,"b",c')
        self.assertEqual(second[col("zip_code")], '"')
        third = by_id[self.odd_users[2]["id"]]
        self.assertEqual(third[col("first_name")], " padded ")
        self.assertEqual(third[col("street_add_info")], "Zoë Müller-Łukasz, 東京 🏠")
        self.assertIn("Zoë Müller-Łukasz, 東京 🏠".encode("utf-8"), r.raw)
        fourth = by_id[self.odd_users[3]["id"]]
        self.assertEqual(fourth[col("first_name")], "'''+two quotes")
        self.assertEqual([fourth[col(k)] for k in ("last_name", "town", "street_and_number", "street_add_info",
                                                   "zip_code")], ["'-", "'=", "'+", "'@", "'-1"])
        self.assertEqual(fourth[col("external_user_id")], "'=HYPERLINK(\"http://x\",\"y\")")
        self.assertEqual(by_id[self.odd_users[4]["id"]][col("email")], "'" + self.odd_users[4]["email"])
        self.assertEqual(by_id[self.odd_users[5]["id"]][col("email")], "'" + self.odd_users[5]["email"])
        self.assertEqual(by_id[self.odd_users[5]["id"]][col("first_name")], "O'Brien")
        self.assertEqual(by_id[self.odd_users[6]["id"]][col("country_iso2")], "DE")
        last = by_id[self.odd_users[7]["id"]]
        self.assertEqual([last[col(k)] for k in ("first_name", "last_name", "town", "deleted_at")], ["", "", "", ""])
        # the JSON lines carry the values as they are, unguarded
        _, items = self.export_jsonl(self.odd.id, "users", self.odd.token("admin"))
        self.assertEqual({u["id"]: u for u in items}, {u["id"]: self.get_user(self.odd, u["id"])
                                                      for u in self.odd_users})
        self.assertIn("=SUM(A1:A2)", [u["first_name"] for u in items])

    # ---- errors
    def test_bad_parameters_are_400_naming_the_parameter(self):
        tok = self.big.token("viewer")
        cases = [("format", "xml"), ("format", "CSV"), ("format", ""), ("format", "json"),
                 ("role", "integration"), ("role", "owner"), ("role", ""),
                 ("include_deleted", "yes"), ("include_deleted", ""), ("include_deleted", "TRUE"),
                 ("sort", "name"), ("sort", "-"), ("sort", "--email"), ("sort", "email,last_name"),
                 ("search", "x" * 257)]
        for name, value in cases:
            with self.subTest(**{name: value[:20]}):
                r = self.export(self.big.id, "users", tok, **{name: value})
                self.assertProblem(r, 400, name)
                self.assertNotIn("Content-Disposition", r.headers)
        # the list refuses the same values
        for name, value in cases:
            if name != "format":
                self.assertProblem(self.S.get(self.big.users + "?" + urllib.parse.urlencode({name: value}),
                                              token=tok), 400, name)
        # a search of 256 bytes is fine
        r, items = self.export_jsonl(self.big.id, "users", tok, search="y" * 256)
        self.assertEqual((items, self.total(r)), ([], 0))


class UsersExportRolesTest(ExportCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Export Roles Org")
        cls.other = cls.S.org_create("Export Roles Other")
        cls.mine = []
        for i in range(3):
            r = cls.S.request("POST", cls.org.users, body={"email": unique_email("role%d" % i)},
                              token=cls.org.token("admin"))
            assert r.status == 201, r
            cls.mine.append(r.body["id"])
        r = cls.S.request("POST", cls.other.users, body={"email": unique_email("theirs")},
                          token=cls.other.token("admin"))
        assert r.status == 201, r
        cls.theirs = r.body["id"]

    def test_viewer_staff_and_admin_may_export(self):
        for role in ("viewer", "staff", "admin"):
            for fmt in ("csv", "jsonl"):
                with self.subTest(role=role, format=fmt):
                    if fmt == "csv":
                        r, _, rows = self.export_csv(self.org.id, "users", self.org.token(role))
                        ids = [row[0] for row in rows]
                    else:
                        r, items = self.export_jsonl(self.org.id, "users", self.org.token(role))
                        ids = [u["id"] for u in items]
                    self.assertEqual(ids, self.mine)
                    self.assertEqual(self.total(r), 3)

    def test_user_and_integration_tokens_are_403(self):
        for role in ("user", "integration"):
            for fmt in ("csv", "jsonl"):
                with self.subTest(role=role, format=fmt):
                    self.assertProblem(self.export(self.org.id, "users", self.org.token(role), format=fmt), 403)

    def test_no_or_a_bad_token_is_401(self):
        self.assertProblem(self.export(self.org.id, "users", None), 401)
        self.assertProblem(self.export(self.org.id, "users", "fdt_not-a-real-token"), 401)

    def test_another_orgs_token_is_404_and_never_sees_this_orgs_users(self):
        other = self.other.token("admin")
        for fmt in ("csv", "jsonl"):
            r = self.export(self.org.id, "users", other, format=fmt)
            self.assertProblem(r, 404)
            for uid in self.mine:
                self.assertNotIn(uid.encode(), r.raw)
        self.assertProblem(self.export(str(uuid.uuid4()), "users", other), 404)
        self.assertProblem(self.export("not-an-org", "users", other), 404)
        # its own export holds its own user only
        _, items = self.export_jsonl(self.other.id, "users", other, include_deleted="true")
        self.assertEqual([u["id"] for u in items], [self.theirs])


class UsersExportContentTest(ExportCase):
    """Deleted users, an empty org, and the export sent back to the import."""

    def test_a_deleted_user_is_exported_only_with_include_deleted(self):
        org = self.S.org_create("Export Deleted")
        ids = [self.create_user(org, first_name="D%d" % i)["id"] for i in range(3)]
        r = self.S.request("DELETE", org.user_path(ids[1]), token=org.token("admin"))
        self.assertEqual(r.status, 204, r)
        gone = self.get_user(org, ids[1])
        self.assertIsNotNone(gone["deleted_at"])
        tok = org.token("viewer")
        for params in ({}, {"include_deleted": "false"}, {"include_deleted": "0"}):
            with self.subTest(**params):
                r, _, rows = self.export_csv(org.id, "users", tok, **params)
                self.assertEqual([row[0] for row in rows], [ids[0], ids[2]])
                self.assertEqual(self.total(r), 2)
                r, items = self.export_jsonl(org.id, "users", tok, **params)
                self.assertEqual([u["id"] for u in items], [ids[0], ids[2]])
                self.assertEqual(self.total(r), 2)
        for flag in ("true", "1"):
            with self.subTest(include_deleted=flag):
                r, _, rows = self.export_csv(org.id, "users", tok, include_deleted=flag)
                self.assertEqual([row[0] for row in rows], ids)
                self.assertEqual(self.total(r), 3)
                self.assertEqual(rows[1], user_cells(gone))
                self.assertEqual(rows[1][USER_FIELDS.index("deleted_at")], gone["deleted_at"])
                self.assertEqual(rows[0][USER_FIELDS.index("deleted_at")], "")
                r, items = self.export_jsonl(org.id, "users", tok, include_deleted=flag)
                self.assertEqual(items[1], gone)
                self.assertEqual([u["id"] for u in items], ids)

    def test_an_org_without_users_exports_the_header_alone(self):
        org = self.S.org_create("Export Empty")
        r = self.export_ok(org.id, "users", org.token("viewer"))
        self.assertEqual(r.raw, (",".join(USER_FIELDS) + "\r\n").encode())
        self.assertEqual(self.total(r), 0)
        r = self.export_ok(org.id, "users", org.token("viewer"), format="jsonl")
        self.assertEqual(r.raw, b"")
        self.assertEqual(self.total(r), 0)

    def test_exactly_one_page_of_1000_users(self):
        org = self.S.org_create("Export One Page")
        tag = uniq("p")
        self.import_users(org, ["email"], [["page.%d.%s@example.com" % (i, tag)] for i in range(1000)])
        listed, total = self.users(org)
        self.assertEqual(total, 1000)
        r, _, rows = self.export_csv(org.id, "users", org.token("admin"))
        self.assertEqual([row[0] for row in rows], [u["id"] for u in listed])
        self.assertEqual(self.total(r), 1000)
        r, items = self.export_jsonl(org.id, "users", org.token("admin"), sort="-email")
        self.assertEqual(len(items), 1000)
        self.assertEqual([u["email"] for u in items], sorted((u["email"] for u in listed), reverse=True))

    def test_pages_of_users_with_long_values_are_exported_whole(self):
        """1,000 users with short values, then 1,100 whose fields are near their
        maximum lengths (valid users of about 2 kB each as UTF-8): the second
        page of 1,000 is over a megabyte, and much bigger than the first."""
        org = self.S.org_create("Export Long Values")
        tag = uniq("lv")
        self.import_users(org, ["email"], [["short.%d.%s@example.com" % (i, tag)] for i in range(1000)])
        header = ["email", "external_user_id", "first_name", "last_name", "street_and_number",
                  "street_add_info", "zip_code", "town"]
        rows = [["long.%d.%s@example.com" % (i, tag), ("x%d-" % i + "e" * 255)[:255], "Ä" * 100,
                 ("Ö%d" % i + "ö" * 100)[:100], "S" * 200, "ü" * 200, "9" * 20, "T" * 100]
                for i in range(1100)]
        self.import_users(org, header, rows)
        listed, total = self.users(org)
        self.assertEqual(total, 2100)
        with self.subTest(format="csv"):
            r, _, got = self.export_csv(org.id, "users", org.token("viewer"))
            self.assertEqual(len(got), 2100)
            self.assertEqual(got, [user_cells(u) for u in listed])
            self.assertEqual(self.total(r), 2100)
        with self.subTest(format="jsonl"):
            r, items = self.export_jsonl(org.id, "users", org.token("viewer"))
            self.assertEqual(len(items), 2100)
            self.assertEqual(items, listed)
        with self.subTest(format="jsonl", sort="-created_at"):   # the long ones first
            r, items = self.export_jsonl(org.id, "users", org.token("viewer"), sort="-created_at")
            self.assertEqual(items, listed[::-1])

    def test_the_exported_csv_imports_back_updating_every_user_in_place(self):
        org = self.S.org_create("Export Round Trip")
        # every field set, and values that need the guard or quotes
        self.create_user(org, first_name="=1+1", last_name="Müller, Jr.", town='"Big" Town',
                         street_and_number="-5 Street", street_add_info="@floor 2", zip_code="+43",
                         external_user_id="=ext", country_iso2="AT", role="staff")
        self.create_user(org, email="=x.%s@example.com" % uniq("rt"), first_name="'=kept one quote",
                         last_name=" spaced ", role="viewer")
        self.create_user(org, email="+y.%s@example.com" % uniq("rt"), role="admin")
        self.create_user(org, first_name=None, last_name=None)
        deleted = self.create_user(org, first_name="Deleted")
        self.assertEqual(self.S.request("DELETE", org.user_path(deleted["id"]), token=org.token("admin")).status,
                         204)
        tag = uniq("rt")
        self.import_users(org, ["email", "first_name", "last_name", "external_user_id"],
                          [["rt.%d.%s@example.com" % (i, tag), "R%d" % i, "Trip, %d" % (i % 7),
                            "rt-%d" % i if i % 2 else ""] for i in range(1200)])
        before, n = self.users(org)
        self.assertEqual(n, 1204)
        count = self.user_count(org)      # with the deleted user

        # 1. the file exactly as exported
        r = self.export_ok(org.id, "users", org.token("admin"))
        job = self.run_import(org, r.raw)
        self.assertEqual((job["state"], job["total"], job["processed"], job["succeeded"], job["failed"]),
                         ("succeeded", n, n, n, 0), job)
        after, n2 = self.users(org)
        self.assertEqual(n2, n)
        self.assertEqual(self.user_count(org), count, "the import created users")
        self.assertEqual([u["id"] for u in after], [u["id"] for u in before])
        for a, b in zip(after, before):
            self.assertEqual({k: v for k, v in a.items() if k != "updated_at"},
                             {k: v for k, v in b.items() if k != "updated_at"})

        # 2. edited: a new town for everyone (the guarded values stay as exported)
        _, header, rows = self.export_csv(org.id, "users", org.token("admin"))
        town = header.index("town")
        for k, row in enumerate(rows):
            row[town] = "Town %d" % k
        job = self.run_import(org, csv_text(header, rows))
        self.assertEqual((job["state"], job["succeeded"], job["failed"]), ("succeeded", n, 0), job)
        edited, n3 = self.users(org)
        self.assertEqual(n3, n)
        self.assertEqual(self.user_count(org), count)
        self.assertEqual([u["id"] for u in edited], [u["id"] for u in before])
        for k, (a, b) in enumerate(zip(edited, before)):
            self.assertEqual(a["town"], "Town %d" % k)
            self.assertEqual({x: v for x, v in a.items() if x not in ("updated_at", "town")},
                             {x: v for x, v in b.items() if x not in ("updated_at", "town")})
        self.assertEqual(edited[0]["first_name"], "=1+1")
        self.assertEqual(edited[0]["external_user_id"], "=ext")
        self.assertEqual(edited[1]["first_name"], "'=kept one quote")
        self.assertEqual(edited[1]["last_name"], " spaced ")
        self.assertEqual(self.get_user(org, deleted["id"])["town"], None)


# ====================================================================== devices

def fleet_cell(v):
    """The export's CSV cell for a value of the fleet view (numbers are compared apart)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return guarded(";".join(v))
    if isinstance(v, str):
        return guarded(v)
    raise TypeError(v)


class DevicesExportTest(ExportCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = harness.Org(cls.S, {"id": DEMO["org_id"], "name": "Export Demo"})
        cls.demo._tokens["admin"] = DEMO["token"]
        cls.admin = DEMO["token"]
        cls.devices_path = "%s/org/%s/devices" % (API, cls.demo.id)

        # an org of a few hand-made devices with awkward strings
        cls.odd = cls.S.org_create("Export Odd Devices")
        tok = cls.odd.token("admin")
        r = cls.S.request("POST", cls.odd.users, body={"email": unique_email("dev")}, token=tok)
        assert r.status == 201, r
        upath = cls.odd.user_path(r.body["id"])
        cls.odd_specs = [
            ("heat-pumps", {"external_device_id": "=cmd|' /C calc'!A0", "operational_mode": "+boost",
                            "current_mode": "@heat", "is_authenticated": True,
                            "device_model": {"manufacturer": "Vaillant", "model": "aroTHERM plus", "year": 2023}}),
            ("electric-vehicles", {"external_device_id": "Kessel, Keller", "operational_mode": 'He said "hi"',
                                   "current_mode": "Wärmepumpe Süd 東京",
                                   "current_state_last_updated_at": "2026-01-02T10:00:00Z"}),
            ("inverters", {"external_device_id": " spaced ", "operational_mode": "-", "is_authenticated": True,
                           "is_smart_optimization_active": False}),
        ]
        cls.odd_ids = []
        for dtype, body in cls.odd_specs:
            r = cls.S.request("POST", "%s/%s" % (upath, dtype), body=body, token=tok)
            assert r.status == 201, r
            cls.odd_ids.append(r.body["id"])
        r = cls.S.request("POST", "%s/heat-pumps" % upath, body={"external_device_id": "deleted"}, token=tok)
        assert r.status == 201, r
        cls.deleted_id = r.body["id"]
        r = cls.S.request("DELETE", "%s/heat-pumps/%s" % (upath, cls.deleted_id), token=tok)
        assert r.status == 204, r

    def fleet(self, org, **params):
        items, pages = self.walk(org, path="%s/org/%s/devices" % (API, org.id), limit=1000, **params)
        return items

    def steady(self, org, fetch, **params):
        """fetch() compared with the fleet view read before and after it (the
        once-a-second sweep may change a device in between: then again)."""
        for _ in range(5):
            a = self.fleet(org, **params)
            got = fetch()
            b = self.fleet(org, **params)
            if a == b:
                return a, got
            time.sleep(1)
        self.fail("the fleet view kept changing")

    def test_jsonl_is_the_fleet_view_of_1350_devices(self):
        tok = self.demo.token("viewer")
        listed, (r, items) = self.steady(self.demo, lambda: self.export_jsonl(self.demo.id, "devices", tok))
        self.assertEqual(len(listed), DEMO_USERS * DEMO_DEVICES_PER_USER)
        self.assertEqual(items, listed)
        self.assertEqual(len({d["id"] for d in items}), len(items))

    def test_csv_has_the_documented_columns_and_each_cell_is_the_fleet_views(self):
        listed, (r, header, rows) = self.steady(self.demo, lambda: self.export_csv(self.demo.id, "devices",
                                                                                  self.admin))
        self.assertEqual(header, list(FLEET_COLUMNS))
        self.assertEqual(len(rows), len(listed))
        self.assertEqual([row[0] for row in rows], [d["id"] for d in listed])
        self.assertEqual(r.raw.decode("utf-8").count("\r\n"), len(rows) + 1)
        for row, d in zip(rows, listed):
            for col, cell in zip(FLEET_COLUMNS, row):
                if col == "device_model":
                    continue   # see test_csv_device_model_cell_names_the_model
                v = d[col]
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.assertEqual(float(cell), float(v), (col, d["id"]))
                else:
                    self.assertEqual(cell, fleet_cell(v), (col, d["id"]))
        # the demo has devices that need attention, with the reasons joined by ;
        att = [row[FLEET_COLUMNS.index("attention")] for row in rows]
        self.assertTrue(any(a for a in att))
        for a in att:
            if a:
                self.assertTrue(set(a.split(";")) <= {"not_authenticated", "stale", "optimization_off"}, a)

    def test_csv_device_model_cell_names_the_model(self):
        """device_model is an object ({manufacturer, model, year, device_type});
        its column must carry it, not be left empty."""
        r, header, rows = self.export_csv(self.odd.id, "devices", self.odd.token("admin"))
        row = {x[0]: x for x in rows}[self.odd_ids[0]]
        cell = row[header.index("device_model")]
        self.assertNotEqual(cell, "", "the device_model column is empty for a device whose model is "
                                      "Vaillant aroTHERM plus (2023)")
        self.assertIn("Vaillant", cell)
        self.assertIn("aroTHERM plus", cell)

    def test_filters_give_what_the_fleet_view_gives(self):
        tok = self.demo.token("viewer")
        cases = [dict(type="heat-pumps"), dict(type="electric-vehicles"), dict(type="inverters"),
                 dict(needs_attention="true"), dict(needs_attention="false"), dict(authenticated="false"),
                 dict(stale="true"), dict(optimization_active="false"),
                 dict(type="inverters", needs_attention="true"), dict(authenticated="true", stale="false"),
                 dict(needs_attention="false", stale="true")]
        for params in cases:
            with self.subTest(**params):
                listed, (r, items) = self.steady(
                    self.demo, lambda: self.export_jsonl(self.demo.id, "devices", tok, **params), **params)
                self.assertEqual([d["id"] for d in items], [d["id"] for d in listed])
                _, header, rows = self.export_csv(self.demo.id, "devices", tok, **params)
                self.assertEqual([row[0] for row in rows], [d["id"] for d in listed])
        self.assertEqual(self.export_jsonl(self.demo.id, "devices", tok, needs_attention="false", stale="true")[1],
                         [])

    def test_awkward_strings_are_guarded_and_quoted(self):
        r, header, rows = self.export_csv(self.odd.id, "devices", self.odd.token("viewer"))
        by_id = {row[0]: dict(zip(header, row)) for row in rows}
        self.assertEqual(list(by_id), self.odd_ids, "the deleted device was exported, or one is missing")
        a, b, c = (by_id[i] for i in self.odd_ids)
        self.assertEqual((a["external_device_id"], a["operational_mode"], a["current_mode"]),
                         ("'=cmd|' /C calc'!A0", "'+boost", "'@heat"))
        self.assertEqual((b["external_device_id"], b["operational_mode"], b["current_mode"]),
                         ("Kessel, Keller", 'He said "hi"', "Wärmepumpe Süd 東京"))
        self.assertEqual((c["external_device_id"], c["operational_mode"]), (" spaced ", "'-"))
        self.assertEqual((a["device_type"], b["device_type"], c["device_type"]),
                         ("heat-pumps", "electric-vehicles", "inverters"))
        self.assertEqual((a["is_authenticated"], b["is_authenticated"], c["is_smart_optimization_active"]),
                         ("true", "false", "false"))
        self.assertEqual(b["current_state_last_updated_at"], "2026-01-02T10:00:00.000Z")
        self.assertEqual(c["attention"], "optimization_off;stale")
        self.assertEqual(a["attention"], "stale")
        self.assertEqual(b["attention"], "not_authenticated;stale")
        # JSON lines: every field, unguarded, and not the deleted device
        _, items = self.export_jsonl(self.odd.id, "devices", self.odd.token("viewer"))
        self.assertEqual([d["id"] for d in items], self.odd_ids)
        self.assertEqual(items[0]["external_device_id"], "=cmd|' /C calc'!A0")
        self.assertEqual(items[0]["device_model"]["manufacturer"], "Vaillant")
        self.assertEqual(items, self.fleet(self.odd))

    def test_an_org_without_devices_exports_the_header_alone(self):
        org = self.S.org_create("Export No Devices")
        r = self.export_ok(org.id, "devices", org.token("viewer"))
        self.assertEqual(r.raw, (",".join(FLEET_COLUMNS) + "\r\n").encode())
        r = self.export_ok(org.id, "devices", org.token("viewer"), format="jsonl")
        self.assertEqual(r.raw, b"")

    def test_bad_filter_or_format_is_400_naming_it(self):
        tok = self.demo.token("viewer")
        for name, value in (("format", "xml"), ("format", ""), ("format", "JSONL"), ("type", "heat_pumps"),
                            ("type", ""), ("authenticated", "yes"), ("stale", "2"),
                            ("optimization_active", "TRUE"), ("needs_attention", "")):
            with self.subTest(**{name: value}):
                r = self.export(self.demo.id, "devices", tok, **{name: value})
                self.assertProblem(r, 400, name)
                self.assertNotIn("Content-Disposition", r.headers)

    def test_roles_and_isolation(self):
        for role in ("viewer", "staff"):
            with self.subTest(role=role):
                _, items = self.export_jsonl(self.odd.id, "devices", self.odd.token(role))
                self.assertEqual([d["id"] for d in items], self.odd_ids)
        for role in ("integration", "user"):
            for fmt in ("csv", "jsonl"):
                with self.subTest(role=role, format=fmt):
                    self.assertProblem(self.export(self.odd.id, "devices", self.odd.token(role), format=fmt), 403)
        self.assertProblem(self.export(self.demo.id, "devices", DEMO["integration_token"]), 403)
        self.assertProblem(self.export(self.odd.id, "devices", None), 401)
        # the demo org's admin on the odd org: 404, and nothing of it
        r = self.export(self.odd.id, "devices", self.admin)
        self.assertProblem(r, 404)
        for did in self.odd_ids:
            self.assertNotIn(did.encode(), r.raw)
        self.assertProblem(self.export(str(uuid.uuid4()), "devices", self.admin), 404)
        # and the demo's export holds none of the odd org's devices
        _, items = self.export_jsonl(self.demo.id, "devices", self.admin, type="heat-pumps")
        self.assertFalse({d["id"] for d in items} & set(self.odd_ids))


class DevicesExportLongRowsTest(ExportCase):
    """1,002 demo devices, then 600 made through the API with long strings (a
    1,000-character comment, a 255-character external id): the second page of
    the export is much bigger than the first, and over a megabyte as JSON lines."""

    @classmethod
    def setUpClass(cls):
        cls.org = harness.Org(cls.S, {"id": WIDE["org_id"], "name": "Export Wide"})
        cls.org._tokens["admin"] = WIDE["token"]
        tok = WIDE["token"]
        r = cls.S.get(cls.org.users + "?limit=20", token=tok)
        assert r.status == 200 and len(r.body) == 20, r
        users = [u["id"] for u in r.body]
        types = ("heat-pumps", "electric-vehicles", "inverters")
        cls.long_ids = []
        for i in range(WIDE_LONG):
            body = {"external_device_id": ("long-%d-" % i + "d" * 255)[:255], "comment": "ç" * 1000,
                    "operational_mode": "m" * 64, "is_authenticated": True,
                    "device_model": {"manufacturer": "M" * 100, "model": "N" * 100, "year": 2024}}
            r = cls.S.request("POST", "%s/%s" % (cls.org.user_path(users[i % 20]), types[i % 3]), body=body,
                              token=tok)
            assert r.status == 201, r
            cls.long_ids.append(r.body["id"])

    def test_the_export_of_1602_devices_with_long_rows_is_whole(self):
        tok = self.org.token("viewer")
        listed, _ = self.walk(self.org, path="%s/org/%s/devices" % (API, self.org.id), limit=1000)
        self.assertEqual(len(listed), WIDE_USERS * 3 + WIDE_LONG)
        self.assertEqual([d["id"] for d in listed[-WIDE_LONG:]], self.long_ids)
        with self.subTest(format="jsonl"):
            _, items = self.export_jsonl(self.org.id, "devices", tok)
            self.assertEqual([d["id"] for d in items], [d["id"] for d in listed])
            self.assertEqual(items[-1]["comment"], "ç" * 1000)
        with self.subTest(format="csv"):
            _, header, rows = self.export_csv(self.org.id, "devices", tok)
            self.assertEqual([row[0] for row in rows], [d["id"] for d in listed])
            self.assertEqual(rows[-1][header.index("operational_mode")], "m" * 64)


if __name__ == "__main__":
    import unittest
    unittest.main()
