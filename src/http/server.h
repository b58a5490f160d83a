/*
 * server.h - the HTTP server: libmicrohttpd, a thread pool on epoll.
 *
 * The server owns the request lifecycle: it matches the route, reads a
 * bounded body, authenticates the bearer token, calls the handler, writes
 * the reply with the security headers and X-Request-Id, then records
 * metrics and one access-log line when libmicrohttpd reports completion.
 */
#ifndef FD_SERVER_H
#define FD_SERVER_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/router.h"

struct store;
struct server;

struct server_config {
	const char *listen; /* "HOST:PORT", "[v6]:PORT" */
	int threads;        /* worker threads, >= 1 */
	const char
	    *public_url;       /* "https://desk.example.com" as clients reach it (links we hand out); NULL: from Host */
	double rate;           /* requests a second per credential; 0: no limit */
	double burst;          /* the most a credential may send at once */
	const char *spool_dir; /* where upload routes spool their bodies (the jobs directory) */
	struct jobs *jobs;     /* handed to handlers by req_jobs() */
	int session_idle_s;    /* a session ends after this long without a request; 0: the default */
	int session_max_s;     /* and this long after sign-in in any case; 0: the default */
};

#define SESSION_IDLE_DEFAULT_MS (30LL * 60 * 1000)
#define SESSION_MAX_DEFAULT_MS  (12LL * 3600 * 1000)

/* Failed credential checks (token exchanges, sign-ins) allowed at once per
 * account and per address, and how fast each allowance comes back. */
#define THROTTLE_ACCOUNT_BURST 10
#define THROTTLE_ACCOUNT_EVERY 30.0 /* seconds */
#define THROTTLE_ADDR_BURST    50
#define THROTTLE_ADDR_EVERY    6.0

/* Starts serving routes (n entries, borrowed for the server's life) from st.
 * The bound URL is available with server_url(). */
enum fd_err server_start(const struct server_config *cfg, struct store *st, const struct route *routes, size_t n,
                         struct server **out /* OUT */);

/* "http://HOST:PORT" as bound (borrowed). */
const char *server_url(struct server *s);

/* Stops accepting, tells streamed replies to end (closing), waits up to
 * grace_ms for in-flight requests, stops and frees. */
void server_stop(struct server *s, int grace_ms);

/* The most streamed replies that may wait for news at once (long polls,
 * event streams); more get 503. */
#define SERVER_MAX_WAITING 256

/* Calls every parked streamed reply again (reply_stream's STREAM_WAIT):
 * something they may wait for happened. Any thread; the serve loop also
 * calls it each second, so a parked reply looks again at least that often. */
void server_wake(struct server *s);

/* Appends the Prometheus metrics of s to out. */
enum fd_err server_metrics_render(struct server *s, struct buf *out);

#endif
