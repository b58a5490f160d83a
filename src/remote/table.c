/* table.c - aligned text tables: see table.h. */
#include "remote/table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/util.h"

#define GAP       2
#define MIN_WIDTH 4

struct table {
	FILE *out;
	size_t ncols;
	char *headers[TABLE_MAX_COLS];
	char **cells; /* nrows * ncols, owned */
	size_t nrows;
	size_t width[TABLE_MAX_COLS]; /* the widest cell so far, per column */
	int header_done;
};

/* Characters in s: UTF-8 continuation bytes do not count. */
static size_t chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* A copy of s cut to TABLE_CELL_MAX bytes (at a character boundary), with
 * control characters as '?' and invalid UTF-8 as U+FFFD. */
static char *clean_copy(const char *s)
{
	if (!s)
		s = "";
	size_t n = strnlen(s, TABLE_CELL_MAX);
	while (n > 0 && n < strlen(s) && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	char *raw = strndup(s, n);
	if (!raw)
		return NULL;
	size_t cap = 3 * n + 4;
	char *out = malloc(cap);
	if (out)
		util_utf8_lossy(raw, out, cap);
	free(raw);
	if (!out)
		return NULL;
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return out;
}

struct table *table_new(FILE *out, const char *const *headers, size_t ncols)
{
	if (ncols == 0 || ncols > TABLE_MAX_COLS)
		return NULL;
	struct table *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->out = out;
	t->ncols = ncols;
	t->cells = calloc(TABLE_CHUNK * ncols, sizeof *t->cells);
	if (!t->cells) {
		free(t);
		return NULL;
	}
	for (size_t c = 0; c < ncols; c++) {
		t->headers[c] = clean_copy(headers[c]);
		if (!t->headers[c]) {
			table_free(t);
			return NULL;
		}
		t->width[c] = chars(t->headers[c]);
	}
	return t;
}

static void drop_rows(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		free(t->cells[i]);
		t->cells[i] = NULL;
	}
	t->nrows = 0;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	drop_rows(t);
	free(t->cells);
	for (size_t c = 0; c < t->ncols; c++)
		free(t->headers[c]);
	free(t);
}

enum fd_err table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == TABLE_CHUNK)
		table_flush(t);
	char **row = t->cells + t->nrows * t->ncols;
	for (size_t c = 0; c < t->ncols; c++) {
		row[c] = clean_copy(cells[c]);
		if (!row[c]) {
			for (size_t k = 0; k < c; k++) {
				free(row[k]);
				row[k] = NULL;
			}
			return FD_ENOMEM;
		}
		size_t w = chars(row[c]);
		if (w > t->width[c])
			t->width[c] = w;
	}
	t->nrows++;
	return FD_OK;
}

int table_width(FILE *out)
{
	int fd = fileno(out);
	if (fd < 0 || !isatty(fd))
		return 0;
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	long long n;
	if (c && util_parse_int(c, 10, 10000, &n) == FD_OK)
		return (int)n;
	return 80;
}

/* Cuts the widest columns until the row fits in limit characters. */
static void fit(const struct table *t, size_t *w, int limit)
{
	for (size_t c = 0; c < t->ncols; c++)
		w[c] = t->width[c];
	if (limit <= 0)
		return;
	for (;;) {
		size_t total = 0, widest = 0;
		for (size_t c = 0; c < t->ncols; c++) {
			total += w[c] + (c + 1 < t->ncols ? GAP : 0);
			if (w[c] > w[widest])
				widest = c;
		}
		if (total <= (size_t)limit || w[widest] <= MIN_WIDTH)
			return;
		size_t over = total - (size_t)limit;
		size_t second = 0;
		for (size_t c = 0; c < t->ncols; c++) {
			if (c != widest && w[c] > second)
				second = w[c];
		}
		/* cut the widest down to the next widest (or by what is over), one step at a time */
		size_t cut = w[widest] - second;
		if (cut == 0)
			cut = 1;
		if (cut > over)
			cut = over;
		w[widest] -= cut;
		if (w[widest] < MIN_WIDTH)
			w[widest] = MIN_WIDTH;
	}
}

/* Prints s in a column of width w; the last column is not padded. The
 * padding is held back (*pad) until a later cell has text, so no line ends
 * in blanks. */
static void put_cell(FILE *out, const char *s, size_t w, int last, size_t *pad)
{
	if (*s) {
		for (; *pad > 0; (*pad)--)
			fputc(' ', out);
	}
	size_t n = chars(s);
	if (n > w) {
		/* w - 1 characters, then the ellipsis */
		size_t k = 0;
		const char *p = s;
		while (*p && k < w - 1) {
			p++;
			while (((unsigned char)*p & 0xC0) == 0x80)
				p++;
			k++;
		}
		fwrite(s, 1, (size_t)(p - s), out);
		fputs("…", out);
		n = w;
	} else {
		fputs(s, out);
	}
	if (!last)
		*pad += w + GAP - n;
}

static void put_row(const struct table *t, char *const *cells, const size_t *w)
{
	size_t pad = 0;
	for (size_t c = 0; c < t->ncols; c++)
		put_cell(t->out, cells[c], w[c], c + 1 == t->ncols, &pad);
	fputc('\n', t->out);
}

void table_flush(struct table *t)
{
	size_t w[TABLE_MAX_COLS];
	fit(t, w, table_width(t->out));
	if (!t->header_done) {
		put_row(t, t->headers, w);
		t->header_done = 1;
	}
	for (size_t r = 0; r < t->nrows; r++)
		put_row(t, t->cells + r * t->ncols, w);
	drop_rows(t);
}

void table_put_clean(FILE *out, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, out);
	}
}
