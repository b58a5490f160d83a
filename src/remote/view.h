/*
 * view.h - showing what the server answered: its JSON as it came (--json),
 * or readable (a FIELD/VALUE table of one object, table cells).
 *
 * JSON is re-written only where pages must be joined into one array, and
 * then with core/jsonw.h, the server's own writer, so numbers read exactly
 * as the server wrote them (18.0, 23.417).
 */
#ifndef FD_REMOTE_VIEW_H
#define FD_REMOTE_VIEW_H

#include <stdio.h>

#include <jansson.h>

#include "core/buf.h"
#include "remote/http.h"

/* Writes the reply's body as it came, ending with a line break. */
void view_raw(const struct rhttp_response *resp, FILE *out);

/* A cell's text for v into out[n]: a string as it is, null as "", anything
 * else as compact JSON (cut to fit). */
void view_cell(json_t *v, char *out, size_t n);

/* The string member key of obj, or "". */
const char *view_str(json_t *obj, const char *key);

/* A timestamp member as "YYYY-MM-DD HH:MM" (UTC, as the server gives it), or "". */
void view_time(json_t *obj, const char *key, char out[24]);

/* Prints obj as a FIELD/VALUE table, nested objects flattened ("device_model.year"). */
enum fd_err view_object(json_t *obj, FILE *out);

/* One JSON array written element by element (one a line), across pages. */
struct view_array {
	FILE *out;
	size_t n;
	struct buf b;
};
void view_array_begin(struct view_array *a, FILE *out);
enum fd_err view_array_add(struct view_array *a, json_t *v);
void view_array_end(struct view_array *a);

#endif
