/* buf.c - bounded growable buffers. */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

enum fd_err buf_append(struct buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return FD_ETOOLARGE;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return FD_ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return FD_OK;
}

enum fd_err buf_reserve(struct buf *b, size_t n)
{
	if (n > b->max)
		n = b->max;
	if (n + 1 <= b->cap)
		return FD_OK;
	char *d = realloc(b->data, n + 1);
	if (!d)
		return FD_ENOMEM;
	if (!b->data)
		d[0] = '\0';
	b->data = d;
	b->cap = n + 1;
	return FD_OK;
}

enum fd_err buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *d = b->data;
	if (!d)
		d = calloc(1, 1);
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return d;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
