/* router.c - segment-by-segment matching of paths against patterns. */
#include "http/router.h"

#include <stdlib.h>
#include <string.h>

/* Length of the path ignoring one trailing slash (but never the root "/"). */
static size_t path_len(const char *path)
{
	size_t n = strlen(path);
	if (n > 1 && path[n - 1] == '/')
		n--;
	return n;
}

/* Matches path[0..plen) against pattern, collecting placeholders. Returns 1 on a match. */
static int match(const char *pattern, const char *path, size_t plen, char *params[REQ_MAX_PARAMS], int *np)
{
	const char *p = pattern, *s = path, *end = path + plen;
	int n = 0;
	while (*p && s < end) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (!close)
				return 0;
			const char *seg = s;
			int rest = close > p + 1 && close[-1] == '*'; /* {name*}: the rest of the path */
			while (s < end && (rest || *s != '/'))
				s++;
			if (s == seg || n == REQ_MAX_PARAMS)
				goto fail;
			params[n] = strndup(seg, (size_t)(s - seg));
			if (!params[n])
				goto fail;
			n++;
			p = close + 1;
		} else {
			if (*p != *s)
				goto fail;
			p++;
			s++;
		}
	}
	if (*p || s != end)
		goto fail;
	*np = n;
	return 1;
fail:
	for (int i = 0; i < n; i++) {
		free(params[i]);
		params[i] = NULL;
	}
	return 0;
}

enum fd_err router_match(const struct route *table, size_t n, const char *method, const char *path,
                         const struct route **out, char *params[REQ_MAX_PARAMS], int *nparams, char *allow,
                         size_t allow_len)
{
	size_t plen = path_len(path);
	int path_found = 0;
	if (allow_len)
		allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char *tmp[REQ_MAX_PARAMS] = {0};
		int np = 0;
		if (!match(table[i].pattern, path, plen, tmp, &np))
			continue;
		if (strcmp(table[i].method, method) == 0) {
			memcpy(params, tmp, sizeof tmp);
			*nparams = np;
			*out = &table[i];
			return FD_OK;
		}
		for (int k = 0; k < np; k++)
			free(tmp[k]);
		if (allow_len && !strstr(allow, table[i].method)) {
			size_t used = strlen(allow);
			size_t need = strlen(table[i].method) + (used ? 2 : 0);
			if (used + need < allow_len) {
				if (used)
					memcpy(allow + used, ", ", 2);
				memcpy(allow + used + (used ? 2 : 0), table[i].method, strlen(table[i].method) + 1);
			}
		}
		path_found = 1;
	}
	return path_found ? FD_EMETHOD : FD_ENOTFOUND;
}
