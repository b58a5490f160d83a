/* rows.c - CSV and JSON-lines input, row by row: see rows.h. */
#include "remote/rows.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/csv.h"

struct rows {
	FILE *f;
	enum rows_format fmt;
	struct csv_reader *csv;
	struct csv_record rec;
	/* JSON lines */
	char *line; /* ROWS_LINE_MAX + 1 bytes */
	int64_t offset;
	int64_t lineno;
	json_t *value;
	char why[200];
};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

int rows_format_of(const char *path, const char *flag, enum rows_format *fmt)
{
	if (flag) {
		if (strcmp(flag, "csv") == 0)
			*fmt = ROWS_CSV;
		else if (strcmp(flag, "jsonl") == 0)
			*fmt = ROWS_JSONL;
		else
			return -1;
		return 0;
	}
	if (ends_with(path, ".csv")) {
		*fmt = ROWS_CSV;
		return 0;
	}
	if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") || ends_with(path, ".json")) {
		*fmt = ROWS_JSONL;
		return 0;
	}
	return -1;
}

struct rows *rows_open(FILE *f, enum rows_format fmt)
{
	struct rows *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->f = f;
	r->fmt = fmt;
	if (fmt == ROWS_CSV)
		r->csv = csv_reader_new(f);
	else
		r->line = malloc(ROWS_LINE_MAX + 1);
	if (fmt == ROWS_CSV ? !r->csv : !r->line) {
		rows_free(r);
		return NULL;
	}
	return r;
}

void rows_free(struct rows *r)
{
	if (!r)
		return;
	csv_reader_free(r->csv);
	free(r->line);
	json_decref(r->value);
	free(r);
}

static enum fd_err next_csv(struct rows *r, struct row *row)
{
	const char *why = NULL;
	enum fd_err rc;
	do /* blank lines are skipped, as the import does */
		rc = csv_next(r->csv, &r->rec, &why);
	while (rc == FD_OK && r->rec.n == 1 && !*r->rec.fields[0]);
	if (rc != FD_OK && rc != FD_EINVALID)
		return rc;
	row->line = r->rec.line;
	row->offset = r->rec.offset;
	row->end = r->rec.end;
	row->fields = r->rec.fields;
	row->nfields = rc == FD_OK ? r->rec.n : 0;
	if (rc == FD_EINVALID) {
		snprintf(r->why, sizeof r->why, "is not valid CSV: %s", why ? why : "malformed");
		row->error = r->why;
	}
	return FD_OK;
}

/* Reads one line into r->line (at most ROWS_LINE_MAX bytes kept). Returns
 * its length, or -1 at the end; *too_long when more was dropped. */
static long read_line(struct rows *r, int64_t *len_in_file, int *too_long, int *had_nl)
{
	long n = 0;
	int64_t total = 0;
	int c;
	*too_long = 0;
	*had_nl = 0;
	while ((c = getc(r->f)) != EOF) {
		total++;
		if (c == '\n') {
			*had_nl = 1;
			break;
		}
		if (n < ROWS_LINE_MAX)
			r->line[n++] = (char)c;
		else
			*too_long = 1;
	}
	*len_in_file = total;
	if (total == 0)
		return -1;
	if (n > 0 && r->line[n - 1] == '\r' && !*too_long)
		n--;
	r->line[n] = '\0';
	return n;
}

static int blank(const char *s, long n)
{
	for (long i = 0; i < n; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	}
	return 1;
}

static enum fd_err next_jsonl(struct rows *r, struct row *row)
{
	json_decref(r->value);
	r->value = NULL;
	for (;;) {
		int64_t in_file = 0;
		int too_long = 0, had_nl = 0;
		long n = read_line(r, &in_file, &too_long, &had_nl);
		if (n < 0)
			return ferror(r->f) ? FD_EIO : FD_ENOTFOUND;
		int64_t start = r->offset;
		r->offset += in_file;
		r->lineno++;
		if (!too_long && blank(r->line, n))
			continue;
		row->line = r->lineno;
		row->offset = start;
		row->end = r->offset;
		if (too_long) {
			snprintf(r->why, sizeof r->why, "is longer than %d KiB", ROWS_LINE_MAX / 1024);
			row->error = r->why;
			return FD_OK;
		}
		json_error_t err;
		r->value = json_loadb(r->line, (size_t)n, JSON_REJECT_DUPLICATES, &err);
		if (!r->value) {
			snprintf(r->why, sizeof r->why, "is not valid JSON: %.150s", err.text);
			row->error = r->why;
		}
		row->value = r->value;
		return FD_OK;
	}
}

enum fd_err rows_next(struct rows *r, struct row *row)
{
	memset(row, 0, sizeof *row);
	return r->fmt == ROWS_CSV ? next_csv(r, row) : next_jsonl(r, row);
}

int64_t rows_count(FILE *f, enum rows_format fmt)
{
	if (fseeko(f, 0, SEEK_SET) != 0)
		return -1;
	struct rows *r = rows_open(f, fmt);
	if (!r)
		return -1;
	int64_t n = 0;
	struct row row;
	enum fd_err rc;
	while ((rc = rows_next(r, &row)) == FD_OK)
		n++;
	rows_free(r);
	if (rc != FD_ENOTFOUND || fseeko(f, 0, SEEK_SET) != 0)
		return -1;
	if (fmt == ROWS_CSV && n > 0)
		n--; /* the header */
	return n;
}
