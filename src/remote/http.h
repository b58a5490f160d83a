/*
 * http.h - the client's HTTP session with a fleetdesk server, over libcurl.
 *
 * One session holds the server's root URL, the bearer token and one curl
 * handle (so the connection is reused). rhttp_send makes one logical
 * request and retries it when that is safe and useful:
 *
 * - on a connection failure, a timeout, and the replies 429, 502, 503 and
 *   504 (and a 409 with Retry-After to a request with an Idempotency-Key:
 *   the first attempt still runs on the server), up to `retries` times;
 * - waiting Retry-After when the reply has one, else an exponential backoff
 *   with full jitter (a random wait between 0 and 0.5 s * 2^attempt, at
 *   most 30 s);
 * - every POST carries an Idempotency-Key (128 random bits from libsodium,
 *   in hex), the same on each retry, so a request whose reply was lost is
 *   never applied twice;
 * - a reply streamed to a sink is not retried once its body has started.
 *
 * Before each attempt the session waits for its own token bucket (`rate`
 * requests a second, a burst of one second's worth) and for the server's,
 * as its last RateLimit and RateLimit-Policy headers described it: a
 * request that weighs more than the bucket held (a bulk request weighs one
 * per item) waits for the refill, and an empty bucket (r=0) waits for it.
 *
 * The token is never printed: not in errors, not in the verbose lines
 * (which show the method, path, status, timing and retries), and it is
 * wiped from memory when the session is freed.
 */
#ifndef FD_REMOTE_HTTP_H
#define FD_REMOTE_HTTP_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"

#define RHTTP_PREFIX   "/api/partners/v2.0"
#define RHTTP_BODY_MAX (64 * 1024 * 1024) /* a reply body held in memory */
#define RHTTP_URL_MAX  8192

struct rhttp_config {
	const char *base_url;             /* the server's root, http:// or https:// (copied) */
	const char *token;                /* the bearer token (copied, wiped on free) */
	double rate;                      /* the session's requests a second; 0: no limit */
	int retries;                      /* attempts after the first */
	long timeout_s;                   /* connect timeout, and a transfer that moves nothing this long fails */
	int verbose;                      /* one line on stderr per attempt */
	volatile sig_atomic_t *interrupt; /* set by a signal handler: stop waiting and abort; may be NULL */
};

struct rhttp_request {
	const char *method;       /* GET, POST, PUT, DELETE */
	const char *path;         /* under RHTTP_PREFIX ("/me", "/org/ID/users?limit=5"), or a Link's absolute URL */
	const char *content_type; /* of the body; NULL: none */
	const char *body;         /* a body in memory (body_len bytes), or */
	size_t body_len;
	FILE *upload; /* a body read from this file, from its offset now, upload_len bytes */
	int64_t upload_len;
	const char *if_match; /* sent as If-Match when not NULL */
	int weight;           /* its weight in the server's rate limit (a bulk's items); 0 counts as 1 */
	FILE *sink;           /* when set, a 2xx body is written here as it arrives, not kept */
	int uninterruptible;  /* the interrupt flag neither aborts nor stops it (a cancel request) */
	/* upload progress, called as the body goes out; may be NULL */
	void (*on_upload)(void *ctx, int64_t sent, int64_t total);
	void *ctx;
};

struct rhttp_response {
	long status;        /* the final attempt's HTTP status; 0 when none came */
	struct buf body;    /* the body, unless a 2xx went to the sink (bounded by RHTTP_BODY_MAX) */
	int64_t sink_bytes; /* bytes written to the sink */
	char content_type[128];
	char location[1024];
	char link_next[RHTTP_URL_MAX]; /* the Link rel="next" target, or "" */
	char etag[128];
	char request_id[80];
	long long total_count; /* X-Total-Count, or -1 */
	int replayed;          /* Idempotent-Replayed: true */
	int attempts;          /* attempts sent */
	int interrupted;       /* stopped by the interrupt flag */
	char error[320];       /* why there is no reply (rhttp_send's FD_EIO) */
};

struct rhttp;

/* A session. FD_EINVALID for a base URL that is not http(s)://, FD_ENOMEM,
 * FD_EIO when libcurl cannot start. The caller frees *out with rhttp_free. */
enum fd_err rhttp_new(const struct rhttp_config *cfg, struct rhttp **out /* OUT */);
void rhttp_free(struct rhttp *h);

/* Makes libcurl ready (once per process) and releases it. */
enum fd_err rhttp_global_init(void);
void rhttp_global_cleanup(void);

/* An empty response (rhttp_send does this itself). */
void rhttp_response_init(struct rhttp_response *resp);
/* Frees what resp holds; it may be reused after rhttp_response_init. */
void rhttp_response_release(struct rhttp_response *resp);

/*
 * Sends rq, retrying as the file comment says, and fills resp (initialised
 * here; the caller releases it). FD_OK when a reply came, whatever its
 * status (the last attempt's); FD_EIO when none came (resp->error says why,
 * resp->interrupted when the interrupt flag stopped it); FD_ETOOLARGE when
 * the body passed RHTTP_BODY_MAX; FD_ENOMEM.
 */
enum fd_err rhttp_send(struct rhttp *h, const struct rhttp_request *rq, struct rhttp_response *resp /* OUT */);

/* The body parsed as JSON (a new reference), or NULL when it is not JSON. */
json_t *rhttp_json(const struct rhttp_response *resp);

/* Appends "?name=value" (or "&name=value" when b already holds a '?'),
 * percent-encoding value. Does nothing when value is NULL. */
enum fd_err rhttp_query(struct buf *b, const char *name, const char *value);

/* Appends s percent-encoded (every byte but A-Z a-z 0-9 - . _ ~). */
enum fd_err rhttp_escape(struct buf *b, const char *s);

/* Waits up to seconds, returning early (1) when the interrupt flag is set. */
int rhttp_sleep(struct rhttp *h, double seconds);

#endif
