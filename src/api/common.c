/* common.c - shared handler helpers. */
#include "api/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

struct store_actor api_actor(struct req *r)
{
	struct store_actor a = {
	    .type = r->principal->actor_type,
	    .id = r->principal->actor_id,
	    .name = r->principal->actor_name,
	    .request_id = r->request_id,
	};
	return a;
}

enum fd_err api_allowed(struct req *r, enum policy_action action, enum role target_role, enum role new_role)
{
	struct policy_request pr = {
	    .action = action,
	    .org_id = req_param(r, 0),
	    .target_role = target_role,
	    .new_role = new_role,
	};
	return policy_check(r->principal, &pr);
}

enum fd_err api_authorize(struct req *r, enum policy_action action, enum role target_role, enum role new_role)
{
	enum fd_err rc = api_allowed(r, action, target_role, new_role);
	if (rc == FD_ENOTFOUND)
		return reply_problem(r, rc, "no such resource", NULL);
	if (rc == FD_EFORBIDDEN)
		return reply_problem(r, rc, "your role may not do this", NULL);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	return FD_OK;
}

void api_etag_of(int64_t version, char tag[API_ETAG_LEN])
{
	snprintf(tag, API_ETAG_LEN, "\"%lld\"", (long long)version);
}

void api_set_etag(struct req *r, int64_t version)
{
	char etag[API_ETAG_LEN];
	api_etag_of(version, etag);
	reply_header(r, "ETag", etag);
}

/* 1 if the comma-separated entity-tag list in h holds want (strong comparison) or "*". */
static int etag_list_matches(const char *h, const char *want, int weak_ok)
{
	size_t wl = strlen(want);
	const char *p = h;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		size_t n = (size_t)(end - start);
		if (n == 1 && *start == '*')
			return 1;
		if (weak_ok && n > 2 && start[0] == 'W' && start[1] == '/') {
			start += 2;
			n -= 2;
		}
		if (n == wl && memcmp(start, want, wl) == 0)
			return 1;
	}
	return 0;
}

enum fd_err api_if_match_tag(struct req *r, const char *tag)
{
	const char *h = req_header(r, "If-Match");
	if (!h)
		return FD_OK;
	return etag_list_matches(h, tag, 0) ? FD_OK : FD_EPRECOND;
}

int api_if_none_match_tag(struct req *r, const char *tag)
{
	const char *h = req_header(r, "If-None-Match");
	return h && etag_list_matches(h, tag, 1);
}

enum fd_err api_if_match(struct req *r, int64_t version)
{
	char tag[API_ETAG_LEN];
	api_etag_of(version, tag);
	return api_if_match_tag(r, tag);
}

int api_if_none_match(struct req *r, int64_t version)
{
	char tag[API_ETAG_LEN];
	api_etag_of(version, tag);
	return api_if_none_match_tag(r, tag);
}

enum fd_err api_bool_param(struct req *r, const char *name, int *out)
{
	const char *s = req_query(r, name);
	*out = -1;
	if (!s)
		return FD_OK;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return api_bad_param(r, name, "must be true or false");
	return FD_OK;
}

enum fd_err api_limit(struct req *r, int *limit)
{
	const char *s = req_query(r, "limit");
	*limit = 100;
	if (!s)
		return FD_OK;
	long long v;
	if (util_parse_int(s, 1, 1000, &v) != FD_OK)
		return reply_problem(r, FD_EBADREQ, "limit must be an integer from 1 to 1000",
		                     json_pack("[o]", problem_field("limit", "must be an integer from 1 to 1000")));
	*limit = (int)v;
	return FD_OK;
}

char *api_cursor_encode(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	if (!s)
		return NULL;
	char *enc = util_b64url_encode(s, strlen(s));
	free(s);
	return enc;
}

enum fd_err api_cursor_decode(struct req *r, const char *s, json_t **obj)
{
	char *raw = NULL;
	size_t len = 0;
	json_t *j = NULL;
	if (strlen(s) <= 2048 && util_b64url_decode(s, &raw, &len) == FD_OK)
		j = json_loadb(raw, len, 0, NULL);
	free(raw);
	if (!json_is_object(j)) {
		json_decref(j);
		return reply_problem(r, FD_EBADREQ, "the cursor is not valid",
		                     json_pack("[o]", problem_field("cursor", "is not a cursor this server issued")));
	}
	*obj = j;
	return FD_OK;
}

char *api_url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static enum fd_err append_param(struct buf *b, const char *name, const char *value)
{
	char *enc = api_url_encode(value);
	if (!enc)
		return FD_ENOMEM;
	enum fd_err rc = buf_puts(b, b->len && strchr(b->data, '?') ? "&" : "?");
	if (rc == FD_OK)
		rc = buf_puts(b, name);
	if (rc == FD_OK)
		rc = buf_puts(b, "=");
	if (rc == FD_OK)
		rc = buf_puts(b, enc);
	free(enc);
	return rc;
}

void api_link_next(struct req *r, const char *const *names, int limit, const char *cursor)
{
	struct buf b;
	buf_init(&b, 16384);
	enum fd_err rc = buf_puts(&b, "<");
	if (rc == FD_OK)
		rc = buf_puts(&b, req_base_url(r));
	if (rc == FD_OK)
		rc = buf_puts(&b, r->path);
	for (const char *const *n = names; rc == FD_OK && *n; n++) {
		const char *v = req_query(r, *n);
		if (v)
			rc = append_param(&b, *n, v);
	}
	char lim[16];
	snprintf(lim, sizeof lim, "%d", limit);
	if (rc == FD_OK)
		rc = append_param(&b, "limit", lim);
	if (rc == FD_OK)
		rc = append_param(&b, "cursor", cursor);
	if (rc == FD_OK)
		rc = buf_puts(&b, ">; rel=\"next\"");
	if (rc == FD_OK)
		reply_header(r, "Link", b.data);
	buf_release(&b);
}

char *api_form_value(const char *body, size_t len, const char *key)
{
	size_t kl = strlen(key);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t vl = (size_t)(stop - v);
			char *out = malloc(vl + 1);
			if (!out)
				return NULL;
			size_t o = 0;
			for (size_t i = 0; i < vl; i++) {
				if (v[i] == '+') {
					out[o++] = ' ';
				} else if (v[i] == '%' && i + 2 < vl) {
					char hx[3] = {v[i + 1], v[i + 2], 0};
					char *e = NULL;
					long c = strtol(hx, &e, 16);
					if (e != hx + 2) {
						free(out);
						return NULL;
					}
					out[o++] = (char)c;
					i += 2;
				} else {
					out[o++] = v[i];
				}
			}
			out[o] = '\0';
			return out;
		}
		p = stop + 1;
	}
	return NULL;
}

enum fd_err api_reply_invalid(struct req *r, json_t *errors)
{
	char d[64];
	size_t n = json_array_size(errors);
	snprintf(d, sizeof d, "%zu field%s invalid", n, n == 1 ? " is" : "s are");
	return reply_problem(r, FD_EINVALID, d, errors);
}

enum fd_err api_bad_param(struct req *r, const char *name, const char *detail)
{
	char d[200];
	snprintf(d, sizeof d, "%s %s", name, detail);
	return reply_problem(r, FD_EBADREQ, d, json_pack("[o]", problem_field(name, detail)));
}

enum fd_err api_reply_bad_building(struct req *r)
{
	return reply_problem(
	    r, FD_EINVALID, "building_id is not a building of this user",
	    json_pack("[o]", problem_field("building_id", "is not a building of this user (or it is deleted)")));
}

enum fd_err api_reply_create_failed(struct req *r, enum fd_err rc, const char *plural)
{
	char d[160];
	switch (rc) {
	case FD_ENOTFOUND:
		return reply_problem(r, rc, "no such user", NULL);
	case FD_ECONFLICT:
		return reply_problem(r, rc, "the user is deleted; restore the user first", NULL);
	case FD_EINVALID:
		return api_reply_bad_building(r);
	case FD_ETOOLARGE:
		snprintf(d, sizeof d, "the user already has %d %s, the most one user may have; delete one first",
		         STORE_MAX_PER_USER, plural);
		return reply_problem(r, FD_ECONFLICT, d, NULL);
	default:
		return reply_problem(r, rc, NULL, NULL);
	}
}

int api_unknown_members(json_t *body, const char *const *allowed, const char *what, json_t *errors)
{
	int n = 0;
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		int ok = 0;
		for (int i = 0; allowed[i] && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (ok)
			continue;
		char list[256] = "", detail[400];
		for (int i = 0; allowed[i]; i++) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
		}
		snprintf(detail, sizeof detail, "is not a field of %s (%s)", what, list);
		json_array_append_new(errors, problem_field(key, detail));
		n++;
	}
	return n;
}

const char *api_body_string(json_t *body, const char *name, size_t max, json_t *errors)
{
	json_t *v = json_object_get(body, name);
	const char *s = json_string_value(v);
	char detail[96];
	if (!v)
		snprintf(detail, sizeof detail, "is required");
	else if (!s)
		snprintf(detail, sizeof detail, "must be a string");
	else if (!*s || strlen(s) > max)
		snprintf(detail, sizeof detail, "must be 1 to %zu bytes", max);
	else
		return s;
	json_array_append_new(errors, problem_field(name, detail));
	return NULL;
}
