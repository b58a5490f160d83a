/*
 * util.c - time, ids and encodings. All randomness and hashing comes from
 * libsodium, kept here and in auth/ only.
 */
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

enum fd_err util_init(void)
{
	if (sodium_init() < 0)
		return FD_EIO;
	return FD_OK;
}

void util_uuid(char out[FD_UUID_LEN + 1])
{
	unsigned char b[16];
	randombytes_buf(b, sizeof b);
	uint64_t ms = (uint64_t)util_now_ms();
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

int util_is_uuid(const char *s)
{
	if (!s || strlen(s) != FD_UUID_LEN)
		return 0;
	for (int i = 0; i < FD_UUID_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			return 0;
		}
	}
	return 1;
}

int64_t util_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t util_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void util_format_rfc3339(int64_t ms, char out[FD_TIME_LEN + 1])
{
	time_t secs = (time_t)(ms / 1000);
	int milli = (int)(ms % 1000);
	if (milli < 0) {
		milli += 1000;
		secs -= 1;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	char tmp[96];
	snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
	memcpy(out, tmp, FD_TIME_LEN);
	out[FD_TIME_LEN] = '\0';
}

void util_now_rfc3339(char out[FD_TIME_LEN + 1])
{
	util_format_rfc3339(util_now_ms(), out);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

enum fd_err util_parse_rfc3339(const char *s, int64_t *ms)
{
	int Y, M, D, h, m, sec, frac_ms = 0;
	size_t n = strlen(s);
	if (n < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
	    !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return FD_EBADREQ;
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
		return FD_EBADREQ;
	if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		return FD_EBADREQ;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		int nd = 0;
		while (*p >= '0' && *p <= '9') {
			if (nd < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
			nd++;
			p++;
		}
		if (nd == 0)
			return FD_EBADREQ;
		for (; nd < 3; nd++)
			frac_ms *= 10;
	}
	int off_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return FD_EBADREQ;
		off_min = (oh * 60 + om) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return FD_EBADREQ;
	}
	if (*p)
		return FD_EBADREQ;
	/* days from civil (Howard Hinnant's algorithm) */
	int y = Y - (M <= 2);
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	int64_t t = days * 86400 + h * 3600 + m * 60 + sec - (int64_t)off_min * 60;
	/* only instants util_format_rfc3339 can write: years 0000 to 9999 in UTC */
	if (t < INT64_C(-62167219200) || t > INT64_C(253402300799))
		return FD_EBADREQ;
	*ms = t * 1000 + frac_ms;
	return FD_OK;
}

void util_random_hex(char *out, size_t n)
{
	unsigned char b[64];
	while (n > 0) {
		size_t k = n < sizeof b ? n : sizeof b;
		randombytes_buf(b, k);
		sodium_bin2hex(out, 2 * k + 1, b, k);
		out += 2 * k;
		n -= k;
	}
}

void util_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof h);
}

char *util_b64url_encode(const void *data, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(n);
	if (!out)
		return NULL;
	sodium_bin2base64(out, n, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

enum fd_err util_b64url_decode(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s);
	/* libsodium 1.0.18 reads each byte as a signed char and takes every byte
	 * >= 0x80 for '_', so the alphabet is checked here. */
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != n)
		return FD_EBADREQ;
	char *b = malloc(n + 1);
	if (!b)
		return FD_ENOMEM;
	size_t got = 0;
	const char *end = NULL;
	if (sodium_base642bin((unsigned char *)b, n, s, n, NULL, &got, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    (end && *end)) {
		free(b);
		return FD_EBADREQ;
	}
	b[got] = '\0';
	*out = b;
	*len = got;
	return FD_OK;
}

enum fd_err util_parse_int(const char *s, long long min, long long max, long long *out)
{
	if (!s || !*s)
		return FD_EBADREQ;
	for (const char *p = s; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (p == s && *p == '-')))
			return FD_EBADREQ;
	}
	errno = 0;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (errno || !end || *end || v < min || v > max)
		return FD_EBADREQ;
	*out = v;
	return FD_OK;
}

int util_secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return 0;
	return sodium_memcmp(a, b, la) == 0;
}

/* The length of the valid UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : 0;
	if (!n || (s[0] >= 0xF0 && n != 4))
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	if ((n == 3 && s[0] == 0xE0 && s[1] < 0xA0) || (n == 3 && s[0] == 0xED && s[1] >= 0xA0) ||
	    (n == 4 && s[0] == 0xF0 && s[1] < 0x90) || (n == 4 && s[0] == 0xF4 && s[1] >= 0x90))
		return 0; /* overlong, surrogate or past U+10FFFF */
	return n;
}

const char *util_utf8_lossy(const char *s, char *out, size_t n)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p && n) {
		size_t k = utf8_seq(p);
		const char *put = k ? (const char *)p : "\xEF\xBF\xBD";
		size_t len = k ? k : 3;
		if (o + len + 1 > n)
			break;
		memcpy(out + o, put, len);
		o += len;
		p += k ? k : 1;
	}
	if (n)
		out[o] = '\0';
	return out;
}
