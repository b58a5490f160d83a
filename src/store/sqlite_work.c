/*
 * sqlite_work.c - the SQLite side of work that outlives one request:
 * idempotency keys and background jobs.
 *
 * An idempotency entry is a row keyed by an opaque id (the HTTP layer
 * derives it from the caller and the key, and seals the reply it stores),
 * so this file never sees a key or a readable reply.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

static const char SQL_IDEM_GET[] = "SELECT fingerprint, owner, done, reply, created_ms FROM idempotency WHERE id = ?1";
static const char SQL_IDEM_DEL[] = "DELETE FROM idempotency WHERE id = ?1";
static const char SQL_IDEM_INSERT[] =
    "INSERT INTO idempotency (id, fingerprint, owner, done, created_ms) VALUES (?1, ?2, ?3, 0, ?4)";
static const char SQL_IDEM_FINISH[] = "UPDATE idempotency SET done = 1, reply = ?2 WHERE id = ?1";
static const char SQL_IDEM_SWEEP[] =
    "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE created_ms < ?1 LIMIT ?2)";

static enum fd_err sq_idem_claim(struct store *st, const char *id, const char *fingerprint, const char *owner,
                                 int64_t now_ms, int64_t ttl_ms, struct store_idem *prev)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	memset(prev, 0, sizeof *prev);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = sq_prep(c, SQL_IDEM_GET);
	if (!s) {
		rc = FD_EIO;
		goto out;
	}
	sq_bind_text(s, 1, id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW && sqlite3_column_int64(s, 4) > now_ms - ttl_ms) {
		sq_copy_col(prev->fingerprint, sizeof prev->fingerprint, s, 0);
		sq_copy_col(prev->owner, sizeof prev->owner, s, 1);
		prev->done = sqlite3_column_int(s, 2);
		prev->created_ms = sqlite3_column_int64(s, 4);
		int n = sqlite3_column_bytes(s, 3);
		if (prev->done && n > 0) {
			prev->reply = malloc((size_t)n);
			if (prev->reply) {
				memcpy(prev->reply, sqlite3_column_blob(s, 3), (size_t)n);
				prev->reply_len = (size_t)n;
			}
		}
		sq_done(s);
		rc = prev->done && !prev->reply ? FD_ENOMEM : FD_ECONFLICT;
		goto out;
	}
	sq_done(s);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		rc = sq_map_rc(r);
		goto out;
	}
	if (r == SQLITE_ROW) { /* expired: the key may be used afresh */
		s = sq_prep(c, SQL_IDEM_DEL);
		if (!s) {
			rc = FD_EIO;
			goto out;
		}
		sq_bind_text(s, 1, id);
		if ((rc = sq_step_write(s)) != FD_OK)
			goto out;
	}
	s = sq_prep(c, SQL_IDEM_INSERT);
	if (!s) {
		rc = FD_EIO;
		goto out;
	}
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, fingerprint);
	sq_bind_text(s, 3, owner);
	sqlite3_bind_int64(s, 4, now_ms);
	rc = sq_step_write(s);
out:
	return sq_tx_end(c, rc);
}

/* Runs one write statement on id (and an optional blob) in its own transaction. */
static enum fd_err idem_write(struct store *st, const char *sql, const char *id, const void *blob, size_t len)
{
	struct conn *c;
	sqlite3_stmt *s;
	enum fd_err rc = sq_tx_prep(st, sql, &c, &s);
	if (rc != FD_OK)
		return rc;
	sq_bind_text(s, 1, id);
	if (blob)
		sqlite3_bind_blob64(s, 2, blob, len, SQLITE_STATIC);
	return sq_tx_end(c, sq_step_write(s));
}

static enum fd_err sq_idem_finish(struct store *st, const char *id, const void *reply, size_t len)
{
	return idem_write(st, SQL_IDEM_FINISH, id, reply, len);
}

static enum fd_err sq_idem_release(struct store *st, const char *id)
{
	return idem_write(st, SQL_IDEM_DEL, id, NULL, 0);
}

static enum fd_err sq_idem_sweep(struct store *st, int64_t before_ms, int batch)
{
	struct conn *c;
	sqlite3_stmt *s;
	enum fd_err rc = sq_tx_prep(st, SQL_IDEM_SWEEP, &c, &s);
	if (rc != FD_OK)
		return rc;
	sqlite3_bind_int64(s, 1, before_ms);
	sqlite3_bind_int(s, 2, batch);
	return sq_tx_end(c, sq_step_write(s));
}

/* ---------------------------------------------------------------- jobs */

#define JOB_COLS                                                                                                       \
	"j.id, j.org_id, j.kind, j.state, j.params, j.actor, j.total, j.processed, j.succeeded, j.failed, j.cursor, "  \
	"j.error, j.cancel_requested, j.created_at, j.started_at, j.finished_at, j.updated_at, j.version, j.seq, "     \
	"j.stored_errors"

static const char SQL_JOB_INSERT[] =
    "INSERT INTO jobs (id, org_id, kind, state, params, actor, total, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?7)";
static const char SQL_JOB_GET[] = "SELECT " JOB_COLS " FROM jobs j WHERE j.id = ?1 AND (?2 IS NULL OR j.org_id = ?2)";
static const char SQL_JOB_LIST[] = "SELECT " JOB_COLS " FROM jobs j WHERE j.org_id = ?1 AND j.seq < ?2 "
                                   "ORDER BY j.seq DESC LIMIT ?3";
static const char SQL_JOB_NEXT[] = "SELECT " JOB_COLS " FROM jobs j WHERE j.state IN ('queued', 'running') "
                                   "AND j.id NOT IN (SELECT value FROM json_each(?1)) ORDER BY j.seq LIMIT 1";
static const char SQL_JOB_START[] = "UPDATE jobs SET state = 'running', started_at = ifnull(started_at, ?2), "
                                    "updated_at = ?2, version = version + 1 WHERE id = ?1";
static const char SQL_JOB_STEP[] =
    "UPDATE jobs SET cursor = ?2, processed = processed + ?3, succeeded = succeeded + ?4, failed = failed + ?5, "
    "total = CASE WHEN ?6 >= 0 THEN ?6 ELSE total END, updated_at = ?7, version = version + 1, "
    "stored_errors = stored_errors + ?8 WHERE id = ?1 AND state = 'running'";
static const char SQL_JOB_ERROR[] =
    "INSERT OR REPLACE INTO job_errors (job_id, line, row, error) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_JOB_STORED[] = "SELECT stored_errors FROM jobs WHERE id = ?1";
static const char SQL_JOB_FINISH[] =
    "UPDATE jobs SET state = ?2, error = ?3, finished_at = ?4, updated_at = ?4, version = version + 1, "
    "total = CASE WHEN ?2 = 'succeeded' THEN processed ELSE total END WHERE id = ?1 AND state IN ('queued', 'running')";
static const char SQL_JOB_CANCEL_QUEUED[] =
    "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = ?2, updated_at = ?2, "
    "version = version + 1 WHERE id = ?1 AND state = 'queued'";
static const char SQL_JOB_CANCEL_RUNNING[] = "UPDATE jobs SET cancel_requested = 1, updated_at = ?2, "
                                             "version = version + 1 WHERE id = ?1 AND state = 'running' "
                                             "AND cancel_requested = 0";
static const char SQL_JOB_ERRORS[] = "SELECT line, row, error FROM job_errors WHERE job_id = ?1 AND line > ?2 "
                                     "ORDER BY line LIMIT ?3";

static json_t *json_col(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	return j ? j : json_null();
}

static json_t *int_or_null(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(s, i));
}

static json_t *job_from_stmt(sqlite3_stmt *s)
{
	json_t *j = json_object();
	if (!j)
		return NULL;
	static const char *const text[] = {"id", "org_id", "kind", "state"};
	for (int i = 0; i < 4; i++)
		json_object_set_new(j, text[i], sq_col_str(s, i));
	json_object_set_new(j, "params", json_col(s, 4));
	json_object_set_new(j, "actor", json_col(s, 5));
	json_object_set_new(j, "total", int_or_null(s, 6));
	json_object_set_new(j, "processed", json_integer(sqlite3_column_int64(s, 7)));
	json_object_set_new(j, "succeeded", json_integer(sqlite3_column_int64(s, 8)));
	json_object_set_new(j, "failed", json_integer(sqlite3_column_int64(s, 9)));
	json_object_set_new(j, "cursor", json_col(s, 10));
	json_object_set_new(j, "error", sq_col_str(s, 11));
	json_object_set_new(j, "cancel_requested", json_boolean(sqlite3_column_int(s, 12)));
	static const char *const times[] = {"created_at", "started_at", "finished_at", "updated_at"};
	for (int i = 0; i < 4; i++)
		json_object_set_new(j, times[i], sq_col_str(s, 13 + i));
	json_object_set_new(j, "version", json_integer(sqlite3_column_int64(s, 17)));
	json_object_set_new(j, "seq", json_integer(sqlite3_column_int64(s, 18)));
	json_object_set_new(j, "stored_errors", json_integer(sqlite3_column_int64(s, 19)));
	return j;
}

static enum fd_err job_read(struct conn *c, const char *org_id, const char *job_id, json_t **job)
{
	*job = NULL;
	sqlite3_stmt *s = sq_prep(c, SQL_JOB_GET);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, job_id);
	sq_bind_text(s, 2, org_id);
	int r = sqlite3_step(s);
	enum fd_err rc = r == SQLITE_ROW ? FD_OK : r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
	if (rc == FD_OK) {
		*job = job_from_stmt(s);
		if (!*job)
			rc = FD_ENOMEM;
	}
	sq_done(s);
	return rc;
}

/* tx_end for a call that hands out *job: on failure the caller gets none. */
static enum fd_err job_tx_end(struct conn *c, enum fd_err rc, json_t **job)
{
	rc = sq_tx_end(c, rc);
	if (rc != FD_OK && *job) {
		json_decref(*job);
		*job = NULL;
	}
	return rc;
}

static enum fd_err sq_job_create(struct store *st, const struct store_actor *a, const char *org_id, const char *kind,
                                 json_t *params, json_t *actor, int64_t total, json_t **job)
{
	*job = NULL;
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	util_uuid(id);
	util_now_rfc3339(now);
	char *p = json_dumps(params, JSON_COMPACT), *ac = json_dumps(actor, JSON_COMPACT);
	enum fd_err rc = p && ac ? sq_tx_begin(c) : FD_ENOMEM;
	if (rc != FD_OK) {
		free(p);
		free(ac);
		return rc;
	}
	sqlite3_stmt *s = sq_prep(c, SQL_JOB_INSERT);
	if (!s) {
		rc = FD_EIO;
		goto out;
	}
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sq_bind_text(s, 3, kind);
	sq_bind_text(s, 4, p);
	sq_bind_text(s, 5, ac);
	if (total >= 0)
		sqlite3_bind_int64(s, 6, total);
	else
		sqlite3_bind_null(s, 6);
	sq_bind_text(s, 7, now);
	if ((rc = sq_step_write(s)) != FD_OK)
		goto out;
	json_t *changes =
	    json_pack("{s{snss}s{snsO}}", "kind", "before", "after", kind, "params", "before", "after", params);
	rc = sq_audit(c, a, org_id, now, "job.create", "job", id, changes);
	json_decref(changes);
	if (rc == FD_OK)
		rc = job_read(c, org_id, id, job);
out:
	free(p);
	free(ac);
	return job_tx_end(c, rc, job);
}

static enum fd_err sq_job_get(struct store *st, const char *org_id, const char *job_id, json_t **job)
{
	struct conn *c = sq_get(st);
	return c ? job_read(c, org_id, job_id, job) : FD_EIO;
}

static enum fd_err sq_job_list(struct store *st, const char *org_id, int limit, int64_t before_seq, json_t **jobs,
                               int *has_more, int64_t *last_seq)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = sq_prep(c, SQL_JOB_LIST);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	sqlite3_bind_int64(s, 2, before_seq > 0 ? before_seq : INT64_MAX);
	sqlite3_bind_int(s, 3, limit + 1);
	json_t *arr = json_array();
	int r, n = 0;
	*has_more = 0;
	while (arr && (r = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == limit) {
			*has_more = 1;
			break;
		}
		json_t *j = job_from_stmt(s);
		*last_seq = sqlite3_column_int64(s, 18);
		json_array_append_new(arr, j);
		n++;
	}
	sq_done(s);
	if (!arr)
		return FD_ENOMEM;
	*jobs = arr;
	return FD_OK;
}

static enum fd_err sq_job_next(struct store *st, json_t *busy, json_t **job)
{
	*job = NULL;
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char *b = json_dumps(busy, JSON_COMPACT);
	if (!b)
		return FD_ENOMEM;
	char now[FD_TIME_LEN + 1], id[FD_UUID_LEN + 1];
	util_now_rfc3339(now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK) {
		free(b);
		return rc;
	}
	sqlite3_stmt *s = sq_prep(c, SQL_JOB_NEXT);
	if (!s) {
		rc = FD_EIO;
		goto out;
	}
	sq_bind_text(s, 1, b);
	int r = sqlite3_step(s);
	rc = r == SQLITE_ROW ? FD_OK : r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
	if (rc == FD_OK)
		snprintf(id, sizeof id, "%s", sq_col_cstr(s, 0));
	sq_done(s);
	if (rc != FD_OK)
		goto out;
	s = sq_prep(c, SQL_JOB_START);
	if (!s) {
		rc = FD_EIO;
		goto out;
	}
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, now);
	if ((rc = sq_step_write(s)) == FD_OK)
		rc = job_read(c, NULL, id, job);
out:
	free(b);
	return job_tx_end(c, rc, job);
}

enum fd_err sq_batch_end(struct conn *c, enum fd_err rc, const struct store_job_step *step, const char *now)
{
	if (rc == FD_OK && step) {
		struct store_job_step settled = *step;
		if (step->settle)
			step->settle(step->ctx, &settled);
		rc = sq_job_step(c, &settled, now);
	}
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
	if (rc != FD_OK)
		sq_tx_rollback(c);
	return rc;
}

enum fd_err sq_job_step(struct conn *c, const struct store_job_step *step, const char *now)
{
	int64_t stored = 0;
	size_t nerr = json_array_size(step->errors);
	if (nerr) {
		sqlite3_stmt *s = sq_prep(c, SQL_JOB_STORED);
		if (!s)
			return FD_EIO;
		sq_bind_text(s, 1, step->job_id);
		if (sqlite3_step(s) == SQLITE_ROW)
			stored = sqlite3_column_int64(s, 0);
		sq_done(s);
	}
	int64_t kept = 0;
	for (size_t i = 0; i < nerr && stored + kept < STORE_JOB_ERRORS_MAX; i++) {
		json_t *e = json_array_get(step->errors, i);
		sqlite3_stmt *s = sq_prep(c, SQL_JOB_ERROR);
		if (!s)
			return FD_EIO;
		char *err = json_dumps(json_object_get(e, "error"), JSON_COMPACT);
		sq_bind_text(s, 1, step->job_id);
		sqlite3_bind_int64(s, 2, json_integer_value(json_object_get(e, "line")));
		sq_bind_json_str(s, 3, e, "row");
		sq_bind_text(s, 4, err ? err : "{}");
		enum fd_err rc = sq_step_write(s);
		free(err);
		if (rc != FD_OK)
			return rc;
		kept++;
	}
	sqlite3_stmt *s = sq_prep(c, SQL_JOB_STEP);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, step->job_id);
	sq_bind_text(s, 2, step->cursor);
	sqlite3_bind_int64(s, 3, step->processed);
	sqlite3_bind_int64(s, 4, step->succeeded);
	sqlite3_bind_int64(s, 5, step->failed);
	sqlite3_bind_int64(s, 6, step->total);
	sq_bind_text(s, 7, now);
	sqlite3_bind_int64(s, 8, kept);
	enum fd_err rc = sq_step_write(s);
	if (rc == FD_OK && sqlite3_changes(sq_db(c)) != 1)
		rc = FD_ECONFLICT; /* the job is no longer running */
	return rc;
}

static enum fd_err sq_job_progress(struct store *st, const struct store_job_step *step)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	return sq_tx_end(c, sq_job_step(c, step, now));
}

static enum fd_err sq_job_finish(struct store *st, const char *job_id, const char *state, const char *error)
{
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	struct conn *c;
	sqlite3_stmt *s;
	enum fd_err rc = sq_tx_prep(st, SQL_JOB_FINISH, &c, &s);
	if (rc != FD_OK)
		return rc;
	sq_bind_text(s, 1, job_id);
	sq_bind_text(s, 2, state);
	sq_bind_text(s, 3, error);
	sq_bind_text(s, 4, now);
	return sq_tx_end(c, sq_step_write(s));
}

static enum fd_err sq_job_cancel(struct store *st, const struct store_actor *a, const char *org_id, const char *job_id,
                                 json_t **job)
{
	*job = NULL;
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	json_t *before = NULL;
	rc = job_read(c, org_id, job_id, &before);
	int changed = 0;
	for (int i = 0; rc == FD_OK && i < 2; i++) {
		sqlite3_stmt *s = sq_prep(c, i == 0 ? SQL_JOB_CANCEL_QUEUED : SQL_JOB_CANCEL_RUNNING);
		if (!s) {
			rc = FD_EIO;
			break;
		}
		sq_bind_text(s, 1, job_id);
		sq_bind_text(s, 2, now);
		rc = sq_step_write(s);
		changed += rc == FD_OK ? sqlite3_changes(sq_db(c)) : 0;
	}
	if (rc == FD_OK && changed) {
		json_t *changes = json_pack("{s{sOss}}", "state", "before", json_object_get(before, "state"), "after",
		                            "cancel requested");
		rc = sq_audit(c, a, org_id, now, "job.cancel", "job", job_id, changes);
		json_decref(changes);
	}
	json_decref(before);
	if (rc == FD_OK)
		rc = job_read(c, org_id, job_id, job);
	return job_tx_end(c, rc, job);
}

static enum fd_err sq_job_errors(struct store *st, const char *job_id, int64_t after_line, int limit, json_t **items)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = sq_prep(c, SQL_JOB_ERRORS);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, job_id);
	sqlite3_bind_int64(s, 2, after_line);
	sqlite3_bind_int(s, 3, limit);
	json_t *arr = json_array();
	int r;
	while (arr && (r = sqlite3_step(s)) == SQLITE_ROW) {
		json_array_append_new(arr, json_pack("{sIsoso}", "line", (json_int_t)sqlite3_column_int64(s, 0), "row",
		                                     sq_col_str(s, 1), "error", json_col(s, 2)));
	}
	sq_done(s);
	if (!arr)
		return FD_ENOMEM;
	*items = arr;
	return FD_OK;
}

const struct store_work_ops store_sqlite_work_ops = {
    .idem_claim = sq_idem_claim,
    .idem_finish = sq_idem_finish,
    .idem_release = sq_idem_release,
    .idem_sweep = sq_idem_sweep,
    .job_create = sq_job_create,
    .job_get = sq_job_get,
    .job_list = sq_job_list,
    .job_next = sq_job_next,
    .job_progress = sq_job_progress,
    .job_finish = sq_job_finish,
    .job_cancel = sq_job_cancel,
    .job_errors = sq_job_errors,
};
