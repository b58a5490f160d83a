/*
 * rows.h - an input file (CSV or JSON lines) read one row at a time, each
 * with the line it starts on and its byte range in the file, so a failed
 * row can be named by its line and copied, exactly as it was, into a
 * failed-rows file.
 *
 * Memory stays bounded by the longest row: CSV records by CSV_RECORD_MAX
 * (core/csv.h), JSON lines by ROWS_LINE_MAX. A row that cannot be read (a
 * malformed CSV record, a line too long, text that is not JSON) is still a
 * row: it comes with its line, its range and an error, and the reader goes
 * on with the next one. Blank JSON lines are skipped.
 */
#ifndef FD_REMOTE_ROWS_H
#define FD_REMOTE_ROWS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/err.h"

#define ROWS_LINE_MAX (64 * 1024)

enum rows_format { ROWS_CSV, ROWS_JSONL };

struct row {
	int64_t line;      /* the line it starts on, from 1 */
	int64_t offset;    /* its first byte in the file */
	int64_t end;       /* just past it and its line break */
	const char *error; /* why it cannot be read, or NULL */
	/* CSV: the fields (borrowed until the next call) */
	const char *const *fields;
	size_t nfields;
	/* JSON lines: the value (borrowed until the next call), NULL on error */
	json_t *value;
};

struct rows;

/*
 * The format named by flag ("csv", "jsonl"), else by path's extension
 * (.csv; .jsonl, .ndjson, .json). 0 with *fmt set, -1 when neither says.
 */
int rows_format_of(const char *path, const char *flag, enum rows_format *fmt /* OUT */);

/* A reader of f (borrowed) from its start. NULL on allocation failure. */
struct rows *rows_open(FILE *f, enum rows_format fmt);
void rows_free(struct rows *r);

/* The next row: FD_OK, FD_ENOTFOUND at the end, FD_EIO on a read error. */
enum fd_err rows_next(struct rows *r, struct row *row /* OUT */);

/* The rows in f (read from its start, then rewound; for a CSV file without
 * its header). -1 on a read error. */
int64_t rows_count(FILE *f, enum rows_format fmt);

#endif
