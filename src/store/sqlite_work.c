/*
 * sqlite_work.c - the SQLite side of work that outlives one request:
 * idempotency keys (and, with them, what a retry is answered).
 *
 * An idempotency entry is a row keyed by an opaque id (the HTTP layer
 * derives it from the caller and the key, and seals the reply it stores),
 * so this file never sees a key or a readable reply.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

static const char SQL_IDEM_GET[] =
    "SELECT fingerprint, owner, done, reply, created_ms FROM idempotency WHERE id = ?1";
static const char SQL_IDEM_DEL[] = "DELETE FROM idempotency WHERE id = ?1";
static const char SQL_IDEM_INSERT[] =
    "INSERT INTO idempotency (id, fingerprint, owner, done, created_ms) VALUES (?1, ?2, ?3, 0, ?4)";
static const char SQL_IDEM_FINISH[] = "UPDATE idempotency SET done = 1, reply = ?2 WHERE id = ?1";
static const char SQL_IDEM_SWEEP[] =
    "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE created_ms < ?1 LIMIT ?2)";

static void copy_text(char *dst, size_t n, sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);
	snprintf(dst, n, "%s", v ? v : "");
}

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
		copy_text(prev->fingerprint, sizeof prev->fingerprint, s, 0);
		copy_text(prev->owner, sizeof prev->owner, s, 1);
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
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

/* Runs one write statement on id (and an optional blob) in its own transaction. */
static enum fd_err idem_write(struct store *st, const char *sql, const char *id, const void *blob, size_t len)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = sq_prep(c, sql);
	if (!s) {
		sq_tx_rollback(c);
		return FD_EIO;
	}
	sq_bind_text(s, 1, id);
	if (blob)
		sqlite3_bind_blob64(s, 2, blob, len, SQLITE_STATIC);
	rc = sq_step_write(s);
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
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
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = sq_prep(c, SQL_IDEM_SWEEP);
	if (!s) {
		sq_tx_rollback(c);
		return FD_EIO;
	}
	sqlite3_bind_int64(s, 1, before_ms);
	sqlite3_bind_int(s, 2, batch);
	rc = sq_step_write(s);
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

const struct store_work_ops store_sqlite_work_ops = {
    .idem_claim = sq_idem_claim,
    .idem_finish = sq_idem_finish,
    .idem_release = sq_idem_release,
    .idem_sweep = sq_idem_sweep,
};
