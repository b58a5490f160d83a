/*
 * audit.c - GET /org/{org_id}/audit-log: the org's audit records, newest
 * first, filtered and paged. Admins only.
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/handlers.h"
#include "core/util.h"

static const char *const audit_params[] = {"target_type", "target_id", "actor_id", "action", "from", "to", NULL};

/* Reads an optional string filter of at most 128 bytes. */
static enum fd_err str_filter(struct req *r, const char *name, const char **out)
{
	*out = req_query(r, name);
	if (*out && (strlen(*out) == 0 || strlen(*out) > 128))
		return reply_problem(r, FD_EBADREQ, "a filter is empty or too long",
		                     json_pack("[o]", problem_field(name, "must be 1 to 128 characters")));
	return FD_OK;
}

/* Reads an optional RFC 3339 bound into out (normalised to the stored form). */
static enum fd_err time_filter(struct req *r, const char *name, char out[FD_TIME_LEN + 1], const char **ptr)
{
	const char *s = req_query(r, name);
	*ptr = NULL;
	if (!s)
		return FD_OK;
	int64_t ms;
	if (util_parse_rfc3339(s, &ms) != FD_OK)
		return reply_problem(r, FD_EBADREQ, "a time filter is not RFC 3339",
		                     json_pack("[o]", problem_field(name, "must be an RFC 3339 timestamp")));
	util_format_rfc3339(ms, out);
	*ptr = out;
	return FD_OK;
}

enum fd_err audit_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_AUDIT_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	struct store_audit_query q = {.org_id = req_param(r, 0)};
	char from[FD_TIME_LEN + 1], to[FD_TIME_LEN + 1];
	rc = api_limit(r, &q.limit);
	if (rc == FD_OK)
		rc = str_filter(r, "target_type", &q.target_type);
	if (rc == FD_OK)
		rc = str_filter(r, "target_id", &q.target_id);
	if (rc == FD_OK)
		rc = str_filter(r, "actor_id", &q.actor_id);
	if (rc == FD_OK)
		rc = str_filter(r, "action", &q.action);
	if (rc == FD_OK)
		rc = time_filter(r, "from", from, &q.from);
	if (rc == FD_OK)
		rc = time_filter(r, "to", to, &q.to);
	if (rc != FD_OK)
		return rc;
	const char *c = req_query(r, "cursor");
	if (c) {
		json_t *j = NULL;
		rc = api_cursor_decode(r, c, &j);
		if (rc != FD_OK)
			return rc;
		json_t *b = json_object_get(j, "b");
		q.before_id = json_is_integer(b) ? json_integer_value(b) : 0;
		json_decref(j);
		if (q.before_id <= 0)
			return reply_problem(r, FD_EBADREQ, "the cursor is not valid",
			                     json_pack("[o]", problem_field("cursor", "is not an audit-log cursor")));
	}
	json_t *items = NULL;
	int has_more = 0;
	int64_t last = 0;
	rc = store_audit_list(req_store(r), &q, &items, &has_more, &last);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	if (has_more) {
		json_t *next = json_pack("{sI}", "b", (json_int_t)last);
		char *enc = next ? api_cursor_encode(next) : NULL;
		json_decref(next);
		if (enc)
			api_link_next(r, audit_params, q.limit, enc);
		free(enc);
	}
	return reply_json(r, 200, items);
}
