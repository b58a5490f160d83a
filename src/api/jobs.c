/*
 * jobs.c - the background jobs' endpoints: the CSV / JSON-lines import
 * (POST /users/import), and /jobs: list, one job with its progress, cancel,
 * its failed rows (as errors, or as the rows themselves, ready to be fixed
 * and sent again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/common.h"
#include "api/handlers.h"
#include "core/csv.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "jobs/jobs.h"

#define ERRORS_PAGE 1000

/* Columns of an import: the user fields a client may write, and the
 * read-only ones of an export, which an import skips. */
static const char *const ignored_columns[] = {"id", "org_id", "created_at", "updated_at", "deleted_at", NULL};

/* ------------------------------------------------------------------ the job view */

static double seconds_between(json_t *a, json_t *b)
{
	int64_t x = 0, y = 0;
	if (!json_is_string(a) || !json_is_string(b) || util_parse_rfc3339(json_string_value(a), &x) != FD_OK ||
	    util_parse_rfc3339(json_string_value(b), &y) != FD_OK)
		return 0;
	return (double)(y - x) / 1000.0;
}

/* What a client sees of a job. */
json_t *api_job_view(json_t *job)
{
	const char *id = json_string_value(json_object_get(job, "id"));
	const char *org = json_string_value(json_object_get(job, "org_id"));
	const char *state = json_string_value(json_object_get(job, "state"));
	json_t *params = json_object_get(job, "params");
	json_int_t processed = json_integer_value(json_object_get(job, "processed"));
	json_t *total = json_object_get(job, "total");
	double secs = seconds_between(json_object_get(job, "started_at"), json_object_get(job, "updated_at"));
	double rate = secs > 0 ? (double)processed / secs : 0;
	int running = state && strcmp(state, "running") == 0;
	json_t *v = json_object();
	if (!v)
		return NULL;
	json_object_set(v, "id", json_object_get(job, "id"));
	json_object_set(v, "kind", json_object_get(job, "kind"));
	json_object_set(v, "state", json_object_get(job, "state"));
	json_object_set_new(v, "dry_run", json_boolean(json_is_true(json_object_get(params, "dry_run"))));
	json_object_set(v, "format", json_object_get(params, "format"));
	json_object_set(v, "total", total);
	json_object_set(v, "processed", json_object_get(job, "processed"));
	json_object_set(v, "succeeded", json_object_get(job, "succeeded"));
	json_object_set(v, "failed", json_object_get(job, "failed"));
	double progress = json_is_integer(total) && json_integer_value(total) > 0
	                      ? (double)processed / (double)json_integer_value(total)
	                      : (state && strcmp(state, "succeeded") == 0 ? 1.0 : 0.0);
	json_object_set_new(v, "progress", json_real(progress > 1 ? 1 : progress));
	json_object_set_new(v, "rate_per_second", json_real((double)(json_int_t)(rate * 10) / 10));
	if (running && rate > 0 && json_is_integer(total) && json_integer_value(total) >= processed)
		json_object_set_new(
		    v, "eta_seconds",
		    json_integer((json_int_t)((double)(json_integer_value(total) - processed) / rate + 0.5)));
	else
		json_object_set_new(v, "eta_seconds", running ? json_null() : json_integer(0));
	json_object_set(v, "errors_kept", json_object_get(job, "stored_errors"));
	json_object_set(v, "cancel_requested", json_object_get(job, "cancel_requested"));
	json_object_set(v, "error", json_object_get(job, "error"));
	static const char *const times[] = {"created_at", "started_at", "finished_at", "updated_at"};
	for (int i = 0; i < 4; i++)
		json_object_set(v, times[i], json_object_get(job, times[i]));
	json_object_set(v, "version", json_object_get(job, "version"));
	char base[256], l1[300], l2[300];
	snprintf(base, sizeof base, API_PREFIX "/org/%s/jobs/%s", org ? org : "", id ? id : "");
	snprintf(l1, sizeof l1, "%s/errors", base);
	snprintf(l2, sizeof l2, "%s/failed-rows", base);
	json_t *links = json_pack("{ssssss}", "self", base, "errors", l1, "failed_rows", l2);
	const char *kind = json_string_value(json_object_get(job, "kind"));
	size_t kl = kind ? strlen(kind) : 0;
	if (kl > 7 && strcmp(kind + kl - 7, ".export") == 0) { /* an export's file */
		char l3[300];
		snprintf(l3, sizeof l3, "%s/result", base);
		json_object_set_new(links, "result", json_string(l3));
	}
	json_object_set_new(v, "links", links);
	return v;
}

/* ------------------------------------------------------------------ the import */

#define IMPORT_MAX_COLUMNS 1000

/* Maps the header's fields to user fields ("" for a skipped column: an
 * export's read-only ones, and those skip[i] marks). FD_OK, or FD_EINVALID
 * with *errors. */
static enum fd_err map_header(const struct csv_record *h, const unsigned char *skip, json_t **columns, json_t **errors)
{
	*columns = json_array();
	*errors = json_array();
	int has_key = 0;
	for (size_t i = 0; i < h->n; i++) {
		const char *f = h->fields[i];
		const char *name = i < IMPORT_MAX_COLUMNS && skip[i] ? "" : NULL;
		for (int k = 0; !name && store_user_writable[k]; k++) {
			if (strcmp(f, store_user_writable[k]) == 0)
				name = store_user_writable[k];
		}
		for (int k = 0; !name && ignored_columns[k]; k++) {
			if (strcmp(f, ignored_columns[k]) == 0)
				name = "";
		}
		char d[200];
		if (!name) {
			snprintf(d, sizeof d,
			         "is not a user field (the header names email, first_name, last_name, "
			         "external_user_id, role and the address fields)");
			json_array_append_new(*errors, json_pack("{sssssssi}", "field", f, "in", "header", "detail", d,
			                                         "column", (int)i + 1));
			continue;
		}
		for (size_t k = 0; *name && k < i; k++) {
			if (strcmp(h->fields[k], f) == 0 && !(k < IMPORT_MAX_COLUMNS && skip[k])) {
				json_array_append_new(*errors,
				                      json_pack("{sssssssi}", "field", f, "in", "header", "detail",
				                                "appears twice", "column", (int)i + 1));
				name = "";
			}
		}
		has_key |= strcmp(name, "email") == 0 || strcmp(name, "external_user_id") == 0;
		json_array_append_new(*columns, json_string(name));
	}
	if (!has_key)
		json_array_append_new(*errors, json_pack("{ssssss}", "field", "email", "in", "header", "detail",
		                                         "the header needs email or external_user_id, to match users"));
	return json_array_size(*errors) ? FD_EINVALID : FD_OK;
}

/* ?skip_columns=2,5: CSV columns (1-based) to leave out, whatever their
 * header says. Sets skip[i] for each and *max to the largest. Replies 400. */
static enum fd_err parse_skip(struct req *r, const char *format, unsigned char *skip, int *max)
{
	const char *v = req_query(r, "skip_columns");
	*max = 0;
	if (!v)
		return FD_OK;
	if (strcmp(format, "csv") != 0)
		return api_bad_param(r, "skip_columns", "is for CSV files only");
	const char *p = v;
	while (*p) {
		char *end = NULL;
		long n = strtol(p, &end, 10);
		if (end == p || n < 1 || n > IMPORT_MAX_COLUMNS || (*end && *end != ','))
			return api_bad_param(r, "skip_columns",
			                     "must be column numbers from 1 to 1000, separated by commas");
		skip[n - 1] = 1;
		if (n > *max)
			*max = (int)n;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			return api_bad_param(r, "skip_columns",
			                     "must be column numbers from 1 to 1000, separated by commas");
	}
	return FD_OK;
}

static const char *import_format(struct req *r)
{
	const char *f = req_query(r, "format");
	if (f)
		return strcmp(f, "csv") == 0 || strcmp(f, "jsonl") == 0 ? f : "";
	const char *ct = req_header(r, "Content-Type");
	if (!ct)
		return NULL;
	if (strncasecmp(ct, "text/csv", 8) == 0)
		return "csv";
	if (strncasecmp(ct, "application/x-ndjson", 20) == 0 || strncasecmp(ct, "application/jsonl", 17) == 0)
		return "jsonl";
	return NULL;
}

enum fd_err users_import(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_USER_CREATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	struct jobs *jobs = req_jobs(r);
	if (!jobs)
		return reply_problem(r, FD_EBUSY, "this server runs no background jobs", NULL);
	const char *format = import_format(r);
	if (format && !*format)
		return api_bad_param(r, "format", "must be csv or jsonl");
	if (!format)
		return reply_problem(r, FD_EMEDIA,
		                     "send text/csv or application/x-ndjson (JSON lines), or say ?format=", NULL);
	const char *dry = req_query(r, "dry_run");
	if (dry && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0)
		return api_bad_param(r, "dry_run", "must be true or false");
	unsigned char skip[IMPORT_MAX_COLUMNS] = {0};
	int skip_max = 0;
	if ((rc = parse_skip(r, format, skip, &skip_max)) != FD_OK)
		return rc;
	FILE *f = req_upload(r);
	if (!f || r->upload_len == 0)
		return reply_problem(r, FD_EINVALID, "the body is empty: send the file",
		                     json_pack("[{sssss}]", "field", "body", "in", "body", "detail", "is empty"));
	json_t *params = json_pack("{sssbsI}", "format", format, "dry_run", dry && strcmp(dry, "true") == 0, "size",
	                           (json_int_t)r->upload_len);
	int64_t lines = r->upload_lines, total;
	{ /* a last line without a line break is a row too */
		char last = '\n';
		if (fseeko(f, -1, SEEK_END) == 0 && fread(&last, 1, 1, f) == 1 && last != '\n')
			lines++;
		fseeko(f, 0, SEEK_SET);
	}
	if (strcmp(format, "csv") == 0) {
		struct csv_reader *rd = csv_reader_new(f);
		struct csv_record h;
		const char *why = NULL;
		rc = rd ? csv_next(rd, &h, &why) : FD_ENOMEM;
		if (rc == FD_EINVALID || rc == FD_ENOTFOUND) {
			csv_reader_free(rd);
			json_decref(params);
			return reply_problem(r, FD_EINVALID, "the header row cannot be read",
			                     json_pack("[{sssss}]", "field", "header", "in", "header", "detail",
			                               why ? why : "is missing"));
		}
		json_t *columns = NULL, *errors = NULL;
		if (rc == FD_OK && (size_t)skip_max > h.n) {
			csv_reader_free(rd);
			json_decref(params);
			char d[120];
			snprintf(d, sizeof d, "names column %d; the header has %zu", skip_max, h.n);
			return api_bad_param(r, "skip_columns", d);
		}
		if (rc == FD_OK)
			rc = map_header(&h, skip, &columns, &errors);
		if (rc == FD_EINVALID) {
			csv_reader_free(rd);
			json_decref(params);
			json_decref(columns);
			char d[100];
			snprintf(d, sizeof d, "%zu column%s of the header %s not right", json_array_size(errors),
			         json_array_size(errors) == 1 ? "" : "s", json_array_size(errors) == 1 ? "is" : "are");
			return reply_problem(r, FD_EINVALID, d, errors);
		}
		json_object_set_new(params, "columns", columns);
		json_object_set_new(params, "header", json_stringn(h.raw, h.raw_len));
		json_object_set_new(params, "data_offset", json_integer(h.end));
		json_object_set_new(params, "data_line", json_integer(h.next_line));
		json_decref(errors);
		total = lines - (h.next_line - 1);
		csv_reader_free(rd);
		if (rc != FD_OK) {
			json_decref(params);
			return rc;
		}
	} else {
		json_object_set_new(params, "data_offset", json_integer(0));
		json_object_set_new(params, "data_line", json_integer(1));
		total = lines;
	}
	char uuid[FD_UUID_LEN + 1], input[FD_UUID_LEN + 8], path[1024];
	util_uuid(uuid);
	snprintf(input, sizeof input, "%s.in", uuid);
	snprintf(path, sizeof path, "%s/%s", jobs_dir(jobs), input);
	json_object_set_new(params, "input", json_string(input));
	if (req_take_upload(r, path) != FD_OK) {
		json_decref(params);
		return reply_problem(r, FD_EIO, "the upload could not be kept for the job", NULL);
	}
	rc = api_job_start(r, "users.import", params, total < 0 ? 0 : total, "the import job");
	json_decref(params);
	if (rc != FD_OK)
		unlink(path);
	return rc;
}

enum fd_err api_job_start(struct req *r, const char *kind, json_t *params, int64_t total, const char *what)
{
	json_t *actor =
	    json_pack("{ssssssssss}", "type", r->principal->actor_type, "id", r->principal->actor_id, "name",
	              r->principal->actor_name, "role", role_name(r->principal->role), "request_id", r->request_id);
	struct store_actor a = api_actor(r);
	json_t *job = NULL;
	enum fd_err rc =
	    actor ? store_job_create(req_store(r), &a, req_param(r, 0), kind, params, actor, total, &job) : FD_ENOMEM;
	json_decref(actor);
	if (rc != FD_OK) {
		char d[120];
		snprintf(d, sizeof d, "%s could not be created", what);
		return reply_problem(r, rc, d, NULL);
	}
	jobs_kick(req_jobs(r));
	json_t *view = api_job_view(job);
	json_decref(job);
	reply_header(r, "Location", json_string_value(json_object_get(json_object_get(view, "links"), "self")));
	return reply_json(r, 202, view);
}

/* ------------------------------------------------------------------ /jobs */

/* The job in the path, as the store has it; replies 404 when not the org's. */
static enum fd_err load_job(struct req *r, json_t **job)
{
	const char *id = req_param(r, 1);
	enum fd_err rc = util_is_uuid(id) ? store_job_get(req_store(r), req_param(r, 0), id, job) : FD_ENOTFOUND;
	if (rc == FD_ENOTFOUND)
		return reply_problem(r, rc, "no such job", NULL);
	return rc == FD_OK ? rc : reply_problem(r, rc, NULL, NULL);
}

/* ------------------------------------------------------------------ following a job */

#define WATCH_WAIT_MAX 60    /* seconds a long poll may wait */
#define WATCH_PING_MS  15000 /* an event stream's keep-alive comment */

/* A client following one job: a long poll (one reply, once the job moves on
 * from the version the client has, ends, or the wait is over) or an event
 * stream (each version as it comes, then an "end" event). */
struct job_watch {
	struct store *st;
	char org[FD_UUID_LEN + 1], id[FD_UUID_LEN + 1];
	int64_t seen;        /* the version the client has; -1: none */
	int64_t deadline_ms; /* a long poll's */
	int64_t ping_ms;     /* an event stream's next keep-alive */
	int events;
};

static int job_ended(json_t *job)
{
	const char *state = json_string_value(json_object_get(job, "state"));
	return state && strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
}

static enum fd_err put_view(struct buf *out, json_t *job)
{
	json_t *view = api_job_view(job);
	enum fd_err rc = view ? jsonw_value(out, view) : FD_ENOMEM;
	json_decref(view);
	return rc;
}

static enum fd_err watch_next(void *ctx, struct buf *out, int closing, enum chunk_state *state)
{
	struct job_watch *w = ctx;
	json_t *job = NULL;
	enum fd_err rc = store_job_get(w->st, w->org, w->id, &job);
	if (rc != FD_OK)
		return rc;
	int64_t version = json_integer_value(json_object_get(job, "version")), now = util_now_ms();
	int ended = job_ended(job);
	*state = CHUNK_WAIT;
	if (!w->events) {
		if (version != w->seen || ended || closing || now >= w->deadline_ms) {
			rc = put_view(out, job);
			*state = CHUNK_DONE;
		}
	} else if (version != w->seen || ended) {
		char head[64];
		snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ", (long long)version,
		         ended ? "end" : "progress");
		rc = buf_puts(out, head);
		if (rc == FD_OK)
			rc = put_view(out, job);
		if (rc == FD_OK)
			rc = buf_puts(out, "\n\n");
		w->seen = version;
		w->ping_ms = now + WATCH_PING_MS;
		if (ended)
			*state = CHUNK_DONE;
	} else if (closing) {
		*state = CHUNK_DONE;
	} else if (now >= w->ping_ms) {
		rc = buf_puts(out, ": ping\n\n");
		w->ping_ms = now + WATCH_PING_MS;
	}
	json_decref(job);
	return rc;
}

static void watch_free(void *ctx)
{
	free(ctx);
}

static const struct chunk_ops watch_ops = {watch_next, watch_free};

static enum fd_err watch(struct req *r, json_t *job, int events, int64_t seen, int wait_s)
{
	struct job_watch *w = calloc(1, sizeof *w);
	if (!w) {
		json_decref(job);
		return FD_ENOMEM;
	}
	w->st = req_store(r);
	snprintf(w->org, sizeof w->org, "%s", req_param(r, 0));
	snprintf(w->id, sizeof w->id, "%s", req_param(r, 1));
	w->seen = seen;
	w->deadline_ms = util_now_ms() + (int64_t)wait_s * 1000;
	w->events = events;
	json_decref(job);
	if (events)
		reply_header(r, "X-Accel-Buffering", "no"); /* a proxy must pass each event on as it comes */
	enum fd_err rc =
	    reply_chunks(r, 200, events ? "text/event-stream; charset=utf-8" : "application/json", &watch_ops, w, 1);
	if (rc == FD_EBUSY) {
		reply_header(r, "Retry-After", "5");
		return reply_problem(r, FD_EBUSY, "too many clients are following jobs; poll GET /jobs/{id} instead",
		                     NULL);
	}
	return rc;
}

enum fd_err jobs_get(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_JOB_READ, ROLE_NONE, ROLE_NONE);
	json_t *job = NULL;
	if (rc != FD_OK)
		return rc;
	const char *wait = req_query(r, "wait"), *after = req_query(r, "after");
	long long wait_s = 0, seen = -1;
	if (wait && util_parse_int(wait, 0, WATCH_WAIT_MAX, &wait_s) != FD_OK)
		return api_bad_param(r, "wait", "must be a number of seconds from 0 to 60");
	if (after && util_parse_int(after, 0, INT64_MAX, &seen) != FD_OK)
		return api_bad_param(r, "after", "must be a job version (the version member of a job)");
	if (after && !wait)
		return api_bad_param(r, "after", "is only meaningful with wait");
	if ((rc = load_job(r, &job)) != FD_OK)
		return rc;
	if (wait_s > 0) {
		if (!after) /* wait for the next change from now */
			seen = json_integer_value(json_object_get(job, "version"));
		return watch(r, job, 0, seen, (int)wait_s);
	}
	json_t *view = api_job_view(job);
	json_decref(job);
	return reply_json(r, 200, view);
}

enum fd_err jobs_events(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_JOB_READ, ROLE_NONE, ROLE_NONE);
	json_t *job = NULL;
	if (rc != FD_OK)
		return rc;
	const char *last = req_header(r, "Last-Event-ID");
	long long seen = -1;
	if (last && util_parse_int(last, 0, INT64_MAX, &seen) != FD_OK)
		seen = -1; /* not one of ours: start from the current state */
	if ((rc = load_job(r, &job)) != FD_OK)
		return rc;
	return watch(r, job, 1, seen, 0);
}

enum fd_err jobs_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_JOB_READ, ROLE_NONE, ROLE_NONE);
	int limit = 0;
	if (rc != FD_OK || (rc = api_limit(r, &limit)) != FD_OK)
		return rc;
	int64_t before = 0;
	const char *c = req_query(r, "cursor");
	if (c) {
		json_t *j = NULL;
		if ((rc = api_cursor_decode(r, c, &j)) != FD_OK)
			return rc;
		before = json_integer_value(json_object_get(j, "b"));
		json_decref(j);
		if (before <= 0)
			return api_bad_param(r, "cursor", "is not a cursor of this list");
	}
	json_t *jobs = NULL;
	int has_more = 0;
	int64_t last = 0;
	rc = store_job_list(req_store(r), req_param(r, 0), limit, before, &jobs, &has_more, &last);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	json_t *out = json_array();
	size_t i;
	json_t *job;
	json_array_foreach(jobs, i, job) json_array_append_new(out, api_job_view(job));
	json_decref(jobs);
	if (has_more) {
		static const char *const names[] = {NULL};
		json_t *next = json_pack("{sI}", "b", (json_int_t)last);
		char *enc = next ? api_cursor_encode(next) : NULL;
		json_decref(next);
		if (enc)
			api_link_next(r, names, limit, enc);
		free(enc);
	}
	return reply_json(r, 200, out);
}

enum fd_err jobs_cancel(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_JOB_CANCEL, ROLE_NONE, ROLE_NONE);
	json_t *job = NULL;
	if (rc != FD_OK || (rc = load_job(r, &job)) != FD_OK)
		return rc;
	const char *state = json_string_value(json_object_get(job, "state"));
	if (state && strcmp(state, "queued") != 0 && strcmp(state, "running") != 0) {
		char d[120];
		snprintf(d, sizeof d, "the job has ended (%s) and can no longer be cancelled", state);
		json_decref(job);
		return reply_problem(r, FD_ECONFLICT, d, NULL);
	}
	json_decref(job);
	job = NULL;
	struct store_actor a = api_actor(r);
	rc = store_job_cancel(req_store(r), &a, req_param(r, 0), req_param(r, 1), &job);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	jobs_kick(req_jobs(r));
	json_t *view = api_job_view(job);
	json_decref(job);
	return reply_json(r, 202, view);
}

/* A download of a job's kept failed rows, a page at a time: as CSV
 * "line,field,detail,problem" rows (errors), or as the rows themselves. */
struct error_dump {
	struct store *st;
	char job[FD_UUID_LEN + 1];
	int64_t after; /* the last line written */
	int rows, csv;
	char *head; /* written first (owned), NULL: nothing */
};

static enum fd_err error_line(struct buf *b, json_t *e, int rows, int csv)
{
	const char *row = json_string_value(json_object_get(e, "row"));
	enum fd_err rc;
	if (rows) {
		rc = buf_puts(b, row ? row : "");
		return rc == FD_OK ? buf_puts(b, csv ? "\r\n" : "\n") : rc;
	}
	json_t *err = json_object_get(e, "error");
	json_t *first = json_array_get(json_object_get(err, "errors"), 0);
	char line[32];
	snprintf(line, sizeof line, "%lld,", (long long)json_integer_value(json_object_get(e, "line")));
	rc = buf_puts(b, line);
	if (rc == FD_OK)
		rc = csv_put_field(b, json_string_value(json_object_get(first, "field")), 1);
	if (rc == FD_OK)
		rc = buf_puts(b, ",");
	if (rc == FD_OK)
		rc = csv_put_field(b, json_string_value(json_object_get(first ? first : err, "detail")), 1);
	if (rc == FD_OK)
		rc = buf_puts(b, ",");
	if (rc == FD_OK)
		rc = csv_put_field(b, json_string_value(json_object_get(err, "detail")), 1);
	return rc == FD_OK ? buf_puts(b, "\r\n") : rc;
}

static enum fd_err dump_next(void *ctx, struct buf *out, int closing, enum chunk_state *state)
{
	(void)closing;
	struct error_dump *d = ctx;
	enum fd_err rc = FD_OK;
	if (d->head) {
		rc = buf_puts(out, d->head);
		free(d->head);
		d->head = NULL;
	}
	json_t *items = NULL;
	if (rc == FD_OK)
		rc = store_job_errors(d->st, d->job, d->after, ERRORS_PAGE, &items);
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e)
	{
		if (rc != FD_OK)
			break;
		d->after = json_integer_value(json_object_get(e, "line"));
		rc = error_line(out, e, d->rows, d->csv);
	}
	*state = json_array_size(items) < ERRORS_PAGE ? CHUNK_DONE : CHUNK_MORE;
	json_decref(items);
	return rc;
}

static void dump_free(void *ctx)
{
	struct error_dump *d = ctx;
	free(d->head);
	free(d);
}

static const struct chunk_ops dump_ops = {dump_next, dump_free};

static enum fd_err reply_dump(struct req *r, int rows, int csv, const char *head)
{
	struct error_dump *d = calloc(1, sizeof *d);
	if (!d || (head && !(d->head = strdup(head)))) {
		free(d);
		return FD_ENOMEM;
	}
	d->st = req_store(r);
	snprintf(d->job, sizeof d->job, "%s", req_param(r, 1));
	d->rows = rows;
	d->csv = csv;
	return reply_chunks(r, 200, csv ? "text/csv; charset=utf-8" : "application/x-ndjson", &dump_ops, d, 0);
}

enum fd_err jobs_errors(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_JOB_READ, ROLE_NONE, ROLE_NONE);
	json_t *job = NULL;
	if (rc != FD_OK || (rc = load_job(r, &job)) != FD_OK)
		return rc;
	const char *format = req_query(r, "format");
	if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
		json_decref(job);
		return api_bad_param(r, "format", "must be csv or json");
	}
	if (!format || strcmp(format, "json") == 0) {
		long long after = 0;
		const char *a = req_query(r, "after_line");
		int limit = 0;
		if ((a && util_parse_int(a, 0, INT64_MAX, &after) != FD_OK)) {
			json_decref(job);
			return api_bad_param(r, "after_line", "must be a line number");
		}
		if ((rc = api_limit(r, &limit)) != FD_OK) {
			json_decref(job);
			return rc;
		}
		json_t *items = NULL;
		rc = store_job_errors(req_store(r), req_param(r, 1), after, limit, &items);
		json_decref(job);
		if (rc != FD_OK)
			return reply_problem(r, rc, NULL, NULL);
		return reply_json(r, 200, items);
	}
	json_decref(job);
	return reply_dump(r, 0, 1, "line,field,detail,problem\r\n");
}

enum fd_err jobs_failed_rows(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_JOB_READ, ROLE_NONE, ROLE_NONE);
	json_t *job = NULL;
	if (rc != FD_OK || (rc = load_job(r, &job)) != FD_OK)
		return rc;
	json_t *params = json_object_get(job, "params");
	const char *format = json_string_value(json_object_get(params, "format"));
	int csv = format && strcmp(format, "csv") == 0;
	if (!csv && !json_integer_value(json_object_get(job, "stored_errors"))) {
		json_decref(job);
		return reply_empty(r, 204); /* no rows, and no header to send */
	}
	char *head = NULL;
	if (csv) {
		const char *h = json_string_value(json_object_get(params, "header"));
		size_t n = strlen(h ? h : "") + 3;
		head = malloc(n);
		if (head)
			snprintf(head, n, "%s\r\n", h ? h : "");
	}
	json_decref(job);
	if (csv && !head)
		return FD_ENOMEM;
	rc = reply_dump(r, 1, csv, head);
	free(head);
	return rc;
}

/* ------------------------------------------------------------------ an export's file */

struct result_file {
	FILE *f;
};

static long result_produce(void *ctx, char *buf, size_t max, int closing)
{
	(void)closing;
	struct result_file *rf = ctx;
	size_t n = fread(buf, 1, max, rf->f);
	if (n)
		return (long)n;
	return ferror(rf->f) ? STREAM_FAIL : STREAM_END;
}

static void result_release(void *ctx)
{
	struct result_file *rf = ctx;
	fclose(rf->f);
	free(rf);
}

static const struct stream_ops result_ops = {result_produce, result_release};

enum fd_err jobs_result(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_JOB_READ, ROLE_NONE, ROLE_NONE);
	json_t *job = NULL;
	if (rc != FD_OK || (rc = load_job(r, &job)) != FD_OK)
		return rc;
	const char *kind = json_string_value(json_object_get(job, "kind"));
	const char *state = json_string_value(json_object_get(job, "state"));
	json_t *params = json_object_get(job, "params");
	const char *output = json_string_value(json_object_get(params, "output"));
	int users = kind && strcmp(kind, "users.export") == 0;
	if (!users && !(kind && strcmp(kind, "devices.export") == 0)) {
		json_decref(job);
		return reply_problem(r, FD_ENOTFOUND, "this job makes no file (only exports do)", NULL);
	}
	if (!state || strcmp(state, "succeeded") != 0) {
		char d[160];
		snprintf(d, sizeof d, "the export has not succeeded (it is %s); its file comes when it has",
		         state ? state : "unknown");
		json_decref(job);
		reply_header(r, "Retry-After", "1");
		return reply_problem(r, FD_ECONFLICT, d, NULL);
	}
	int csv = strcmp(json_string_value(json_object_get(params, "format")), "csv") == 0;
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", jobs_dir(req_jobs(r)), output ? output : "");
	struct result_file *rf = output && !strchr(output, '/') ? calloc(1, sizeof *rf) : NULL;
	if (rf)
		rf->f = fopen(path, "rb");
	if (!rf || !rf->f) {
		free(rf);
		json_decref(job);
		return reply_problem(r, FD_ENOTFOUND, "the export's file has expired (files are kept for 24 hours)",
		                     NULL);
	}
	char disp[128];
	const char *day = json_string_value(json_object_get(job, "finished_at"));
	snprintf(disp, sizeof disp, "attachment; filename=\"%s-%.10s.%s\"", users ? "users" : "devices",
	         day ? day : "export", csv ? "csv" : "jsonl");
	reply_header(r, "Content-Disposition", disp);
	json_decref(job);
	return reply_stream(r, 200, csv ? "text/csv; charset=utf-8" : "application/x-ndjson", &result_ops, rf, 0);
}
