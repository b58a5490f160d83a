"""Helpers for the web app's sign-in sessions (cookie auth) and the team API,
shared by test_sessions.py and test_team.py.  Python standard library only.

Staff accounts are made with `fleetdesk staff create` (password on stdin);
a WebSession holds one signed-in session's cookie and CSRF token and sends
requests with them.
"""

import json
import subprocess

from harness import API, CLI_CWD, CLI_TIMEOUT, binary, unique_email

COOKIE = "fd_session"
PASSWORD = "correct horse battery staple"
SESSION = API + "/session"
LOOKUP = API + "/invites/lookup"
ACCEPT = API + "/invites/accept"
SESSION_FIELDS = ("staff_id", "email", "role", "org_id", "org_name", "csrf_token", "expires_at",
                  "idle_timeout_seconds")
STAFF_FIELDS = ("id", "email", "role", "created_at", "updated_at", "deactivated_at")


def staff_create(server, org_id, role="admin", email=None, password=PASSWORD):
    """A staff account made through the CLI; returns its JSON (id, email, role, ...)."""
    email = email or unique_email(role)
    p = subprocess.run([binary(), "--db", server.db, "staff", "create", "--org", org_id, "--email", email,
                        "--role", role], input=password + "\n", capture_output=True, text=True,
                       timeout=CLI_TIMEOUT, cwd=CLI_CWD)
    if p.returncode != 0:
        raise AssertionError("staff create exited %d: %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


def parse_set_cookie(value):
    """'n=v; Path=/; HttpOnly' -> (name, value, {attribute-lower: value-or-True})."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), val, attrs


def set_cookies(resp):
    """Every Set-Cookie header of a response, parsed."""
    return [parse_set_cookie(v) for v in (resp.headers.get_all("Set-Cookie") or [])]


def session_cookie(resp):
    """(value, attrs) of the fd_session cookie a response sets, or None."""
    for name, val, attrs in set_cookies(resp):
        if name == COOKIE:
            return val, attrs
    return None


def sign_in_raw(server, email, password, **kw):
    return server.request("POST", SESSION, body={"email": email, "password": password}, **kw)


class WebSession:
    """A signed-in session: its cookie value, csrf_token and sign-in reply."""

    def __init__(self, server, resp):
        self.S = server
        self.resp = resp
        c = session_cookie(resp)
        assert c is not None, "sign-in set no %s cookie: %r" % (COOKIE, resp)
        self.token, self.cookie_attrs = c
        self.body = resp.body
        self.csrf = resp.body["csrf_token"]
        self.staff_id = resp.body["staff_id"]
        self.email = resp.body["email"]
        server.secrets.append(self.token)

    def request(self, method, path, csrf=True, **kw):
        """csrf: True sends this session's token, False none, a string that value."""
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("Cookie", "%s=%s" % (COOKIE, self.token))
        if csrf is True:
            headers.setdefault("X-CSRF-Token", self.csrf)
        elif csrf:
            headers.setdefault("X-CSRF-Token", csrf)
        return self.S.request(method, path, headers=headers, **kw)

    def get(self, path, **kw):
        kw.setdefault("csrf", False)
        return self.request("GET", path, **kw)

    def sign_out(self, **kw):
        return self.request("DELETE", SESSION, **kw)


def sign_in(server, email, password=PASSWORD):
    r = sign_in_raw(server, email, password)
    if r.status != 201:
        raise AssertionError("sign-in of %s: %r" % (email, r))
    return WebSession(server, r)


def cookie_only(token):
    return {"Cookie": "%s=%s" % (COOKIE, token)}


def org_path(org_id, *parts):
    return "/".join(["%s/org/%s" % (API, org_id)] + list(parts))


__all__ = ["COOKIE", "PASSWORD", "SESSION", "LOOKUP", "ACCEPT", "SESSION_FIELDS", "STAFF_FIELDS",
           "staff_create", "parse_set_cookie", "set_cookies", "session_cookie", "sign_in_raw",
           "WebSession", "sign_in", "cookie_only", "org_path"]
