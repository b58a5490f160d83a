"""Black-box test harness for fleetdesk.

Starts the real binary on a free port with a temporary database, provisions
orgs, tokens and OAuth2 clients through the binary's own command line, and
offers a tiny HTTP client built on http.client.  Python standard library only.

Each test module owns one server: setUpModule() calls start_module_server()
and tearDownModule() calls stop_module_server(), which sends SIGTERM and fails
(as a module teardown error) unless the server exits with status 0.

The binary is FLEETDESK_BIN, or build/fleetdesk relative to the repository
root.
"""

import atexit
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API = "/api/partners/v2.0"
ROLES = ("user", "viewer", "staff", "admin")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
REQ_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
USER_FIELDS = (
    "id", "org_id", "role", "external_user_id", "email", "first_name", "last_name",
    "street_and_number", "street_add_info", "zip_code", "town", "country_iso2",
    "created_at", "updated_at", "deleted_at",
)
PERSONAL_FIELDS = (
    "email", "first_name", "last_name", "street_and_number", "street_add_info",
    "zip_code", "town", "external_user_id",
)
CLI_TIMEOUT = 30


def binary():
    b = os.environ.get("FLEETDESK_BIN", "build/fleetdesk")
    if not os.path.isabs(b):
        b = os.path.join(REPO, b)
    return b


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uniq(prefix="u"):
    """A short unique lower-case token, safe inside emails and names."""
    return prefix + secrets.token_hex(5)


def unique_email(prefix="user"):
    return "%s.%s@example.com" % (prefix, secrets.token_hex(6))


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def parse_ts(s):
    import datetime
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def fmt_ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


# The CLI runs in a scratch directory, so a command that falls back to the
# default ./fleetdesk.db never leaves a database in the repository.
CLI_CWD = tempfile.mkdtemp(prefix="fleetdesk-cli-")
atexit.register(shutil.rmtree, CLI_CWD, True)


def run_cli(args, db=None, timeout=CLI_TIMEOUT, env=None):
    """Run the binary; returns CompletedProcess (text mode)."""
    cmd = [binary()]
    if db is not None:
        cmd += ["--db", db]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=CLI_CWD)


def cli_ok(args, db):
    p = run_cli(args, db)
    if p.returncode != 0:
        raise AssertionError("fleetdesk %s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout


class Resp:
    """An HTTP response.  Unpacks as (status, headers, body)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers          # http.client.HTTPMessage, case-insensitive .get
        self.raw = raw                  # bytes
        self.body = None
        ctype = (headers.get("Content-Type") or "").lower()
        if raw:
            if "json" in ctype:
                try:
                    self.body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    self.body = raw.decode("utf-8", "replace")
            else:
                self.body = raw.decode("utf-8", "replace")

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "<Resp %d %s %r>" % (self.status, dict(self.headers.items()), self.raw[:600])


class Org:
    """An org provisioned through the CLI; tokens are made lazily per role."""

    def __init__(self, server, info):
        self.server = server
        self.id = info["id"]
        self.name = info["name"]
        self.info = info
        self._tokens = {}
        self.token_names = {}
        self._client = None

    @property
    def users(self):
        return "%s/org/%s/users" % (API, self.id)

    @property
    def audit(self):
        return "%s/org/%s/audit-log" % (API, self.id)

    def user_path(self, user_id):
        return "%s/%s" % (self.users, user_id)

    def token(self, role="admin"):
        if role not in self._tokens:
            name = "%s-%s" % (role, secrets.token_hex(3))
            self._tokens[role] = self.server.token_create(self.id, role, name)
            self.token_names[role] = name
        return self._tokens[role]

    def all_tokens(self):
        return dict(self._tokens)

    def token_id(self, role):
        self.token(role)
        name = self.token_names[role]
        for t in self.server.token_list(self.id):
            if t.get("name") == name:
                return t["id"]
        raise AssertionError("token %s not in token list" % name)

    def client(self):
        if self._client is None:
            self._client = self.server.client_create(self.id)
        return self._client


class Server:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="fleetdesk-api-")
        self.db = os.path.join(self.tmp, "fleetdesk.db")
        self.access_log = os.path.join(self.tmp, "access.log")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.secrets = []        # every token/secret handed out, for leak checks

    # ---- provisioning through the CLI --------------------------------
    def org_create(self, name=None):
        name = name or "Org " + secrets.token_hex(4)
        out = cli_ok(["org", "create", "--name", name], self.db)
        return Org(self, json.loads(out))

    def token_create(self, org_id, role, name):
        out = cli_ok(["token", "create", "--org", org_id, "--role", role, "--name", name],
                     self.db)
        tok = out.strip()
        assert tok and "\n" not in tok, "token create printed %r" % out
        self.secrets.append(tok)
        return tok

    def token_list(self, org_id):
        return json.loads(cli_ok(["token", "list", "--org", org_id], self.db))

    def client_create(self, org_id, name=None):
        args = ["client", "create", "--org", org_id]
        if name:
            args += ["--name", name]
        c = json.loads(cli_ok(args, self.db))
        self.secrets.append(c["client_secret"])
        return c

    # ---- lifecycle -------------------------------------------------------
    def start(self, extra_args=(), access_log=None, env=None):
        """Serve; access_log overrides --access-log (default: a file in the temp dir).
        env adds environment variables, e.g. the test hooks of the ASan build:
        FLEETDESK_FAULT=migration.move, FLEETDESK_TEST_ONBOARDING_TTL_MS=500."""
        penv = dict(os.environ)
        penv.update(env or {})
        log = self.access_log if access_log is None else access_log
        last = None
        for _ in range(5):
            self.port = free_port()
            err = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen(
                [binary(), "serve", "--listen", "%s:%d" % (self.host, self.port),
                 "--db", self.db, "--access-log", log] + list(extra_args),
                stdout=subprocess.DEVNULL, stderr=err, cwd=self.tmp, env=penv)
            err.close()
            deadline = time.time() + 15
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    r = self.request("GET", "/healthz", timeout=1)
                    if r.status == 200:
                        return self
                except OSError as e:
                    last = e
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not answer /healthz within 15 s: %r\n%s"
                                     % (last, self.stderr_tail()))
            last = "exit status %s" % self.proc.returncode
        raise AssertionError("server failed to start: %s\n%s" % (last, self.stderr_tail()))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "timeout"
        return self.proc.returncode

    def stderr_tail(self, n=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- HTTP -----------------------------------------------------------
    @property
    def base(self):
        return "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, body=None, token=None, headers=None, raw=None,
                content_type="application/json", timeout=15, basic=None):
        """Send one request on a fresh connection.

        body: a Python value sent as JSON; raw: bytes/str sent verbatim.
        token: bearer token; basic: (user, password) for Basic auth.
        headers: extra headers (a value of None removes a default one).
        """
        h = {}
        data = None
        if raw is not None:
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None and content_type is not None:
            h["Content-Type"] = content_type
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if basic is not None:
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % basic).encode()).decode()
        for k, v in (headers or {}).items():
            for existing in [x for x in h if x.lower() == k.lower()]:
                del h[existing]
            if v is not None:
                h[k] = v
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=data, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (e.g. 413) before reading the whole body
            r = conn.getresponse()
            raw_body = r.read()
            return Resp(r.status, r.headers, raw_body)
        finally:
            conn.close()

    def raw_exchange(self, data, timeout=10):
        """Send raw bytes on a new socket, return everything read until close or timeout."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            sock.sendall(data)
            out = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            sock.close()

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def follow(self, url, token, **kw):
        """GET an absolute URL (from a Link header) on this server."""
        u = urllib.parse.urlsplit(url)
        assert u.scheme == "http" and u.netloc == "%s:%d" % (self.host, self.port), url
        path = u.path + ("?" + u.query if u.query else "")
        return self.request("GET", path, token=token, **kw)


# The server caches a resolved token for up to 2 s (README, "Roles"), so a
# revocation made by the CLI, another process, bites within that window.
REVOCATION_WINDOW_S = 2.0


def get_after_revocation(server, path, token):
    """GETs path with token until it stops answering 200, for at most the
    revocation window plus a margin; returns the last response."""
    deadline = time.monotonic() + REVOCATION_WINDOW_S + 1.0
    while True:
        r = server.get(path, token=token)
        if r.status != 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def next_link(resp):
    """The target of Link rel="next", or None."""
    link = resp.headers.get("Link")
    if not link:
        return None
    for part in link.split(","):
        m = re.match(r'\s*<([^>]*)>\s*;(.*)$', part)
        if m and re.search(r'rel\s*=\s*"?next"?', m.group(2)):
            return m.group(1)
    return None


# ---- module servers ----------------------------------------------------
_servers = {}


def start_module_server(module_name, extra_args=()):
    s = Server()
    try:
        s.start(extra_args)
    except BaseException:
        s.stop()
        s.cleanup()
        raise
    _servers[module_name] = s
    return s


def stop_module_server(module_name):
    s = _servers.pop(module_name, None)
    if s is None:
        return
    rc = s.stop()
    tail = s.stderr_tail()
    s.cleanup()
    if rc != 0:
        raise AssertionError("server exited with %r after SIGTERM (expected 0)\n%s" % (rc, tail))


def doc_filter(users, term):
    """filter_users() from the product document (None-safe): the reference for search."""
    t = term.lower()
    return [u for u in users
            if any(t in (u.get(f) or "").lower()
                   for f in ("email", "first_name", "last_name", "external_user_id"))]


class ApiTestCase(unittest.TestCase):
    """Base class: self.S is the module's server."""

    maxDiff = 4000
    S = None  # set by the module's setUpModule via use_server()

    # ---- convenience --------------------------------------------------
    def create_user(self, org, token=None, expect=201, **fields):
        body = dict(fields)
        body.setdefault("email", unique_email())
        r = self.S.request("POST", org.users, body=body, token=token or org.token("admin"))
        self.assertEqual(r.status, expect, r)
        return r.body

    def get_user(self, org, user_id, token=None):
        r = self.S.get(org.user_path(user_id), token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r.body

    def list_users(self, org, token=None, **params):
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        r = self.S.get(org.users + q, token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r

    def walk(self, org, token=None, path=None, max_pages=2000, **params):
        """Follow rel=next from the first page; returns (items, responses)."""
        token = token or org.token("admin")
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        r = self.S.get((path or org.users) + q, token=token)
        self.assertEqual(r.status, 200, r)
        items, pages = list(r.body), [r]
        while True:
            nxt = next_link(r)
            if not nxt:
                break
            r = self.S.follow(nxt, token)
            self.assertEqual(r.status, 200, r)
            items.extend(r.body)
            pages.append(r)
            self.assertLess(len(pages), max_pages, "paging does not end")
        return items, pages

    def audit_records(self, org, **params):
        params.setdefault("limit", 1000)
        items, _ = self.walk(org, path=org.audit, **params)
        return items

    # ---- assertions -------------------------------------------------------
    def assertProblem(self, r, status, field=None):
        """r is an RFC 9457 problem with this status (and names field, if given)."""
        self.assertEqual(r.status, status, r)
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/problem+json", r)
        self.assertIsInstance(r.body, dict, r)
        self.assertEqual(r.body.get("status"), status, r)
        for k in ("type", "title"):
            self.assertIsInstance(r.body.get(k), str, r)
            self.assertTrue(r.body.get(k), r)
        if field is not None:
            errs = r.body.get("errors")
            self.assertIsInstance(errs, list, r)
            fields = [e.get("field") for e in errs if isinstance(e, dict)]
            self.assertIn(field, fields, r)
        return r.body

    def assertUserShape(self, u):
        self.assertIsInstance(u, dict)
        self.assertEqual(set(u.keys()), set(USER_FIELDS), u)
        self.assertRegex(u["id"], UUID_RE)
        self.assertRegex(u["created_at"], TS_RE)
        self.assertRegex(u["updated_at"], TS_RE)
        if u["deleted_at"] is not None:
            self.assertRegex(u["deleted_at"], TS_RE)

    def assertUnchanged(self, org, before):
        """Re-GET the user and compare with a previous representation."""
        now = self.get_user(org, before["id"])
        self.assertEqual(now, before)
        return now

    def assertNoUserWithEmail(self, org, email):
        r = self.list_users(org, search=email[:100], include_deleted="true", limit=1000)
        self.assertEqual([u for u in r.body if (u.get("email") or "").lower() == email.lower()], [],
                         "a user with %s was stored" % email)


def use_server(module_globals):
    """Install setUpModule/tearDownModule that run one server for the module."""
    name = module_globals["__name__"]

    def setUpModule():
        ApiTestCase.S = start_module_server(name)
        module_globals["S"] = ApiTestCase.S

    def tearDownModule():
        ApiTestCase.S = None
        stop_module_server(name)

    module_globals["setUpModule"] = setUpModule
    module_globals["tearDownModule"] = tearDownModule


class OwnServerTestCase(ApiTestCase):
    """A test class with a server of its own (for tests that need to know
    every org and row in the database, or a server started with ARGS and
    the environment ENV). It must stop with exit status 0."""

    ARGS = ()
    ENV = None

    @classmethod
    def setUpClass(cls):
        s = Server()
        try:
            s.start(list(cls.ARGS), env=cls.ENV)
        except BaseException:
            s.stop()
            s.cleanup()
            raise
        cls.S = s

    @classmethod
    def tearDownClass(cls):
        code = cls.S.stop()
        tail = cls.S.stderr_tail()
        cls.S.cleanup()
        assert code == 0, "server exit status %r\n%s" % (code, tail)
