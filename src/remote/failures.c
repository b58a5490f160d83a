/* failures.c - failed rows for the terminal, for --json and for a file: see failures.h. */
#include "remote/failures.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "remote/remote.h"
#include "remote/table.h"

#define MESSAGE_MAX 600
#define COPY_CHUNK  65536

struct shown {
	int64_t line;
	long status;
	char id[64];
	char message[MESSAGE_MAX];
};

struct failures {
	FILE *input; /* the input, to copy failed rows from */
	FILE *rows;  /* the temporary failed-rows file */
	char *out_path;
	char *tmp_path;
	FILE *json; /* every failure as a JSON line (tmpfile) */
	int64_t count;
	int committed;
	int last_nl; /* the last byte copied was a line break */
	struct shown shown[FAILURES_SHOWN];
};

enum fd_err failures_new(const char *input_path, const char *out_path, struct failures **out)
{
	*out = NULL;
	struct failures *f = calloc(1, sizeof *f);
	if (!f)
		return FD_ENOMEM;
	f->last_nl = 1;
	size_t n = strlen(out_path) + 16;
	f->out_path = strdup(out_path);
	f->tmp_path = malloc(n);
	if (!f->out_path || !f->tmp_path) {
		failures_free(f);
		return FD_ENOMEM;
	}
	f->rows = remote_temp_beside(out_path, f->tmp_path, n);
	if (!f->rows) {
		int e = errno;
		free(f->tmp_path);
		f->tmp_path = NULL;
		failures_free(f);
		errno = e;
		return FD_EIO;
	}
	f->input = fopen(input_path, "rb");
	f->json = tmpfile();
	if (!f->input || !f->json) {
		int e = errno;
		failures_free(f);
		errno = e;
		return FD_EIO;
	}
	*out = f;
	return FD_OK;
}

void failures_free(struct failures *f)
{
	if (!f)
		return;
	if (f->rows)
		fclose(f->rows);
	if (f->tmp_path && !f->committed)
		unlink(f->tmp_path);
	if (f->input)
		fclose(f->input);
	if (f->json)
		fclose(f->json);
	free(f->tmp_path);
	free(f->out_path);
	free(f);
}

static enum fd_err copy_range(struct failures *f, int64_t offset, int64_t end)
{
	if (end <= offset)
		return FD_OK;
	if (fseeko(f->input, (off_t)offset, SEEK_SET) != 0)
		return FD_EIO;
	char chunk[COPY_CHUNK];
	int64_t left = end - offset;
	while (left > 0) {
		size_t want = left > COPY_CHUNK ? COPY_CHUNK : (size_t)left;
		size_t got = fread(chunk, 1, want, f->input);
		if (got == 0)
			return FD_EIO;
		if (fwrite(chunk, 1, got, f->rows) != got)
			return FD_EIO;
		f->last_nl = chunk[got - 1] == '\n';
		left -= (int64_t)got;
	}
	/* the file's last row may have no line break: the next one needs it */
	if (!f->last_nl) {
		if (fputc('\n', f->rows) == EOF)
			return FD_EIO;
		f->last_nl = 1;
	}
	return FD_OK;
}

enum fd_err failures_header(struct failures *f, int64_t offset, int64_t end)
{
	return copy_range(f, offset, end);
}

enum fd_err failures_add(struct failures *f, int64_t line, int64_t offset, int64_t end, const char *id, long status,
                         const char *message, json_t *problem)
{
	if (f->count < FAILURES_SHOWN) {
		struct shown *s = &f->shown[f->count];
		s->line = line;
		s->status = status;
		snprintf(s->id, sizeof s->id, "%s", id ? id : "");
		snprintf(s->message, sizeof s->message, "%s", message ? message : "");
	}
	f->count++;
	json_t *err = problem ? json_incref(problem) : json_pack("{ss}", "detail", message ? message : "");
	json_t *j =
	    json_pack("{sIss?sIso}", "line", (json_int_t)line, "id", id, "status", (json_int_t)status, "error", err);
	if (!j)
		return FD_ENOMEM;
	int bad = json_dumpf(j, f->json, JSON_COMPACT) != 0 || fputc('\n', f->json) == EOF;
	json_decref(j);
	if (bad)
		return FD_EIO;
	return copy_range(f, offset, end);
}

int64_t failures_count(const struct failures *f)
{
	return f->count;
}

void failures_print(const struct failures *f, FILE *out)
{
	int64_t n = f->count < FAILURES_SHOWN ? f->count : FAILURES_SHOWN;
	for (int64_t i = 0; i < n; i++) {
		const struct shown *s = &f->shown[i];
		fprintf(out, "  line %lld", (long long)s->line);
		if (s->id[0]) {
			fputs(" (", out);
			table_put_clean(out, s->id, sizeof s->id);
			fputc(')', out);
		}
		fputs(": ", out);
		table_put_clean(out, s->message, sizeof s->message);
		fputc('\n', out);
	}
	if (f->count > n)
		fprintf(out, "  … and %lld more\n", (long long)(f->count - n));
}

enum fd_err failures_write_json(struct failures *f, FILE *out)
{
	if (fflush(f->json) != 0 || fseeko(f->json, 0, SEEK_SET) != 0)
		return FD_EIO;
	fputc('[', out);
	char line[4096];
	int first = 1, at_start = 1;
	while (fgets(line, sizeof line, f->json)) {
		size_t n = strlen(line);
		int ends = n > 0 && line[n - 1] == '\n';
		if (ends)
			line[--n] = '\0';
		if (at_start) {
			fputs(first ? "\n  " : ",\n  ", out);
			first = 0;
		}
		fputs(line, out);
		at_start = ends;
	}
	fputs(first ? "]" : "\n]", out);
	return ferror(f->json) ? FD_EIO : FD_OK;
}

enum fd_err failures_commit(struct failures *f)
{
	int bad = fflush(f->rows) != 0 || fsync(fileno(f->rows)) != 0;
	int e = errno;
	fclose(f->rows);
	f->rows = NULL;
	if (bad) {
		errno = e;
		return FD_EIO;
	}
	if (f->count == 0)
		return FD_OK; /* failures_free removes the empty file */
	if (rename(f->tmp_path, f->out_path) != 0)
		return FD_EIO;
	f->committed = 1;
	return FD_OK;
}

enum fd_err failures_default_path(const char *input, int csv, char *out, size_t n)
{
	static const char *const exts[] = {".csv", ".jsonl", ".ndjson", ".json", NULL};
	size_t len = strlen(input);
	const char *slash = strrchr(input, '/');
	const char *base = slash ? slash + 1 : input;
	int w = -1;
	for (int i = 0; exts[i]; i++) {
		size_t k = strlen(exts[i]);
		if (strlen(base) > k && strcasecmp(input + len - k, exts[i]) == 0) {
			w = snprintf(out, n, "%.*s.failed%s", (int)(len - k), input, input + len - k);
			break;
		}
	}
	if (w < 0)
		w = snprintf(out, n, "%s.failed.%s", input, csv ? "csv" : "jsonl");
	return w < 0 || (size_t)w >= n ? FD_ETOOLARGE : FD_OK;
}

/* Appends s to out[n] at *at, keeping the NUL. */
static void put(char *out, size_t n, size_t *at, const char *s)
{
	int w = snprintf(out + *at, n - *at, "%s", s);
	if (w > 0)
		*at += (size_t)w < n - *at ? (size_t)w : n - *at - 1;
}

/* A pointer as the row sees it: "/items/3/data/email" or "/data/email" -> "/email". */
static const char *row_pointer(const char *ptr)
{
	const char *p = ptr;
	if (strncmp(p, "/items/", 7) == 0) {
		p += 7;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strncmp(p, "/data/", 6) == 0)
		p += 5;
	return p;
}

void failures_message(json_t *problem, char *out, size_t n)
{
	size_t at = 0;
	out[0] = '\0';
	const char *detail = json_string_value(json_object_get(problem, "detail"));
	const char *title = json_string_value(json_object_get(problem, "title"));
	put(out, n, &at, detail ? detail : title ? title : "failed");
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(problem, "errors"), i, e)
	{
		const char *ptr = json_string_value(json_object_get(e, "pointer"));
		const char *d = json_string_value(json_object_get(e, "detail"));
		if (ptr)
			ptr = row_pointer(ptr);
		put(out, n, &at, "; ");
		put(out, n, &at, ptr && *ptr ? ptr : "/");
		put(out, n, &at, ": ");
		put(out, n, &at, d ? d : "");
	}
}
