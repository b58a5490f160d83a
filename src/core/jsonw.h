/*
 * jsonw.h - appending JSON text straight into a bounded buffer.
 *
 * For hot paths that turn many database rows into a JSON array, building a
 * jansson tree only to serialise it costs most of the request (measured:
 * over 80% of a 100-user page went to jansson and malloc). These helpers
 * write the text directly. Input strings must be valid UTF-8 (everything
 * we store arrived through jansson, which guarantees it).
 */
#ifndef FD_JSONW_H
#define FD_JSONW_H

#include <jansson.h>

#include "core/buf.h"

/* Appends s as a JSON string literal (quoted, escaped), or null when s is NULL. */
enum fd_err jsonw_str(struct buf *b, const char *s);

/* Appends ,"key": (the comma only when first is 0). key is a trusted literal. */
enum fd_err jsonw_key(struct buf *b, const char *key, int first);

/*
 * Appends x as the shortest decimal that reads back as the same double
 * (Python's repr: 12.35, not 12.350000000000001), with ".0" on integral
 * values so a float stays a float. Non-finite values become null.
 */
enum fd_err jsonw_real(struct buf *b, double x);

/* Appends any jansson value compactly, reals as jsonw_real does. */
enum fd_err jsonw_value(struct buf *b, json_t *v);

#endif
