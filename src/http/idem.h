/*
 * idem.h - Idempotency-Key on POST requests.
 *
 * A POST that carries an Idempotency-Key is run once per (caller, key): a
 * retry with the same request gets the first reply again, status, headers
 * and body, with Idempotent-Replayed: true; the same key on a different
 * request gets 422; a retry while the first still runs gets 409. Only a 2xx
 * reply is kept (for IDEM_TTL_MS): a request that failed changed nothing,
 * so it leaves no key behind and a retry runs it again.
 *
 * What is stored reveals nothing without the key: the entry's id and the
 * request's fingerprint are keyed hashes of the caller and the key, and
 * the reply is sealed (XSalsa20-Poly1305) with a key derived from them.
 *
 * The server calls these in order: idem_start when the headers arrive,
 * idem_feed for each piece of the body, idem_begin after authentication
 * (it may reply), idem_end once the reply is built.
 */
#ifndef FD_IDEM_H
#define FD_IDEM_H

#include <stddef.h>

#include "http/request.h"

#define IDEM_TTL_MS  (24 * 3600 * 1000LL)
#define IDEM_KEY_MAX 255

struct idem;

/* A new state when r is a POST with an Idempotency-Key header, else NULL. */
struct idem *idem_start(struct req *r);
void idem_feed(struct idem *st, const void *data, size_t n);
/*
 * Claims the key for r (r->principal set), or replies: the stored reply
 * (a replay), 422 for another request under the key, 409 while it runs,
 * 400 for a malformed key. Returns 1 when it replied.
 */
int idem_begin(struct req *r, const char *owner);
/* Keeps r's reply under the key (2xx) or forgets the key (anything else). */
void idem_end(struct req *r);
void idem_free(struct idem *st);

#endif
