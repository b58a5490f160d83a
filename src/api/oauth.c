/*
 * oauth.c - POST /oauth2/token/: OAuth2 client credentials (RFC 6749 4.4),
 * as Podero's Partner API does it.
 *
 * Errors are problem+json that also carry RFC 6749's "error" and
 * "error_description", so both kinds of client understand them.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "api/common.h"
#include "api/handlers.h"
#include "auth/token.h"
#include "core/util.h"

#define OAUTH_EXPIRES_IN 36000

static enum fd_err oauth_error(struct req *r, enum fd_err rc, const char *error, const char *description)
{
	if (rc == FD_EUNAUTH)
		reply_header(r, "WWW-Authenticate", "Basic realm=\"fleetdesk\"");
	reply_problem(r, rc, description, NULL);
	/* add the RFC 6749 members to the problem just written */
	json_t *p = json_loadb(r->resp_body, r->resp_len, 0, NULL);
	if (p) {
		json_object_set_new(p, "error", json_string(error));
		json_object_set_new(p, "error_description", json_string(description));
		char *s = json_dumps(p, JSON_COMPACT);
		json_decref(p);
		if (s) {
			free(r->resp_body);
			r->resp_body = s;
			r->resp_len = strlen(s);
		}
	}
	return rc;
}

/* Reads grant_type from a JSON or form body. malloc'd, or NULL when absent or unreadable. */
static char *grant_type(struct req *r, int *unreadable)
{
	const char *ct = req_header(r, "Content-Type");
	const char *body = r->body.data ? r->body.data : "";
	*unreadable = 0;
	if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
		return api_form_value(body, r->body.len, "grant_type");
	if (ct && strncasecmp(ct, "application/json", 16) == 0) {
		json_t *j = json_loadb(body, r->body.len, JSON_REJECT_DUPLICATES, NULL);
		json_t *g = json_object_get(j, "grant_type");
		char *out = json_is_string(g) ? strdup(json_string_value(g)) : NULL;
		if (!j)
			*unreadable = 1;
		json_decref(j);
		return out;
	}
	*unreadable = 1;
	return NULL;
}

enum fd_err oauth_token(struct req *r)
{
	char *id = NULL, *secret = NULL, *grant = NULL;
	enum fd_err rc = token_parse_basic(req_header(r, "Authorization"), &id, &secret);
	if (rc == FD_EUNAUTH)
		return oauth_error(r, rc, "invalid_client", "client authentication with HTTP Basic is required");
	if (rc != FD_OK)
		return rc;
	int unreadable = 0;
	grant = grant_type(r, &unreadable);
	if (unreadable) {
		rc = oauth_error(r, FD_EBADREQ, "invalid_request",
		                 "the body must be JSON or form-encoded, with grant_type=client_credentials");
		goto out;
	}
	if (!grant) {
		rc = oauth_error(r, FD_EBADREQ, "invalid_request", "grant_type is required");
		goto out;
	}
	if (strcmp(grant, "client_credentials") != 0) {
		rc = oauth_error(r, FD_EBADREQ, "unsupported_grant_type", "only client_credentials is supported");
		goto out;
	}
	if ((rc = req_throttle_check(r, id)) != FD_OK)
		goto out; /* too many failures: the secret is not even checked */
	char token[TOKEN_MAX];
	rc = token_exchange_client(req_store(r), id, secret, r->request_id, OAUTH_EXPIRES_IN, token);
	if (rc == FD_OK || rc == FD_EUNAUTH)
		req_throttle_result(r, id, rc == FD_OK);
	if (rc == FD_EUNAUTH) {
		rc = oauth_error(r, rc, "invalid_client", "the client id or secret is wrong, or the client is revoked");
		goto out;
	}
	if (rc != FD_OK)
		goto out;
	rc = reply_json(r, 200,
	                json_pack("{sssissss}", "access_token", token, "expires_in", OAUTH_EXPIRES_IN, "token_type",
	                          "Bearer", "scope", "read write"));
	sodium_memzero(token, sizeof token);
out:
	if (secret)
		sodium_memzero(secret, strlen(secret));
	free(id);
	free(secret);
	free(grant);
	return rc;
}
