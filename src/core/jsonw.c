/* jsonw.c - JSON string escaping into a struct buf. */
#include "core/jsonw.h"

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

enum fd_err jsonw_real(struct buf *b, double x)
{
	if (!isfinite(x))
		return buf_append(b, "null", 4);
	char t[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(t, sizeof t, "%.*g", prec, x);
		if (strtod(t, NULL) == x)
			break;
	}
	enum fd_err rc = buf_puts(b, t);
	if (rc == FD_OK && !strpbrk(t, ".eEn")) /* keep a float a float: 21.0, not 21 */
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
