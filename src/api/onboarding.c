/*
 * onboarding.c - self-service connection links.
 *
 *   POST /org/{org}/device-onboarding           a link to connect a new device
 *   POST /users/{user}/{type}/{id}/auth_session a link to re-authenticate one
 *   GET  /connect/{secret}                      the page the end-user opens
 *   POST /connect/{secret}                      their answer: connect or cancel
 *
 * The link's secret is 256 random bits; only its SHA-256 is stored. A
 * session is valid until the end of the next day (UTC) and can be used
 * once: connecting or cancelling spends it, atomically with its effect.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common.h"
#include "api/connector.h"
#include "api/device_fields.h"
#include "api/devices.h"
#include "api/fields.h"
#include "api/handlers.h"
#include "core/util.h"

#define SECRET_BYTES 32

static const char *const ob_types[] = {"hp", "ev", "iv", "wb", NULL};
static const char *const languages[] = {"en", "de", "fr", "it", "es", "nl", "pl", "cs", "da", "sv", "nb", "fi", "pt",
                                        NULL};

static const struct field_rule ob_rules[] = {
    {"user_id", FT_UUID, FF_CREATE, 0, 0, NULL, NULL, NULL},
    {"building_id", FT_UUID, FF_CREATE | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"device_type", FT_ENUM, FF_CREATE, 0, 0, ob_types, NULL, NULL},
    {"success_url", FT_URL, FF_CREATE, 0, 0, NULL, NULL, NULL},
    {"cancel_url", FT_URL, FF_CREATE, 0, 0, NULL, NULL, NULL},
    {"language", FT_ENUM, FF_CREATE, 0, 0, languages, "\"en\"", NULL},
    {"is_smart_optimization_active_default", FT_BOOL, FF_CREATE, 0, 0, NULL, "true", NULL},
    {NULL, FT_ANY, 0, 0, 0, NULL, NULL, NULL},
};

static const struct field_rule reauth_rules[] = {
    {"success_url", FT_URL, FF_CREATE, 0, 0, NULL, NULL, NULL},
    {"cancel_url", FT_URL, FF_CREATE, 0, 0, NULL, NULL, NULL},
    {"language", FT_ENUM, FF_CREATE, 0, 0, languages, "\"en\"", NULL},
    {NULL, FT_ANY, 0, 0, 0, NULL, NULL, NULL},
};

static const char *const type_codes[DEV_TYPES] = {"hp", "ev", "iv"};

/* End of the next day (UTC) after now_ms. Test builds may shorten it
 * (FLEETDESK_TEST_ONBOARDING_TTL_MS) so a test can watch a link expire. */
static int64_t expiry(int64_t now_ms)
{
#ifdef FD_TEST_HOOKS
	const char *ttl = getenv("FLEETDESK_TEST_ONBOARDING_TTL_MS");
	if (ttl)
		return now_ms + atoll(ttl);
#endif
	return (now_ms / 86400000 + 2) * 86400000;
}

/* Validates body against rules with the named fields required. */
static enum fd_err validate(struct req *r, const struct field_rule *rules, const char *const *required, json_t **clean)
{
	json_t *body = NULL, *sent = NULL, *errors = NULL;
	enum fd_err rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	rc = fields_validate(rules, FM_CREATE, body, NULL, &sent, &errors);
	if (rc == FD_OK)
		errors = json_array();
	for (const char *const *k = required; errors && *k; k++) {
		if (!json_object_get(body, *k))
			json_array_append_new(errors, problem_field(*k, "is required"));
	}
	json_decref(body);
	if (rc == FD_OK && json_array_size(errors) > 0) {
		json_decref(sent);
		rc = FD_EINVALID;
	} else if (rc == FD_OK) {
		json_decref(errors);
	}
	if (rc == FD_EINVALID)
		return reply_problem(r, rc, "the session request is invalid", errors);
	if (rc != FD_OK)
		return rc;
	json_t *full = fields_defaults(rules);
	json_object_update(full, sent);
	json_decref(sent);
	*clean = full;
	return FD_OK;
}

/* Creates the session; replies 201 with Podero's shape. */
static enum fd_err create_session(struct req *r, const char *user_id, json_t *request, int reauth)
{
	char secret[2 * SECRET_BYTES + 1], hash[65];
	util_random_hex(secret, SECRET_BYTES);
	util_sha256_hex(secret, strlen(secret), hash);
	int64_t exp = expiry(util_now_ms());
	struct store_actor a = api_actor(r);
	json_t *session = NULL;
	enum fd_err rc =
	    store_onboarding_create(req_store(r), &a, req_param(r, 0), user_id, request, hash, exp, &session);
	if (rc == FD_ENOTFOUND && reauth)
		return reply_problem(r, rc, "no such device for this user", NULL);
	if (rc != FD_OK)
		return api_reply_create_failed(r, rc, "devices");
	char url[512];
	snprintf(url, sizeof url, "%s/connect/%s", req_base_url(r), secret);
	json_t *out;
	if (reauth) {
		out = json_pack("{sssOsOsO}", "authentication_url", url, "device_id", json_object_get(request, "device_id"),
		                "session_id", json_object_get(session, "id"), "expiration_date",
		                json_object_get(session, "expiration_date"));
	} else {
		out = json_pack("{sOsssssssO?sOsOsOsOsOsO}", "id", json_object_get(session, "id"), "authentication_url", url,
		                "user", user_id, "user_id", user_id, "building_id", json_object_get(request, "building_id"),
		                "device_type", json_object_get(request, "device_type"), "success_url",
		                json_object_get(request, "success_url"), "cancel_url", json_object_get(request, "cancel_url"),
		                "language", json_object_get(request, "language"), "is_smart_optimization_active_default",
		                json_object_get(request, "is_smart_optimization_active_default"), "expiration_date",
		                json_object_get(session, "expiration_date"));
	}
	json_decref(session);
	return reply_json(r, 201, out);
}

enum fd_err onboarding_create(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_ONBOARDING, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	static const char *const required[] = {"user_id", "device_type", "success_url", "cancel_url", NULL};
	json_t *req = NULL;
	rc = validate(r, ob_rules, required, &req);
	if (rc != FD_OK)
		return rc;
	rc = create_session(r, json_string_value(json_object_get(req, "user_id")), req, 0);
	json_decref(req);
	return rc;
}

enum fd_err devices_auth_session(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_ONBOARDING, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	const char *did = uid ? device_path_id(r, 2, "device") : NULL;
	if (!did)
		return FD_ENOTFOUND;
	static const char *const required[] = {"success_url", "cancel_url", NULL};
	json_t *req = NULL;
	rc = validate(r, reauth_rules, required, &req);
	if (rc != FD_OK)
		return rc;
	json_object_set_new(req, "device_type", json_string(type_codes[device_route_type(r)]));
	json_object_set_new(req, "device_id", json_string(did));
	rc = create_session(r, uid, req, 1);
	json_decref(req);
	return rc;
}

/* ------------------------------------------------------------------ the hosted page */

static const char *const type_names[] = {"heat pump", "electric vehicle", "solar inverter"};

static int request_type(json_t *req)
{
	const char *t = json_string_value(json_object_get(req, "device_type"));
	if (!t)
		return DEV_HEAT_PUMP;
	if (strcmp(t, "ev") == 0 || strcmp(t, "wb") == 0)
		return DEV_EV;
	if (strcmp(t, "iv") == 0)
		return DEV_INVERTER;
	return DEV_HEAT_PUMP;
}

static enum fd_err page(struct req *r, unsigned status, const char *title, const char *text, json_t *session,
                        const char *error)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	enum fd_err rc = buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	                              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
	if (rc == FD_OK)
		rc = html_escape(&b, title);
	if (rc == FD_OK)
		rc = buf_puts(&b, "</title></head>\n<body>\n<main>\n<h1>");
	if (rc == FD_OK)
		rc = html_escape(&b, title);
	if (rc == FD_OK)
		rc = buf_puts(&b, "</h1>\n<p>");
	if (rc == FD_OK)
		rc = html_escape(&b, text);
	if (rc == FD_OK)
		rc = buf_puts(&b, "</p>\n");
	if (rc == FD_OK && error) {
		rc = buf_puts(&b, "<p role=\"alert\"><strong>");
		if (rc == FD_OK)
			rc = html_escape(&b, error);
		if (rc == FD_OK)
			rc = buf_puts(&b, "</strong></p>\n");
	}
	if (rc == FD_OK && session) {
		rc = buf_puts(&b, "<form method=\"post\">\n");
		if (rc == FD_OK)
			rc = connector_get()->consent_html(session, &b);
		if (rc == FD_OK)
			rc = buf_puts(&b, "<p><button type=\"submit\" name=\"action\" value=\"connect\">Connect</button> "
			                  "<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></p>\n"
			                  "</form>\n");
	}
	if (rc == FD_OK)
		rc = buf_puts(&b, "</main>\n</body></html>\n");
	if (rc != FD_OK) {
		buf_release(&b);
		return rc;
	}
	size_t len = 0;
	char *html = buf_detach(&b, &len);
	return reply_take(r, status, "text/html; charset=utf-8", html, len);
}

/* The session of the link in the path, or a page saying why there is none (replied). */
static json_t *link_session(struct req *r, char hash[65])
{
	const char *secret = req_param(r, 0);
	json_t *s = NULL;
	enum fd_err rc = FD_ENOTFOUND;
	if (secret && strlen(secret) == 2 * SECRET_BYTES) {
		util_sha256_hex(secret, strlen(secret), hash);
		rc = store_onboarding_find(req_store(r), hash, &s);
	}
	if (rc == FD_ENOTFOUND) {
		page(r, 404, "Link not found", "This connection link is not valid. Ask your energy partner for a new one.",
		     NULL, NULL);
		return NULL;
	}
	if (rc != FD_OK) {
		reply_problem(r, rc, NULL, NULL);
		return NULL;
	}
	if (!json_is_null(json_object_get(s, "used_at"))) {
		page(r, 410, "Link already used",
		     "This connection link has already been used. Ask your energy partner for a new one if you need it.",
		     NULL, NULL);
		json_decref(s);
		return NULL;
	}
	if (json_integer_value(json_object_get(s, "expires_ms")) <= util_now_ms()) {
		page(r, 410, "Link expired", "This connection link has expired. Ask your energy partner for a new one.",
		     NULL, NULL);
		json_decref(s);
		return NULL;
	}
	return s;
}

static enum fd_err show_form(struct req *r, json_t *s, const char *error)
{
	json_t *req = json_object_get(s, "request");
	char title[80], text[240];
	int reauth = json_is_string(json_object_get(req, "device_id"));
	snprintf(title, sizeof title, "%s your %s", reauth ? "Reconnect" : "Connect", type_names[request_type(req)]);
	snprintf(text, sizeof text,
	         "Your energy partner asks to %s your %s so it can optimise when it uses energy. This link can be "
	         "used once.",
	         reauth ? "reconnect" : "connect", type_names[request_type(req)]);
	return page(r, error ? 422 : 200, title, text, s, error);
}

enum fd_err connect_page(struct req *r)
{
	char hash[65];
	json_t *s = link_session(r, hash);
	if (!s)
		return FD_OK;
	enum fd_err rc = show_form(r, s, NULL);
	json_decref(s);
	return rc;
}

/* Sends the browser to url with the session's outcome appended. */
static enum fd_err redirect(struct req *r, const char *url, const char *session_id, const char *device_id)
{
	char loc[2300];
	snprintf(loc, sizeof loc, "%s%csession_id=%s%s%s", url, strchr(url, '?') ? '&' : '?', session_id,
	         device_id ? "&device_id=" : "", device_id ? device_id : "");
	reply_header(r, "Location", loc);
	return reply_empty(r, 303);
}

/* The device fields a connection sets: the connector's grant, and for a new device the defaults too. */
static enum fd_err device_fields(json_t *req, json_t *grant, json_t **out)
{
	json_t *model = json_pack("{sOsO}", "manufacturer", json_object_get(grant, "manufacturer"), "model",
	                          json_object_get(grant, "model"));
	json_t *state = json_deep_copy(grant);
	json_object_del(state, "manufacturer");
	json_object_del(state, "model");
	if (json_is_string(json_object_get(req, "device_id"))) { /* a reconnection keeps its settings */
		json_decref(model);
		*out = state;
		return FD_OK;
	}
	int type = request_type(req);
	if (strcmp(json_string_value(json_object_get(req, "device_type")), "wb") == 0)
		json_object_set_new(model, "device_type", json_string("wallbox"));
	json_object_set_new(state, "device_model", model);
	json_t *clean = NULL, *errors = NULL;
	enum fd_err rc = device_fields_validate(type, FM_CREATE, state, NULL, &clean, &errors);
	json_decref(state);
	json_decref(errors);
	if (rc != FD_OK)
		return rc == FD_EINVALID ? FD_EIO : rc; /* the connector's own fields: never invalid */
	json_object_set(clean, "is_smart_optimization_active",
	                json_object_get(req, "is_smart_optimization_active_default"));
	json_object_set(clean, "building_id", json_object_get(req, "building_id"));
	*out = clean;
	return FD_OK;
}

enum fd_err connect_submit(struct req *r)
{
	char hash[65];
	json_t *s = link_session(r, hash);
	if (!s)
		return FD_OK;
	json_t *req = json_object_get(s, "request");
	const char *body = r->body.data ? r->body.data : "";
	char *action = api_form_value(body, r->body.len, "action");
	int cancel = action && strcmp(action, "cancel") == 0;
	enum fd_err rc = FD_OK;
	if (!cancel && (!action || strcmp(action, "connect") != 0)) {
		rc = show_form(r, s, "Choose Connect or Cancel.");
		goto out;
	}
	json_t *grant = NULL, *fields = NULL;
	const char *why = NULL;
	if (!cancel) {
		rc = connector_get()->authorize(s, body, r->body.len, &grant, &why);
		if (rc == FD_EINVALID) {
			rc = show_form(r, s, why);
			goto out;
		}
		if (rc == FD_OK)
			rc = device_fields(req, grant, &fields);
		json_decref(grant);
		if (rc != FD_OK)
			goto out;
	}
	char device_id[FD_UUID_LEN + 1] = "";
	rc = store_onboarding_complete(req_store(r), hash, util_now_ms(), cancel, fields, device_id);
	json_decref(fields);
	if (rc == FD_ECONFLICT) {
		rc = page(r, 410, "Link already used", "This connection link has already been used or has expired.", NULL,
		          NULL);
		goto out;
	}
	if (rc == FD_EINVALID) {
		rc = page(r, 410, "Link no longer valid",
		          "This connection link is no longer valid: the account or building it was made for has been "
		          "removed. Ask your energy partner for a new one.",
		          NULL, NULL);
		goto out;
	}
	if (rc == FD_ETOOLARGE) {
		rc = page(r, 409, "Too many devices",
		          "This account already has as many devices of this kind as it may have. Ask your energy partner "
		          "to remove one first.",
		          NULL, NULL);
		goto out;
	}
	if (rc != FD_OK)
		goto out;
	const char *sid = json_string_value(json_object_get(s, "id"));
	rc = cancel ? redirect(r, json_string_value(json_object_get(req, "cancel_url")), sid, NULL)
	            : redirect(r, json_string_value(json_object_get(req, "success_url")), sid, device_id);
out:
	free(action);
	json_decref(s);
	return rc;
}
