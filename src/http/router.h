/*
 * router.h - matching a method and path against a route table.
 *
 * Patterns are literal segments and "{name}" placeholders, e.g.
 * "/api/partners/v2.0/org/{org}/users/{id}". A single trailing slash on the
 * request path is ignored. Placeholders match one non-empty segment; a last
 * placeholder "{name*}" matches the non-empty rest of the path, slashes and all.
 */
#ifndef FD_ROUTER_H
#define FD_ROUTER_H

#include "core/err.h"
#include "http/request.h"

typedef enum fd_err (*route_handler)(struct req *r);

enum route_flags {
	ROUTE_AUTH = 1,      /* needs a bearer token */
	ROUTE_JSON_BODY = 2, /* reads a JSON body */
	ROUTE_SECRET_PATH = 4, /* the path carries a secret: the access log shows the pattern */
	ROUTE_UPLOAD = 8,      /* a large body (up to REQ_UPLOAD_MAX), authenticated first and spooled to a file */
};

struct route {
	const char *method;
	const char *pattern;
	route_handler handler;
	const char *name; /* for metrics and the access log */
	int flags;
	int arg; /* handler-specific, e.g. which device type the path names */
};

/*
 * Finds the route for method and path in the table (n entries).
 * FD_OK: *out is the route and params[] holds malloc'd path parameters
 * (caller frees them, count in *nparams).
 * FD_EMETHOD: the path exists with other methods; allow (OUT, size allow_len)
 * lists them comma-separated.
 * FD_ENOTFOUND: no such path.
 */
enum fd_err router_match(const struct route *table, size_t n, const char *method, const char *path,
                         const struct route **out, char *params[REQ_MAX_PARAMS], int *nparams, char *allow,
                         size_t allow_len);

#endif
