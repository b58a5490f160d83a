/*
 * export.h - users and the fleet's devices as CSV or JSON lines, a page at
 * a time: shared by the streamed GETs (GET /users/export, /devices/export)
 * and the export jobs (POST /users/export, /devices/export), which write
 * the same text to a file and can stop and resume between pages.
 *
 * An export is described by params, a JSON object the caller has checked
 * (the handlers build it from the query):
 *   {"kind": "users"|"devices", "format": "csv"|"jsonl", and the filters:
 *    users: "search", "role" (strings or null), "include_deleted" (bool),
 *           "sort" (enum store_user_sort), "desc" (bool);
 *    devices: "type" (-1 or a device type), "authenticated", "stale",
 *           "optimization_active", "needs_attention" (-1, 0, 1),
 *           "zip_code" (string or null)}
 * and its position by a cursor (a JSON object from export_cursor, or NULL
 * for the start).
 */
#ifndef FD_API_EXPORT_H
#define FD_API_EXPORT_H

#include <jansson.h>

#include "core/buf.h"
#include "store/store.h"

#define EXPORT_PAGE 1000

struct export;

/* An export of org's rows as params says (borrowed; copied), from cursor
 * (borrowed, may be NULL). FD_EINVALID when params or cursor are not one's. */
enum fd_err export_open(struct store *st, const char *org_id, json_t *params, json_t *cursor,
                        struct export **out /* OUT */);

/* Appends the next page to out (the CSV header before the first) and counts
 * its rows in *rows; *done once nothing is left. */
enum fd_err export_next(struct export *x, struct buf *out, int64_t *rows /* OUT */, int *done /* OUT */);

/* The matching rows as counted when the export opened (users; -1 for
 * devices until their first page, then the fleet's count). */
int64_t export_total(const struct export *x);

/* Where the export stands: a cursor for export_open (new reference). */
json_t *export_cursor(const struct export *x);

/* "text/csv; charset=utf-8" or "application/x-ndjson", and "csv" or "jsonl". */
const char *export_content_type(const struct export *x);
const char *export_extension(const struct export *x);

void export_free(struct export *x);

#endif
