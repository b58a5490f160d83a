/*
 * cmd_bulk.c - `fleetdesk bulk-update FILE`: the product document's
 * bulk_update_users (a loop of single PUTs) done in batches through
 * POST /users/bulk.
 *
 * FILE is CSV (an id column and the fields to set; an empty cell leaves the
 * field unchanged) or JSON lines ({"id", field: value...}, or a whole bulk
 * item {"op", "id", "data", "if_match"}). Rows go in batches of --batch
 * items (and at most BULK_BODY_MAX bytes, under the server's 1 MiB body
 * limit), each with its own Idempotency-Key reused on its retries, so a
 * batch whose reply was lost is never applied twice. Each item weighs one
 * request in the server's rate limit; the session paces the batches by
 * the server's RateLimit headers.
 *
 * Every failed row is reported by its line in FILE and copied, as it was,
 * into the failed-rows file, so fixing and feeding that file back in
 * finishes the job. After a failure that every later batch would meet
 * (401, 403, 404, the server unreachable) or Ctrl-C, the remaining rows are
 * not sent and go to that file too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/csv.h"
#include "remote/failures.h"
#include "remote/progress.h"
#include "remote/remote.h"
#include "remote/rows.h"
#include "remote/session.h"

#define NOPTS(a)      (sizeof(a) / sizeof((a)[0]))
#define BATCH_DEFAULT 500
#define BATCH_MAX     1000
#define BULK_BODY_MAX (1000 * 1024) /* the server takes 1 MiB; the wrapper and escapes fit in the rest */
#define MESSAGE_MAX   600

static const char bulk_help[] =
    "usage: fleetdesk bulk-update FILE [--batch N] [--atomic] [--failed-rows OUT] [--format csv|jsonl] [--json]\n"
    "                             [--no-progress]\n"
    "Updates users from FILE through POST /users/bulk, in batches:\n"
    "  CSV          a header with an id column and the fields to set; an empty cell leaves the field unchanged\n"
    "               (the columns org_id, created_at, updated_at and deleted_at of an export are ignored)\n"
    "  JSON lines   {\"id\": ..., FIELD: VALUE, ...} per line (null clears a field), or a whole bulk item\n"
    "               {\"op\": \"create|update|delete|restore\", \"id\": ..., \"data\": {...}, \"if_match\": ...}\n"
    "  --batch N        items per request, 1-1000 (default 500)\n"
    "  --atomic         each batch applies all or none of its rows (?atomic=true)\n"
    "  --failed-rows OUT  where the failed rows go, in FILE's own format (default FILE.failed.csv or\n"
    "                   FILE.failed.jsonl beside FILE; written only when a row failed)\n"
    "  --format F       csv or jsonl, when FILE's name does not say\n"
    "  --json           print the report as JSON, every failure included\n"
    "  --no-progress    no progress bar\n"
    "Ctrl-C lets the batch in flight finish, then stops: the rows not sent go to the failed-rows file.\n"
    "Exit status: 0 when every row was applied, 1 when any failed, 2 for a usage error.\n";

#define ROWS_CAP (2 * BATCH_MAX) /* a batch's rows: its items, and the rows that failed here between them */

/* A row of the batch being filled: an item to send, or a row that already
 * failed here. Outcomes are recorded in the file's order once the batch's
 * reply is in. */
struct brow {
	int64_t line, offset, end;
	char id[64];
	int item;    /* its index in the batch's items, or -1 */
	int done;    /* the outcome is known */
	int ok;      /* applied */
	long status; /* of a failure (0: never sent) */
	char msg[MESSAGE_MAX + 64];
	json_t *problem; /* owned, or NULL */
};

struct bulk {
	struct session s;
	const char *file;
	enum rows_format fmt;
	size_t batch_max;
	int atomic;
	int json;
	struct failures *fails;
	struct progress *bar;
	int64_t total, done, ok, not_sent;
	/* CSV: the header's columns; "" for an ignored one */
	char *cols[CSV_FIELDS_MAX];
	size_t ncols;
	size_t id_col;
	/* the batch being filled */
	json_t *items;
	size_t body_bytes;
	struct brow rows[ROWS_CAP];
	size_t n;                /* rows */
	int item_row[BATCH_MAX]; /* the row of each item */
	/* set after a failure every later batch would meet */
	int stop;
	char stop_why[MESSAGE_MAX];
};

/* Sets a batch row's outcome: applied, or failed with status and msg. */
static void outcome(struct brow *row, int ok, long status, const char *msg, json_t *problem)
{
	row->done = 1;
	row->ok = ok;
	row->status = status;
	snprintf(row->msg, sizeof row->msg, "%s", msg ? msg : "");
	json_decref(row->problem);
	row->problem = problem ? json_incref(problem) : NULL;
}

/* ------------------------------------------------------------------ the header */

static int read_header(struct bulk *b, const struct row *h)
{
	static const char *const ignored[] = {"org_id", "created_at", "updated_at", "deleted_at", NULL};
	if (h->error) {
		session_say(&b->s, "%s: the header row (line %lld) %s", b->file, (long long)h->line, h->error);
		return 1;
	}
	int has_id = 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const char *f = h->fields[i];
		if (!*f) {
			session_say(&b->s, "%s: column %zu of the header has no name", b->file, i + 1);
			return 1;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(h->fields[k], f) == 0) {
				session_say(&b->s, "%s: the column %s appears twice in the header", b->file, f);
				return 1;
			}
		}
		int skip = 0;
		for (int k = 0; ignored[k]; k++)
			skip |= strcmp(f, ignored[k]) == 0;
		if (strcmp(f, "id") == 0) {
			has_id = 1;
			b->id_col = i;
		}
		b->cols[i] = strdup(skip ? "" : f);
		if (!b->cols[i])
			return 1;
		b->ncols = i + 1;
	}
	if (!has_id) {
		session_say(&b->s, "%s: the header has no id column (the users to update)", b->file);
		return 1;
	}
	return failures_header(b->fails, h->offset, h->end) == FD_OK ? 0 : 1;
}

/* ------------------------------------------------------------------ rows to items */

/* The bulk item of a CSV row, or NULL with why. */
static json_t *csv_item(struct bulk *b, const struct row *r, char *id, char *why, size_t n)
{
	if (r->nfields != b->ncols) {
		snprintf(why, n, "the row has %zu fields; the header has %zu", r->nfields, b->ncols);
		return NULL;
	}
	const char *uid = r->fields[b->id_col];
	snprintf(id, 64, "%s", uid);
	if (!*uid) {
		snprintf(why, n, "the id is empty");
		return NULL;
	}
	json_t *data = json_object();
	for (size_t i = 0; data && i < r->nfields; i++) {
		if (i == b->id_col || !*b->cols[i] || !*r->fields[i])
			continue; /* the id, an ignored column, or an empty cell: unchanged */
		json_t *v = json_string(csv_unguard(r->fields[i]));
		if (!v) {
			snprintf(why, n, "%s is not valid UTF-8 text", b->cols[i]);
			json_decref(data);
			return NULL;
		}
		json_object_set_new(data, b->cols[i], v);
	}
	json_t *uidv = json_string(uid);
	if (!data || !uidv) {
		snprintf(why, n, "the id is not valid UTF-8 text");
		json_decref(data);
		json_decref(uidv);
		return NULL;
	}
	return json_pack("{ssso so}", "op", "update", "id", uidv, "data", data);
}

/* The bulk item of a JSON line, or NULL with why. */
static json_t *jsonl_item(const struct row *r, char *id, char *why, size_t n)
{
	json_t *v = r->value;
	if (!json_is_object(v)) {
		snprintf(why, n, "is not a JSON object");
		return NULL;
	}
	json_t *jid = json_object_get(v, "id");
	if (json_is_string(jid))
		snprintf(id, 64, "%s", json_string_value(jid));
	if (json_object_get(v, "op"))
		return json_incref(v); /* a whole bulk item: the server checks it */
	if (!json_is_string(jid) || !*json_string_value(jid)) {
		snprintf(why, n, "has no id (a string)");
		return NULL;
	}
	json_t *data = json_deep_copy(v);
	if (!data) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	json_object_del(data, "id");
	return json_pack("{sssOso}", "op", "update", "id", jid, "data", data);
}

/* ------------------------------------------------------------------ batches */

static int success(json_t *result)
{
	const char *st = json_string_value(json_object_get(result, "status"));
	return st && strcmp(st, "success") == 0;
}

/* The batch row of a result (by its item index), or NULL. */
static struct brow *result_row(struct bulk *b, json_t *result)
{
	json_t *k = json_object_get(result, "index");
	if (!json_is_integer(k) || json_integer_value(k) < 0 ||
	    (size_t)json_integer_value(k) >= json_array_size(b->items))
		return NULL;
	return &b->rows[b->item_row[json_integer_value(k)]];
}

/* Reads a 200 (or an atomic 422) reply's per-item results. */
static void read_results(struct bulk *b, json_t *reply)
{
	json_t *results = json_object_get(reply, "results");
	int64_t first_failed = -1; /* the line of an atomic batch's failed row */
	size_t i;
	json_t *r;
	json_array_foreach(results, i, r)
	{
		struct brow *row = result_row(b, r);
		if (row && !success(r) && json_integer_value(json_object_get(r, "status_code")) != 424 &&
		    first_failed < 0)
			first_failed = row->line;
	}
	json_array_foreach(results, i, r)
	{
		struct brow *row = result_row(b, r);
		if (!row || row->done)
			continue;
		if (success(r)) {
			outcome(row, 1, 0, NULL, NULL);
			continue;
		}
		long code = (long)json_integer_value(json_object_get(r, "status_code"));
		json_t *err = json_object_get(r, "error");
		char body[MESSAGE_MAX], msg[MESSAGE_MAX + 64];
		if (code == 424) {
			snprintf(msg, sizeof msg,
			         "424 not applied: its batch is atomic and the row on line %lld failed",
			         (long long)first_failed);
		} else {
			failures_message(err, body, sizeof body);
			const char *name = session_status_text(code);
			snprintf(msg, sizeof msg, "%ld%s%s: %s", code, *name ? " " : "", name, body);
		}
		outcome(row, 0, code, msg, err);
	}
}

/* Posts the batch's items and sets their rows' outcomes. */
static void post_items(struct bulk *b)
{
	struct buf path;
	buf_init(&path, 1024);
	enum fd_err rc = session_org_path(&b->s, &path, "/users/bulk");
	if (rc == FD_OK && b->atomic)
		rc = rhttp_query(&path, "atomic", "true");
	json_t *wrap = json_pack("{sO}", "items", b->items);
	char *body = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
	json_decref(wrap);
	/* a batch in flight finishes even after Ctrl-C: its outcome is then known */
	struct rhttp_request rq = {.method = "POST",
	                           .path = path.data,
	                           .content_type = "application/json",
	                           .body = body,
	                           .body_len = body ? strlen(body) : 0,
	                           .weight = (int)json_array_size(b->items),
	                           .uninterruptible = 1};
	struct rhttp_response resp;
	rhttp_response_init(&resp);
	if (rc == FD_OK && !body)
		rc = FD_ENOMEM;
	if (rc == FD_OK)
		rc = session_send(&b->s, &rq, &resp);
	json_t *reply = rc == FD_OK ? rhttp_json(&resp) : NULL;
	char msg[MESSAGE_MAX + 64];
	json_t *problem = NULL;
	if (rc != FD_OK) {
		snprintf(msg, sizeof msg,
		         "no reply (%s): the batch may or may not have been applied; check before sending it again",
		         resp.error[0] ? resp.error : fd_err_name(rc));
		b->stop = 1;
		snprintf(b->stop_why, sizeof b->stop_why, "not sent: an earlier batch got no reply");
	} else if (resp.status == 200 || (resp.status == 422 && json_is_array(json_object_get(reply, "results")))) {
		read_results(b, reply);
		snprintf(msg, sizeof msg, "the reply has no result for this row");
	} else {
		char body_msg[MESSAGE_MAX];
		failures_message(reply, body_msg, sizeof body_msg);
		const char *name = session_status_text(resp.status);
		snprintf(msg, sizeof msg, "%ld%s%s: %s", resp.status, *name ? " " : "", name, body_msg);
		problem = reply;
		if (resp.status == 401 || resp.status == 403 || resp.status == 404) {
			b->stop = 1;
			snprintf(b->stop_why, sizeof b->stop_why, "not sent: an earlier batch failed with %.500s", msg);
		}
	}
	/* the items the reply did not settle fail with the batch's message */
	for (size_t i = 0; i < json_array_size(b->items); i++) {
		struct brow *row = &b->rows[b->item_row[i]];
		if (!row->done)
			outcome(row, 0, rc == FD_OK ? resp.status : 0, msg, problem);
	}
	json_decref(reply);
	rhttp_response_release(&resp);
	free(body);
	buf_release(&path);
}

/* Sends the batch (when it has items) and records its rows' outcomes in
 * the file's order. */
static enum fd_err flush_batch(struct bulk *b)
{
	if (json_array_size(b->items) > 0)
		post_items(b);
	enum fd_err rc = FD_OK;
	for (size_t i = 0; i < b->n; i++) {
		struct brow *row = &b->rows[i];
		b->done++;
		if (row->ok)
			b->ok++;
		else if (rc == FD_OK)
			rc = failures_add(b->fails, row->line, row->offset, row->end, row->id[0] ? row->id : NULL,
			                  row->status, row->msg, row->problem);
		json_decref(row->problem);
		row->problem = NULL;
	}
	json_array_clear(b->items);
	b->n = 0;
	b->body_bytes = 0;
	progress_update(b->bar, b->done, b->total, failures_count(b->fails), -1, -1);
	return rc;
}

/* A new row of the batch (flushing it first when it is full). */
static struct brow *add_row(struct bulk *b, const struct row *r, const char *id, enum fd_err *rc)
{
	*rc = FD_OK;
	if (b->n == ROWS_CAP)
		*rc = flush_batch(b);
	struct brow *row = &b->rows[b->n++];
	memset(row, 0, sizeof *row);
	row->line = r->line;
	row->offset = r->offset;
	row->end = r->end;
	row->item = -1;
	snprintf(row->id, sizeof row->id, "%s", id ? id : "");
	return row;
}

/* Takes one row: an item of the batch (sent when full), or a row that
 * failed here, settled with the batch so the report keeps the file's order. */
static enum fd_err take_row(struct bulk *b, const struct row *r)
{
	char id[64] = "", why[300] = "";
	enum fd_err rc = FD_OK;
	if (!b->stop && session_interrupted) {
		b->stop = 1;
		snprintf(b->stop_why, sizeof b->stop_why, "not sent: interrupted (Ctrl-C)");
	}
	if (b->stop) {
		b->not_sent++;
		b->done++;
		return failures_add(b->fails, r->line, r->offset, r->end, NULL, 0, b->stop_why, NULL);
	}
	json_t *item = NULL;
	if (r->error)
		snprintf(why, sizeof why, "%s", r->error);
	else
		item = b->fmt == ROWS_CSV ? csv_item(b, r, id, why, sizeof why) : jsonl_item(r, id, why, sizeof why);
	size_t len = 0;
	if (item) {
		char *text = json_dumps(item, JSON_COMPACT);
		len = text ? strlen(text) : 0;
		free(text);
		if (!text || len + 16 > BULK_BODY_MAX) {
			snprintf(why, sizeof why, "%s",
			         text ? "the row is too large for a bulk request" : "out of memory");
			json_decref(item);
			item = NULL;
		}
	}
	if (!item) {
		struct brow *row = add_row(b, r, id, &rc);
		outcome(row, 0, 0, why, NULL);
		return rc;
	}
	if (json_array_size(b->items) == b->batch_max || b->body_bytes + len + 1 > BULK_BODY_MAX || b->n == ROWS_CAP)
		rc = flush_batch(b);
	if (b->stop) { /* that batch met a failure every later one would */
		json_decref(item);
		b->not_sent++;
		b->done++;
		enum fd_err rc2 =
		    failures_add(b->fails, r->line, r->offset, r->end, id[0] ? id : NULL, 0, b->stop_why, NULL);
		return rc != FD_OK ? rc : rc2;
	}
	enum fd_err rc2 = FD_OK;
	struct brow *row = add_row(b, r, id, &rc2);
	if (rc == FD_OK)
		rc = rc2;
	row->item = (int)json_array_size(b->items);
	b->item_row[row->item] = (int)(row - b->rows);
	if (json_array_append_new(b->items, item) != 0)
		return FD_ENOMEM;
	b->body_bytes += len + 1;
	return rc;
}

/* ------------------------------------------------------------------ the run */

static int run(struct bulk *b, FILE *f)
{
	struct rows *rd = rows_open(f, b->fmt);
	if (!rd) {
		session_say(&b->s, "out of memory");
		return 1;
	}
	int status = 0;
	struct row r;
	enum fd_err rc = rows_next(rd, &r);
	if (b->fmt == ROWS_CSV) {
		if (rc == FD_ENOTFOUND) {
			session_say(&b->s, "%s is empty: a CSV file starts with a header row", b->file);
			status = 1;
		} else if (rc == FD_OK) {
			status = read_header(b, &r);
			if (!status)
				rc = rows_next(rd, &r);
		}
	}
	while (!status && rc == FD_OK) {
		if (take_row(b, &r) != FD_OK) {
			session_say(&b->s, "cannot record a failed row: %s", strerror(errno));
			status = 1;
			break;
		}
		rc = rows_next(rd, &r);
	}
	if (!status && rc == FD_EIO) {
		session_say(&b->s, "cannot read %s: %s", b->file, strerror(errno));
		status = 1;
	}
	if (!status && flush_batch(b) != FD_OK) {
		session_say(&b->s, "cannot record a failed row: %s", strerror(errno));
		status = 1;
	}
	rows_free(rd);
	return status;
}

static int report(struct bulk *b, const char *failed_path)
{
	int64_t failed = failures_count(b->fails);
	if (failures_commit(b->fails) != FD_OK) {
		session_say(&b->s, "cannot write %s: %s", failed_path, strerror(errno));
		return 1;
	}
	if (b->json) {
		json_t *head = json_pack("{sssIsIsIsIss?}", "file", b->file, "total", (json_int_t)b->total, "succeeded",
		                         (json_int_t)b->ok, "failed", (json_int_t)failed, "not_sent",
		                         (json_int_t)b->not_sent, "failed_rows_file", failed ? failed_path : NULL);
		char *text = head ? json_dumps(head, JSON_COMPACT) : NULL;
		json_decref(head);
		if (!text)
			return 1;
		/* {"file":…,…} plus "failures": [...], streamed from the failures' file */
		text[strlen(text) - 1] = '\0';
		fputs(text, stdout);
		free(text);
		fputs(",\"failures\":", stdout);
		enum fd_err rc = failures_write_json(b->fails, stdout);
		fputs("}\n", stdout);
		if (rc != FD_OK)
			return 1;
	} else {
		printf("bulk-update of %s: %lld rows: %lld applied, %lld failed", b->file, (long long)b->total,
		       (long long)b->ok, (long long)failed);
		if (b->not_sent)
			printf(" (%lld of them not sent)", (long long)b->not_sent);
		putchar('\n');
		failures_print(b->fails, stdout);
		if (failed)
			printf("failed rows written to %s (fix them and run bulk-update on that file)\n", failed_path);
	}
	return failed ? 1 : 0;
}

int cmd_bulk_update(int argc, char **argv)
{
	const char *cmd = "bulk-update";
	struct ropt opts[] = {SESSION_OPTS,
	                      {.name = "batch", .has_arg = 1},
	                      {.name = "atomic"},
	                      {.name = "failed-rows", .has_arg = 1},
	                      {.name = "format", .has_arg = 1},
	                      {.name = "json"},
	                      {.name = "no-progress"}};
	size_t n = NOPTS(opts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 1, cmd);
	if (prc < 0) {
		fputs(bulk_help, stdout);
		fputs(session_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	if (pos.n == 0)
		return args_usage_error(cmd, "the file of updates is missing");
	const char *file = pos.v[0];
	long long batch = BATCH_DEFAULT;
	if ((prc = ropt_int(opts, n, "batch", 1, BATCH_MAX, &batch, cmd)))
		return prc;
	enum rows_format fmt;
	const char *fflag = ropt_get(opts, n, "format");
	if (rows_format_of(file, fflag, &fmt) != 0)
		return args_usage_error(
		    cmd, fflag ? "--format must be csv or jsonl"
		               : "cannot tell the file's format from its name: give --format csv or jsonl");
	char failed_path[4096];
	const char *out = ropt_get(opts, n, "failed-rows");
	if (out)
		snprintf(failed_path, sizeof failed_path, "%s", out);
	else if (failures_default_path(file, fmt == ROWS_CSV, failed_path, sizeof failed_path) != FD_OK)
		return args_usage_error(cmd, "the file's name is too long");
	if ((prc = remote_check_output(cmd, file, failed_path)))
		return prc;
	FILE *f = fopen(file, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		char msg[300];
		snprintf(msg, sizeof msg, "cannot read %.200s: %s", file, f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return args_usage_error(cmd, msg);
	}
	struct bulk *b = calloc(1, sizeof *b); /* large (a batch's rows): not on the stack */
	if (!b) {
		fclose(f);
		return 1;
	}
	b->file = file;
	b->fmt = fmt;
	b->batch_max = (size_t)batch;
	b->atomic = ropt_get(opts, n, "atomic") != NULL;
	b->json = ropt_get(opts, n, "json") != NULL;
	int status = session_open(&b->s, cmd, opts, n, 1);
	if (status)
		goto out;
	b->total = rows_count(f, b->fmt);
	if (b->total < 0) {
		session_say(&b->s, "cannot read %s: %s", b->file, strerror(errno));
		status = 1;
		goto out;
	}
	if (failures_new(b->file, failed_path, &b->fails) != FD_OK) {
		session_say(&b->s, "cannot write beside %s: %s", failed_path, strerror(errno));
		status = 1;
		goto out;
	}
	b->items = json_array();
	b->bar = progress_new("bulk-update", "rows", ropt_get(opts, n, "no-progress") == NULL);
	if (!b->items) {
		status = 1;
		goto out;
	}
	session_catch_interrupt();
	status = run(b, f);
	progress_done(b->bar);
	if (!status)
		status = report(b, failed_path);
out:
	for (size_t i = 0; i < b->ncols; i++)
		free(b->cols[i]);
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->rows[i].problem);
	json_decref(b->items);
	progress_free(b->bar);
	failures_free(b->fails);
	session_close(&b->s);
	free(b);
	fclose(f);
	return status;
}
