/* export.c - users and devices as CSV or JSON lines, a page at a time (see export.h). */
#include "api/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/device_fields.h"
#include "core/csv.h"
#include "core/jsonw.h"
#include "core/util.h"

/* A users export's columns are store_user_fields: an import reads the file
 * back (it skips the read-only ones). A devices export's are these; the rest
 * of a device is in its JSON line. */
static const char *const device_columns[] = {
    "id",
    "user_id",
    "device_type",
    "external_device_id",
    "device_model",
    "lifecycle_state",
    "is_authenticated",
    "connection_status",
    "monitoring_status",
    "steering_status",
    "is_smart_optimization_active",
    "operational_mode",
    "current_mode",
    "attention",
    "current_state_last_updated_at",
    "consumption_last_day_kwh",
    "consumption_last_week_kwh",
    "consumption_last_month_kwh",
    "building_id",
    "created_at",
    "updated_at",
    NULL,
};

struct export
{
	struct store *st;
	int devices, csv, header_done, done;
	char org[FD_UUID_LEN + 1], role[16], zip[24], user[FD_UUID_LEN + 1];
	char *search, *after_key;
	struct store_user_query uq;
	struct store_fleet_query fq;
	int64_t total;
};

static int flag(json_t *params, const char *name)
{
	json_t *v = json_object_get(params, name);
	return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

enum fd_err export_open(struct store *st, const char *org_id, json_t *params, json_t *cursor, struct export **out)
{
	const char *kind = json_string_value(json_object_get(params, "kind"));
	const char *format = json_string_value(json_object_get(params, "format"));
	if (!kind || (strcmp(kind, "users") != 0 && strcmp(kind, "devices") != 0) || !format ||
	    (strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0))
		return FD_EINVALID;
	struct export *x = calloc(1, sizeof *x);
	if (!x)
		return FD_ENOMEM;
	x->st = st;
	x->devices = strcmp(kind, "devices") == 0;
	x->csv = strcmp(format, "csv") == 0;
	x->total = -1;
	snprintf(x->org, sizeof x->org, "%s", org_id);
	x->header_done = json_is_true(json_object_get(cursor, "h"));
	x->done = json_is_true(json_object_get(cursor, "done"));
	int64_t after = json_integer_value(json_object_get(cursor, "n"));
	if (x->devices) {
		struct store_fleet_query *q = &x->fq;
		q->org_id = x->org;
		q->type = flag(params, "type");
		q->authenticated = flag(params, "authenticated");
		q->stale = flag(params, "stale");
		q->optimization_active = flag(params, "optimization_active");
		q->needs_attention = flag(params, "needs_attention");
		const char *zip = json_string_value(json_object_get(params, "zip_code"));
		if (zip) {
			snprintf(x->zip, sizeof x->zip, "%s", zip);
			q->zip_code = x->zip;
		}
		const char *uid = json_string_value(json_object_get(params, "user_id"));
		if (uid) {
			snprintf(x->user, sizeof x->user, "%s", uid);
			q->user_id = x->user;
		}
		q->after_seq = after;
		if (q->type >= DEV_TYPES) {
			free(x);
			return FD_EINVALID;
		}
		*out = x;
		return FD_OK;
	}
	struct store_user_query *q = &x->uq;
	q->org_id = x->org;
	const char *role = json_string_value(json_object_get(params, "role"));
	const char *search = json_string_value(json_object_get(params, "search"));
	if (role) {
		snprintf(x->role, sizeof x->role, "%s", role);
		q->role = x->role;
	}
	q->include_deleted = json_is_true(json_object_get(params, "include_deleted"));
	q->only_deleted = json_is_true(json_object_get(params, "only_deleted"));
	json_int_t attn = json_integer_value(json_object_get(params, "needs_attention"));
	q->needs_attention = attn >= 0 && attn <= 2 ? (int)attn : 0;
	json_int_t sort = json_integer_value(json_object_get(params, "sort"));
	q->sort = sort >= 0 && sort < STORE_SORT_COUNT ? (enum store_user_sort)sort : STORE_SORT_CREATED;
	q->desc = json_is_true(json_object_get(params, "desc"));
	const char *key = json_string_value(json_object_get(cursor, "k"));
	if ((search && !(x->search = strdup(search))) || (key && !(x->after_key = strdup(key)))) {
		export_free(x);
		return FD_ENOMEM;
	}
	q->search = x->search;
	if (json_is_integer(json_object_get(cursor, "n"))) {
		q->has_after = 1;
		q->after_key = x->after_key;
		q->after_seq = after;
	}
	*out = x;
	return FD_OK;
}

static enum fd_err put_header(struct export *x, struct buf *out)
{
	const char *const *cols = x->devices ? device_columns : store_user_fields;
	enum fd_err rc = FD_OK;
	for (int i = 0; rc == FD_OK && cols[i]; i++) {
		if (i)
			rc = buf_puts(out, ",");
		if (rc == FD_OK)
			rc = buf_puts(out, cols[i]);
	}
	return rc == FD_OK ? buf_puts(out, "\r\n") : rc;
}

/* A device's cell: strings quoted and guarded, numbers and booleans as JSON
 * writes them, the attention list joined by ";", null empty. */
static enum fd_err device_cell(struct buf *out, json_t *v)
{
	char num[64];
	if (json_is_string(v))
		return csv_put_field(out, json_string_value(v), 1);
	if (json_is_boolean(v))
		return buf_puts(out, json_is_true(v) ? "true" : "false");
	if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		return buf_puts(out, num);
	}
	if (json_is_real(v))
		return jsonw_real(out, json_real_value(v));
	if (json_is_object(v)) { /* device_model: its JSON, in one cell */
		struct buf tmp;
		buf_init(&tmp, 64 * 1024);
		enum fd_err rc = jsonw_value(&tmp, v);
		if (rc == FD_OK)
			rc = buf_append(&tmp, "", 1);
		if (rc == FD_OK)
			rc = csv_put_field(out, tmp.data, 1);
		buf_release(&tmp);
		return rc;
	}
	if (json_is_array(v) && json_array_size(v)) {
		struct buf tmp;
		buf_init(&tmp, 4096);
		enum fd_err rc = FD_OK;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (rc == FD_OK && i)
				rc = buf_puts(&tmp, ";");
			if (rc == FD_OK)
				rc = buf_puts(&tmp, json_is_string(e) ? json_string_value(e) : "");
		}
		if (rc == FD_OK)
			rc = buf_append(&tmp, "", 1); /* NUL-terminated for csv_put_field */
		if (rc == FD_OK)
			rc = csv_put_field(out, tmp.data, 1);
		buf_release(&tmp);
		return rc;
	}
	return FD_OK;
}

static enum fd_err put_row(struct export *x, struct buf *out, json_t *row)
{
	enum fd_err rc = FD_OK;
	if (!x->csv)
		return (rc = jsonw_value(out, row)) == FD_OK ? buf_puts(out, "\n") : rc;
	const char *const *cols = x->devices ? device_columns : store_user_fields;
	for (int i = 0; rc == FD_OK && cols[i]; i++) {
		if (i)
			rc = buf_puts(out, ",");
		json_t *v = json_object_get(row, cols[i]);
		if (rc == FD_OK)
			rc = x->devices ? device_cell(out, v)
			                : (json_is_string(v) ? csv_put_field(out, json_string_value(v), 1) : FD_OK);
	}
	return rc == FD_OK ? buf_puts(out, "\r\n") : rc;
}

static enum fd_err next_users(struct export *x, struct buf *out, int64_t *rows)
{
	struct store_user_page page = {0};
	x->uq.limit = EXPORT_PAGE;
	enum fd_err rc = store_user_list(x->st, &x->uq, &page);
	if (rc != FD_OK)
		return rc;
	if (x->total < 0)
		x->total = page.total;
	json_t *items = json_loadb(page.items_json, page.items_len, 0, NULL);
	if (!json_is_array(items))
		rc = FD_EIO;
	size_t i;
	json_t *u;
	json_array_foreach(items, i, u)
	{
		if (rc != FD_OK)
			break;
		rc = put_row(x, out, u);
		(*rows)++;
	}
	size_t n = json_array_size(items);
	json_decref(items);
	if (rc == FD_OK && n) { /* the next page starts after this one */
		free(x->after_key);
		x->after_key = page.last_key ? strdup(page.last_key) : NULL;
		if (page.last_key && !x->after_key)
			rc = FD_ENOMEM;
		x->uq.has_after = 1;
		x->uq.after_key = x->after_key;
		x->uq.after_seq = page.last_seq;
	}
	x->done = !page.has_more;
	store_user_page_release(&page);
	return rc;
}

static enum fd_err next_devices(struct export *x, struct buf *out, int64_t *rows)
{
	json_t *items = NULL;
	int has_more = 0;
	int64_t last = x->fq.after_seq, total = 0;
	x->fq.limit = EXPORT_PAGE;
	enum fd_err rc = store_fleet_list(x->st, &x->fq, &items, &has_more, &last, &total);
	if (rc != FD_OK)
		return rc;
	if (x->total < 0)
		x->total = total;
	int64_t now = util_now_ms();
	for (size_t i = 0; rc == FD_OK && i < json_array_size(items); i++) {
		json_t *v = device_fleet_view(json_array_get(items, i), now);
		rc = v ? put_row(x, out, v) : FD_ENOMEM;
		json_decref(v);
		(*rows)++;
	}
	json_decref(items);
	x->fq.after_seq = last;
	x->done = !has_more;
	return rc;
}

enum fd_err export_next(struct export *x, struct buf *out, int64_t *rows, int *done)
{
	*rows = 0;
	enum fd_err rc = FD_OK;
	if (x->csv && !x->header_done && (rc = put_header(x, out)) == FD_OK)
		x->header_done = 1;
	if (rc == FD_OK && !x->done)
		rc = x->devices ? next_devices(x, out, rows) : next_users(x, out, rows);
	*done = x->done;
	return rc;
}

int64_t export_total(const struct export *x)
{
	return x->total;
}

json_t *export_cursor(const struct export *x)
{
	json_t *c = json_pack("{sbsb}", "h", x->header_done, "done", x->done);
	if (!c)
		return NULL;
	if (x->devices) {
		json_object_set_new(c, "n", json_integer(x->fq.after_seq));
	} else if (x->uq.has_after) {
		json_object_set_new(c, "n", json_integer(x->uq.after_seq));
		if (x->after_key)
			json_object_set_new(c, "k", json_string(x->after_key));
	}
	return c;
}

const char *export_content_type(const struct export *x)
{
	return x->csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
}

const char *export_extension(const struct export *x)
{
	return x->csv ? "csv" : "jsonl";
}

void export_free(struct export *x)
{
	if (!x)
		return;
	free(x->search);
	free(x->after_key);
	free(x);
}
