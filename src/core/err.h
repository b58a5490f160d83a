/*
 * err.h - the one error enum of fleetdesk.
 *
 * Every function that can fail returns an enum fd_err, FD_OK (0) on success.
 * The HTTP layer maps each value to a status and an RFC 9457 problem in one
 * place (http/reply.c); nothing deep inside prints an error.
 */
#ifndef FD_ERR_H
#define FD_ERR_H

enum fd_err {
	FD_OK = 0,
	FD_ENOMEM,     /* allocation failed                      -> 500 */
	FD_EBADREQ,    /* malformed request, bad parameter       -> 400 */
	FD_EUNAUTH,    /* no credentials or bad ones             -> 401 */
	FD_EFORBIDDEN, /* authenticated, but the role may not    -> 403 */
	FD_ENOTFOUND,  /* no such thing (or another org's)       -> 404 */
	FD_EMETHOD,    /* method not allowed on the path         -> 405 */
	FD_ECONFLICT,  /* unique constraint or state conflict    -> 409 */
	FD_EPRECOND,   /* If-Match did not match                 -> 412 */
	FD_ETOOLARGE,  /* body over the limit                    -> 413 */
	FD_EMEDIA,     /* unsupported Content-Type               -> 415 */
	FD_EINVALID,   /* well-formed but invalid content        -> 422 */
	FD_ETOOMANY,   /* over the rate limit or throttled       -> 429 */
	FD_EBUSY,      /* database busy / unavailable            -> 503 */
	FD_EIO,        /* storage or system failure              -> 500 */
	FD_ERR_COUNT
};

/* A short, stable, lower-case name for the error ("not_found"). Never NULL. */
const char *fd_err_name(enum fd_err rc);

#endif
