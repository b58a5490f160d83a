/*
 * bulk.c - POST /org/{org_id}/users/bulk: up to BULK_MAX user writes in one
 * request, each with its own result, in the shape of the product
 * document's bulk_update_users.
 *
 * Each item is checked as its single-user call would check it (shape,
 * field rules, the user's existence, the policy against the user's role,
 * If-Match), then every item that passed goes to the store in one
 * transaction, each in its own savepoint. By default the valid items apply
 * even when others fail; with ?atomic=true all apply or none. The checks
 * themselves are user_items.c's, which the CSV import shares.
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/handlers.h"
#include "api/user_items.h"
#include "core/util.h"

#define BULK_MAX 1000

static const char *const op_names[] = {
    [STORE_UOP_CREATE] = "create",
    [STORE_UOP_UPDATE] = "update",
    [STORE_UOP_DELETE] = "delete",
    [STORE_UOP_RESTORE] = "restore",
};
#define NOPS 4

/* A shape error of the item itself: the member name and why. */
/* The item's place in the request, as a JSON pointer. */
static void where_of(size_t i, char out[32])
{
	snprintf(out, 32, "/items/%zu", i);
}

static void item_bad_member(struct user_item *it, size_t i, const char *member, const char *detail)
{
	char d[200], w[32];
	snprintf(d, sizeof d, "%s %s", member, detail);
	where_of(i, w);
	user_item_fail(it, w, FD_EINVALID, d, json_pack("[o]", problem_field(member, detail)), "");
}

/* Looks up the item's user and checks the item against it. */
static void prepare_item(struct req *r, struct user_item *it, size_t i)
{
	char w[32];
	where_of(i, w);
	json_t *cur = NULL;
	int64_t version = -1;
	if (it->kind != STORE_UOP_CREATE) {
		enum fd_err rc = util_is_uuid(it->id) ? store_user_get(req_store(r), req_param(r, 0), it->id, &cur, &version)
		                                      : FD_ENOTFOUND;
		if (rc != FD_OK) {
			user_item_fail(it, w, rc, rc == FD_ENOTFOUND ? "no such user" : NULL, NULL, "");
			return;
		}
	}
	user_item_prepare(it, r->principal, req_param(r, 0), cur, version, w);
	json_decref(cur);
}

/* "\"42\"" -> 42; W/"42" -> INT64_MAX, a weak tag that never matches (as
 * If-Match compares strongly); -1 when it is not one of our entity tags. */
static int64_t parse_etag(const char *s)
{
	if (!s)
		return -1;
	if (strncmp(s, "W/", 2) == 0)
		return parse_etag(s + 2) >= 0 ? INT64_MAX : -1;
	size_t n = strlen(s);
	if (n < 3 || s[0] != '"' || s[n - 1] != '"' || n > 24)
		return -1;
	char num[32];
	memcpy(num, s + 1, n - 2);
	num[n - 2] = '\0';
	long long v;
	return util_parse_int(num, 0, INT64_MAX, &v) == FD_OK ? v : -1;
}

/* Reads the item's shape: op, id, data, if_match, and nothing else. */
static void parse_item(json_t *j, size_t i, struct user_item *it)
{
	it->kind = -1;
	it->if_match = -1;
	if (!json_is_object(j)) {
		char w[32];
		where_of(i, w);
		user_item_fail(it, w, FD_EINVALID, "an item must be an object",
		               json_pack("[o]", problem_field("", "must be an object")), "");
		return;
	}
	const char *op = json_string_value(json_object_get(j, "op"));
	for (int k = 0; op && k < NOPS; k++) {
		if (strcmp(op, op_names[k]) == 0)
			it->kind = k;
	}
	if (it->kind < 0) {
		item_bad_member(it, i, "op", "must be one of create, update, delete, restore");
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, "op") != 0 && strcmp(key, "id") != 0 && strcmp(key, "data") != 0 &&
		    strcmp(key, "if_match") != 0) {
			item_bad_member(it, i, key, "is not a member of an item (op, id, data, if_match)");
			return;
		}
	}
	json_t *id = json_object_get(j, "id"), *data = json_object_get(j, "data"), *im = json_object_get(j, "if_match");
	if (it->kind == STORE_UOP_CREATE) {
		if (id) {
			item_bad_member(it, i, "id", "must not be given for a create: the server assigns it");
			return;
		}
	} else if (!json_is_string(id)) {
		item_bad_member(it, i, "id", "must be the user's id (a string)");
		return;
	}
	int wants_data = it->kind == STORE_UOP_CREATE || it->kind == STORE_UOP_UPDATE;
	if (wants_data && !json_is_object(data)) {
		item_bad_member(it, i, "data", "must be an object of user fields");
		return;
	}
	if (!wants_data && data) {
		item_bad_member(it, i, "data", "is only for create and update");
		return;
	}
	if (im) {
		it->if_match = parse_etag(json_string_value(im));
		if (it->kind == STORE_UOP_CREATE || it->if_match < 0) {
			item_bad_member(it, i, "if_match",
			                it->kind == STORE_UOP_CREATE ? "is not for a create"
			                                             : "must be the user's ETag, like \"\\\"42\\\"\"");
			return;
		}
	}
	it->id = json_string_value(id);
	it->data = data;
}

/* Runs every item that has no problem through the store in one
 * transaction. Returns the store's result (FD_EINVALID: atomic and some
 * item failed). */
static enum fd_err run_items(struct req *r, struct user_item *items, size_t n, int atomic)
{
	struct store_user_op *ops = calloc(n, sizeof *ops);
	size_t *idx = calloc(n, sizeof *idx);
	if (!ops || !idx) {
		free(ops);
		free(idx);
		return FD_ENOMEM;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (items[i].problem)
			continue;
		ops[m] = items[i].op;
		idx[m++] = i;
	}
	struct store_actor a = api_actor(r);
	enum fd_err rc = m ? store_user_batch(req_store(r), &a, req_param(r, 0), ops, m, atomic, NULL) : FD_OK;
	for (size_t k = 0; k < m; k++) {
		struct user_item *it = &items[idx[k]];
		char w[32];
		where_of(idx[k], w);
		it->op = ops[k];
		user_item_result(it, w);
	}
	free(ops);
	free(idx);
	return rc;
}

/* The result of one item, in the shape of bulk_update_users. */
static json_t *item_result(const struct user_item *it, size_t i, int applied, size_t first_failed)
{
	const char *uid = it->kind == STORE_UOP_CREATE ? (it->op.user ? it->op.new_id : NULL) : it->id;
	json_t *res = json_object();
	if (!res)
		return NULL;
	json_object_set_new(res, "index", json_integer((json_int_t)i));
	json_object_set_new(res, "op", it->kind >= 0 ? json_string(op_names[it->kind]) : json_null());
	json_object_set_new(res, "user_id", uid ? json_string(uid) : json_null());
	if (!it->problem && applied) {
		json_object_set_new(res, "status", json_string("success"));
		json_object_set_new(res, "status_code", json_integer(user_item_status(it->kind)));
		json_object_set(res, "data", it->op.user ? it->op.user : json_null());
		return res;
	}
	json_object_set_new(res, "status", json_string("error"));
	if (it->problem) {
		json_object_set(res, "status_code", json_object_get(it->problem, "status"));
		json_object_set(res, "error", it->problem);
		return res;
	}
	char d[160];
	snprintf(d, sizeof d, "valid, but not applied: the batch is atomic and item %zu failed", first_failed);
	json_object_set_new(res, "status_code", json_integer(424));
	json_object_set_new(res, "error",
	                    json_pack("{sssssiss}", "type", "urn:fleetdesk:problem:not_applied", "title", "Not applied",
	                              "status", 424, "detail", d));
	return res;
}

static void items_free(struct user_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		user_item_release(&items[i]);
	free(items);
}

/* Reads {"items": [...]}: FD_OK with the array borrowed from body. */
static enum fd_err read_items(struct req *r, json_t *body, json_t **arr)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "items") != 0) {
			char d[160];
			snprintf(d, sizeof d, "%.100s is not a member of a bulk request (items)", key);
			return reply_problem(r, FD_EINVALID, d,
			                     json_pack("[o]", problem_field(key, "is not a member of a bulk request")));
		}
	}
	json_t *items = json_object_get(body, "items");
	if (!json_is_array(items) || json_array_size(items) == 0 || json_array_size(items) > BULK_MAX)
		return reply_problem(r, FD_EINVALID, "items must be an array of 1 to 1000 items",
		                     json_pack("[o]", problem_field("items", "must be an array of 1 to 1000 items")));
	*arr = items;
	return FD_OK;
}

enum fd_err users_bulk(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_UPDATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	int atomic = 0;
	json_t *body = NULL, *arr = NULL;
	if ((rc = api_bool_param(r, "atomic", &atomic)) != FD_OK || (rc = req_json_body(r, &body)) != FD_OK)
		return rc;
	atomic = atomic == 1;
	if ((rc = read_items(r, body, &arr)) != FD_OK) {
		json_decref(body);
		return rc;
	}
	size_t n = json_array_size(arr);
	rc = req_charge(r, (double)n - 1); /* each item weighs a request; the request itself was one */
	if (rc != FD_OK) {
		json_decref(body);
		return rc;
	}
	struct user_item *items = calloc(n, sizeof *items);
	if (!items) {
		json_decref(body);
		return FD_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		parse_item(json_array_get(arr, i), i, &items[i]);
		if (!items[i].problem)
			prepare_item(r, &items[i], i);
	}
	size_t pre_failed = 0;
	for (size_t i = 0; i < n; i++)
		pre_failed += items[i].problem != NULL;
	int applied = !(atomic && pre_failed); /* atomic with a failed item: nothing goes to the store */
	if (applied) {
		rc = run_items(r, items, n, atomic);
		applied = rc == FD_OK;
	}
	size_t failed = 0, first_failed = n;
	for (size_t i = 0; i < n; i++) {
		if (items[i].problem) {
			failed++;
			if (first_failed == n)
				first_failed = i;
		}
	}
	json_t *results = json_array();
	for (size_t i = 0; results && i < n; i++)
		json_array_append_new(results, item_result(&items[i], i, applied, first_failed));
	items_free(items, n);
	json_decref(body);
	json_t *out = json_pack("{sbsIsIso}", "atomic", atomic, "succeeded",
	                        (json_int_t)(applied ? n - failed : 0), "failed", (json_int_t)failed, "results", results);
	if (!out)
		return FD_ENOMEM;
	if (atomic && !applied) {
		char d[160];
		snprintf(d, sizeof d, "%zu of %zu items failed; the batch is atomic, so nothing was applied", failed, n);
		return reply_problem_with(r, FD_EINVALID, d, NULL, out);
	}
	return reply_json(r, 200, out);
}
