/*
 * session.c - signing in and out of the web app, and accepting an invite.
 *
 * These routes take no bearer token: sign-in takes an email and password,
 * the session routes read the session cookie themselves, and an invite is
 * its own credential. Failed sign-ins and invite lookups are throttled per
 * account (or token) and per address.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/common.h"
#include "api/handlers.h"
#include "auth/password.h"
#include "auth/session.h"
#include "auth/token.h"

/* What the web app needs of its session. */
static json_t *session_view(const struct store_session *se, const char *token, int64_t idle_ms)
{
	char csrf[SESSION_CSRF_LEN], expires[FD_TIME_LEN + 1], since[FD_TIME_LEN + 1];
	session_csrf(token, csrf);
	util_format_rfc3339(se->expires_ms, expires);
	util_format_rfc3339(se->created_ms, since);
	return json_pack("{ss ss ss ss ss ss ss ss sI}", "staff_id", se->staff_id, "email", se->email, "role", se->role,
	                 "org_id", se->org_id, "org_name", se->org_name, "csrf_token", csrf, "signed_in_at", since,
	                 "expires_at", expires, "idle_timeout_seconds", (json_int_t)(idle_ms / 1000));
}

/* Sets the session cookie to value for max_age seconds (0: removes it). */
static void set_cookie(struct req *r, const char *value, int64_t max_age)
{
	char c[256];
	snprintf(c, sizeof c, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", SESSION_COOKIE, value,
	         (long long)max_age, req_secure(r) ? "; Secure" : "");
	reply_header(r, "Set-Cookie", c);
}

enum fd_err session_create(struct req *r)
{
	json_t *body = NULL;
	enum fd_err rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	json_t *errors = json_array();
	static const char *const allowed[] = {"email", "password", NULL};
	api_unknown_members(body, allowed, "a sign-in", errors);
	const char *email = api_body_string(body, "email", 254, errors);
	const char *password = api_body_string(body, "password", PASSWORD_MAX, errors);
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_reply_invalid(r, errors);
	}
	json_decref(errors);
	/* emails match in any case: so does their throttle */
	char account[256];
	size_t n = 0;
	for (; email[n] && n < sizeof account - 1; n++)
		account[n] = (char)(email[n] >= 'A' && email[n] <= 'Z' ? email[n] - 'A' + 'a' : email[n]);
	account[n] = '\0';
	if (req_throttle_check(r, account) != FD_OK) {
		json_decref(body);
		return FD_ETOOMANY;
	}
	int64_t idle_ms, max_ms;
	req_session_limits(r, &idle_ms, &max_ms);
	char tok[TOKEN_MAX];
	struct store_session se;
	rc = session_sign_in(req_store(r), email, password, r->request_id, max_ms, tok, &se);
	if (rc == FD_EUNAUTH || rc == FD_OK)
		req_throttle_result(r, account, rc == FD_OK);
	json_decref(body);
	if (rc == FD_EUNAUTH)
		return reply_problem(r, rc, "the email or the password is wrong", NULL);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	set_cookie(r, tok, max_ms / 1000);
	json_t *view = session_view(&se, tok, idle_ms);
	sodium_memzero(tok, sizeof tok);
	return reply_json(r, 201, view);
}

/* The caller's session from its cookie, and the server's idle timeout;
 * replies 401 (clearing the cookie) when there is none. */
static enum fd_err current(struct req *r, struct store_session *se, const char **token, int64_t *idle_ms)
{
	int64_t max_ms;
	req_session_limits(r, idle_ms, &max_ms);
	*token = req_cookie(r, SESSION_COOKIE);
	struct principal p;
	enum fd_err rc = *token ? session_authenticate(req_store(r), *token, *idle_ms, &p, se) : FD_EUNAUTH;
	if (rc == FD_EUNAUTH) {
		if (*token)
			set_cookie(r, "", 0);
		return reply_problem(
		    r, rc, *token ? "the session has ended or expired: sign in again" : "not signed in", NULL);
	}
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	return FD_OK;
}

enum fd_err session_get(struct req *r)
{
	struct store_session se;
	const char *token;
	int64_t idle_ms;
	enum fd_err rc = current(r, &se, &token, &idle_ms);
	if (rc != FD_OK)
		return rc;
	return reply_json(r, 200, session_view(&se, token, idle_ms));
}

enum fd_err session_delete(struct req *r)
{
	struct store_session se;
	const char *token;
	int64_t idle_ms;
	enum fd_err rc = current(r, &se, &token, &idle_ms);
	if (rc != FD_OK)
		return rc;
	if (!session_csrf_ok(token, req_header(r, "X-CSRF-Token")))
		return reply_problem(r, FD_EFORBIDDEN,
		                     "the X-CSRF-Token header is missing or wrong: sign-out must send the session's "
		                     "csrf_token",
		                     NULL);
	struct store_actor a = {.type = "staff", .id = se.staff_id, .name = se.email, .request_id = r->request_id};
	rc = store_session_end(req_store(r), &a, &se);
	if (rc != FD_OK && rc != FD_ENOTFOUND)
		return reply_problem(r, rc, NULL, NULL);
	set_cookie(r, "", 0);
	return reply_empty(r, 204);
}

/* The body's invite token (and the other members allowed); replies when
 * it is refused, throttled, or names no open invite. */
static enum fd_err invite_body(struct req *r, const char *const *allowed, json_t **body, char hash[65], json_t **invite)
{
	enum fd_err rc = req_json_body(r, body);
	if (rc != FD_OK)
		return rc;
	json_t *errors = json_array();
	api_unknown_members(*body, allowed, "this request", errors);
	const char *token = api_body_string(*body, "token", TOKEN_MAX - 1, errors);
	if (json_array_size(errors) > 0)
		return api_reply_invalid(r, errors);
	json_decref(errors);
	if (req_throttle_check(r, token) != FD_OK)
		return FD_ETOOMANY;
	token_hash(token, hash);
	rc = store_invite_find(req_store(r), hash, util_now_ms(), invite);
	if (rc == FD_ENOTFOUND) {
		req_throttle_result(r, token, 0);
		return reply_problem(
		    r, rc, "the invite is unknown, used, revoked or expired: ask an admin for a new one", NULL);
	}
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	return FD_OK;
}

enum fd_err invites_lookup(struct req *r)
{
	static const char *const allowed[] = {"token", NULL};
	json_t *body = NULL, *inv = NULL;
	char hash[65];
	enum fd_err rc = invite_body(r, allowed, &body, hash, &inv);
	json_decref(body);
	if (rc != FD_OK)
		return rc;
	json_t *view =
	    json_pack("{sOsOsOsO}", "email", json_object_get(inv, "email"), "role", json_object_get(inv, "role"),
	              "org_name", json_object_get(inv, "org_name"), "expires_at", json_object_get(inv, "expires_at"));
	json_decref(inv);
	return reply_json(r, 200, view);
}

enum fd_err invites_accept(struct req *r)
{
	static const char *const allowed[] = {"token", "password", NULL};
	json_t *body = NULL, *inv = NULL;
	char hash[65];
	enum fd_err rc = invite_body(r, allowed, &body, hash, &inv);
	json_decref(inv);
	if (rc != FD_OK) {
		json_decref(body);
		return rc;
	}
	json_t *pw = json_object_get(body, "password");
	const char *why = !pw                   ? "is required"
	                  : !json_is_string(pw) ? "must be a string"
	                                        : password_weak(json_string_value(pw));
	if (why) {
		json_decref(body);
		return api_reply_invalid(r, json_pack("[o]", problem_field("password", why)));
	}
	char ph[PASSWORD_HASH_MAX];
	rc = password_hash(json_string_value(pw), ph);
	json_decref(body);
	json_t *staff = NULL;
	if (rc == FD_OK)
		rc = store_invite_accept(req_store(r), hash, util_now_ms(), ph, r->request_id, &staff);
	sodium_memzero(ph, sizeof ph);
	if (rc == FD_ENOTFOUND)
		return reply_problem(
		    r, rc, "the invite is unknown, used, revoked or expired: ask an admin for a new one", NULL);
	if (rc == FD_ECONFLICT)
		return reply_problem(r, rc, "this email has an account already: sign in with it", NULL);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	json_t *view =
	    json_pack("{sOsOsOsO}", "staff_id", json_object_get(staff, "id"), "email", json_object_get(staff, "email"),
	              "role", json_object_get(staff, "role"), "org_id", json_object_get(staff, "org_id"));
	json_decref(staff);
	return reply_json(r, 201, view);
}
