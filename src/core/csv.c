/* csv.c - RFC 4180 CSV: see csv.h. */
#include "core/csv.h"

#include <stdlib.h>
#include <string.h>

struct csv_reader {
	FILE *f;
	int64_t offset, line;
	int at_start; /* nothing read yet: a byte order mark may come */
	struct buf raw, data;
	size_t starts[CSV_FIELDS_MAX];
	size_t nfields;
	const char *why;
};

struct csv_reader *csv_reader_new(FILE *f)
{
	struct csv_reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->f = f;
	long off = ftell(f);
	r->offset = off > 0 ? off : 0;
	r->line = 1;
	r->at_start = r->offset == 0;
	buf_init(&r->raw, CSV_RECORD_MAX);
	buf_init(&r->data, CSV_RECORD_MAX + CSV_FIELDS_MAX);
	return r;
}

void csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	buf_release(&r->raw);
	buf_release(&r->data);
	free(r);
}

enum fd_err csv_reader_seek(struct csv_reader *r, int64_t offset, int64_t line)
{
	if (fseeko(r->f, (off_t)offset, SEEK_SET) != 0)
		return FD_EIO;
	r->offset = offset;
	r->line = line;
	r->at_start = offset == 0;
	return FD_OK;
}

static int next_char(struct csv_reader *r)
{
	int c = getc_unlocked(r->f);
	if (c != EOF)
		r->offset++;
	return c;
}

/* Records a problem; the first one of a record is the one reported. */
static void fail(struct csv_reader *r, const char *why)
{
	if (!r->why)
		r->why = why;
}

static void put_raw(struct csv_reader *r, int c)
{
	char ch = (char)c;
	if (buf_append(&r->raw, &ch, 1) != FD_OK)
		fail(r, "the record is longer than 64 KiB");
}

static void put_data(struct csv_reader *r, int c)
{
	char ch = (char)c;
	if (buf_append(&r->data, &ch, 1) != FD_OK)
		fail(r, "the record is longer than 64 KiB");
}

static void end_field(struct csv_reader *r)
{
	put_data(r, '\0');
}

static void begin_field(struct csv_reader *r)
{
	if (r->nfields == CSV_FIELDS_MAX) {
		fail(r, "the record has more than 64 fields");
		return;
	}
	r->starts[r->nfields++] = r->data.len;
}

enum fd_err csv_next(struct csv_reader *r, struct csv_record *rec, const char **why)
{
	r->raw.len = 0;
	r->data.len = 0;
	r->nfields = 0;
	r->why = NULL;
	if (r->at_start) { /* a UTF-8 byte order mark: skipped; anything else is read again as data */
		r->at_start = 0;
		unsigned char bom[3];
		off_t at = ftello(r->f);
		size_t got = fread(bom, 1, 3, r->f);
		if (got == 3 && bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF)
			r->offset += 3;
		else if (at < 0 || fseeko(r->f, at, SEEK_SET) != 0)
			return FD_EIO;
	}
	rec->line = r->line;
	rec->offset = r->offset;
	int c = next_char(r);
	if (c == EOF) {
		if (ferror(r->f))
			return FD_EIO;
		return FD_ENOTFOUND;
	}
	begin_field(r);
	int inq = 0, quoted = 0, field_empty = 1;
	for (;; c = next_char(r)) {
		if (c == EOF) {
			if (ferror(r->f))
				return FD_EIO;
			if (inq)
				fail(r, "a quoted field is not closed before the end of the file");
			break;
		}
		if (inq) {
			if (c == '"') {
				int d = next_char(r);
				if (d == '"') {
					put_raw(r, c);
					put_raw(r, d);
					put_data(r, '"');
					continue;
				}
				put_raw(r, c);
				inq = 0;
				if (d == EOF)
					continue; /* the loop ends at the EOF check */
				c = d;        /* what follows the closing quote */
				if (c != ',' && c != '\n' && c != '\r') {
					fail(r, "text follows a closing quote; quote the whole field");
					put_raw(r, c);
					continue;
				}
			} else {
				if (c == '\n')
					r->line++;
				put_raw(r, c);
				put_data(r, c);
				continue;
			}
		}
		if (c == '"' && field_empty && !quoted) {
			inq = quoted = 1;
			put_raw(r, c);
			continue;
		}
		if (c == ',') {
			put_raw(r, c);
			end_field(r);
			begin_field(r);
			field_empty = 1;
			quoted = 0;
			continue;
		}
		if (c == '\n')
			break;
		if (c == '\r') {
			int d = next_char(r);
			if (d != '\n' && d != EOF) {
				ungetc(d, r->f);
				r->offset--;
			}
			break;
		}
		if (c == '"')
			fail(r, "a quote inside an unquoted field; quote the field and double the quote");
		if (quoted)
			fail(r, "text follows a closing quote; quote the whole field");
		put_raw(r, c);
		put_data(r, c);
		field_empty = 0;
	}
	end_field(r);
	r->line++;
	rec->end = r->offset;
	rec->next_line = r->line;
	rec->n = r->nfields;
	for (size_t i = 0; i < r->nfields; i++)
		rec->fields[i] = r->data.data + r->starts[i];
	rec->raw = r->raw.data ? r->raw.data : "";
	rec->raw_len = r->raw.len;
	if (r->why) {
		*why = r->why;
		return FD_EINVALID;
	}
	return FD_OK;
}

static int is_formula_start(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

/* A formula character after any number of 's: what gets one more ' in front. */
static int formula_like(const char *s)
{
	while (*s == '\'')
		s++;
	return is_formula_start(*s);
}

enum fd_err csv_put_field(struct buf *b, const char *s, int guard)
{
	if (!s)
		return FD_OK;
	size_t n = strlen(s);
	int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
	for (size_t i = 0; !quote && i < n; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	int escape = guard && formula_like(s);
	enum fd_err rc = quote ? buf_append(b, "\"", 1) : FD_OK;
	if (rc == FD_OK && escape)
		rc = buf_append(b, "'", 1);
	for (size_t i = 0; rc == FD_OK && i < n; i++) {
		rc = buf_append(b, s + i, 1);
		if (rc == FD_OK && s[i] == '"')
			rc = buf_append(b, "\"", 1);
	}
	if (rc == FD_OK && quote)
		rc = buf_append(b, "\"", 1);
	return rc;
}

const char *csv_unguard(const char *s)
{
	return s[0] == '\'' && formula_like(s + 1) ? s + 1 : s;
}
