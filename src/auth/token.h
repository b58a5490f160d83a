/*
 * token.h - bearer tokens and OAuth2 client secrets.
 *
 * Tokens and secrets are 32 random bytes, base64url, with a prefix that
 * says what they are ("fdt_" API token, "fdo_" OAuth2 access token, "fds_"
 * client secret). Only their SHA-256 is stored: they carry 256 bits of
 * entropy, so a slow password hash would add cost and no safety.
 */
#ifndef FD_TOKEN_H
#define FD_TOKEN_H

#include <stddef.h>

#include "auth/policy.h"
#include "core/err.h"
#include "store/store.h"

#define TOKEN_MAX 64 /* longest token/secret string, with the NUL */

/* Writes a new random secret with the given prefix into out[TOKEN_MAX]. */
void token_generate(const char *prefix, char out[TOKEN_MAX]);

/* The hex SHA-256 of a token, as stored. */
void token_hash(const char *token, char out[65]);

/*
 * Resolves a bearer token to its principal. Resolutions are cached for up
 * to 2 s (never past the token's expiry), so a revocation made by another
 * process takes effect within 2 s.
 * FD_EUNAUTH for an unknown, revoked or expired token; FD_EBUSY/FD_EIO when
 * the store fails.
 */
enum fd_err token_authenticate(struct store *st, const char *token, struct principal *p /* OUT */);
/* Forgets every cached resolution: a revocation made through this process
 * takes effect at once. */
void token_cache_clear(void);

/*
 * Checks client credentials and issues an OAuth2 access token (admin role,
 * expires_in seconds). FD_EUNAUTH for a bad client id or secret.
 * token_out receives the token; audited as the client.
 */
enum fd_err token_exchange_client(struct store *st, const char *client_id, const char *secret, const char *request_id,
                                  int expires_in, char token_out[TOKEN_MAX]);

/* Parses "Basic base64(id:secret)" into malloc'd id and secret (caller frees both). */
enum fd_err token_parse_basic(const char *header, char **id /* OUT */, char **secret /* OUT */);

#endif
