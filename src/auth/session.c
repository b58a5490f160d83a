/* session.c - sign-in, session resolution and CSRF tokens. */
#include "auth/session.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"

/* Verified when the email has no account, so that answer takes as long as a
 * wrong password (made once, from a random password nobody knows). */
static char dummy_hash[PASSWORD_HASH_MAX];
static int dummy_ready;

static void dummy_init(void)
{
	if (__atomic_load_n(&dummy_ready, __ATOMIC_ACQUIRE))
		return;
	char pw[33], h[PASSWORD_HASH_MAX];
	util_random_hex(pw, (sizeof pw - 1) / 2); /* n random bytes as 2n hex digits and a NUL */
	if (password_hash(pw, h) == FD_OK) {
		/* racing threads each write a valid hash; either one will do */
		memcpy(dummy_hash, h, sizeof dummy_hash);
		__atomic_store_n(&dummy_ready, 1, __ATOMIC_RELEASE);
	}
}

enum fd_err session_sign_in(struct store *st, const char *email, const char *password, const char *request_id,
                            int64_t max_ms, char token_out[TOKEN_MAX], struct store_session *se)
{
	struct store_staff who;
	memset(&who, 0, sizeof who);
	enum fd_err rc = store_staff_find(st, email, &who);
	if (rc != FD_OK && rc != FD_ENOTFOUND)
		return rc;
	int ok;
	if (rc == FD_OK && who.password_hash[0]) {
		ok = password_verify(who.password_hash, password);
	} else {
		dummy_init();
		if (__atomic_load_n(&dummy_ready, __ATOMIC_ACQUIRE))
			password_verify(dummy_hash, password);
		ok = 0;
	}
	sodium_memzero(who.password_hash, sizeof who.password_hash);
	if (!ok || !who.active)
		return FD_EUNAUTH;

	char tok[TOKEN_MAX], hash[65], id[FD_UUID_LEN + 1];
	token_generate("fdss_", tok);
	token_hash(tok, hash);
	int64_t now = util_now_ms();
	struct store_actor a = {.type = "staff", .id = who.id, .name = who.email, .request_id = request_id};
	rc = store_session_create(st, &a, &who, hash, now, now + max_ms, id);
	if (rc == FD_OK)
		rc = store_session_lookup(st, hash, se);
	if (rc != FD_OK) {
		sodium_memzero(tok, sizeof tok);
		return rc == FD_ENOTFOUND ? FD_EUNAUTH : rc; /* deactivated in between */
	}
	memcpy(token_out, tok, TOKEN_MAX);
	sodium_memzero(tok, sizeof tok);
	return FD_OK;
}

enum fd_err session_authenticate(struct store *st, const char *token, int64_t idle_ms, struct principal *p,
                                 struct store_session *out)
{
	if (!token || strncmp(token, "fdss_", 5) != 0 || strlen(token) >= TOKEN_MAX)
		return FD_EUNAUTH;
	char hash[65];
	token_hash(token, hash);
	struct store_session se;
	enum fd_err rc = store_session_lookup(st, hash, &se);
	if (rc == FD_ENOTFOUND)
		return FD_EUNAUTH;
	if (rc != FD_OK)
		return rc;
	int64_t now = util_now_ms();
	if (now >= se.expires_ms || now - se.seen_ms >= idle_ms)
		return FD_EUNAUTH;
	/* write activity often enough that a busy session never idles out */
	int64_t touch = idle_ms / 2 < SESSION_TOUCH_MS ? idle_ms / 2 : SESSION_TOUCH_MS;
	if (now - se.seen_ms >= touch) {
		/* a failed write costs the session at most SESSION_TOUCH_MS of idle time */
		if (store_session_touch(st, se.id, now) == FD_OK)
			se.seen_ms = now;
	}
	memset(p, 0, sizeof *p);
	memcpy(p->org_id, se.org_id, sizeof p->org_id);
	p->role = role_parse(se.role);
	snprintf(p->actor_type, sizeof p->actor_type, "staff");
	memcpy(p->actor_id, se.staff_id, sizeof p->actor_id);
	snprintf(p->actor_name, sizeof p->actor_name, "%s", se.email);
	if (out)
		*out = se;
	return FD_OK;
}

void session_csrf(const char *token, char out[SESSION_CSRF_LEN])
{
	unsigned char key[crypto_generichash_KEYBYTES], mac[32];
	/* the key is the token's own hash: the CSRF token is bound to the session */
	crypto_generichash(key, sizeof key, (const unsigned char *)token, strlen(token), NULL, 0);
	crypto_generichash(mac, sizeof mac, (const unsigned char *)"fleetdesk csrf v1", 17, key, sizeof key);
	sodium_bin2base64(out, SESSION_CSRF_LEN, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(key, sizeof key);
}

int session_csrf_ok(const char *token, const char *given)
{
	if (!given || strlen(given) != SESSION_CSRF_LEN - 1)
		return 0;
	char want[SESSION_CSRF_LEN];
	session_csrf(token, want);
	return sodium_memcmp(want, given, SESSION_CSRF_LEN - 1) == 0;
}
