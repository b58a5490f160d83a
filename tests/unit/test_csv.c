/*
 * test_csv.c - core/csv.h: the streaming RFC 4180 record reader (fields,
 * line numbers, byte offsets, raw text, resuming with csv_reader_seek,
 * malformed and oversized records) and the field writer (quoting, the
 * spreadsheet formula guard and csv_unguard), with write-then-read round
 * trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/csv.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ helpers */

/* A temporary file holding exactly the n bytes at p, positioned at 0. */
static FILE *open_bytes(const void *p, size_t n)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	if (n)
		assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fflush(f), 0);
	rewind(f);
	return f;
}
#define OPEN_LIT(s) open_bytes((s), sizeof(s) - 1)

static void next_ok(struct csv_reader *r, struct csv_record *rec)
{
	const char *why = NULL;
	enum fd_err rc = csv_next(r, rec, &why);
	if (rc != FD_OK)
		fail_msg("expected FD_OK, got %s (%s)", fd_err_name(rc), why ? why : "no why");
}

/* The record must be FD_EINVALID with a reason; returns the reason. */
static const char *next_invalid(struct csv_reader *r, struct csv_record *rec)
{
	const char *why = NULL;
	enum fd_err rc = csv_next(r, rec, &why);
	if (rc != FD_EINVALID)
		fail_msg("expected FD_EINVALID, got %s", fd_err_name(rc));
	assert_non_null(why);
	assert_true(why[0] != '\0');
	return why;
}

/* The end of the file: FD_ENOTFOUND, and again when asked again. */
static void next_end(struct csv_reader *r)
{
	struct csv_record rec;
	for (int i = 0; i < 3; i++) {
		const char *why = NULL;
		enum fd_err rc = csv_next(r, &rec, &why);
		if (rc != FD_ENOTFOUND)
			fail_msg("call %d at the end: expected FD_ENOTFOUND, got %s", i + 1, fd_err_name(rc));
	}
}

static void check_fields(const struct csv_record *rec, const char *const *want, size_t n)
{
	if (rec->n != n)
		fail_msg("expected %zu fields, got %zu", n, rec->n);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(rec->fields[i]);
		assert_string_equal(rec->fields[i], want[i]);
	}
}
#define FIELDS(rec, ...)                                                                                               \
	check_fields((rec), (const char *const[]){__VA_ARGS__},                                                        \
	             sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void check_pos(const struct csv_record *rec, int64_t line, int64_t offset, int64_t end)
{
	assert_int_equal(rec->line, line);
	assert_int_equal(rec->offset, offset);
	assert_int_equal(rec->end, end);
}

static void check_raw(const struct csv_record *rec, const char *want)
{
	size_t n = strlen(want);
	if (rec->raw_len != n)
		fail_msg("raw: expected %zu bytes, got %zu", n, rec->raw_len);
	assert_non_null(rec->raw);
	assert_memory_equal(rec->raw, want, n);
}

/* A copy of a record, kept past the next csv_next. */
struct rec_copy {
	enum fd_err rc;
	int64_t line, offset, end;
	size_t n;
	char *fields[CSV_FIELDS_MAX];
	char *raw;
	size_t raw_len;
};

static void copy_record(struct rec_copy *c, enum fd_err rc, const struct csv_record *rec)
{
	memset(c, 0, sizeof *c);
	c->rc = rc;
	c->line = rec->line;
	c->offset = rec->offset;
	c->end = rec->end;
	c->n = rec->n;
	assert_true(rec->n <= CSV_FIELDS_MAX);
	for (size_t i = 0; i < rec->n; i++) {
		c->fields[i] = strdup(rec->fields[i]);
		assert_non_null(c->fields[i]);
	}
	c->raw = malloc(rec->raw_len + 1);
	assert_non_null(c->raw);
	if (rec->raw_len)
		memcpy(c->raw, rec->raw, rec->raw_len);
	c->raw_len = rec->raw_len;
}

static void free_records(struct rec_copy *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < c[i].n; j++)
			free(c[i].fields[j]);
		free(c[i].raw);
	}
}

/* Reads every record (FD_OK or FD_EINVALID) up to FD_ENOTFOUND, checking it stays there. */
static size_t read_all(struct csv_reader *r, struct rec_copy *out, size_t max)
{
	size_t n = 0;
	for (;;) {
		struct csv_record rec;
		const char *why = NULL;
		enum fd_err rc = csv_next(r, &rec, &why);
		if (rc == FD_ENOTFOUND)
			break;
		if (rc != FD_OK && rc != FD_EINVALID)
			fail_msg("record %zu: unexpected %s", n + 1, fd_err_name(rc));
		if (rc == FD_EINVALID)
			assert_non_null(why);
		assert_true(n < max);
		copy_record(&out[n++], rc, &rec);
	}
	next_end(r);
	return n;
}

static void assert_same_record(const struct rec_copy *a, const struct rec_copy *b, size_t i)
{
	if (a->rc != b->rc)
		fail_msg("record %zu: %s, then %s", i + 1, fd_err_name(a->rc), fd_err_name(b->rc));
	assert_int_equal(a->line, b->line);
	assert_int_equal(a->offset, b->offset);
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->raw_len, b->raw_len);
	if (a->raw_len)
		assert_memory_equal(a->raw, b->raw, a->raw_len);
	if (a->rc == FD_OK) {
		assert_int_equal(a->n, b->n);
		for (size_t j = 0; j < a->n; j++)
			assert_string_equal(a->fields[j], b->fields[j]);
	}
}

static int64_t count_lf(const char *p, size_t n)
{
	int64_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

/* The line after the record c of the file data: its line plus the line breaks in its bytes. */
static int64_t line_after(const char *data, const struct rec_copy *c)
{
	size_t len = (size_t)(c->end - c->offset);
	int64_t lfs = count_lf(data + c->offset, len);
	if (len == 0 || data[c->offset + len - 1] != '\n')
		lfs++; /* the last record, without a line break */
	return c->line + lfs;
}

/*
 * The byte-level properties of a whole read of the n bytes at data, which
 * has no byte order mark unless bom: records tile the file (each starts where
 * the one before ended, on the line after it), raw is the file's bytes from
 * offset without the line break, and what lies between raw and end is "\n",
 * "\r\n" or nothing (the last record only). An over-long record's raw may be
 * cut short: it is only checked to be a prefix of its bytes.
 */
static void check_tiling(const char *data, size_t n, const struct rec_copy *recs, size_t nrec, int bom, int lone_cr)
{
	int64_t at = bom ? 3 : 0, line = 1;
	for (size_t i = 0; i < nrec; i++) {
		const struct rec_copy *c = &recs[i];
		if (c->offset != at)
			fail_msg("record %zu: offset %lld, expected %lld", i + 1, (long long)c->offset, (long long)at);
		if (c->line != line)
			fail_msg("record %zu: line %lld, expected %lld", i + 1, (long long)c->line, (long long)line);
		assert_true(c->offset + (int64_t)c->raw_len <= c->end);
		assert_true(c->end <= (int64_t)n);
		if (c->raw_len)
			assert_memory_equal(c->raw, data + c->offset, c->raw_len);
		at = c->end;
		line = line_after(data, c);
		if (c->rc == FD_EINVALID && c->raw_len == CSV_RECORD_MAX)
			continue; /* cut short */
		assert_int_equal(count_lf(c->raw, c->raw_len) + 1, line - c->line);
		const char *brk = data + c->offset + c->raw_len;
		int64_t brk_len = c->end - c->offset - (int64_t)c->raw_len;
		if (brk_len == 0)
			assert_int_equal(c->end, (int64_t)n); /* only the last record may lack a line break */
		else if (brk_len == 1 && lone_cr && brk[0] == '\r')
			; /* a lone CR ended it */
		else if (brk_len == 1)
			assert_int_equal(brk[0], '\n');
		else if (brk_len == 2)
			assert_memory_equal(brk, "\r\n", 2);
		else
			fail_msg("record %zu: %lld bytes between its text and its end", i + 1, (long long)brk_len);
	}
	assert_int_equal(at, (int64_t)n);
}

/*
 * Reads the file fully, then for each record re-opens a reader at its end
 * (csv_reader_seek(end, the line after it)) and checks that the rest reads
 * exactly as in the full read; and csv_reader_seek(0, 1) reads it all again.
 */
static void check_resume_everywhere(const char *data, size_t n, int bom, int lone_cr)
{
	enum { MAXREC = 64 };
	static struct rec_copy all[MAXREC], rest[MAXREC];
	FILE *f = open_bytes(data, n);
	struct csv_reader *r = csv_reader_new(f);
	assert_non_null(r);
	size_t nall = read_all(r, all, MAXREC);
	csv_reader_free(r);
	assert_true(nall > 0);
	check_tiling(data, n, all, nall, bom, lone_cr);

	for (size_t i = 0; i <= nall; i++) {
		int64_t off = i ? all[i - 1].end : 0;
		int64_t line = i ? line_after(data, &all[i - 1]) : 1;
		r = csv_reader_new(f);
		assert_non_null(r);
		assert_int_equal(csv_reader_seek(r, off, line), FD_OK);
		size_t nrest = read_all(r, rest, MAXREC);
		csv_reader_free(r);
		if (nrest != nall - i)
			fail_msg("resumed after record %zu: %zu records, expected %zu", i, nrest, nall - i);
		for (size_t j = 0; j < nrest; j++)
			assert_same_record(&all[i + j], &rest[j], i + j);
		free_records(rest, nrest);
	}
	free_records(all, nall);
	fclose(f);
}

/* ------------------------------------------------------------------ reader: well-formed records */

static void test_simple_records_with_lf(void **state)
{
	FILE *f = OPEN_LIT("a,b,c\n1,22,333\n");
	struct csv_reader *r = csv_reader_new(f);
	assert_non_null(r);
	struct csv_record rec;

	next_ok(r, &rec);
	FIELDS(&rec, "a", "b", "c");
	check_pos(&rec, 1, 0, 6);
	check_raw(&rec, "a,b,c");

	next_ok(r, &rec);
	FIELDS(&rec, "1", "22", "333");
	check_pos(&rec, 2, 6, 15);
	check_raw(&rec, "1,22,333");

	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_crlf_record_ends(void **state)
{
	FILE *f = OPEN_LIT("a,b\r\nc,d\r\n\r\ne\r\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;

	next_ok(r, &rec);
	FIELDS(&rec, "a", "b");
	check_pos(&rec, 1, 0, 5);
	check_raw(&rec, "a,b");

	next_ok(r, &rec);
	FIELDS(&rec, "c", "d");
	check_pos(&rec, 2, 5, 10);
	check_raw(&rec, "c,d");

	next_ok(r, &rec); /* an empty CRLF line */
	FIELDS(&rec, "");
	check_pos(&rec, 3, 10, 12);
	check_raw(&rec, "");

	next_ok(r, &rec);
	FIELDS(&rec, "e");
	check_pos(&rec, 4, 12, 15);

	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_lf_and_crlf_mixed_in_one_file(void **state)
{
	FILE *f = OPEN_LIT("a\r\nb\nc\r\nd\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "a");
	check_pos(&rec, 1, 0, 3);
	next_ok(r, &rec);
	FIELDS(&rec, "b");
	check_pos(&rec, 2, 3, 5);
	next_ok(r, &rec);
	FIELDS(&rec, "c");
	check_pos(&rec, 3, 5, 8);
	next_ok(r, &rec);
	FIELDS(&rec, "d");
	check_pos(&rec, 4, 8, 10);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_last_record_without_trailing_newline(void **state)
{
	FILE *f = OPEN_LIT("a,b\nc,d");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "a", "b");
	next_ok(r, &rec);
	FIELDS(&rec, "c", "d");
	check_pos(&rec, 2, 4, 7);
	check_raw(&rec, "c,d");
	next_end(r);
	csv_reader_free(r);
	fclose(f);

	/* a single record, no line break at all */
	f = OPEN_LIT("x");
	r = csv_reader_new(f);
	next_ok(r, &rec);
	FIELDS(&rec, "x");
	check_pos(&rec, 1, 0, 1);
	check_raw(&rec, "x");
	next_end(r);
	csv_reader_free(r);
	fclose(f);

	/* a quoted last field closed right at the end of the file */
	f = OPEN_LIT("a\r\n\"q,\"\"\"");
	r = csv_reader_new(f);
	next_ok(r, &rec);
	next_ok(r, &rec);
	FIELDS(&rec, "q,\"");
	check_pos(&rec, 2, 3, 9);
	check_raw(&rec, "\"q,\"\"\"");
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_quoted_fields_with_commas_and_doubled_quotes(void **state)
{
	FILE *f = OPEN_LIT("\"a,b\",\"say \"\"hi\"\"\",\"\",\"\"\"\",plain\n\"\",x\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;

	next_ok(r, &rec);
	FIELDS(&rec, "a,b", "say \"hi\"", "", "\"", "plain");
	check_raw(&rec, "\"a,b\",\"say \"\"hi\"\"\",\"\",\"\"\"\",plain");
	check_pos(&rec, 1, 0, 33);

	next_ok(r, &rec);
	FIELDS(&rec, "", "x");
	check_pos(&rec, 2, 33, 38);
	check_raw(&rec, "\"\",x");

	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_quoted_field_with_embedded_lf_counts_its_lines(void **state)
{
	FILE *f = OPEN_LIT("\"line1\nline2\n\",x\nnext\n\"a\nb\"\nlast\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;

	next_ok(r, &rec);
	FIELDS(&rec, "line1\nline2\n", "x");
	check_pos(&rec, 1, 0, 17); /* starts on line 1, spans lines 1-3 */
	check_raw(&rec, "\"line1\nline2\n\",x");

	next_ok(r, &rec);
	FIELDS(&rec, "next");
	check_pos(&rec, 4, 17, 22);

	next_ok(r, &rec);
	FIELDS(&rec, "a\nb");
	check_pos(&rec, 5, 22, 28);

	next_ok(r, &rec);
	FIELDS(&rec, "last");
	check_pos(&rec, 7, 28, 33);

	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_quoted_field_with_embedded_crlf_counts_its_lines(void **state)
{
	FILE *f = OPEN_LIT("\"a\r\nb\r\nc\",d\r\ne\r\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;

	next_ok(r, &rec);
	FIELDS(&rec, "a\r\nb\r\nc", "d");
	check_pos(&rec, 1, 0, 13);
	check_raw(&rec, "\"a\r\nb\r\nc\",d");

	next_ok(r, &rec);
	FIELDS(&rec, "e");
	check_pos(&rec, 4, 13, 16);

	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_empty_fields(void **state)
{
	FILE *f = OPEN_LIT(",,\na,b,\n,a\na,,b\n\"\",\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "", "", "");
	check_raw(&rec, ",,");
	next_ok(r, &rec);
	FIELDS(&rec, "a", "b", ""); /* a trailing comma is an empty last field */
	next_ok(r, &rec);
	FIELDS(&rec, "", "a");
	next_ok(r, &rec);
	FIELDS(&rec, "a", "", "b");
	next_ok(r, &rec);
	FIELDS(&rec, "", "");
	check_pos(&rec, 5, 16, 20);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_empty_line_is_one_empty_field(void **state)
{
	FILE *f = OPEN_LIT("a\n\nb\n\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "a");
	next_ok(r, &rec);
	FIELDS(&rec, "");
	check_pos(&rec, 2, 2, 3);
	check_raw(&rec, "");
	next_ok(r, &rec);
	FIELDS(&rec, "b");
	check_pos(&rec, 3, 3, 5);
	next_ok(r, &rec);
	FIELDS(&rec, "");
	check_pos(&rec, 4, 5, 6);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_empty_file_is_the_end_at_once_and_stays_there(void **state)
{
	FILE *f = open_bytes("", 0);
	struct csv_reader *r = csv_reader_new(f);
	assert_non_null(r);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_free_of_null_is_harmless(void **state)
{
	csv_reader_free(NULL);
}

/* ------------------------------------------------------------------ reader: byte order mark */

static void test_bom_at_start_is_skipped(void **state)
{
	FILE *f = OPEN_LIT("\xEF\xBB\xBF"
	                   "a,b\nc\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "a", "b");
	check_pos(&rec, 1, 3, 7);
	check_raw(&rec, "a,b");
	next_ok(r, &rec);
	FIELDS(&rec, "c");
	check_pos(&rec, 2, 7, 9);
	next_end(r);
	csv_reader_free(r);
	fclose(f);

	/* a BOM before a quoted first field */
	f = OPEN_LIT("\xEF\xBB\xBF\"x,y\"\r\n");
	r = csv_reader_new(f);
	next_ok(r, &rec);
	FIELDS(&rec, "x,y");
	check_pos(&rec, 1, 3, 10);
	check_raw(&rec, "\"x,y\"");
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_bom_only_file_has_no_records(void **state)
{
	FILE *f = OPEN_LIT("\xEF\xBB\xBF");
	struct csv_reader *r = csv_reader_new(f);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_bom_bytes_after_the_start_are_data(void **state)
{
	FILE *f = OPEN_LIT("a\n\xEF\xBB\xBF"
	                   "b\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "a");
	next_ok(r, &rec);
	FIELDS(&rec, "\xEF\xBB\xBF"
	             "b");
	check_pos(&rec, 2, 2, 7);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_broken_bom_is_data_and_reader_continues(void **state)
{
	/* EF BB then 'A': not a byte order mark; the bytes are data (UTF-8 is checked by the importer) */
	FILE *f = OPEN_LIT("\xEF\xBB"
	                   "A,b\nc,d\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "\xEF\xBB" "A", "b");
	assert_int_equal(rec.line, 1);
	assert_int_equal(rec.offset, 0);
	next_ok(r, &rec);
	FIELDS(&rec, "c", "d");
	assert_int_equal(rec.line, 2);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

/* Regression: bytes that only start like a byte order mark are all kept,
 * so later offsets and lines stay exact. */
static void test_broken_bom_keeps_byte_offsets_and_lines(void **state)
{
	static const struct {
		const char *data;
		const char *last; /* the last record's only field */
		int64_t line, offset, end;
	} cases[] = {
	    {"\xEF\xBB"
	     "A,b\nc,d\n",
	     "d", 2, 6, 10},
	    {"\xEF\nabc\ndef\n", "def", 3, 6, 10},
	    {"\xEF"
	     "ab,c\nd\n",
	     "d", 2, 6, 8},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		FILE *f = open_bytes(cases[i].data, strlen(cases[i].data));
		struct csv_reader *r = csv_reader_new(f);
		struct csv_record rec;
		const char *why0 = NULL;
		assert_int_equal(csv_next(r, &rec, &why0), FD_OK); /* the broken mark's bytes are data */
		assert_int_equal(rec.offset, 0);
		assert_int_equal(rec.line, 1);
		const char *why = NULL;
		enum fd_err rc;
		struct csv_record last = {0};
		int seen = 0;
		while ((rc = csv_next(r, &rec, &why)) != FD_ENOTFOUND) {
			assert_true(rc == FD_OK || rc == FD_EINVALID);
			last = rec;
			seen = 1;
		}
		assert_true(seen);
		assert_string_equal(last.fields[last.n - 1], cases[i].last);
		check_pos(&last, cases[i].line, cases[i].offset, cases[i].end);
		csv_reader_free(r);
		fclose(f);
	}
}

/* Regression: a file that is only the start of a byte order mark (EF, or
 * EF BB) is one record of those bytes, not an empty file. */
static void test_truncated_bom_at_the_end_is_data(void **state)
{
	static const char *const files[] = {"\xEF", "\xEF\xBB"};
	for (size_t i = 0; i < NELEM(files); i++) {
		FILE *f = open_bytes(files[i], strlen(files[i]));
		struct csv_reader *r = csv_reader_new(f);
		struct csv_record rec;
		next_ok(r, &rec);
		assert_string_equal(rec.fields[0], files[i]);
		assert_int_equal(rec.line, 1);
		assert_int_equal(rec.offset, 0);
		next_end(r);
		csv_reader_free(r);
		fclose(f);
	}
}

/* Regression: UTF-8 text that starts with a character in U+F000..U+FFFF
 * (first byte EF, here U+FF01) is text, not a broken byte order mark. */
static void test_utf8_text_starting_with_ef_is_not_a_bom(void **state)
{
	FILE *f = OPEN_LIT("\xEF\xBC\x81,b\nc\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "\xEF\xBC\x81", "b");
	check_pos(&rec, 1, 0, 6);
	next_ok(r, &rec);
	FIELDS(&rec, "c");
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

/* ------------------------------------------------------------------ reader: raw text, offsets, resuming */

/* A file with every kind of record, good and bad, LF and CRLF, no final line break. */
static const char MIXED[] = "id,name,note\r\n"
                            "1,\"Smith, J\",\"said \"\"hi\"\"\"\r\n"
                            "2,\"multi\nline\r\nnote\",x\n"
                            "\n"
                            ",,\n"
                            "\r\n"
                            "3,bad\"quote,z\n"
                            "4,\"closed\"junk,\"spans\nlines\"\r\n"
                            "5,\"ok\",\n"
                            "\"\",\"\"\"\"\n"
                            "6,last";

static void test_raw_and_offsets_tile_the_file(void **state)
{
	enum { MAXREC = 32 };
	static struct rec_copy recs[MAXREC];
	FILE *f = OPEN_LIT(MIXED);
	struct csv_reader *r = csv_reader_new(f);
	size_t n = read_all(r, recs, MAXREC);
	csv_reader_free(r);
	fclose(f);

	assert_int_equal(n, 11);
	check_tiling(MIXED, sizeof MIXED - 1, recs, n, 0, 0);
	static const enum fd_err want_rc[] = {FD_OK,       FD_OK,       FD_OK, FD_OK, FD_OK, FD_OK,
	                                      FD_EINVALID, FD_EINVALID, FD_OK, FD_OK, FD_OK};
	static const int64_t want_line[] = {1, 2, 3, 6, 7, 8, 9, 10, 12, 13, 14};
	for (size_t i = 0; i < n; i++) {
		if (recs[i].rc != want_rc[i])
			fail_msg("record %zu: %s", i + 1, fd_err_name(recs[i].rc));
		assert_int_equal(recs[i].line, want_line[i]);
	}
	assert_int_equal(recs[2].n, 3);
	assert_string_equal(recs[2].fields[1], "multi\nline\r\nnote");
	assert_string_equal(recs[1].fields[2], "said \"hi\"");
	free_records(recs, n);
}

static void test_seek_to_each_record_end_resumes_at_the_next_record(void **state)
{
	check_resume_everywhere(MIXED, sizeof MIXED - 1, 0, 0);
}

static void test_seek_resumes_in_a_file_with_a_bom(void **state)
{
	static const char data[] = "\xEF\xBB\xBF"
	                           "a,b\r\n\"c\r\nd\",e\r\nf";
	check_resume_everywhere(data, sizeof data - 1, 1, 0);
}

static void test_seek_resumes_around_oversized_records(void **state)
{
	/* a good record, one of 100 fields, one of 70000 bytes, one good record */
	struct buf b;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_puts(&b, "first,1\n"), FD_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_puts(&b, i ? ",f" : "f"), FD_OK);
	assert_int_equal(buf_puts(&b, "\r\n\""), FD_OK);
	for (int i = 0; i < 70000; i++)
		assert_int_equal(buf_puts(&b, i % 1000 == 999 ? "\n" : "x"), FD_OK);
	assert_int_equal(buf_puts(&b, "\",y\nlast,2\n"), FD_OK);
	check_resume_everywhere(b.data, b.len, 0, 0);
	buf_release(&b);
}

/*
 * A lone CR outside quotes is not in the contract (records end with LF or
 * CRLF); the reader ends a record there. Whatever it makes of it, offsets
 * must stay exact and resuming must work.
 */
static void test_lone_cr_keeps_offsets_exact_and_resumable(void **state)
{
	static const char data[] = "a\rb\n\"x\ry\",z\r\rw\r\nlast\r";
	check_resume_everywhere(data, sizeof data - 1, 0, 1);

	FILE *f = OPEN_LIT("a\rb\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "a");
	check_pos(&rec, 1, 0, 2);
	next_ok(r, &rec);
	FIELDS(&rec, "b");
	check_pos(&rec, 2, 2, 4);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_reader_new_starts_at_the_current_position(void **state)
{
	FILE *f = OPEN_LIT("a,b\nc,d\ne\n");
	assert_int_equal(fseek(f, 4, SEEK_SET), 0);
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "c", "d");
	check_pos(&rec, 1, 4, 8); /* its current offset is taken as line 1 */
	next_ok(r, &rec);
	FIELDS(&rec, "e");
	check_pos(&rec, 2, 8, 10);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_seek_back_to_the_start_skips_the_bom_again(void **state)
{
	FILE *f = OPEN_LIT("\xEF\xBB\xBF"
	                   "a\nb\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	next_ok(r, &rec);
	next_end(r);
	assert_int_equal(csv_reader_seek(r, 0, 1), FD_OK);
	next_ok(r, &rec);
	FIELDS(&rec, "a");
	check_pos(&rec, 1, 3, 5);
	assert_int_equal(csv_reader_seek(r, 5, 2), FD_OK);
	next_ok(r, &rec);
	FIELDS(&rec, "b");
	check_pos(&rec, 2, 5, 7);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

/* ------------------------------------------------------------------ reader: malformed records */

static void test_unclosed_quote_at_eof_is_invalid(void **state)
{
	const char data[] = "a\n\"bc,d\ne\n";
	FILE *f = OPEN_LIT(data);
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;
	next_ok(r, &rec);
	FIELDS(&rec, "a");
	next_invalid(r, &rec);
	check_pos(&rec, 2, 2, (int64_t)sizeof data - 1); /* it runs to the end of the file */
	next_end(r);
	csv_reader_free(r);
	fclose(f);

	/* just a quote */
	f = OPEN_LIT("\"");
	r = csv_reader_new(f);
	next_invalid(r, &rec);
	check_pos(&rec, 1, 0, 1);
	next_end(r);
	csv_reader_free(r);
	fclose(f);

	/* a doubled quote is not a closing one */
	f = OPEN_LIT("\"abc\"\"");
	r = csv_reader_new(f);
	next_invalid(r, &rec);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_text_after_a_closing_quote_is_invalid_and_reader_continues(void **state)
{
	FILE *f = OPEN_LIT("\"a\"b,c\nd,e\n\"x\ny\"z,w\r\nnext\r\n\"q\" \n\"last\"x");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;

	next_invalid(r, &rec);
	check_pos(&rec, 1, 0, 7);
	check_raw(&rec, "\"a\"b,c");

	next_ok(r, &rec);
	FIELDS(&rec, "d", "e");
	check_pos(&rec, 2, 7, 11);

	next_invalid(r, &rec); /* spans two lines */
	check_pos(&rec, 3, 11, 21);

	next_ok(r, &rec);
	FIELDS(&rec, "next");
	check_pos(&rec, 5, 21, 27);

	next_invalid(r, &rec); /* a space after the closing quote */
	check_pos(&rec, 6, 27, 32);

	next_invalid(r, &rec); /* and at the end of the file */
	check_pos(&rec, 7, 32, 39);

	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

static void test_quote_inside_an_unquoted_field_is_invalid_and_reader_continues(void **state)
{
	FILE *f = OPEN_LIT("ab\"c,d\r\ne\r\nx,y\"\nz\n a\"b\"\nok\n");
	struct csv_reader *r = csv_reader_new(f);
	struct csv_record rec;

	next_invalid(r, &rec);
	check_pos(&rec, 1, 0, 8);
	check_raw(&rec, "ab\"c,d");

	next_ok(r, &rec);
	FIELDS(&rec, "e");
	check_pos(&rec, 2, 8, 11);

	next_invalid(r, &rec); /* at the end of a field */
	check_pos(&rec, 3, 11, 16);

	next_ok(r, &rec);
	FIELDS(&rec, "z");

	next_invalid(r, &rec); /* a quote after a space is not an opening quote */
	assert_int_equal(rec.line, 5);

	next_ok(r, &rec);
	FIELDS(&rec, "ok");
	assert_int_equal(rec.line, 6);

	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

/* ------------------------------------------------------------------ reader: bounds */

static FILE *open_fields(int nfields, const char *after)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < nfields; i++) {
		char tmp[32];
		snprintf(tmp, sizeof tmp, "%sf%d", i ? "," : "", i);
		assert_int_equal(buf_puts(&b, tmp), FD_OK);
	}
	assert_int_equal(buf_puts(&b, after), FD_OK);
	FILE *f = open_bytes(b.data, b.len);
	buf_release(&b);
	return f;
}

static void test_64_fields_are_fine_and_more_are_invalid(void **state)
{
	struct csv_record rec;

	FILE *f = open_fields(CSV_FIELDS_MAX, "\nnext\n");
	struct csv_reader *r = csv_reader_new(f);
	next_ok(r, &rec);
	assert_int_equal(rec.n, CSV_FIELDS_MAX);
	assert_string_equal(rec.fields[0], "f0");
	assert_string_equal(rec.fields[CSV_FIELDS_MAX - 1], "f63");
	next_ok(r, &rec);
	FIELDS(&rec, "next");
	next_end(r);
	csv_reader_free(r);
	fclose(f);

	static const int too_many[] = {CSV_FIELDS_MAX + 1, CSV_FIELDS_MAX + 2, 1000, 20000};
	for (size_t i = 0; i < NELEM(too_many); i++) {
		f = open_fields(too_many[i], "\r\nnext\r\n");
		r = csv_reader_new(f);
		next_invalid(r, &rec);
		assert_int_equal(rec.line, 1);
		assert_int_equal(rec.offset, 0);
		assert_true(rec.n <= CSV_FIELDS_MAX);
		int64_t end = rec.end;
		next_ok(r, &rec);
		FIELDS(&rec, "next");
		assert_int_equal(rec.line, 2);
		assert_int_equal(rec.offset, end);
		next_end(r);
		csv_reader_free(r);
		fclose(f);
	}

	/* 65 empty fields: 64 commas */
	char commas[CSV_FIELDS_MAX + 2];
	memset(commas, ',', CSV_FIELDS_MAX);
	commas[CSV_FIELDS_MAX] = '\n';
	f = open_bytes(commas, CSV_FIELDS_MAX + 1);
	r = csv_reader_new(f);
	next_invalid(r, &rec);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
	/* 64 empty fields: 63 commas */
	commas[CSV_FIELDS_MAX - 1] = '\n';
	f = open_bytes(commas, CSV_FIELDS_MAX);
	r = csv_reader_new(f);
	next_ok(r, &rec);
	assert_int_equal(rec.n, CSV_FIELDS_MAX);
	assert_string_equal(rec.fields[CSV_FIELDS_MAX - 1], "");
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

/* A file: prefix, then a record of len bytes (quoted when quoted, with a LF every 1000 bytes inside), then "\nnext\n".
 */
static FILE *open_long_record(size_t len, int quoted, const char *prefix)
{
	struct buf b;
	buf_init(&b, len + 1024);
	assert_int_equal(buf_puts(&b, prefix), FD_OK);
	if (quoted)
		assert_int_equal(buf_puts(&b, "\""), FD_OK);
	size_t body = quoted ? len - 2 : len;
	for (size_t i = 0; i < body; i++)
		assert_int_equal(buf_append(&b, quoted && i % 1000 == 999 ? "\n" : "x", 1), FD_OK);
	if (quoted)
		assert_int_equal(buf_puts(&b, "\""), FD_OK);
	assert_int_equal(buf_puts(&b, "\nnext\n"), FD_OK);
	FILE *f = open_bytes(b.data, b.len);
	buf_release(&b);
	return f;
}

static void test_record_of_64_kib_is_fine_and_longer_is_invalid(void **state)
{
	struct csv_record rec;

	/* exactly CSV_RECORD_MAX bytes */
	FILE *f = open_long_record(CSV_RECORD_MAX, 0, "");
	struct csv_reader *r = csv_reader_new(f);
	next_ok(r, &rec);
	assert_int_equal(rec.n, 1);
	assert_int_equal(strlen(rec.fields[0]), CSV_RECORD_MAX);
	assert_int_equal(rec.raw_len, CSV_RECORD_MAX);
	check_pos(&rec, 1, 0, CSV_RECORD_MAX + 1);
	next_ok(r, &rec);
	FIELDS(&rec, "next");
	next_end(r);
	csv_reader_free(r);
	fclose(f);

	static const size_t too_long[] = {CSV_RECORD_MAX + 1, CSV_RECORD_MAX + 100, 3 * CSV_RECORD_MAX, 1000000};
	for (int quoted = 0; quoted <= 1; quoted++) {
		for (size_t i = 0; i < NELEM(too_long); i++) {
			size_t len = too_long[i];
			int64_t lfs = quoted ? (int64_t)((len - 2) / 1000) : 0;
			f = open_long_record(len, quoted, "a,b\n");
			r = csv_reader_new(f);
			next_ok(r, &rec);
			FIELDS(&rec, "a", "b");
			next_invalid(r, &rec);
			check_pos(&rec, 2, 4, 4 + (int64_t)len + 1);
			assert_true(rec.raw_len <= CSV_RECORD_MAX);
			assert_true(rec.n >= 1 && rec.n <= CSV_FIELDS_MAX);
			next_ok(r, &rec);
			FIELDS(&rec, "next");
			check_pos(&rec, 3 + lfs, 4 + (int64_t)len + 1, 4 + (int64_t)len + 6);
			next_end(r);
			csv_reader_free(r);
			fclose(f);
		}
	}

	/* long, and with too many fields, in one record */
	struct buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 200000; i++)
		assert_int_equal(buf_puts(&b, i % 3 ? "y" : ","), FD_OK);
	assert_int_equal(buf_puts(&b, "\nok\n"), FD_OK);
	f = open_bytes(b.data, b.len);
	buf_release(&b);
	r = csv_reader_new(f);
	next_invalid(r, &rec);
	next_ok(r, &rec);
	FIELDS(&rec, "ok");
	next_end(r);
	csv_reader_free(r);
	fclose(f);
}

/* ------------------------------------------------------------------ writer */

/* What csv_put_field appends to an empty buffer. */
static char *put(const char *s, int guard)
{
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(csv_put_field(&b, s, guard), FD_OK);
	return buf_detach(&b, NULL);
}

static void expect_put(const char *in, int guard, const char *want)
{
	char *got = put(in, guard);
	if (strcmp(got, want) != 0)
		fail_msg("csv_put_field(\"%s\", %d): got [%s], expected [%s]", in, guard, got, want);
	free(got);
}

static void test_put_field_leaves_plain_text_unquoted(void **state)
{
	for (int guard = 0; guard <= 1; guard++) {
		expect_put("abc", guard, "abc");
		expect_put("hello world", guard, "hello world");
		expect_put("a'b", guard, "a'b");
		expect_put("'abc", guard, "'abc");
		expect_put("x\ty", guard, "x\ty");
		expect_put("1-2=3", guard, "1-2=3");
		expect_put("42", guard, "42");
		expect_put("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC", guard, "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC");
		expect_put("", guard, "");
	}
}

static void test_put_field_quotes_what_needs_quoting(void **state)
{
	for (int guard = 0; guard <= 1; guard++) {
		expect_put("a,b", guard, "\"a,b\"");
		expect_put(",", guard, "\",\"");
		expect_put("say \"hi\"", guard, "\"say \"\"hi\"\"\"");
		expect_put("\"", guard, "\"\"\"\"");
		expect_put("\"\"", guard, "\"\"\"\"\"\"");
		expect_put("a\nb", guard, "\"a\nb\"");
		expect_put("a\rb", guard, "\"a\rb\"");
		expect_put("a\r\nb", guard, "\"a\r\nb\"");
		expect_put("a\n", guard, "\"a\n\"");
		expect_put(" lead", guard, "\" lead\"");
		expect_put("trail ", guard, "\"trail \"");
		expect_put(" ", guard, "\" \"");
		expect_put("in side", guard, "in side"); /* an inner space alone is not enough */
	}
}

static void test_put_field_null_appends_nothing(void **state)
{
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(csv_put_field(&b, NULL, 0), FD_OK);
	assert_int_equal(csv_put_field(&b, NULL, 1), FD_OK);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_puts(&b, "x"), FD_OK);
	assert_int_equal(csv_put_field(&b, NULL, 1), FD_OK);
	assert_int_equal(b.len, 1);
	assert_string_equal(b.data, "x");
	buf_release(&b);
}

static void test_put_field_appends_to_what_is_there(void **state)
{
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(csv_put_field(&b, "a", 1), FD_OK);
	assert_int_equal(buf_puts(&b, ","), FD_OK);
	assert_int_equal(csv_put_field(&b, "b,c", 1), FD_OK);
	assert_int_equal(buf_puts(&b, ","), FD_OK);
	assert_int_equal(csv_put_field(&b, "=d", 1), FD_OK);
	assert_string_equal(b.data, "a,\"b,c\",'=d");
	buf_release(&b);
}

static void test_put_field_over_the_buffer_maximum_fails(void **state)
{
	struct buf b;
	buf_init(&b, 4);
	assert_int_not_equal(csv_put_field(&b, "abcdefgh", 0), FD_OK);
	assert_true(b.len <= 4);
	buf_release(&b);
}

static void test_formula_guard_prefixes_a_quote_when_guard(void **state)
{
	expect_put("=1+1", 1, "'=1+1");
	expect_put("=", 1, "'=");
	expect_put("+1", 1, "'+1");
	expect_put("-1", 1, "'-1");
	expect_put("@SUM(A1)", 1, "'@SUM(A1)");
	expect_put("\tx", 1, "'\tx");
	expect_put("\rx", 1, "\"'\rx\"");     /* CR: guarded, and quoted */
	expect_put("\r\n=", 1, "\"'\r\n=\""); /* ditto */
	expect_put("'=x", 1, "''=x");
	expect_put("''+x", 1, "'''+x");
	expect_put("'\t", 1, "''\t");
	expect_put("=a,b", 1, "\"'=a,b\"");
	expect_put("=HYPERLINK(\"x\")", 1, "\"'=HYPERLINK(\"\"x\"\")\"");
	expect_put("-x ", 1, "\"'-x \"");
	/* no formula character first: left alone */
	expect_put("'abc", 1, "'abc");
	expect_put("'", 1, "'");
	expect_put("''", 1, "''");
	expect_put("a=b", 1, "a=b");
	expect_put("1+2", 1, "1+2");
	expect_put("\nx", 1, "\"\nx\"");
}

static void test_formula_guard_is_off_when_not_guard(void **state)
{
	expect_put("=1+1", 0, "=1+1");
	expect_put("+1", 0, "+1");
	expect_put("-1", 0, "-1");
	expect_put("@x", 0, "@x");
	expect_put("\tx", 0, "\tx");
	expect_put("\rx", 0, "\"\rx\"");
	expect_put("'=x", 0, "'=x");
}

static void test_unguard_takes_off_the_guard_only(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"'=x", "=x"}, {"''=x", "'=x"}, {"'''+x", "''+x"}, {"'-", "-"},        {"'@", "@"},
	    {"'\t", "\t"}, {"'\rx", "\rx"}, {"'abc", "'abc"},  {"''abc", "''abc"}, {"'", "'"},
	    {"''", "''"},  {"", ""},        {"abc", "abc"},    {"=x", "=x"},       {"a'=x", "a'=x"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		const char *got = csv_unguard(cases[i].in);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("csv_unguard(\"%s\"): got [%s], expected [%s]", cases[i].in, got, cases[i].out);
		/* a suffix of its argument, never a copy */
		assert_true(got == cases[i].in || got == cases[i].in + 1);
	}
}

/* Values for the guard and round-trip tables: formula-like, quote-needing and plain. */
static const char *const TRICKY[] = {
    "",
    "plain",
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1:A9)",
    "\tx",
    "\rx",
    "\r",
    "\t",
    "=",
    "-",
    "'",
    "''",
    "'abc",
    "''abc",
    "'=x",
    "''=x",
    "'''-x",
    "'\t",
    "a,b",
    "\"",
    "\"\"",
    "say \"hi\"",
    "a\nb",
    "a\r\nb",
    "\n",
    "\r\n",
    "\n\n\n",
    " lead",
    "trail ",
    " ",
    "  ",
    "=a,b",
    "=\"x\"",
    "-\n",
    "x'",
    "1-2",
    "a=b",
    "caf\xC3\xA9",
    "\xE6\x97\xA5\xE6\x9C\xAC",
    "\xEF\xBB\xBF"
    "bom",
    "@",
    "+",
    "a\"b",
    "\"a\"",
    ",,,",
    "'\r\n",
};

/*
 * Guards then unguards every value: the result is the value, and the value
 * is guarded iff formula-like. (Each is read as a second record: a value
 * starting with a byte order mark would lose it as the very first field of a
 * file, which is the reader's rule for the start of a file.)
 */
static void test_unguard_reverses_the_guard_for_every_value(void **state)
{
	for (size_t i = 0; i < NELEM(TRICKY); i++) {
		const char *v = TRICKY[i];
		/* what csv_put_field writes, read back as one field (after a first record: see below) */
		char *w = put(v, 1);
		struct buf file;
		buf_init(&file, 4096);
		assert_int_equal(buf_puts(&file, "h\r\n"), FD_OK);
		assert_int_equal(buf_puts(&file, w), FD_OK);
		assert_int_equal(buf_puts(&file, "\r\n"), FD_OK);
		FILE *f = open_bytes(file.data, file.len);
		buf_release(&file);
		struct csv_reader *r = csv_reader_new(f);
		struct csv_record rec;
		next_ok(r, &rec);
		next_ok(r, &rec);
		assert_int_equal(rec.n, 1); /* "" is an empty line, which is one empty field */
		const char *field = rec.fields[0];
		size_t q = strspn(v, "'");
		int formula = v[q] != '\0' && strchr("=+-@\t\r", v[q]) != NULL;
		if (formula) {
			if (field[0] != '\'' || strcmp(field + 1, v) != 0)
				fail_msg("\"%s\" guarded: got [%s]", v, field);
		} else if (strcmp(field, v) != 0) {
			fail_msg("\"%s\" not formula-like but written as [%s]", v, field);
		}
		assert_string_equal(csv_unguard(field), v);
		next_end(r);
		csv_reader_free(r);
		fclose(f);
		free(w);

		/* and straight on the value */
		if (formula) {
			char *g = malloc(strlen(v) + 2);
			assert_non_null(g);
			g[0] = '\'';
			memcpy(g + 1, v, strlen(v) + 1);
			assert_string_equal(csv_unguard(g), v);
			free(g);
		} else {
			assert_ptr_equal(csv_unguard(v), v);
		}
	}
}

/* ------------------------------------------------------------------ round trip */

static void round_trip(const char *const *const *records, const size_t *counts, size_t nrec, int guard)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < nrec; i++) {
		for (size_t j = 0; j < counts[i]; j++) {
			if (j)
				assert_int_equal(buf_puts(&b, ","), FD_OK);
			assert_int_equal(csv_put_field(&b, records[i][j], guard), FD_OK);
		}
		assert_int_equal(buf_puts(&b, "\r\n"), FD_OK);
	}
	FILE *f = open_bytes(b.data, b.len);
	struct csv_reader *r = csv_reader_new(f);
	int64_t line = 1, offset = 0;
	for (size_t i = 0; i < nrec; i++) {
		struct csv_record rec;
		next_ok(r, &rec);
		if (rec.n != counts[i])
			fail_msg("record %zu: %zu fields, wrote %zu", i + 1, rec.n, counts[i]);
		int64_t lfs = 0;
		for (size_t j = 0; j < counts[i]; j++) {
			const char *got = guard ? csv_unguard(rec.fields[j]) : rec.fields[j];
			if (strcmp(got, records[i][j]) != 0)
				fail_msg("record %zu field %zu: wrote [%s], read [%s]", i + 1, j + 1, records[i][j],
				         got);
			lfs += count_lf(records[i][j], strlen(records[i][j]));
		}
		assert_int_equal(rec.line, line);
		assert_int_equal(rec.offset, offset);
		assert_true(rec.end - rec.offset == (int64_t)rec.raw_len + 2); /* each ends with CRLF */
		assert_memory_equal(rec.raw, b.data + rec.offset, rec.raw_len);
		line += lfs + 1;
		offset = rec.end;
	}
	assert_int_equal(offset, (int64_t)b.len);
	next_end(r);
	csv_reader_free(r);
	fclose(f);
	buf_release(&b);
}

#define REC(...) ((const char *const[]){__VA_ARGS__})
#define CNT(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_written_records_read_back_the_same(void **state)
{
	const char *const *const records[] = {
	    REC("id", "name", "note"),
	    REC("1", "Smith, J", "said \"hi\""),
	    REC("=1+1", "+33 6 12", "-5", "@cmd"),
	    REC("\tindent", "\rCR", "'=already", "''+twice", "'abc"),
	    REC("multi\nline", "crlf\r\nline", "\n", "\r\n\r\n"),
	    REC(""),
	    REC("", ""),
	    REC("", "", ""),
	    REC(" lead", "trail ", " ", ","),
	    REC("\"", "\"\"", "\"a\"", "a\"b"),
	    REC("caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC",
	        "\xEF\xBB\xBF"
	        "bom-not-at-start"),
	    REC("'", "''", "x'", "=", "-", "+", "@"),
	    REC("last"),
	};
	const size_t counts[] = {
	    CNT("id", "name", "note"),
	    CNT("1", "Smith, J", "said \"hi\""),
	    CNT("=1+1", "+33 6 12", "-5", "@cmd"),
	    CNT("\tindent", "\rCR", "'=already", "''+twice", "'abc"),
	    CNT("multi\nline", "crlf\r\nline", "\n", "\r\n\r\n"),
	    CNT(""),
	    CNT("", ""),
	    CNT("", "", ""),
	    CNT(" lead", "trail ", " ", ","),
	    CNT("\"", "\"\"", "\"a\"", "a\"b"),
	    CNT("caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC",
	        "\xEF\xBB\xBF"
	        "bom-not-at-start"),
	    CNT("'", "''", "x'", "=", "-", "+", "@"),
	    CNT("last"),
	};
	_Static_assert(NELEM(records) == NELEM(counts), "one count per record");
	round_trip(records, counts, NELEM(records), 1);
	round_trip(records, counts, NELEM(records), 0);
}

static void test_every_tricky_value_round_trips_in_every_position(void **state)
{
	/* each value first, in the middle and last of a three-field record, after a header */
	size_t n = NELEM(TRICKY);
	const char *(*recs)[3] = calloc(3 * n + 1, sizeof *recs);
	const char *const **records = calloc(3 * n + 1, sizeof *records);
	size_t *counts = calloc(3 * n + 1, sizeof *counts);
	assert_non_null(recs);
	assert_non_null(records);
	assert_non_null(counts);
	recs[0][0] = "h";
	records[0] = recs[0];
	counts[0] = 1;
	for (size_t i = 0; i < n; i++) {
		for (size_t pos = 0; pos < 3; pos++) {
			size_t k = 1 + 3 * i + pos;
			for (size_t j = 0; j < 3; j++)
				recs[k][j] = j == pos ? TRICKY[i] : "x";
			records[k] = recs[k];
			counts[k] = 3;
		}
	}
	round_trip(records, counts, 3 * n + 1, 1);
	free(counts);
	free(records);
	free(recs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_records_with_lf),
	    cmocka_unit_test(test_crlf_record_ends),
	    cmocka_unit_test(test_lf_and_crlf_mixed_in_one_file),
	    cmocka_unit_test(test_last_record_without_trailing_newline),
	    cmocka_unit_test(test_quoted_fields_with_commas_and_doubled_quotes),
	    cmocka_unit_test(test_quoted_field_with_embedded_lf_counts_its_lines),
	    cmocka_unit_test(test_quoted_field_with_embedded_crlf_counts_its_lines),
	    cmocka_unit_test(test_empty_fields),
	    cmocka_unit_test(test_empty_line_is_one_empty_field),
	    cmocka_unit_test(test_empty_file_is_the_end_at_once_and_stays_there),
	    cmocka_unit_test(test_free_of_null_is_harmless),
	    cmocka_unit_test(test_bom_at_start_is_skipped),
	    cmocka_unit_test(test_bom_only_file_has_no_records),
	    cmocka_unit_test(test_bom_bytes_after_the_start_are_data),
	    cmocka_unit_test(test_broken_bom_is_data_and_reader_continues),
	    cmocka_unit_test(test_broken_bom_keeps_byte_offsets_and_lines),
	    cmocka_unit_test(test_truncated_bom_at_the_end_is_data),
	    cmocka_unit_test(test_utf8_text_starting_with_ef_is_not_a_bom),
	    cmocka_unit_test(test_raw_and_offsets_tile_the_file),
	    cmocka_unit_test(test_seek_to_each_record_end_resumes_at_the_next_record),
	    cmocka_unit_test(test_seek_resumes_in_a_file_with_a_bom),
	    cmocka_unit_test(test_seek_resumes_around_oversized_records),
	    cmocka_unit_test(test_lone_cr_keeps_offsets_exact_and_resumable),
	    cmocka_unit_test(test_reader_new_starts_at_the_current_position),
	    cmocka_unit_test(test_seek_back_to_the_start_skips_the_bom_again),
	    cmocka_unit_test(test_unclosed_quote_at_eof_is_invalid),
	    cmocka_unit_test(test_text_after_a_closing_quote_is_invalid_and_reader_continues),
	    cmocka_unit_test(test_quote_inside_an_unquoted_field_is_invalid_and_reader_continues),
	    cmocka_unit_test(test_64_fields_are_fine_and_more_are_invalid),
	    cmocka_unit_test(test_record_of_64_kib_is_fine_and_longer_is_invalid),
	    cmocka_unit_test(test_put_field_leaves_plain_text_unquoted),
	    cmocka_unit_test(test_put_field_quotes_what_needs_quoting),
	    cmocka_unit_test(test_put_field_null_appends_nothing),
	    cmocka_unit_test(test_put_field_appends_to_what_is_there),
	    cmocka_unit_test(test_put_field_over_the_buffer_maximum_fails),
	    cmocka_unit_test(test_formula_guard_prefixes_a_quote_when_guard),
	    cmocka_unit_test(test_formula_guard_is_off_when_not_guard),
	    cmocka_unit_test(test_unguard_takes_off_the_guard_only),
	    cmocka_unit_test(test_unguard_reverses_the_guard_for_every_value),
	    cmocka_unit_test(test_written_records_read_back_the_same),
	    cmocka_unit_test(test_every_tricky_value_round_trips_in_every_position),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
