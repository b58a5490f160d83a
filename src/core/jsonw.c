/* jsonw.c - JSON string escaping into a struct buf. */
#include "core/jsonw.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fd_err jsonw_str(struct buf *b, const char *s)
{
	if (!s)
		return buf_append(b, "null", 4);
	static const char hex[] = "0123456789abcdef";
	enum fd_err rc = buf_append(b, "\"", 1);
	const char *run = s;
	for (const char *p = s; rc == FD_OK && *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		rc = buf_append(b, run, (size_t)(p - run));
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		if (rc == FD_OK) {
			if (c == '"' || c == '\\') {
				esc[1] = (char)c;
				rc = buf_append(b, esc, 2);
			} else {
				rc = buf_append(b, esc, 6);
			}
		}
		run = p + 1;
	}
	if (rc == FD_OK)
		rc = buf_append(b, run, strlen(run));
	if (rc == FD_OK)
		rc = buf_append(b, "\"", 1);
	return rc;
}

enum fd_err jsonw_key(struct buf *b, const char *key, int first)
{
	enum fd_err rc = first ? FD_OK : buf_append(b, ",", 1);
	if (rc == FD_OK)
		rc = buf_append(b, "\"", 1);
	if (rc == FD_OK)
		rc = buf_append(b, key, strlen(key));
	if (rc == FD_OK)
		rc = buf_append(b, "\":", 2);
	return rc;
}

/* Writes the decimal digits d (no trailing zeros) with the first at 10^e, as Python's repr does. */
static void repr_digits(const char *d, int e, char *out, size_t cap)
{
	size_t n = strlen(d);
	if (e < -4 || e >= 16) /* d.ddde-08 */
		snprintf(out, cap, "%c%s%s%s%c%02d", d[0], n > 1 ? "." : "", d + 1, "e", e < 0 ? '-' : '+', e < 0 ? -e : e);
	else if (e < 0) /* 0.000ddd */
		snprintf(out, cap, "0.%.*s%s", -e - 1, "0000", d);
	else if ((size_t)e + 1 >= n) /* ddd000 */
		snprintf(out, cap, "%s%.*s", d, (int)((size_t)e + 1 - n), "0000000000000000");
	else /* dd.ddd */
		snprintf(out, cap, "%.*s.%s", e + 1, d, d + e + 1);
}

/* The significant digits (at most 17, no trailing zeros) and exponent of a "%.Ne" string. */
static int split_e(const char *t, char d[24])
{
	size_t n = 0;
	for (const char *p = t; *p && *p != 'e' && n < 23; p++) {
		if (*p >= '0' && *p <= '9')
			d[n++] = *p;
	}
	while (n > 1 && d[n - 1] == '0')
		n--;
	d[n] = '\0';
	const char *ep = strchr(t, 'e');
	return ep ? (int)strtol(ep + 1, NULL, 10) : 0;
}

/* 1 when the p-significant-digit decimal nearest to a (> 0), bumped by delta units in its last digit, reads back as a. */
static int try_digits(double a, int p, int delta, char d[24], int *e)
{
	char t[48];
	snprintf(t, sizeof t, "%.*e", p - 1, a);
	if (delta) {
		char raw[24];
		size_t n = 0;
		for (const char *q = t; *q && *q != 'e' && n < 23; q++) {
			if (*q >= '0' && *q <= '9')
				raw[n++] = *q;
		}
		raw[n] = '\0';
		int ex = (int)strtol(strchr(t, 'e') + 1, NULL, 10);
		unsigned long long m = strtoull(raw, NULL, 10) + (unsigned long long)(long long)delta;
		char md[24];
		snprintf(md, sizeof md, "%llu", m);
		if (strlen(md) != n) /* the bump changed the digit count: not a neighbour of this length */
			return 0;
		snprintf(t, sizeof t, "%c.%se%d", md[0], md + 1, ex);
	}
	if (strtod(t, NULL) != a)
		return 0;
	*e = split_e(t, d);
	return 1;
}

enum fd_err jsonw_real(struct buf *b, double x)
{
	if (!isfinite(x))
		return buf_append(b, "null", 4);
	double a = fabs(x);
	char d[24] = "0";
	int e = 0, found = a == 0;
	if (!found && a < DBL_MIN) { /* subnormal: few digits of precision, so try them all */
		for (int p = 1; p <= 17 && !found; p++)
			found = try_digits(a, p, 0, d, &e);
	} else if (!found) {
		/* For a normal double the nearest 15-digit decimal, when it reads back, is the shortest;
		 * at 16 digits a power of two may read back only from a neighbour of the nearest. */
		found = try_digits(a, 15, 0, d, &e) || try_digits(a, 16, 0, d, &e) || try_digits(a, 16, -1, d, &e) ||
		        try_digits(a, 16, 1, d, &e) || try_digits(a, 17, 0, d, &e);
	}
	char t[48] = "-";
	repr_digits(d, e, t + 1, sizeof t - 1);
	enum fd_err rc = buf_puts(b, signbit(x) ? t : t + 1);
	if (rc == FD_OK && !strpbrk(t, ".e")) /* keep a float a float: 21.0, not 21 */
		rc = buf_append(b, ".0", 2);
	return rc;
}

#define JSONW_MAX_DEPTH 64

static enum fd_err value(struct buf *b, json_t *v, int depth)
{
	if (depth > JSONW_MAX_DEPTH)
		return FD_ETOOLARGE;
	char t[32];
	enum fd_err rc = FD_OK;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		rc = buf_append(b, "{", 1);
		const char *k;
		json_t *x;
		int first = 1;
		json_object_foreach(v, k, x)
		{
			if (rc == FD_OK && !first)
				rc = buf_append(b, ",", 1);
			if (rc == FD_OK)
				rc = jsonw_str(b, k);
			if (rc == FD_OK)
				rc = buf_append(b, ":", 1);
			if (rc == FD_OK)
				rc = value(b, x, depth + 1);
			first = 0;
		}
		return rc == FD_OK ? buf_append(b, "}", 1) : rc;
	}
	case JSON_ARRAY: {
		rc = buf_append(b, "[", 1);
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (rc == FD_OK && i)
				rc = buf_append(b, ",", 1);
			if (rc == FD_OK)
				rc = value(b, x, depth + 1);
		}
		return rc == FD_OK ? buf_append(b, "]", 1) : rc;
	}
	case JSON_STRING:
		return jsonw_str(b, json_string_value(v));
	case JSON_INTEGER:
		snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf_puts(b, t);
	case JSON_REAL:
		return jsonw_real(b, json_real_value(v));
	case JSON_TRUE:
		return buf_append(b, "true", 4);
	case JSON_FALSE:
		return buf_append(b, "false", 5);
	case JSON_NULL:
	default:
		return buf_append(b, "null", 4);
	}
}

enum fd_err jsonw_value(struct buf *b, json_t *v)
{
	return value(b, v, 0);
}
