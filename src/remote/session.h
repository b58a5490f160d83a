/*
 * session.h - what every command of the HTTP client shares: the connection
 * options and their environment variables, the org a command acts in, the
 * report of a failed request, and Ctrl-C.
 *
 * Configuration, each flag over its variable:
 *   --url URL          FLEETDESK_URL    the server's root (http://host:port)
 *   --token TOKEN      FLEETDESK_TOKEN  the bearer token
 *   --token-file PATH                   the token, from the file's first line
 *   --org ORG_ID       FLEETDESK_ORG    else the token's own org (GET /me)
 *   --rate N --retries N --timeout S --verbose
 *
 * A usage error (a missing URL or token, a bad value) prints one line on
 * stderr and is exit status 2; a failed request is reported (the problem's
 * detail and its errors) and is exit status 1. The token never appears in
 * anything printed.
 */
#ifndef FD_REMOTE_SESSION_H
#define FD_REMOTE_SESSION_H

#include <signal.h>

#include "core/util.h"
#include "remote/http.h"
#include "remote/opts.h"

/* The connection options, to put first in every command's option table. */
#define SESSION_OPTS                                                                                                   \
	{.name = "url", .has_arg = 1}, {.name = "token", .has_arg = 1}, {.name = "token-file", .has_arg = 1},          \
	    {.name = "org", .has_arg = 1}, {.name = "rate", .has_arg = 1}, {.name = "retries", .has_arg = 1},          \
	    {.name = "timeout", .has_arg = 1},                                                                         \
	{                                                                                                              \
		.name = "verbose"                                                                                      \
	}

/* Their help, for the end of every command's help text. */
extern const char session_help[];

#define SESSION_RATE_DEFAULT    50
#define SESSION_RETRIES_DEFAULT 6
#define SESSION_TIMEOUT_DEFAULT 60
#define SESSION_TOKEN_MAX       4096

struct session {
	const char *cmd; /* "users list": messages start "fleetdesk: users list: " */
	struct rhttp *http;
	char org[FD_UUID_LEN + 1]; /* "" until resolved */
	int verbose;
};

/* Set by the Ctrl-C handler (session_catch_interrupt); every session's
 * requests watch it. */
extern volatile sig_atomic_t session_interrupted;

/*
 * Reads the connection options from opts (and the environment) and opens
 * the session; with need_org, resolves the org (--org, FLEETDESK_ORG, or
 * GET /me). Returns 0, or the exit status after reporting (2 for a usage
 * error, 1 for a failure). The caller closes s with session_close either way.
 */
int session_open(struct session *s, const char *cmd, struct ropt *opts, size_t n, int need_org);
void session_close(struct session *s);

/* Sends rq (rhttp_send) on the session. */
enum fd_err session_send(struct session *s, const struct rhttp_request *rq, struct rhttp_response *resp /* OUT */);

/*
 * Reports on stderr why a request failed: rc's transport error, or the
 * reply's status with its problem (detail, each errors[] entry's pointer and
 * detail, the request id). what names the request ("cannot get the user").
 * Returns 1, the exit status.
 */
int session_fail(const struct session *s, enum fd_err rc, const struct rhttp_response *resp, const char *what);

/* Prints "fleetdesk: CMD: " and the message built from fmt on stderr. */
void session_say(const struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints each errors[] entry of the problem ("  POINTER: DETAIL") on stderr. */
void session_print_problem(json_t *problem);

/* Appends "/org/ORG" and tail to b. */
enum fd_err session_org_path(const struct session *s, struct buf *b, const char *tail);

/*
 * Walks a list: GETs path (a bare JSON array) and calls each(ctx, item) for
 * every element, following Link rel="next" while all is set. *total is the
 * last X-Total-Count (-1 when none), *more whether a further page was left
 * unread. Returns 0, or the exit status after reporting (what names the
 * list: "cannot list the users").
 */
int session_list(struct session *s, const char *path, int all, enum fd_err (*each)(void *ctx, json_t *item), void *ctx,
                 long long *total /* OUT */, int *more /* OUT */, const char *what);

/* Catches Ctrl-C (SIGINT): the first sets session_interrupted, so the
 * running command stops cleanly; the second exits at once with status 1. */
void session_catch_interrupt(void);

/* A short English name of an HTTP status ("Not Found"), or "". */
const char *session_status_text(long status);

#endif
