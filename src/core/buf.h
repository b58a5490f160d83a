/*
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * Every buffer that grows from outside input (request bodies, JSON output)
 * is a struct buf with a max, so no input can make the process allocate
 * without bound. The data is always NUL-terminated for convenience.
 */
#ifndef FD_BUF_H
#define FD_BUF_H

#include <stddef.h>

#include "core/err.h"

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* appends that would pass this fail with FD_ETOOLARGE */
};

/* Initialises an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);

/* Makes room for n bytes in all without growing again (a hint: FD_OK even
 * when n is over max, which then still bounds the appends). */
enum fd_err buf_reserve(struct buf *b, size_t n);

/* Appends n bytes. FD_ETOOLARGE past max (the buffer is unchanged), FD_ENOMEM. */
enum fd_err buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. */
enum fd_err buf_puts(struct buf *b, const char *s);

/* Hands the data to the caller, who frees it with free(); the buffer is reset. */
char *buf_detach(struct buf *b, size_t *len /* OUT, may be NULL */);

/* Frees the data and resets the buffer (max is kept). */
void buf_release(struct buf *b);

#endif
