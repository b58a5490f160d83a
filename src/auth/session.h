/*
 * session.h - the web app's sign-in sessions.
 *
 * Signing in with email and password gives a session token ("fdss_", 256
 * random bits), sent back as an HttpOnly, SameSite=Strict cookie. The store
 * keeps its SHA-256 only. A session ends at sign-out, when its account is
 * deactivated, after idle_ms without a request, and at its absolute expiry.
 *
 * Requests that a cookie authenticates must, for every method but GET and
 * HEAD, carry the session's CSRF token in X-CSRF-Token. The CSRF token is a
 * keyed hash of the session token, so it needs no storage and a stolen CSRF
 * token says nothing about the session token.
 */
#ifndef FD_SESSION_H
#define FD_SESSION_H

#include <stdint.h>

#include "auth/policy.h"
#include "auth/token.h"
#include "store/store.h"

#define SESSION_COOKIE   "fd_session"
#define SESSION_CSRF_LEN 44    /* base64url of 32 bytes, with the NUL */
#define SESSION_TOUCH_MS 30000 /* activity is written at most this often per session (or idle/2) */

/*
 * Checks email and password and starts a session lasting max_ms.
 * FD_EUNAUTH for an unknown email, a wrong password, or a deactivated
 * account (the same answer, in about the same time, for all three).
 * token_out gets the session token, se the session.
 */
enum fd_err session_sign_in(struct store *st, const char *email, const char *password, const char *request_id,
                            int64_t max_ms, char token_out[TOKEN_MAX], struct store_session *se /* OUT */);

/*
 * Resolves a session token to its principal (actor type "staff": the staff
 * member's id, email and role) and session. FD_EUNAUTH when unknown, ended,
 * idle longer than idle_ms or past its expiry.
 */
enum fd_err session_authenticate(struct store *st, const char *token, int64_t idle_ms, struct principal *p /* OUT */,
                                 struct store_session *se /* OUT, may be NULL */);

/* The session's CSRF token. */
void session_csrf(const char *token, char out[SESSION_CSRF_LEN]);
/* 1 when given is the session's CSRF token (constant time). */
int session_csrf_ok(const char *token, const char *given);

#endif
