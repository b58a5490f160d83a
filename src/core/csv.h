/*
 * csv.h - RFC 4180 CSV: a streaming record reader and a field writer.
 *
 * The reader takes records one at a time from a FILE, so memory stays
 * bounded by the longest record (CSV_RECORD_MAX) whatever the file's size.
 * Fields may be quoted ("a, b", with "" for a quote) and may then hold
 * commas and line breaks; records end with LF or CRLF. A UTF-8 byte order
 * mark at the start is skipped. Each record comes with the line it starts
 * on and the byte offsets around it, so a reader can resume exactly where
 * an earlier one stopped (csv_reader_seek).
 */
#ifndef FD_CSV_H
#define FD_CSV_H

#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/err.h"

#define CSV_RECORD_MAX (64 * 1024)
#define CSV_FIELDS_MAX 64

struct csv_record {
	const char *fields[CSV_FIELDS_MAX]; /* NUL-terminated, borrowed until the next call */
	size_t n;
	int64_t line;   /* the line the record starts on, from 1 */
	int64_t offset; /* the byte offset of its first byte */
	int64_t end;    /* the offset just past it (and its line break) */
	int64_t next_line; /* the line the next record starts on (csv_reader_seek(end, next_line)) */
	const char *raw; /* its text as in the file, without the line break */
	size_t raw_len;
};

struct csv_reader;

/* A reader of f (borrowed) positioned at its current offset, taken as line 1. */
struct csv_reader *csv_reader_new(FILE *f);
void csv_reader_free(struct csv_reader *r);
/* Continues at offset, which starts line (a record's end and next_line). */
enum fd_err csv_reader_seek(struct csv_reader *r, int64_t offset, int64_t line);

/*
 * The next record. FD_OK: *rec is filled. FD_ENOTFOUND at the end of the
 * file. FD_EINVALID: the record is malformed (*why says how, the reader
 * has skipped to the next line break outside quotes, and rec->line,
 * rec->offset, rec->end say where it was). FD_EIO on a read error.
 */
enum fd_err csv_next(struct csv_reader *r, struct csv_record *rec, const char **why);

/* Appends s as one field: quoted when it holds a comma, quote, CR or LF
 * or starts or ends with a space. When guard, a value that starts with =,
 * +, -, @, tab or CR (which spreadsheets run as a formula), after any
 * number of 's, gets one more ' in front; csv_unguard takes it off. */
enum fd_err csv_put_field(struct buf *b, const char *s, int guard);
/* Removes the ' that csv_put_field puts before a formula character. */
const char *csv_unguard(const char *s);

#endif
