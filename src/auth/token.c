/* token.c - generating, hashing and resolving tokens. */
#include "auth/token.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void token_generate(const char *prefix, char out[TOKEN_MAX])
{
	unsigned char b[32];
	randombytes_buf(b, sizeof b);
	char enc[48];
	sodium_bin2base64(enc, sizeof enc, b, sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, TOKEN_MAX, "%s%s", prefix, enc);
	sodium_memzero(b, sizeof b);
}

void token_hash(const char *token, char out[65])
{
	util_sha256_hex(token, strlen(token), out);
}

/*
 * A small cache of resolved tokens, so a hot client costs one hash and no
 * database read per request. Entries live TOKEN_CACHE_TTL_MS, so a revoked
 * token stops working within that time when another process (the CLI)
 * revokes it; a revocation through the server clears the cache at once.
 */
#define TOKEN_CACHE_SLOTS  1024
#define TOKEN_CACHE_TTL_MS 2000

struct token_cache_entry {
	char hash[65];
	struct principal p;
	int64_t until_ms; /* 0: empty */
};

static struct token_cache_entry token_cache[TOKEN_CACHE_SLOTS];
static pthread_mutex_t token_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t cache_slot(const char *hash)
{
	/* the hash is uniformly random hex: its first digits are a fine index */
	return (size_t)strtoul((char[9]){hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7], 0},
	                       NULL, 16) %
	       TOKEN_CACHE_SLOTS;
}

static int cache_get(const char *hash, int64_t now, struct principal *p)
{
	int hit = 0;
	struct token_cache_entry *e = &token_cache[cache_slot(hash)];
	pthread_mutex_lock(&token_cache_lock);
	if (e->until_ms > now && strcmp(e->hash, hash) == 0) {
		*p = e->p;
		hit = 1;
	}
	pthread_mutex_unlock(&token_cache_lock);
	return hit;
}

static void cache_put(const char *hash, int64_t until, const struct principal *p)
{
	struct token_cache_entry *e = &token_cache[cache_slot(hash)];
	pthread_mutex_lock(&token_cache_lock);
	memcpy(e->hash, hash, sizeof e->hash);
	e->p = *p;
	e->until_ms = until;
	pthread_mutex_unlock(&token_cache_lock);
}

void token_cache_clear(void)
{
	pthread_mutex_lock(&token_cache_lock);
	for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++)
		token_cache[i].until_ms = 0;
	pthread_mutex_unlock(&token_cache_lock);
}

enum fd_err token_authenticate(struct store *st, const char *token, struct principal *p)
{
	if (!token || !*token || strlen(token) >= TOKEN_MAX)
		return FD_EUNAUTH;
	char hash[65];
	token_hash(token, hash);
	int64_t now = util_now_ms();
	if (cache_get(hash, now, p))
		return FD_OK;
	struct store_token t;
	enum fd_err rc = store_token_lookup(st, hash, now, &t);
	if (rc == FD_ENOTFOUND)
		return FD_EUNAUTH;
	if (rc != FD_OK)
		return rc;
	memset(p, 0, sizeof *p);
	memcpy(p->org_id, t.org_id, sizeof p->org_id);
	p->role = role_parse(t.role);
	if (strcmp(t.kind, "oauth") == 0) {
		snprintf(p->actor_type, sizeof p->actor_type, "client");
		memcpy(p->actor_id, t.client_id, sizeof p->actor_id);
	} else {
		snprintf(p->actor_type, sizeof p->actor_type, "token");
		memcpy(p->actor_id, t.id, sizeof p->actor_id);
	}
	snprintf(p->actor_name, sizeof p->actor_name, "%s", t.name);
	int64_t until = now + TOKEN_CACHE_TTL_MS;
	if (t.expires_ms > 0 && t.expires_ms < until)
		until = t.expires_ms;
	cache_put(hash, until, p);
	return FD_OK;
}

enum fd_err token_exchange_client(struct store *st, const char *client_id, const char *secret, const char *request_id,
                                  int expires_in, char token_out[TOKEN_MAX])
{
	char org_id[FD_UUID_LEN + 1], stored[65], given[65];
	if (!util_is_uuid(client_id) || strlen(secret) >= TOKEN_MAX)
		return FD_EUNAUTH;
	enum fd_err rc = store_client_lookup(st, client_id, org_id, stored);
	/* hash even when the client is unknown, so timing says nothing */
	token_hash(secret, given);
	if (rc == FD_ENOTFOUND)
		return FD_EUNAUTH;
	if (rc != FD_OK)
		return rc;
	if (!util_secret_eq(stored, given))
		return FD_EUNAUTH;
	char tok[TOKEN_MAX], hash[65];
	token_generate("fdo_", tok);
	token_hash(tok, hash);
	struct store_actor a = {.type = "client", .id = client_id, .name = NULL, .request_id = request_id};
	rc = store_token_create(st, &a, org_id, "admin", "oauth2 client credentials", "oauth", client_id, hash,
	                        util_now_ms() + (int64_t)expires_in * 1000, NULL);
	if (rc != FD_OK)
		return rc;
	memcpy(token_out, tok, TOKEN_MAX);
	sodium_memzero(tok, sizeof tok);
	return FD_OK;
}

enum fd_err token_parse_basic(const char *header, char **id, char **secret)
{
	if (!header || strncmp(header, "Basic ", 6) != 0)
		return FD_EUNAUTH;
	const char *b64 = header + 6;
	while (*b64 == ' ')
		b64++;
	size_t n = strlen(b64);
	if (n == 0 || n > 512)
		return FD_EUNAUTH;
	unsigned char dec[512];
	size_t got = 0;
	const char *end = NULL;
	if (sodium_base642bin(dec, sizeof dec - 1, b64, n, " ", &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    (end && *end))
		return FD_EUNAUTH;
	dec[got] = '\0';
	char *colon = memchr(dec, ':', got);
	if (!colon || strlen((char *)dec) != got)
		return FD_EUNAUTH;
	*colon = '\0';
	*id = strdup((char *)dec);
	*secret = strdup(colon + 1);
	sodium_memzero(dec, sizeof dec);
	if (!*id || !*secret) {
		free(*id);
		free(*secret);
		return FD_ENOMEM;
	}
	return FD_OK;
}
