/* jsonw.c - JSON string escaping into a struct buf. */
#include "core/jsonw.h"

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
