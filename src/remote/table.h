/*
 * table.h - aligned text tables for the terminal.
 *
 * Columns are as wide as their widest cell (in characters, not bytes), two
 * spaces apart. When the output is a terminal the table is fitted to its
 * width (TIOCGWINSZ, else $COLUMNS, else 80): the widest columns are cut
 * first, and a cut cell ends with "…". Control characters in cells (a
 * newline, an escape sequence in a name) are shown as '?', so data from
 * the server can never drive the terminal.
 *
 * Memory stays bounded: rows are kept until TABLE_CHUNK of them, then
 * printed; later chunks keep at least the widths of the earlier ones.
 */
#ifndef FD_REMOTE_TABLE_H
#define FD_REMOTE_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

#define TABLE_MAX_COLS 16
#define TABLE_CHUNK    1000
#define TABLE_CELL_MAX 1024 /* bytes of a cell that are kept */

struct table;

/* A table with ncols (1..TABLE_MAX_COLS) columns headed by headers (copied),
 * printed to out (borrowed). NULL on allocation failure or a bad ncols. */
struct table *table_new(FILE *out, const char *const *headers, size_t ncols);

/* Adds a row of ncols cells (copied; NULL is an empty cell). Prints the
 * rows kept so far when TABLE_CHUNK are. FD_ENOMEM. */
enum fd_err table_add(struct table *t, const char *const *cells);

/* Prints the rows kept (the header first, once). */
void table_flush(struct table *t);

/* Frees t without printing. */
void table_free(struct table *t);

/* The width to fit a table in on out: its terminal's columns, or 0 (no
 * limit) when out is not a terminal. */
int table_width(FILE *out);

/* Writes at most max bytes of s to out with every control character
 * (below 0x20, and 0x7f) replaced by '?'. */
void table_put_clean(FILE *out, const char *s, size_t max);

#endif
