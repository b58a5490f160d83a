/*
 * sqlite_int.h - what the SQLite backend's files share.
 *
 * sqlite.c owns the connections (one per thread), transactions and the
 * users, tokens and audit; sqlite_devices.c and sqlite_records.c build the
 * device, building and contract calls on the helpers below. Only backend
 * files include this header.
 *
 * Statements: sq_prep() prepares a static SQL string once per connection
 * and caches it by the string's address, so every caller passes a constant
 * (never text built from input). The statement comes back reset; the caller
 * binds, steps and calls sq_done().
 */
#ifndef FD_SQLITE_INT_H
#define FD_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_int.h"

struct conn;

/* The calling thread's connection to st's database; NULL on failure. */
struct conn *sq_get(struct store *st);
sqlite3 *sq_db(struct conn *c);
/* The cached statement for the constant sql; NULL if it does not prepare. */
sqlite3_stmt *sq_prep(struct conn *c, const char *sql);

enum fd_err sq_map_rc(int rc);
void sq_done(sqlite3_stmt *s);
enum fd_err sq_step_write(sqlite3_stmt *s);

/* A write transaction, serialised with this process's other writers. */
enum fd_err sq_tx_begin(struct conn *c);
enum fd_err sq_tx_commit(struct conn *c);
void sq_tx_rollback(struct conn *c);
/* Ends the caller's transaction: commits when rc is FD_OK, else rolls back. Returns the outcome. */
enum fd_err sq_tx_end(struct conn *c, enum fd_err rc);
/* Begins a write transaction and prepares the one statement it runs (sql
 * constant, as for sq_prep); the caller binds *s and ends with
 * sq_tx_end(*c, sq_step_write(*s)). */
enum fd_err sq_tx_prep(struct store *st, const char *sql, struct conn **c, sqlite3_stmt **s);
/* A savepoint inside the caller's transaction (sq_sp_release or sq_sp_rollback). */
enum fd_err sq_sp_begin(struct conn *c);
void sq_sp_release(struct conn *c);
void sq_sp_rollback(struct conn *c);

void sq_bind_text(sqlite3_stmt *s, int i, const char *v);
void sq_bind_json_str(sqlite3_stmt *s, int i, json_t *obj, const char *key);
void sq_bind_named_text(sqlite3_stmt *s, const char *name, const char *v);
void sq_bind_named_int(sqlite3_stmt *s, const char *name, int64_t v);
json_t *sq_col_str(sqlite3_stmt *s, int i);
const char *sq_col_cstr(sqlite3_stmt *s, int i);
/* Copies column i's text ("" for NULL) into dst (n bytes, truncating). */
void sq_copy_col(char *dst, size_t n, sqlite3_stmt *s, int i);

/* Writes one audit record inside the caller's transaction. changes may be NULL. */
enum fd_err sq_audit(struct conn *c, const struct store_actor *a, const char *org_id, const char *at,
                     const char *action, const char *target_type, const char *target_id, json_t *changes);

/* The user's row number and whether it is deleted, for the org; FD_ENOTFOUND if not the org's. */
enum fd_err sq_user_seq(struct conn *c, const char *org_id, const char *user_id, int64_t *seq /* OUT */,
                        int *deleted /* OUT, may be NULL */);

/* The changes between two objects over the keys of keys: {"k": {"before", "after"}}
 * for each key whose value differs (absent counts as null). before may be NULL. */
json_t *sq_diff(json_t *before, json_t *after, json_t *keys);
/* FD_ETOOLARGE when count_sql (?1 the user's row, ?2 the type or kind) counts
 * STORE_MAX_PER_USER or more live rows: the user has no room for another. */
enum fd_err sq_room(struct conn *c, const char *count_sql, int64_t user_seq, int kind);
/* FD_OK when building_id is NULL or a live building of the user, FD_EINVALID otherwise. */
enum fd_err sq_building_live(struct conn *c, const char *building_id, int64_t user_seq);

/* Inserts a user (validated fields) and its audit record inside the
 * caller's transaction; id OUT is FD_UUID_LEN + 1 bytes. */
enum fd_err sq_user_insert(struct conn *c, const struct store_actor *a, const char *org_id, json_t *fields,
                           const char *now, char *id /* OUT */, const char **conflict_field /* OUT */);
/* Archives a user for a migration inside the caller's transaction: clears
 * email and external_user_id (now the new user's) and soft-deletes it.
 * note (borrowed) goes into the audit record. */
enum fd_err sq_user_archive(struct conn *c, const struct store_actor *a, const char *org_id, const char *user_id,
                            int64_t expect_version, const char *now, json_t *note);
/* GDPR erase of a user's records inside the caller's transaction: blanks
 * building names and addresses, contract meter ids, device comments and
 * external ids, and strips the values of earlier audit records about them. */
enum fd_err sq_records_erase(struct conn *c, const char *org_id, int64_t user_seq);

/* The onboarding calls (store.h), in sqlite_devices.c. */
enum fd_err sq_onboarding_create(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                 json_t *request, const char *secret_hash, int64_t expires_ms, json_t **session);
enum fd_err sq_onboarding_find(struct store *st, const char *secret_hash, json_t **session);
enum fd_err sq_onboarding_complete(struct store *st, const char *secret_hash, int64_t now_ms, int cancel,
                                   json_t *fields, char *device_id);

/* Records a job's step inside the caller's transaction (sqlite_work.c).
 * FD_ECONFLICT when the job is no longer running (cancelled, finished). */
enum fd_err sq_job_step(struct conn *c, const struct store_job_step *step, const char *now);
/* Ends a batch's transaction: when rc is FD_OK, settles step (may be NULL)
 * and records it, then commits; otherwise, or if that fails, rolls back.
 * Returns the outcome. */
enum fd_err sq_batch_end(struct conn *c, enum fd_err rc, const struct store_job_step *step, const char *now);

/* A fault hook for tests: in builds with FD_TEST_HOOKS, FD_EIO when the
 * environment variable FLEETDESK_FAULT names this point; FD_OK otherwise. */
enum fd_err sq_fault(const char *name);

#endif
