/*
 * users.c - /org/{org_id}/users: list, create, get, update, delete,
 * restore and erase, in the Partner API v2.0 shape.
 *
 * Every handler reads the request, asks the policy, calls the store and
 * writes the reply. Writes that depend on the target's role (staff may only
 * touch end-users) re-check the role against the version they write, so a
 * concurrent promotion can never slip a staff edit past the policy.
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/handlers.h"
#include "api/user_fields.h"
#include "api/users.h"
#include "core/util.h"

#define MAX_WRITE_ATTEMPTS 3

static const char *const list_params[] = {
    "search", "role", "include_deleted", "deleted", "needs_attention", "count_limit", "sort", NULL};

static const char *const sort_names[STORE_SORT_COUNT] = {
    [STORE_SORT_CREATED] = "created_at",
    [STORE_SORT_EMAIL] = "email",
    [STORE_SORT_LAST_NAME] = "last_name",
    [STORE_SORT_UPDATED] = "updated_at",
};

static enum role user_role(json_t *user)
{
	return role_parse(json_string_value(json_object_get(user, "role")));
}

/* The user id in the path; NULL (having replied 404) when it is not a UUID. */
static const char *path_user_id(struct req *r)
{
	const char *id = req_param(r, 1);
	if (util_is_uuid(id))
		return id;
	reply_problem(r, FD_ENOTFOUND, "no such user", NULL);
	return NULL;
}

/* Replies for a failed user lookup: 404 for a user not in the org. */
static enum fd_err reply_lookup_failed(struct req *r, enum fd_err rc)
{
	return reply_problem(r, rc, rc == FD_ENOTFOUND ? "no such user" : NULL, NULL);
}

/* Reads the user in the path, replying 404 if it is not in the org. */
static enum fd_err load_user(struct req *r, json_t **user, int64_t *version)
{
	const char *id = path_user_id(r);
	if (!id)
		return FD_ENOTFOUND;
	enum fd_err rc = store_user_get(req_store(r), req_param(r, 0), id, user, version);
	return rc == FD_OK ? FD_OK : reply_lookup_failed(r, rc);
}

static enum fd_err reply_user(struct req *r, unsigned status, json_t *user, int64_t version)
{
	api_set_etag(r, version);
	return reply_json(r, status, user);
}

const char *users_conflict(const char *field, char *buf, size_t n, json_t **errors)
{
	*errors = NULL;
	if (!field)
		return "this user has been erased and can no longer change";
	const char *detail = strcmp(field, "email") == 0
	                         ? "is already used by another user of this org (deleted users included)"
	                         : "is already used by another user of this org";
	snprintf(buf, n, "%s %s", field, detail);
	*errors = json_pack("[o]", problem_field(field, detail));
	return buf;
}

static enum fd_err reply_conflict(struct req *r, const char *field)
{
	char d[160];
	json_t *errors = NULL;
	const char *detail = users_conflict(field, d, sizeof d, &errors);
	return reply_problem(r, FD_ECONFLICT, detail, errors);
}

/* ------------------------------------------------------------------ list */

static enum fd_err parse_sort(struct req *r, struct store_user_query *q)
{
	const char *s = req_query(r, "sort");
	q->sort = STORE_SORT_CREATED;
	q->desc = 0;
	if (!s)
		return FD_OK;
	if (*s == '-') {
		q->desc = 1;
		s++;
	}
	for (int i = 0; i < STORE_SORT_COUNT; i++) {
		if (strcmp(s, sort_names[i]) == 0) {
			q->sort = (enum store_user_sort)i;
			return FD_OK;
		}
	}
	return api_bad_param(r, "sort",
	                     "must be one of created_at, email, last_name, updated_at, optionally with a leading -");
}

/* The list's filters and sort (shared with the export); the strings are the request's. */
static enum fd_err parse_filters(struct req *r, struct store_user_query *q)
{
	q->role = req_query(r, "role");
	if (q->role && (role_parse(q->role) == ROLE_NONE || role_parse(q->role) == ROLE_INTEGRATION))
		return api_bad_param(r, "role", "must be one of user, viewer, staff, admin");
	int del = -1;
	enum fd_err rc = api_bool_param(r, "include_deleted", &del);
	if (rc != FD_OK)
		return rc;
	q->include_deleted = del == 1;
	int only = -1, attn = -1;
	if ((rc = api_bool_param(r, "deleted", &only)) != FD_OK)
		return rc;
	if (only >= 0 && del >= 0)
		return api_bad_param(r, "deleted",
		                     "and include_deleted cannot be combined: deleted=true lists only "
		                     "deleted users, deleted=false only live ones");
	q->only_deleted = only == 1;
	if ((rc = api_bool_param(r, "needs_attention", &attn)) != FD_OK)
		return rc;
	q->needs_attention = attn == 1 ? 1 : attn == 0 ? 2 : 0;
	q->search = req_query(r, "search");
	if (q->search && strlen(q->search) > 256)
		return api_bad_param(r, "search", "must be at most 256 bytes");
	return parse_sort(r, q);
}

static enum fd_err parse_cursor(struct req *r, struct store_user_query *q, json_t **holder)
{
	const char *c = req_query(r, "cursor");
	if (!c)
		return FD_OK;
	json_t *j = NULL;
	enum fd_err rc = api_cursor_decode(r, c, &j);
	if (rc != FD_OK)
		return rc;
	json_t *s = json_object_get(j, "s"), *d = json_object_get(j, "d"), *k = json_object_get(j, "k"),
	       *n = json_object_get(j, "n");
	if (!json_is_string(s) || !json_is_boolean(d) || !json_is_integer(n) || (k && !json_is_string(k)) ||
	    strcmp(json_string_value(s), sort_names[q->sort]) != 0 || json_is_true(d) != q->desc) {
		json_decref(j);
		return api_bad_param(r, "cursor", "does not belong to this sort; start again without a cursor");
	}
	q->has_after = 1;
	q->after_seq = json_integer_value(n);
	q->after_key = k ? json_string_value(k) : NULL;
	*holder = j;
	return FD_OK;
}

enum fd_err users_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	struct store_user_query q = {.org_id = req_param(r, 0)};
	json_t *cursor = NULL;
	struct store_user_page page = {0};
	rc = api_limit(r, &q.limit);
	if (rc == FD_OK)
		rc = parse_filters(r, &q);
	const char *cl = req_query(r, "count_limit");
	long long climit = 0;
	if (rc == FD_OK && cl && util_parse_int(cl, 1, 1000000, &climit) != FD_OK)
		rc = api_bad_param(r, "count_limit", "must be an integer from 1 to 1000000");
	q.count_limit = climit;
	if (rc == FD_OK)
		rc = parse_cursor(r, &q, &cursor);
	if (rc != FD_OK)
		return rc;
	rc = store_user_list(req_store(r), &q, &page);
	json_decref(cursor); /* q.after_key pointed into it */
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	char total[32];
	snprintf(total, sizeof total, "%lld", (long long)page.total);
	reply_header(r, "X-Total-Count", total);
	if (page.total_capped)
		reply_header(r, "X-Total-Count-Capped", "true");
	if (page.has_more) {
		json_t *next =
		    json_pack("{sssbsI}", "s", sort_names[q.sort], "d", q.desc, "n", (json_int_t)page.last_seq);
		if (next && page.last_key)
			json_object_set_new(next, "k", json_string(page.last_key));
		char *enc = next ? api_cursor_encode(next) : NULL;
		json_decref(next);
		if (enc)
			api_link_next(r, list_params, q.limit, enc);
		free(enc);
	}
	rc = reply_take(r, 200, "application/json", page.items_json, page.items_len);
	page.items_json = NULL;
	store_user_page_release(&page);
	return rc;
}

/* ------------------------------------------------------------------ export */

/* GET streams the export; POST makes it a job (api_export, exports.c). */
static enum fd_err export_users(struct req *r, int job)
{
	enum fd_err rc = api_authorize(r, ACT_USER_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *format = NULL;
	if ((rc = api_export_format(r, &format)) != FD_OK)
		return rc;
	struct store_user_query q = {.org_id = req_param(r, 0)};
	if ((rc = parse_filters(r, &q)) != FD_OK)
		return rc;
	json_t *params = json_pack("{ssssss?ss?sbsbsisisb}", "kind", "users", "format", format, "search", q.search,
	                           "role", q.role, "include_deleted", q.include_deleted, "only_deleted", q.only_deleted,
	                           "needs_attention", q.needs_attention, "sort", (int)q.sort, "desc", q.desc);
	return api_export(r, params, job);
}

enum fd_err users_export(struct req *r)
{
	return export_users(r, 0);
}

enum fd_err users_export_job(struct req *r)
{
	return export_users(r, 1);
}

/* ------------------------------------------------------------------ create */

enum fd_err users_create(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_CREATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *body = NULL, *clean = NULL, *errors = NULL, *user = NULL;
	rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	rc = user_fields_validate(body, NULL, &clean, &errors);
	json_decref(body);
	if (rc == FD_EINVALID)
		return api_reply_invalid(r, errors);
	if (rc != FD_OK)
		return rc;
	rc = api_authorize(r, ACT_USER_CREATE, ROLE_NONE, user_role(clean));
	if (rc != FD_OK)
		goto out;
	struct store_actor a = api_actor(r);
	int64_t version = 0;
	const char *field = NULL;
	rc = store_user_create(req_store(r), &a, req_param(r, 0), clean, &user, &version, &field);
	if (rc == FD_ECONFLICT) {
		rc = reply_conflict(r, field ? field : "email");
		goto out;
	}
	if (rc != FD_OK)
		goto out;
	char loc[256];
	snprintf(loc, sizeof loc, API_PREFIX "/org/%s/users/%s", req_param(r, 0),
	         json_string_value(json_object_get(user, "id")));
	reply_header(r, "Location", loc);
	rc = reply_user(r, 201, user, version);
out:
	json_decref(clean);
	return rc;
}

/* ------------------------------------------------------------------ get */

enum fd_err users_get(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *id = path_user_id(r);
	if (!id)
		return FD_ENOTFOUND;
	char *json = NULL;
	size_t len = 0;
	int64_t version = 0;
	rc = store_user_get_text(req_store(r), req_param(r, 0), id, &json, &len, &version);
	if (rc != FD_OK)
		return reply_lookup_failed(r, rc);
	api_set_etag(r, version);
	if (api_if_none_match(r, version)) {
		free(json);
		return reply_empty(r, 304);
	}
	return reply_take(r, 200, "application/json", json, len);
}

/* ------------------------------------------------------------------ writes */

/*
 * The shared shape of every single-user write: load, authorise against the
 * stored role (and the new one), honour If-Match, write at exactly the
 * version that was checked, and retry if someone else wrote in between.
 */
enum write_kind { W_UPDATE, W_DELETE, W_RESTORE, W_ERASE };

static enum fd_err write_user(struct req *r, enum write_kind kind, json_t *clean)
{
	static const enum policy_action acts[] = {ACT_USER_UPDATE, ACT_USER_DELETE, ACT_USER_RESTORE, ACT_USER_ERASE};
	enum role new_role = ROLE_NONE;
	if (clean && json_object_get(clean, "role"))
		new_role = user_role(clean);
	for (int attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
		json_t *cur = NULL, *out = NULL;
		int64_t version = 0, nv = 0;
		enum fd_err rc = load_user(r, &cur, &version);
		if (rc != FD_OK)
			return rc;
		enum role target = user_role(cur);
		json_decref(cur);
		rc = api_authorize(r, acts[kind], target, new_role);
		if (rc != FD_OK)
			return rc;
		if (api_if_match(r, version) != FD_OK)
			return reply_problem(r, FD_EPRECOND,
			                     "the user changed since you read it (If-Match is stale); read it again",
			                     NULL);
		struct store_actor a = api_actor(r);
		const char *field = NULL;
		struct store *st = req_store(r);
		const char *org = req_param(r, 0), *id = req_param(r, 1);
		switch (kind) {
		case W_UPDATE:
			rc = store_user_update(st, &a, org, id, clean, version, &out, &nv, &field);
			break;
		case W_DELETE:
			rc = store_user_delete(st, &a, org, id, version);
			break;
		case W_RESTORE:
			rc = store_user_restore(st, &a, org, id, version, &out, &nv);
			break;
		case W_ERASE:
			rc = store_user_erase(st, &a, org, id, version, &out, &nv);
			break;
		}
		if (rc == FD_EPRECOND)
			continue; /* written by someone else since we checked: check again */
		if (rc == FD_ECONFLICT)
			return reply_conflict(r, field);
		if (rc == FD_ENOTFOUND)
			return reply_problem(r, rc, "no such user", NULL);
		if (rc != FD_OK)
			return reply_problem(r, rc, NULL, NULL);
		if (kind == W_DELETE)
			return reply_empty(r, 204);
		return reply_user(r, 200, out, nv);
	}
	return reply_problem(r, FD_EBUSY, "the user is being changed by others; try again", NULL);
}

enum fd_err users_update(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_UPDATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *cur = NULL, *body = NULL, *clean = NULL, *errors = NULL;
	int64_t version;
	rc = load_user(r, &cur, &version);
	if (rc != FD_OK)
		return rc;
	rc = req_json_body(r, &body);
	if (rc == FD_OK) {
		rc = user_fields_validate(body, cur, &clean, &errors);
		if (rc == FD_EINVALID)
			rc = api_reply_invalid(r, errors);
	}
	json_decref(body);
	json_decref(cur);
	if (rc != FD_OK)
		return rc;
	rc = write_user(r, W_UPDATE, clean);
	json_decref(clean);
	return rc;
}

enum fd_err users_delete(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_DELETE, ROLE_NONE, ROLE_NONE);
	return rc != FD_OK ? rc : write_user(r, W_DELETE, NULL);
}

enum fd_err users_restore(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_RESTORE, ROLE_NONE, ROLE_NONE);
	return rc != FD_OK ? rc : write_user(r, W_RESTORE, NULL);
}

enum fd_err users_erase(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_ERASE, ROLE_NONE, ROLE_NONE);
	return rc != FD_OK ? rc : write_user(r, W_ERASE, NULL);
}
