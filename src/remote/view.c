/* view.c - the server's JSON, as it came or readable: see view.h. */
#include "remote/view.h"

#include <string.h>

#include "core/jsonw.h"
#include "remote/table.h"

#define CELL_MAX 1024

void view_raw(const struct rhttp_response *resp, FILE *out)
{
	if (resp->body.data && resp->body.len) {
		fwrite(resp->body.data, 1, resp->body.len, out);
		if (resp->body.data[resp->body.len - 1] != '\n')
			fputc('\n', out);
	}
}

void view_cell(json_t *v, char *out, size_t n)
{
	out[0] = '\0';
	if (!v || json_is_null(v))
		return;
	if (json_is_string(v)) {
		snprintf(out, n, "%s", json_string_value(v));
		return;
	}
	struct buf b;
	buf_init(&b, 64 * 1024);
	if (jsonw_value(&b, v) == FD_OK && b.data)
		snprintf(out, n, "%s", b.data);
	buf_release(&b);
}

const char *view_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

void view_time(json_t *obj, const char *key, char out[24])
{
	const char *s = view_str(obj, key);
	out[0] = '\0';
	if (strlen(s) >= 16) {
		snprintf(out, 24, "%.10s %.5s", s, s + 11);
	}
}

static enum fd_err add_fields(struct table *t, json_t *obj, const char *prefix)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		char name[256];
		snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
		if (json_is_object(v) && json_object_size(v) > 0) {
			enum fd_err rc = add_fields(t, v, name);
			if (rc != FD_OK)
				return rc;
			continue;
		}
		char cell[CELL_MAX];
		if (json_is_null(v))
			snprintf(cell, sizeof cell, "null");
		else
			view_cell(v, cell, sizeof cell);
		const char *row[2] = {name, cell};
		enum fd_err rc = table_add(t, row);
		if (rc != FD_OK)
			return rc;
	}
	return FD_OK;
}

enum fd_err view_object(json_t *obj, FILE *out)
{
	static const char *const head[] = {"FIELD", "VALUE"};
	struct table *t = table_new(out, head, 2);
	if (!t)
		return FD_ENOMEM;
	enum fd_err rc = add_fields(t, obj, "");
	if (rc == FD_OK)
		table_flush(t);
	table_free(t);
	return rc;
}

void view_array_begin(struct view_array *a, FILE *out)
{
	a->out = out;
	a->n = 0;
	buf_init(&a->b, RHTTP_BODY_MAX);
	fputc('[', out);
}

enum fd_err view_array_add(struct view_array *a, json_t *v)
{
	buf_release(&a->b);
	enum fd_err rc = jsonw_value(&a->b, v);
	if (rc != FD_OK)
		return rc;
	fputs(a->n++ ? ",\n" : "\n", a->out);
	fwrite(a->b.data, 1, a->b.len, a->out);
	return FD_OK;
}

void view_array_end(struct view_array *a)
{
	fputs(a->n ? "\n]\n" : "]\n", a->out);
	buf_release(&a->b);
}
