/*
 * team.c - the admins' side of the team: staff accounts, invites, API
 * tokens and OAuth clients of the org. Every route is ACT_TEAM_MANAGE
 * (admin). Secrets (an invite's token, an API token, a client secret) are
 * in the create reply only; the store keeps their SHA-256.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/common.h"
#include "api/handlers.h"
#include "api/user_fields.h"
#include "auth/token.h"

#define INVITE_TTL_MS  (72LL * 3600 * 1000)
#define NAME_MAX_BYTES 100

static const char *const team_roles[] = {"viewer", "staff", "admin", NULL};
static const char *const token_roles[] = {"viewer", "staff", "admin", "integration", NULL};

/* s is one of roles; else appends an error naming field. */
static int role_ok(const char *s, const char *const *roles, const char *field, json_t *errors)
{
	for (int i = 0; s && roles[i]; i++)
		if (strcmp(s, roles[i]) == 0)
			return 1;
	char d[128] = "must be one of ";
	for (int i = 0; roles[i]; i++) {
		size_t used = strlen(d);
		snprintf(d + used, sizeof d - used, "%s%s", i ? ", " : "", roles[i]);
	}
	json_array_append_new(errors, problem_field(field, d));
	return 0;
}

/* Replies 404 unless path parameter i is a UUID. */
static enum fd_err id_param(struct req *r, int i, const char *what)
{
	if (util_is_uuid(req_param(r, i)))
		return FD_OK;
	char d[64];
	snprintf(d, sizeof d, "no such %s", what);
	return reply_problem(r, FD_ENOTFOUND, d, NULL);
}

static enum fd_err reply_list(struct req *r, enum fd_err rc, json_t *list)
{
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	return reply_json(r, 200, json_pack("{so}", "data", list));
}

/* Authorizes an admin and reads the JSON body (OUT), whose members must be
 * among allowed: *errors (OUT) holds an entry for each other one, for the
 * caller to add its own to. Replies and returns the error when refused. */
static enum fd_err admin_body(struct req *r, const char *const *allowed, const char *what, json_t **body,
                              json_t **errors)
{
	enum fd_err rc = api_authorize(r, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE);
	if (rc == FD_OK)
		rc = req_json_body(r, body);
	if (rc != FD_OK)
		return rc;
	*errors = json_array();
	api_unknown_members(*body, allowed, what, *errors);
	return FD_OK;
}

/* DELETE of one of the org's invites, API tokens or OAuth clients: path
 * parameter 1 is its id, revoke the store call; 204, or 404 naming what. */
static enum fd_err revoke(struct req *r, const char *what,
                          enum fd_err (*revoke_fn)(struct store *, const struct store_actor *, const char *,
                                                   const char *))
{
	enum fd_err rc = api_authorize(r, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE);
	if (rc == FD_OK)
		rc = id_param(r, 1, what);
	if (rc != FD_OK)
		return rc;
	struct store_actor a = api_actor(r);
	rc = revoke_fn(req_store(r), &a, req_param(r, 0), req_param(r, 1));
	if (rc == FD_ENOTFOUND) {
		char d[96];
		snprintf(d, sizeof d, "no such live %s", what);
		return reply_problem(r, rc, d, NULL);
	}
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	token_cache_clear(); /* a revoked token, or a client's tokens, stop at once */
	return reply_empty(r, 204);
}

/* ------------------------------------------------------------------ staff */

enum fd_err team_staff_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *list = NULL;
	rc = store_staff_list(req_store(r), req_param(r, 0), &list);
	return reply_list(r, rc, list);
}

enum fd_err team_staff_update(struct req *r)
{
	static const char *const allowed[] = {"role", "deactivated", NULL};
	json_t *body = NULL, *errors = NULL;
	enum fd_err rc = admin_body(r, allowed, "a staff member's changes", &body, &errors);
	if (rc == FD_OK && (rc = id_param(r, 1, "staff member")) != FD_OK) {
		json_decref(body);
		json_decref(errors);
	}
	if (rc != FD_OK)
		return rc;
	json_t *role = json_object_get(body, "role"), *off = json_object_get(body, "deactivated");
	if (role)
		role_ok(json_string_value(role), team_roles, "role", errors);
	if (off && !json_is_boolean(off))
		json_array_append_new(errors, problem_field("deactivated", "must be true or false"));
	if (!role && !off && json_array_size(errors) == 0)
		json_array_append_new(errors, problem_field("role", "role or deactivated is required"));
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_reply_invalid(r, errors);
	}
	json_decref(errors);
	struct store_actor a = api_actor(r);
	json_t *staff = NULL;
	rc = store_staff_update(req_store(r), &a, req_param(r, 0), req_param(r, 1), json_string_value(role),
	                        off ? json_is_true(off) : -1, &staff);
	json_decref(body);
	if (rc == FD_ENOTFOUND)
		return reply_problem(r, rc, "no such staff member", NULL);
	if (rc == FD_ECONFLICT)
		return reply_problem(r, rc, "the org must keep at least one active admin", NULL);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	return reply_json(r, 200, staff);
}

/* ------------------------------------------------------------------ invites */

enum fd_err team_invites_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *list = NULL;
	rc = store_invite_list(req_store(r), req_param(r, 0), util_now_ms(), &list);
	return reply_list(r, rc, list);
}

enum fd_err team_invites_create(struct req *r)
{
	static const char *const allowed[] = {"email", "role", NULL};
	json_t *body = NULL, *errors = NULL;
	enum fd_err rc = admin_body(r, allowed, "an invite", &body, &errors);
	if (rc != FD_OK)
		return rc;
	const char *email = api_body_string(body, "email", 254, errors);
	const char *why = email ? user_email_problem(email) : NULL;
	if (why)
		json_array_append_new(errors, problem_field("email", why));
	role_ok(json_string_value(json_object_get(body, "role")), team_roles, "role", errors);
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_reply_invalid(r, errors);
	}
	json_decref(errors);
	char tok[TOKEN_MAX], hash[65];
	token_generate("fdi_", tok);
	token_hash(tok, hash);
	struct store_actor a = api_actor(r);
	json_t *inv = NULL;
	rc = store_invite_create(req_store(r), &a, req_param(r, 0), email,
	                         json_string_value(json_object_get(body, "role")), hash, util_now_ms() + INVITE_TTL_MS,
	                         &inv);
	json_decref(body);
	if (rc == FD_ECONFLICT)
		return reply_problem(r, rc, "this email has an account already",
		                     json_pack("[o]", problem_field("email", "has an account already")));
	if (rc != FD_OK) {
		sodium_memzero(tok, sizeof tok);
		return reply_problem(r, rc, NULL, NULL);
	}
	char url[512];
	snprintf(url, sizeof url, "%s/#/invite/%s", req_base_url(r), tok);
	json_object_set_new(inv, "token", json_string(tok));
	json_object_set_new(inv, "invite_url", json_string(url));
	sodium_memzero(tok, sizeof tok);
	sodium_memzero(url, sizeof url);
	return reply_json(r, 201, inv);
}

enum fd_err team_invites_revoke(struct req *r)
{
	return revoke(r, "invite", store_invite_revoke);
}

/* ------------------------------------------------------------------ API tokens */

enum fd_err team_tokens_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *all = NULL;
	rc = store_token_list(req_store(r), req_param(r, 0), &all);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	/* the API tokens; a client's access tokens belong to its client */
	json_t *list = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(all, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "kind")) ?: "", "api") != 0)
			continue;
		json_t *v = json_deep_copy(t);
		json_object_del(v, "kind");
		json_object_del(v, "client_id");
		json_array_append_new(list, v);
	}
	json_decref(all);
	return reply_list(r, FD_OK, list);
}

enum fd_err team_tokens_create(struct req *r)
{
	static const char *const allowed[] = {"name", "role", NULL};
	json_t *body = NULL, *errors = NULL;
	enum fd_err rc = admin_body(r, allowed, "an API token", &body, &errors);
	if (rc != FD_OK)
		return rc;
	const char *name = api_body_string(body, "name", NAME_MAX_BYTES, errors);
	const char *role = json_string_value(json_object_get(body, "role"));
	role_ok(role, token_roles, "role", errors);
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_reply_invalid(r, errors);
	}
	json_decref(errors);
	char tok[TOKEN_MAX], hash[65];
	token_generate("fdt_", tok);
	token_hash(tok, hash);
	struct store_actor a = api_actor(r);
	json_t *meta = NULL;
	rc = store_token_create(req_store(r), &a, req_param(r, 0), role, name, "api", NULL, hash, 0, &meta);
	json_decref(body);
	if (rc != FD_OK) {
		sodium_memzero(tok, sizeof tok);
		return reply_problem(r, rc, NULL, NULL);
	}
	json_object_del(meta, "kind");
	json_object_del(meta, "client_id");
	json_object_del(meta, "org_id");
	json_object_set_new(meta, "token", json_string(tok));
	sodium_memzero(tok, sizeof tok);
	return reply_json(r, 201, meta);
}

enum fd_err team_tokens_revoke(struct req *r)
{
	return revoke(r, "API token", store_token_revoke);
}

/* ------------------------------------------------------------------ OAuth clients */

enum fd_err team_clients_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *list = NULL;
	rc = store_client_list(req_store(r), req_param(r, 0), &list);
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c) /* the id the revoke path takes */
	    json_object_set(c, "id", json_object_get(c, "client_id"));
	return reply_list(r, rc, list);
}

enum fd_err team_clients_create(struct req *r)
{
	static const char *const allowed[] = {"name", NULL};
	json_t *body = NULL, *errors = NULL;
	enum fd_err rc = admin_body(r, allowed, "an OAuth client", &body, &errors);
	if (rc != FD_OK)
		return rc;
	const char *name = api_body_string(body, "name", NAME_MAX_BYTES, errors);
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_reply_invalid(r, errors);
	}
	json_decref(errors);
	char cid[FD_UUID_LEN + 1], secret[TOKEN_MAX], hash[65];
	util_uuid(cid);
	token_generate("fds_", secret);
	token_hash(secret, hash);
	struct store_actor a = api_actor(r);
	json_t *meta = NULL;
	rc = store_client_create(req_store(r), &a, req_param(r, 0), cid, name, hash, &meta);
	json_decref(body);
	if (rc != FD_OK) {
		sodium_memzero(secret, sizeof secret);
		return reply_problem(r, rc, NULL, NULL);
	}
	json_object_del(meta, "org_id");
	json_object_set_new(meta, "id", json_string(cid));
	json_object_set_new(meta, "client_secret", json_string(secret));
	sodium_memzero(secret, sizeof secret);
	return reply_json(r, 201, meta);
}

enum fd_err team_clients_revoke(struct req *r)
{
	return revoke(r, "OAuth client", store_client_revoke);
}
