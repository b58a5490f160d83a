/*
 * failures.h - the rows of an input file that failed, kept three ways:
 *
 * - the first FAILURES_SHOWN, for the report on the terminal;
 * - every one as JSON ({"line","id","status","error"}), in a temporary
 *   file, for --json;
 * - the rows themselves, copied byte for byte from the input file (after
 *   its CSV header) into a file beside the failed-rows path, renamed onto
 *   it at the end when anything failed, so it can be fed back in.
 *
 * Memory stays bounded whatever the number of failures.
 */
#ifndef FD_REMOTE_FAILURES_H
#define FD_REMOTE_FAILURES_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/err.h"

#define FAILURES_SHOWN 20

struct failures;

/*
 * Failures of the file input_path (opened again here, to copy rows from),
 * to be written to out_path (a temporary file beside it is created now, so
 * an unwritable place fails before anything is sent). FD_EIO with errno
 * set, FD_ENOMEM. The caller frees *out with failures_free.
 */
enum fd_err failures_new(const char *input_path, const char *out_path, struct failures **out /* OUT */);

/* Copies the input's bytes [offset, end) (a CSV header) to the head of the
 * failed-rows file. */
enum fd_err failures_header(struct failures *f, int64_t offset, int64_t end);

/*
 * Records a failed row: its line and byte range in the input, the user id
 * (or NULL), the HTTP status of its failure (0 when it was never sent), a
 * one-line message, and the problem (borrowed, may be NULL).
 */
enum fd_err failures_add(struct failures *f, int64_t line, int64_t offset, int64_t end, const char *id, long status,
                         const char *message, json_t *problem);

int64_t failures_count(const struct failures *f);

/* Prints the first FAILURES_SHOWN on out, one a line: "line N (ID): MESSAGE". */
void failures_print(const struct failures *f, FILE *out);

/* Writes every failure as a JSON array to out. */
enum fd_err failures_write_json(struct failures *f, FILE *out);

/* When anything failed, renames the failed rows onto the out path;
 * otherwise removes the temporary file. FD_EIO with errno set. */
enum fd_err failures_commit(struct failures *f);

/* Frees f, removing the temporary file when it was not committed. */
void failures_free(struct failures *f);

/* The default failed-rows path of input: "DIR/NAME.failed.EXT" for
 * "DIR/NAME.EXT" (EXT csv, jsonl, ndjson or json), else input with
 * ".failed.csv" or ".failed.jsonl" added. FD_ETOOLARGE past n. */
enum fd_err failures_default_path(const char *input, int csv, char *out, size_t n);

/* Builds the one-line message of a row's problem into out: its detail, then
 * each errors[] entry's "pointer: detail", the pointer as the row sees it
 * ("/items/3/data/email" of a bulk item, "/data/email" of an import row:
 * "/email"). */
void failures_message(json_t *problem, char *out, size_t n);

#endif
