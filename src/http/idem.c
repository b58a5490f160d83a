/* idem.c - Idempotency-Key: see idem.h. */
#include "http/idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "core/log.h"
#include "core/util.h"
#include "store/store.h"

#define REPLY_KEEP_MAX (16u * 1024 * 1024) /* larger replies are not kept (none is today) */

struct idem {
	crypto_hash_sha256_state body; /* the body as it arrives */
	char id[65];                   /* the entry's id, once claimed */
	unsigned char seal[crypto_secretbox_KEYBYTES];
	int claimed;
};

struct idem *idem_start(struct req *r)
{
	if (strcmp(r->method, "POST") != 0 || !req_header(r, "Idempotency-Key"))
		return NULL;
	struct idem *st = calloc(1, sizeof *st);
	if (st)
		crypto_hash_sha256_init(&st->body);
	return st;
}

void idem_feed(struct idem *st, const void *data, size_t n)
{
	if (st)
		crypto_hash_sha256_update(&st->body, data, n);
}

void idem_free(struct idem *st)
{
	if (st)
		sodium_memzero(st, sizeof *st);
	free(st);
}

static int key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > IDEM_KEY_MAX)
		return 0;
	for (; *k; k++) {
		if (*k < 0x21 || *k > 0x7e)
			return 0;
	}
	return 1;
}

/* A keyed BLAKE2b of the caller and the key, for one purpose. */
static void derive(unsigned char out[32], const char *purpose, const char *scope, const char *key)
{
	crypto_generichash_state h;
	unsigned char k[32] = {0};
	snprintf((char *)k, sizeof k, "%s", purpose);
	crypto_generichash_init(&h, k, sizeof k, 32);
	crypto_generichash_update(&h, (const unsigned char *)scope, strlen(scope) + 1);
	crypto_generichash_update(&h, (const unsigned char *)key, strlen(key) + 1);
	crypto_generichash_final(&h, out, 32);
}

static enum MHD_Result hash_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	(void)kind;
	crypto_generichash_state *h = cls;
	crypto_generichash_update(h, (const unsigned char *)k, strlen(k) + 1);
	crypto_generichash_update(h, (const unsigned char *)(v ? v : ""), v ? strlen(v) + 1 : 1);
	return MHD_YES;
}

/* The request's fingerprint: method, path, query, content type and body. */
static void fingerprint(struct req *r, struct idem *st, char out[65])
{
	unsigned char body[crypto_hash_sha256_BYTES], fp[32];
	crypto_hash_sha256_final(&st->body, body);
	crypto_generichash_state h;
	crypto_generichash_init(&h, st->seal, sizeof st->seal, sizeof fp);
	const char *ct = req_header(r, "Content-Type");
	const char *parts[] = {r->method, r->path, ct ? ct : ""};
	for (size_t i = 0; i < 3; i++)
		crypto_generichash_update(&h, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, hash_arg, &h);
	crypto_generichash_update(&h, body, sizeof body);
	crypto_generichash_final(&h, fp, sizeof fp);
	sodium_bin2hex(out, 65, fp, sizeof fp);
}

/* ---------------------------------------------------------------- the kept reply */

static void put16(struct buf *b, size_t v)
{
	unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
	buf_append(b, (const char *)x, 2);
}

/* status(2) ctlen(2) ct n(2) [nlen(2) name vlen(2) value]... body, sealed. */
static unsigned char *seal_reply(const struct req *r, const unsigned char key[32], size_t *len)
{
	struct buf b;
	buf_init(&b, REPLY_KEEP_MAX);
	const char *ct = r->content_type ? r->content_type : "";
	put16(&b, r->status);
	put16(&b, strlen(ct));
	buf_append(&b, ct, strlen(ct));
	put16(&b, (size_t)r->nhdr);
	for (int i = 0; i < r->nhdr; i++) {
		put16(&b, strlen(r->hdr_name[i]));
		buf_append(&b, r->hdr_name[i], strlen(r->hdr_name[i]));
		put16(&b, strlen(r->hdr_value[i]));
		buf_append(&b, r->hdr_value[i], strlen(r->hdr_value[i]));
	}
	enum fd_err rc = r->resp_len ? buf_append(&b, r->resp_body, r->resp_len) : FD_OK;
	if (rc != FD_OK || b.len < 6 || b.len > REPLY_KEEP_MAX) {
		buf_release(&b);
		return NULL;
	}
	size_t n = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + b.len;
	unsigned char *out = malloc(n);
	if (out) {
		randombytes_buf(out, crypto_secretbox_NONCEBYTES);
		crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, (const unsigned char *)b.data, b.len, out, key);
		*len = n;
	}
	buf_release(&b);
	return out;
}

/* The content types a kept reply can have, as static strings. */
static const char *static_type(const char *ct, size_t n)
{
	static const char *const known[] = {"application/json", "application/problem+json", "text/csv; charset=utf-8",
	                                    "application/x-ndjson", "text/plain; charset=utf-8"};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (strlen(known[i]) == n && memcmp(known[i], ct, n) == 0)
			return known[i];
	}
	return n ? "application/octet-stream" : NULL;
}

static int get16(const unsigned char **p, const unsigned char *end, size_t *v)
{
	if (end - *p < 2)
		return 0;
	*v = ((size_t)(*p)[0] << 8) | (*p)[1];
	*p += 2;
	return 1;
}

/* Opens a kept reply and replies with it. FD_OK when it replied. */
static enum fd_err replay(struct req *r, const unsigned char key[32], const unsigned char *sealed, size_t len)
{
	if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
		return FD_EIO;
	size_t n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	unsigned char *plain = malloc(n + 1);
	if (!plain)
		return FD_ENOMEM;
	if (crypto_secretbox_open_easy(plain, sealed + crypto_secretbox_NONCEBYTES,
	                               len - crypto_secretbox_NONCEBYTES, sealed, key) != 0) {
		free(plain);
		return FD_EIO;
	}
	const unsigned char *p = plain, *end = plain + n;
	size_t status, ctl, nh;
	enum fd_err rc = FD_EIO;
	if (!get16(&p, end, &status) || !get16(&p, end, &ctl) || (size_t)(end - p) < ctl)
		goto out;
	const char *ct = static_type((const char *)p, ctl);
	p += ctl;
	if (!get16(&p, end, &nh))
		goto out;
	for (size_t i = 0; i < nh; i++) {
		size_t nl, vl;
		char name[128], value[1024];
		if (!get16(&p, end, &nl) || nl >= sizeof name || (size_t)(end - p) < nl)
			goto out;
		memcpy(name, p, nl);
		name[nl] = '\0';
		p += nl;
		if (!get16(&p, end, &vl) || vl >= sizeof value || (size_t)(end - p) < vl)
			goto out;
		memcpy(value, p, vl);
		value[vl] = '\0';
		p += vl;
		reply_header(r, name, value);
	}
	reply_header(r, "Idempotent-Replayed", "true");
	rc = (size_t)(end - p) ? reply_raw(r, (unsigned)status, ct, (const char *)p, (size_t)(end - p))
	                       : reply_empty(r, (unsigned)status);
out:
	sodium_memzero(plain, n);
	free(plain);
	return rc;
}

/* A problem about the Idempotency-Key header. */
static void reply_key_problem(struct req *r, enum fd_err rc, const char *detail)
{
	json_t *errors = json_pack("[{ssssss}]", "field", "Idempotency-Key", "in", "header", "detail", detail);
	reply_problem(r, rc, detail, errors);
}

int idem_begin(struct req *r, const char *owner)
{
	struct idem *st = r->idem;
	const char *key = req_header(r, "Idempotency-Key");
	if (!st || !r->principal || !key) { /* nobody to scope the key to: the key is not used */
		idem_free(st);
		r->idem = NULL;
		return 0;
	}
	if (!key_ok(key)) {
		reply_key_problem(r, FD_EBADREQ, "Idempotency-Key must be 1 to 255 visible ASCII characters");
		return 1;
	}
	const char *scope = r->principal->actor_id;
	unsigned char idb[32];
	derive(idb, "fleetdesk idempotency id", scope, key);
	derive(st->seal, "fleetdesk idempotency seal", scope, key);
	sodium_bin2hex(st->id, sizeof st->id, idb, sizeof idb);
	char fp[65];
	fingerprint(r, st, fp);
	struct store_idem prev;
	enum fd_err rc = store_idem_claim(req_store(r), st->id, fp, owner, util_now_ms(), IDEM_TTL_MS, &prev);
	if (rc == FD_OK) {
		st->claimed = 1;
		return 0;
	}
	if (rc != FD_ECONFLICT) {
		reply_problem(r, rc, "the Idempotency-Key could not be checked; try again", NULL);
		return 1;
	}
	if (strcmp(prev.fingerprint, fp) != 0) {
		reply_key_problem(r, FD_EINVALID,
		                  "this Idempotency-Key was used for a different request in the last 24 hours; "
		                  "use a new key for a new request");
	} else if (prev.done) {
		if (replay(r, st->seal, prev.reply, prev.reply_len) != FD_OK)
			reply_problem(r, FD_EIO, "the reply kept for this Idempotency-Key cannot be read", NULL);
	} else if (strcmp(prev.owner, owner) == 0) {
		reply_header(r, "Retry-After", "1");
		reply_key_problem(r, FD_ECONFLICT, "a request with this Idempotency-Key is still running; retry shortly");
	} else {
		reply_key_problem(r, FD_ECONFLICT,
		                  "the server stopped while the first request with this Idempotency-Key ran, so "
		                  "whether it was applied is unknown; check the resource before retrying with a new key");
	}
	free(prev.reply);
	return 1;
}

void idem_end(struct req *r)
{
	struct idem *st = r->idem;
	if (!st || !st->claimed)
		return;
	st->claimed = 0;
	if (r->status >= 200 && r->status < 300) {
		size_t len = 0;
		unsigned char *sealed = seal_reply(r, st->seal, &len);
		enum fd_err rc = sealed ? store_idem_finish(req_store(r), st->id, sealed, len) : FD_ENOMEM;
		free(sealed);
		if (rc == FD_OK)
			return;
		log_msg("error", "an idempotent reply could not be kept; its key stays claimed");
		return;
	}
	if (store_idem_release(req_store(r), st->id) != FD_OK)
		log_msg("error", "an Idempotency-Key could not be released; a retry will be refused");
}
