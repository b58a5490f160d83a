/*
 * request.h - one HTTP request as a handler sees it, and how it replies.
 *
 * A handler has the signature `enum fd_err h(struct req *r)`. It reads the
 * request with req_*(), asks the policy, calls the store, and replies with
 * reply_json()/reply_empty()/reply_problem(). If it returns an error
 * without replying, the server replies with the problem for that error.
 *
 * Ownership: the struct req and everything hanging off it belong to the
 * server and are freed when libmicrohttpd reports the request complete.
 */
#ifndef FD_REQUEST_H
#define FD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/policy.h"
#include "core/buf.h"
#include "core/err.h"

#define REQ_MAX_PARAMS  4
#define REQ_MAX_HEADERS 16
#define REQ_BODY_MAX    (1024 * 1024)
#define REQ_UPLOAD_MAX  (4LL * 1024 * 1024 * 1024) /* an upload route's body */

struct MHD_Connection;
struct route;
struct server;

struct req {
	struct MHD_Connection *conn;
	struct server *srv;
	const char *method;
	const char *path; /* without the query string */
	char request_id[65];
	uint64_t start_ns;

	const struct route *route;
	char *params[REQ_MAX_PARAMS]; /* path parameters, owned */
	int nparams;

	struct buf body;
	int body_too_large;
	int body_started;
	/* an upload route's body, spooled to a file in the spool directory */
	FILE *upload;
	char *upload_path; /* owned; the file is removed with the request unless taken */
	int64_t upload_len;
	int64_t upload_lines; /* line breaks seen in it */

	struct idem *idem; /* owned: the Idempotency-Key state of a POST that has one */
	int rl_set;        /* rl holds the caller's bucket after this request's charges */
	double rl_charged; /* what this request has taken from the bucket */
	double rl_remaining, rl_reset;

	const struct principal *principal; /* NULL until authenticated */
	struct principal principal_storage;

	/* the reply */
	struct stream *stream; /* a streamed body (reply_stream), shared with libmicrohttpd */
	int replied;
	unsigned status;
	char *resp_body; /* owned */
	size_t resp_len;
	const char *content_type;
	char *hdr_name[REQ_MAX_HEADERS];  /* owned */
	char *hdr_value[REQ_MAX_HEADERS]; /* owned */
	int nhdr;
};

/* A query parameter, a header, or a path parameter; NULL if absent. Borrowed. */
const char *req_query(struct req *r, const char *name);
const char *req_header(struct req *r, const char *name);
const char *req_param(struct req *r, int i);
/* An upload route's body: the file positioned at its start (borrowed), or
 * NULL when none was sent. */
FILE *req_upload(struct req *r);
/* Moves the upload's file to path (in the same file system): it is then the
 * caller's, and no longer removed with the request. */
enum fd_err req_take_upload(struct req *r, const char *path);
/* The background jobs of the server handling r (NULL when it runs none). */
struct jobs *req_jobs(struct req *r);
/* The store of the server handling r. */
struct store *req_store(struct req *r);
/* The absolute base URL the client used ("http://host:port"). */
const char *req_base_url(struct req *r);
/* A cookie the client sent; NULL if absent. Borrowed. */
const char *req_cookie(struct req *r, const char *name);
/* The server's session lifetimes: idle and absolute, in ms. */
void req_session_limits(struct req *r, int64_t *idle_ms /* OUT */, int64_t *max_ms /* OUT */);
/* 1 when clients reach the server over https (its public URL says so):
 * cookies are then marked Secure. */
int req_secure(struct req *r);

/*
 * Charges the caller's rate-limit bucket cost more requests (a batch counts
 * each item; the request itself was charged 1). FD_OK, or FD_ETOOMANY
 * having replied 429 with Retry-After. FD_OK when there is no limit.
 */
enum fd_err req_charge(struct req *r, double cost);

/*
 * Failed credential checks, throttled per account and per address.
 * req_throttle_check replies 429 (FD_ETOOMANY) while account or the
 * client's address has used up its failures; after checking the
 * credentials, req_throttle_result(ok = 0) counts a failure and ok = 1
 * clears the account's count.
 */
enum fd_err req_throttle_check(struct req *r, const char *account);
void req_throttle_result(struct req *r, const char *account, int ok);
/* The client's address ("127.0.0.1", "::1") into out (64 bytes). */
void req_client_addr(struct req *r, char out[64]);

/*
 * Parses the body as a JSON object. On failure it replies (415, 400, 422)
 * and returns the error. The object (OUT) belongs to the caller.
 */
enum fd_err req_json_body(struct req *r, json_t **obj /* OUT */);

/* Adds a response header (copied). */
void reply_header(struct req *r, const char *name, const char *value);
/* 1 when a response header of that name (any case) was added. */
int reply_has_header(const struct req *r, const char *name);
/* Replies with body as JSON (the reference is stolen). */
enum fd_err reply_json(struct req *r, unsigned status, json_t *body);
/* Replies with a preformatted body (copied). */
enum fd_err reply_raw(struct req *r, unsigned status, const char *content_type, const char *body, size_t len);
/* Replies with body, taking ownership of it (malloc'd; freed by the server). */
enum fd_err reply_take(struct req *r, unsigned status, const char *content_type, char *body, size_t len);
/* Replies with no body (204, 304). */
enum fd_err reply_empty(struct req *r, unsigned status);

/*
 * A streamed reply, for bodies made while they are sent (exports, event
 * streams, long polls): produce is called each time the client can take
 * more, with room for max bytes, and returns how many it wrote, or:
 *   STREAM_WAIT  nothing yet: the connection is parked, without holding a
 *                thread, until server_wake() or the next second, then
 *                produce is called again;
 *   STREAM_END   the body is complete;
 *   STREAM_FAIL  give up: the connection is closed, the body cut short.
 * closing is 1 once the server is stopping: produce should end soon, and
 * STREAM_WAIT then counts as STREAM_END. release (may be NULL) frees ctx
 * when the reply is over, however it ended; it is called exactly once, also
 * when reply_stream fails. With waits, the reply may park: FD_EBUSY (and
 * no reply) when too many parked replies are open already (SERVER_MAX_WAITING).
 */
#define STREAM_WAIT 0
#define STREAM_END  (-1)
#define STREAM_FAIL (-2)
struct stream_ops {
	long (*produce)(void *ctx, char *buf, size_t max, int closing);
	void (*release)(void *ctx);
};
enum fd_err reply_stream(struct req *r, unsigned status, const char *content_type, const struct stream_ops *ops,
                         void *ctx, int waits);

/*
 * reply_stream for bodies made a part at a time: next appends the next part
 * to out (a page of rows; at most 256 MiB) and sets *state to
 * CHUNK_MORE, CHUNK_DONE (out holds the last part, maybe nothing) or
 * CHUNK_WAIT (nothing new yet: called again after server_wake). An error
 * from next cuts the body short. release, ops and ctx as for reply_stream.
 */
enum chunk_state { CHUNK_MORE, CHUNK_DONE, CHUNK_WAIT };
struct chunk_ops {
	enum fd_err (*next)(void *ctx, struct buf *out, int closing, enum chunk_state *state);
	void (*release)(void *ctx);
};
enum fd_err reply_chunks(struct req *r, unsigned status, const char *content_type, const struct chunk_ops *ops,
                         void *ctx, int waits);
/* The same, with the body's first part already made (copied from first);
 * done: it was the last. */
enum fd_err reply_chunks_first(struct req *r, unsigned status, const char *content_type, const struct chunk_ops *ops,
                               void *ctx, const struct buf *first, int done);

/*
 * Replies with an RFC 9457 problem for rc. detail may be NULL; errors is an
 * array of {field, pointer, detail} (stolen, may be NULL). Returns rc, so a
 * handler can `return reply_problem(...)`.
 */
enum fd_err reply_problem(struct req *r, enum fd_err rc, const char *detail, json_t *errors);

/* The same with extension members: extra's members are added (stolen, may be NULL). */
enum fd_err reply_problem_with(struct req *r, enum fd_err rc, const char *detail, json_t *errors, json_t *extra);
/* A problem object for rc without instance or request id, for one item of
 * a batch (errors stolen, may be NULL). New reference, NULL on no memory. */
json_t *problem_new(enum fd_err rc, const char *detail, json_t *errors);

/* One entry of a problem's errors array: field is one member name (its
 * pointer escapes "/" and "~"). New reference. */
json_t *problem_field(const char *field, const char *detail);
/* Puts the member or index seg in front of an entry's field ("a/b") and
 * pointer ("/seg/a/b"), for errors inside nested objects. Returns e. */
json_t *problem_prefix(json_t *e, const char *seg);

/* The HTTP status of an error. */
unsigned problem_status(enum fd_err rc);

#endif
