/*
 * util.h - time, ids and small encodings shared by every module.
 */
#ifndef FD_UTIL_H
#define FD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FD_UUID_LEN 36 /* without the NUL */
#define FD_TIME_LEN 24 /* "2026-11-27T07:20:00.000Z" */

/* Must be called once before any other function here (initialises libsodium). */
enum fd_err util_init(void);

/* Writes a time-ordered (version 7, RFC 9562) UUID, lower case, into
 * out[FD_UUID_LEN + 1]: 48 bits of Unix time in ms, then 74 random bits.
 * Ids made one after another sort together, so the indexes over them grow
 * at their end instead of touching a random page per insert. */
void util_uuid(char out[FD_UUID_LEN + 1]);

/* True when s is a UUID in the 8-4-4-4-12 hex form, in any letter case. */
int util_is_uuid(const char *s);

/* Writes the current UTC time as RFC 3339 with milliseconds into out[FD_TIME_LEN + 1]. */
void util_now_rfc3339(char out[FD_TIME_LEN + 1]);

/* Parses an RFC 3339 timestamp (any offset) into milliseconds since the epoch.
 * FD_EINVAL-style failure is FD_EBADREQ. */
enum fd_err util_parse_rfc3339(const char *s, int64_t *ms /* OUT */);

/* Formats milliseconds since the epoch like util_now_rfc3339. */
void util_format_rfc3339(int64_t ms, char out[FD_TIME_LEN + 1]);

/* Milliseconds since the epoch (realtime) and a monotonic clock in nanoseconds. */
int64_t util_now_ms(void);
uint64_t util_mono_ns(void);

/* Writes n random bytes as lower-case hex into out[2n + 1]. */
void util_random_hex(char *out, size_t n);

/* Hex SHA-256 of data into out[65]. */
void util_sha256_hex(const void *data, size_t len, char out[65]);

/* Unpadded base64url. The returned string is malloc'd; the caller frees it.
 * NULL on allocation failure. */
char *util_b64url_encode(const void *data, size_t len);

/* Decodes unpadded base64url into a malloc'd buffer (NUL-terminated), the
 * caller frees it. FD_EBADREQ on bad input. */
enum fd_err util_b64url_decode(const char *s, char **out /* OUT */, size_t *len /* OUT */);

/* Parses a decimal integer in [min, max] with nothing after it. */
enum fd_err util_parse_int(const char *s, long long min, long long max, long long *out /* OUT */);

/* s with every byte that is not part of valid UTF-8 replaced by U+FFFD,
 * into out (n bytes, truncated to fit). Returns out. */
const char *util_utf8_lossy(const char *s, char *out, size_t n);

/* Constant-time string equality for secrets of equal or unequal length. */
int util_secret_eq(const char *a, const char *b);

#endif
