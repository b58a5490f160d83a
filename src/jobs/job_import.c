/*
 * job_import.c - the "users.import" job: creates users from a CSV or
 * JSON-lines file, or updates them when a row matches one by
 * external_user_id (when the row has one) or else by email.
 *
 * Two threads share the work. A reader thread reads the file batch by
 * batch (up to JOBS_BATCH rows), checks every row as a bulk item is
 * (user_items.c: field rules, the policy for the job's creator) and looks
 * up the user it matches. The job's own thread applies each batch in one
 * transaction with the job's progress and the rows that failed, so a
 * resumed job starts exactly after the last batch that committed. The
 * reader works on the next batch while a batch is written.
 *
 * The outcome is the one of applying the rows one after another:
 * - a batch ends before a row that names a user an earlier row of the
 *   batch names (the same email or external_user_id, or the same matched
 *   user), so its look-up sees that row applied;
 * - a row of the next batch whose look-up ran before this batch committed,
 *   and which names a user this batch touched, is looked up again.
 * A dry run checks every row the same way, writes each batch, and rolls
 * the writes back before its transaction commits, so it meets the
 * database's own checks (a taken email) and keeps nothing but its report.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/user_items.h"
#include "core/csv.h"
#include "core/util.h"
#include "http/request.h"
#include "jobs/jobs.h"

#define LINE_MAX_BYTES CSV_RECORD_MAX
#define KEY_SLOTS      16384 /* > 3 names per row x JOBS_BATCH, a power of two */

enum key_kind { KEY_EMAIL, KEY_EXT, KEY_USER };

/* The users a batch names: its rows' emails, external ids and matched
 * users. Borrows the strings from the batch's rows. */
struct keyset {
	struct {
		const char *v; /* NULL: empty */
		uint32_t h;
		int kind;
	} slot[KEY_SLOTS];
};

struct row {
	int64_t line;
	char user_id[FD_UUID_LEN + 1]; /* the user the row matched */
	char *raw;                     /* owned: the row as in the file */
	json_t *data;                  /* owned: its fields, NULL when the row failed to read */
	struct user_item item;
};

struct batch {
	struct row rows[JOBS_BATCH];
	size_t n;
	int64_t offset, line; /* the cursor after the batch: where the next one starts */
	int last;             /* the file ends with this batch */
	enum fd_err rc;       /* the file could not be read */
	struct store_user_op ops[JOBS_BATCH];
	size_t idx[JOBS_BATCH]; /* ops[k] is rows[idx[k]]'s */
	size_t nops;
	json_t *errors;
	struct keyset keys;
	char lossy[4 * CSV_RECORD_MAX + 1];
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->rows[i].raw);
		json_decref(b->rows[i].data);
		user_item_release(&b->rows[i].item);
	}
	json_decref(b->errors);
	memset(b, 0, sizeof *b);
}

/* The principal the job acts for: its creator, as stored with the job. */
static void principal_of(json_t *job, struct principal *p)
{
	json_t *a = json_object_get(job, "actor");
	memset(p, 0, sizeof *p);
	snprintf(p->org_id, sizeof p->org_id, "%s", json_string_value(json_object_get(job, "org_id")));
	p->role = role_parse(json_string_value(json_object_get(a, "role")));
	snprintf(p->actor_type, sizeof p->actor_type, "%s", json_string_value(json_object_get(a, "type")));
	snprintf(p->actor_id, sizeof p->actor_id, "%s", json_string_value(json_object_get(a, "id")));
	const char *name = json_string_value(json_object_get(a, "name"));
	snprintf(p->actor_name, sizeof p->actor_name, "%s", name ? name : "");
}

static void row_fail(struct row *rw, const char *detail, json_t *errors)
{
	user_item_fail(&rw->item, "", FD_EINVALID, detail, errors, "");
}

/* Fills a row's data from a CSV record under the job's columns. */
static void csv_row(struct row *rw, const struct csv_record *rec, json_t *columns)
{
	if (rec->n != json_array_size(columns)) {
		char d[160];
		snprintf(d, sizeof d, "the row has %zu fields; the header has %zu", rec->n, json_array_size(columns));
		row_fail(rw, d, NULL);
		return;
	}
	rw->data = json_object();
	for (size_t i = 0; rw->data && i < rec->n; i++) {
		const char *col = json_string_value(json_array_get(columns, i));
		if (!col || !*col || !*rec->fields[i])
			continue; /* an ignored column, or an empty cell: the field is not set */
		json_t *v = json_string(csv_unguard(rec->fields[i]));
		if (!v) { /* jansson takes only UTF-8 */
			json_decref(rw->data);
			rw->data = NULL;
			row_fail(rw, "the row is not valid UTF-8 text",
			         json_pack("[o]", problem_field(col, "is not valid UTF-8 text")));
			return;
		}
		json_object_set_new(rw->data, col, v);
	}
}

/* Fills a row's data from a JSON line. */
static void jsonl_row(struct row *rw, const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(j)) {
		char d[200];
		snprintf(d, sizeof d, j ? "the line must be a JSON object" : "malformed JSON at column %d: %s",
		         err.column, err.text);
		json_decref(j);
		row_fail(rw, d, NULL);
		return;
	}
	rw->data = j;
}

static uint32_t key_hash(int kind, const char *v)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;
	for (; *v; v++) { /* emails compare without ASCII case, as the store's NOCASE does */
		unsigned char c = (unsigned char)*v;
		h = (h ^ (kind == KEY_EMAIL && c >= 'A' && c <= 'Z' ? c + 32u : c)) * 16777619u;
	}
	return h;
}

static int key_equal(int kind, const char *a, const char *b)
{
	return kind == KEY_EMAIL ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* Adds (kind, v) unless v is NULL or empty; 1 when it was there already. */
static int key_put(struct keyset *ks, int kind, const char *v, int add)
{
	if (!v || !*v)
		return 0;
	uint32_t h = key_hash(kind, v);
	for (uint32_t i = h & (KEY_SLOTS - 1);; i = (i + 1) & (KEY_SLOTS - 1)) {
		if (!ks->slot[i].v) {
			if (add) {
				ks->slot[i].v = v;
				ks->slot[i].h = h;
				ks->slot[i].kind = kind;
			}
			return 0;
		}
		if (ks->slot[i].h == h && ks->slot[i].kind == kind && key_equal(kind, ks->slot[i].v, v))
			return 1;
	}
}

/* Whether the row names a user that ks holds: its match key, or the user it matched. */
static int row_named_in(const struct row *rw, struct keyset *ks)
{
	json_t *ext = json_object_get(rw->data, "external_user_id");
	if (json_is_string(ext)) {
		if (key_put(ks, KEY_EXT, json_string_value(ext), 0))
			return 1;
	} else if (key_put(ks, KEY_EMAIL, json_string_value(json_object_get(rw->data, "email")), 0)) {
		return 1;
	}
	return key_put(ks, KEY_USER, rw->user_id, 0);
}

/* Adds the users the row names (every email and external id it sets, and its matched user). */
static void row_name_into(const struct row *rw, struct keyset *ks)
{
	key_put(ks, KEY_EXT, json_string_value(json_object_get(rw->data, "external_user_id")), 1);
	key_put(ks, KEY_EMAIL, json_string_value(json_object_get(rw->data, "email")), 1);
	key_put(ks, KEY_USER, rw->user_id, 1);
}

/* Looks the row's user up and prepares its write: an update of the user it
 * matches, or a create. */
static void prepare_row(struct store *st, const struct principal *who, const char *org_id, struct row *rw)
{
	json_t *ext = json_object_get(rw->data, "external_user_id"), *email = json_object_get(rw->data, "email");
	const char *field = json_is_string(ext) ? "external_user_id" : "email";
	json_t *key = json_is_string(ext) ? ext : email;
	if (!json_is_string(key)) {
		rw->item.data = rw->data;
		row_fail(rw, "a row needs an external_user_id or an email, to find or create its user",
		         json_pack("[oo]", problem_field("external_user_id", "or email is required"),
		                   problem_field("email", "or external_user_id is required")));
		return;
	}
	json_t *cur = NULL;
	int64_t version = -1;
	enum fd_err rc = store_user_find(st, org_id, field, json_string_value(key), &cur, &version);
	if (rc != FD_OK && rc != FD_ENOTFOUND) {
		user_item_fail(&rw->item, "", rc, "the row's user could not be looked up", NULL, "");
		return;
	}
	if (cur && !json_is_null(json_object_get(cur, "deleted_at"))) {
		json_decref(cur);
		char d[160];
		snprintf(d, sizeof d, "%s matches a deleted user; restore it first", field);
		user_item_fail(&rw->item, "", FD_ECONFLICT, d, json_pack("[o]", problem_field(field, d)), "");
		return;
	}
	if (cur)
		snprintf(rw->user_id, sizeof rw->user_id, "%s", json_string_value(json_object_get(cur, "id")));
	rw->item.kind = cur ? STORE_UOP_UPDATE : STORE_UOP_CREATE;
	rw->item.id = cur ? rw->user_id : NULL;
	rw->item.data = rw->data;
	rw->item.if_match = -1;
	user_item_prepare(&rw->item, who, org_id, cur, version, "");
	rw->item.op.no_user = 1; /* a row's outcome is its result; the user is not reported */
	json_decref(cur);
}

/* store_user_batch's settle: the ops' outcomes into the step. */
static void settle(void *ctx, struct store_job_step *step)
{
	struct batch *b = ctx;
	for (size_t k = 0; k < b->nops; k++) {
		struct row *rw = &b->rows[b->idx[k]];
		rw->item.op = b->ops[k];
		b->ops[k].user = NULL;
		user_item_result(&rw->item, "");
		json_decref(rw->item.op.user);
		rw->item.op.user = NULL;
	}
	step->succeeded = step->failed = 0;
	json_array_clear(b->errors);
	for (size_t i = 0; i < b->n; i++) {
		struct row *rw = &b->rows[i];
		if (!rw->item.problem) {
			step->succeeded++;
			continue;
		}
		step->failed++;
		/* a row that is not UTF-8 is kept with its bad bytes as U+FFFD, so it is still reported */
		json_t *raw = json_string(rw->raw);
		if (!raw)
			raw = json_string(util_utf8_lossy(rw->raw, b->lossy, sizeof b->lossy));
		json_array_append_new(b->errors, json_pack("{sIsosO}", "line", (json_int_t)rw->line, "row",
		                                           raw ? raw : json_string(""), "error", rw->item.problem));
	}
	step->errors = b->errors;
}

/* The cursor after a batch: where the next one starts. */
static char *cursor_text(int64_t offset, int64_t line)
{
	char *s = malloc(64);
	if (s)
		snprintf(s, 64, "{\"offset\":%lld,\"line\":%lld}", (long long)offset, (long long)line);
	return s;
}

/* Reads the next line of a JSON-lines file (without its line break) into
 * line (LINE_MAX_BYTES + 1). 1: a line; 0: the end; -1: too long (skipped). */
static int read_line(FILE *f, char *line, int64_t *offset)
{
	size_t n = 0;
	int c, too_long = 0;
	while ((c = getc_unlocked(f)) != EOF) {
		(*offset)++;
		if (c == '\n')
			break;
		if (n < LINE_MAX_BYTES)
			line[n++] = (char)c;
		else
			too_long = 1;
	}
	if (c == EOF && n == 0 && !too_long)
		return 0;
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return too_long ? -1 : 1;
}

/* The reader thread's side: the file, where it is, and for whom rows are checked. */
struct reader {
	struct store *st;
	const struct principal *who;
	const char *org_id;
	json_t *columns;
	FILE *f;
	struct csv_reader *rd; /* NULL: JSON lines */
	char *text;            /* JSON lines: the line */
	int64_t offset, line;
};

static void row_release(struct row *rw)
{
	free(rw->raw);
	json_decref(rw->data);
	user_item_release(&rw->item);
	memset(rw, 0, sizeof *rw);
}

/* Reads the rows of the next batch into b (empty) and checks them. */
static void fill(struct reader *r, struct batch *b)
{
	int eof = 0;
	while (b->n < JOBS_BATCH && !eof && b->rc == FD_OK) {
		struct row *rw = &b->rows[b->n];
		rw->item.kind = STORE_UOP_CREATE;
		rw->item.if_match = -1;
		rw->item.under = "";
		int64_t at = r->offset, at_line = r->line; /* where this row starts */
		if (r->rd) {
			struct csv_record rec;
			const char *why = NULL;
			enum fd_err e = csv_next(r->rd, &rec, &why);
			if (e == FD_ENOTFOUND) {
				eof = 1;
				break;
			}
			if (e == FD_EIO) {
				b->rc = e;
				break;
			}
			at = rec.offset;
			at_line = rec.line;
			r->offset = rec.end;
			r->line = rec.next_line;
			if (e == FD_OK && rec.n == 1 && !*rec.fields[0])
				continue; /* a blank line */
			rw->line = rec.line;
			rw->raw = strndup(rec.raw, rec.raw_len);
			b->n++;
			if (e == FD_EINVALID)
				row_fail(rw, why, NULL);
			else
				csv_row(rw, &rec, r->columns);
		} else {
			int e = read_line(r->f, r->text, &r->offset);
			if (e == 0) {
				eof = 1;
				break;
			}
			int64_t this_line = r->line++;
			if (e == 1 && !r->text[strspn(r->text, " \t")])
				continue; /* a blank line */
			rw->line = this_line;
			rw->raw = strdup(e == 1 ? r->text : "");
			b->n++;
			if (e < 0)
				row_fail(rw, "the line is longer than 64 KiB", NULL);
			else
				jsonl_row(rw, r->text);
		}
		if (!rw->data)
			continue;
		prepare_row(r->st, r->who, r->org_id, rw);
		if (row_named_in(rw, &b->keys)) {
			/* an earlier row of the batch names its user: it starts the next batch, whose
			 * look-ups see this one applied */
			row_release(rw);
			b->n--;
			r->offset = at;
			r->line = at_line;
			if (r->rd ? csv_reader_seek(r->rd, at, at_line) != FD_OK : fseeko(r->f, at, SEEK_SET) != 0)
				b->rc = FD_EIO;
			break;
		}
		row_name_into(rw, &b->keys);
	}
	b->offset = r->offset;
	b->line = r->line;
	b->last = eof || b->rc != FD_OK;
}

/* The two batches between the threads: the reader fills a free one and
 * hands it over full; the job's thread gives it back once applied. */
struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *free[2];
	int nfree;
	struct batch *full;
	int quit; /* the job's thread wants no more */
	struct reader *r;
	struct store *st;
};

static void *reader_main(void *arg)
{
	struct pipeline *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->quit && (!p->nfree || p->full))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		struct batch *b = p->free[--p->nfree];
		pthread_mutex_unlock(&p->mu);
		batch_clear(b);
		fill(p->r, b);
		pthread_mutex_lock(&p->mu);
		p->full = b;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (b->last)
			break;
	}
	store_thread_end(p->st);
	return NULL;
}

static struct batch *pipeline_take(struct pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	while (!p->full)
		pthread_cond_wait(&p->cv, &p->mu);
	struct batch *b = p->full;
	p->full = NULL;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return b;
}

/* Hands b back to the reader, which clears it (the job's thread has better to do). */
static void pipeline_give(struct pipeline *p, struct batch *b)
{
	pthread_mutex_lock(&p->mu);
	p->free[p->nfree++] = b;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Applies a checked batch with the job's step (a dry run's writes are rolled back). */
static enum fd_err apply(struct store *st, const struct store_actor *a, const char *org_id, const char *job_id,
                         struct batch *b, int dry)
{
	char *cur = cursor_text(b->offset, b->line);
	b->errors = json_array();
	if (!cur || !b->errors) {
		free(cur);
		return FD_ENOMEM;
	}
	struct store_job_step step = {
	    .job_id = job_id, .cursor = cur, .processed = (int64_t)b->n, .total = -1, .settle = settle, .ctx = b};
	for (size_t i = 0; i < b->n; i++) {
		if (!b->rows[i].item.problem) {
			b->ops[b->nops] = b->rows[i].item.op;
			b->idx[b->nops++] = i;
		}
	}
	enum fd_err rc;
	if (b->nops) { /* a dry run writes too, meeting every check of the database, and keeps nothing */
		rc = store_user_batch(st, a, org_id, b->ops, b->nops, dry ? STORE_BATCH_DRY : 0, &step);
	} else {
		settle(b, &step);
		rc = store_job_progress(st, &step);
	}
	free(cur);
	return rc;
}

enum fd_err job_import_run(struct jobs *j, json_t *job, const char **state, char *error, size_t error_len)
{
	struct store *st = jobs_store(j);
	const char *id = json_string_value(json_object_get(job, "id"));
	const char *org_id = json_string_value(json_object_get(job, "org_id"));
	json_t *params = json_object_get(job, "params"), *cursor = json_object_get(job, "cursor");
	const char *format = json_string_value(json_object_get(params, "format"));
	const char *input = json_string_value(json_object_get(params, "input"));
	json_t *columns = json_object_get(params, "columns");
	int dry = json_is_true(json_object_get(params, "dry_run"));
	int csv = format && strcmp(format, "csv") == 0;
	if (!input || (csv && !json_is_array(columns))) {
		snprintf(error, error_len, "the job's parameters are incomplete");
		return FD_EINVALID;
	}
	int64_t offset = json_integer_value(json_object_get(cursor, "offset"));
	int64_t line = json_integer_value(json_object_get(cursor, "line"));
	if (!json_is_object(cursor)) {
		offset = json_integer_value(json_object_get(params, "data_offset"));
		line = json_integer_value(json_object_get(params, "data_line"));
	}
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", jobs_dir(j), input);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(error, error_len, "the job's input file is gone");
		return FD_EIO;
	}
	struct principal who;
	principal_of(job, &who);
	json_t *actor = json_object_get(job, "actor");
	struct store_actor a = {
	    .type = json_string_value(json_object_get(actor, "type")),
	    .id = json_string_value(json_object_get(actor, "id")),
	    .name = json_string_value(json_object_get(actor, "name")),
	    .request_id = json_string_value(json_object_get(actor, "request_id")),
	};
	struct reader r = {
	    .st = st, .who = &who, .org_id = org_id, .columns = columns, .f = f, .offset = offset, .line = line};
	r.rd = csv ? csv_reader_new(f) : NULL;
	r.text = csv ? NULL : malloc(LINE_MAX_BYTES + 1);
	struct batch *b0 = calloc(1, sizeof *b0), *b1 = calloc(1, sizeof *b1);
	enum fd_err rc = (csv ? !!r.rd : !!r.text) && b0 && b1 ? FD_OK : FD_ENOMEM;
	if (rc == FD_OK)
		rc = csv ? csv_reader_seek(r.rd, offset, line) : (fseeko(f, offset, SEEK_SET) == 0 ? FD_OK : FD_EIO);
	struct pipeline p = {.free = {b0, b1}, .nfree = 2, .r = &r, .st = st};
	pthread_t tid;
	int started = 0;
	if (rc == FD_OK) {
		pthread_mutex_init(&p.mu, NULL);
		pthread_cond_init(&p.cv, NULL);
		started = pthread_create(&tid, NULL, reader_main, &p) == 0;
		if (!started) {
			pthread_cond_destroy(&p.cv);
			pthread_mutex_destroy(&p.mu);
			rc = FD_ENOMEM;
		}
	}
	struct batch *prev = NULL; /* the batch applied last: its keys check the next one's look-ups */
	while (rc == FD_OK) {
		if (jobs_interrupted(j, id, state, &rc))
			break;
		struct batch *b = pipeline_take(&p);
		if (prev) {
			/* rows looked up while prev was being written, naming a user it touched: again */
			for (size_t i = 0; i < b->n; i++) {
				struct row *rw = &b->rows[i];
				if (!rw->data || !row_named_in(rw, &prev->keys))
					continue;
				user_item_release(&rw->item);
				memset(&rw->item, 0, sizeof rw->item);
				rw->item.kind = STORE_UOP_CREATE;
				rw->item.if_match = -1;
				rw->item.under = "";
				rw->user_id[0] = '\0';
				prepare_row(st, &who, org_id, rw);
				row_name_into(rw, &b->keys);
			}
			pipeline_give(&p, prev);
		}
		prev = b;
		if (b->rc != FD_OK) {
			rc = b->rc;
			line = b->rows[b->n ? b->n - 1 : 0].line;
			break;
		}
		rc = apply(st, &a, org_id, id, b, dry);
		if (rc != FD_OK)
			break;
		line = b->line;
		jobs_progress(j);
		if (b->last)
			break;
		jobs_yield(j); /* a moment for other processes' writers (the CLI), between batches */
	}
	if (started) {
		pthread_mutex_lock(&p.mu);
		p.quit = 1;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
		pthread_join(tid, NULL);
		pthread_cond_destroy(&p.cv);
		pthread_mutex_destroy(&p.mu);
	}
	if (rc == FD_ECONFLICT) { /* the job stopped running under us (cancelled and ended) */
		*state = "cancelled";
		rc = FD_OK;
	}
	if (rc != FD_OK && rc != FD_EBUSY && !error[0])
		snprintf(error, error_len, "the import stopped at line %lld (%s); it can be run again from there",
		         (long long)line, fd_err_name(rc));
	if (b0)
		batch_clear(b0);
	if (b1)
		batch_clear(b1);
	free(r.text);
	free(b0);
	free(b1);
	csv_reader_free(r.rd);
	fclose(f);
	if (rc != FD_EBUSY) /* the job has ended (its failed rows are kept in the store): the upload goes */
		unlink(path);
	return rc;
}
