/*
 * common.h - helpers every resource handler shares: the audit actor of a
 * request, ETags and If-Match, cursors and next links, query parameters.
 */
#ifndef FD_API_COMMON_H
#define FD_API_COMMON_H

#include <stdint.h>

#include <jansson.h>

#include "auth/policy.h"
#include "http/request.h"
#include "store/store.h"

#define API_PREFIX "/api/partners/v2.0"

/* The audit actor for r (borrows from r). */
struct store_actor api_actor(struct req *r);

/* Checks the policy for r against the path's org (path parameter 0).
 * Replies and returns the error when denied. */
enum fd_err api_authorize(struct req *r, enum policy_action action, enum role target_role, enum role new_role);
/* The same decision without a reply (for one item of a batch). */
enum fd_err api_allowed(struct req *r, enum policy_action action, enum role target_role, enum role new_role);

#define API_ETAG_LEN 48

/* The entity tag of a record at version: "\"42\"". */
void api_etag_of(int64_t version, char tag[API_ETAG_LEN]);
/* Sets the ETag header for version. */
void api_set_etag(struct req *r, int64_t version);
/* If-Match and If-None-Match against a quoted entity tag (for records whose
 * representation also changes with time, such as devices). */
enum fd_err api_if_match_tag(struct req *r, const char *tag);
int api_if_none_match_tag(struct req *r, const char *tag);

/*
 * Evaluates If-Match against version. FD_OK when absent or matching,
 * FD_EPRECOND when it does not match (the caller replies).
 */
enum fd_err api_if_match(struct req *r, int64_t version);
/* 1 when If-None-Match matches version (the caller answers 304). */
int api_if_none_match(struct req *r, int64_t version);

/* A true/false (or 1/0) query parameter: *out 1, 0, or -1 when absent.
 * Replies 400 naming it otherwise. */
enum fd_err api_bool_param(struct req *r, const char *name, int *out /* OUT */);

/* Parses the limit parameter (default 100, 1..1000). Replies 400 on error. */
enum fd_err api_limit(struct req *r, int *limit /* OUT */);

/*
 * Encodes a cursor object as an opaque string (malloc'd, caller frees), and
 * decodes one (new reference in *obj). Decoding replies 400 on failure.
 */
char *api_cursor_encode(json_t *obj);
enum fd_err api_cursor_decode(struct req *r, const char *s, json_t **obj /* OUT */);

/*
 * Sets Link: <base path?query>; rel="next", where query is the request's
 * own parameters among names (NULL-terminated) plus limit and cursor.
 */
void api_link_next(struct req *r, const char *const *names, int limit, const char *cursor);

/* Percent-encodes s for a query string. malloc'd, caller frees. */
char *api_url_encode(const char *s);

/* Appends to errors an entry for each member of body not in allowed
 * (NULL-terminated): "is not a field of {what} (allowed)". Returns how many. */
int api_unknown_members(json_t *body, const char *const *allowed, const char *what, json_t *errors);
/* A required string member of body, 1 to max bytes (after no trimming):
 * the string, or NULL having appended an error naming it to errors. */
const char *api_body_string(json_t *body, const char *name, size_t max, json_t *errors);

/* Replies 422 with errors (stolen), "N fields are invalid". */
enum fd_err api_reply_invalid(struct req *r, json_t *errors);

/* What a client sees of a background job (jobs.c; new reference). */
json_t *api_job_view(json_t *job);

/* Queues a job of kind with params (borrowed) for the caller, total its
 * rows when known (< 0: not yet), and replies 202 with the job and its
 * Location; what names the job in the problem when it cannot be created
 * (then the reply is that problem and its error is returned). jobs.c. */
enum fd_err api_job_start(struct req *r, const char *kind, json_t *params, int64_t total, const char *what);

/* An export (export.h) as params says (stolen): streamed now, or with job
 * made a job (202) whose file comes from GET /jobs/{id}/result (exports.c). */
enum fd_err api_export(struct req *r, json_t *params, int job);
/* An export's ?format: "csv" (also when absent) or "jsonl"; else replies 400. */
enum fd_err api_export_format(struct req *r, const char **format /* OUT */);
/* Replies 400 naming the query parameter: "{name} {detail}". */
enum fd_err api_bad_param(struct req *r, const char *name, const char *detail);

/* Replies 422: building_id is not a live building of the user. */
enum fd_err api_reply_bad_building(struct req *r);
/* Replies for a failed create of something a user owns (plural names it,
 * "heat-pumps"): 404 no such user, 409 a deleted user or the per-user limit,
 * 422 a building_id that is not the user's; any other error as its problem. */
enum fd_err api_reply_create_failed(struct req *r, enum fd_err rc, const char *plural);

/* The decoded value of key in an application/x-www-form-urlencoded body
 * (malloc'd, caller frees), or NULL when absent or malformed. */
char *api_form_value(const char *body, size_t len, const char *key);

#endif
