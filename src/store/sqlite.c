/*
 * sqlite.c - the SQLite storage backend.
 *
 * One database file in WAL mode. Every thread gets its own connection
 * (created on first use, kept in a pthread key) with its own cache of
 * prepared statements, so readers never wait on each other and writers are
 * serialised by SQLite's own lock (BEGIN IMMEDIATE + busy timeout).
 *
 * All SQL is static text with bound parameters. The users list, whose WHERE
 * and ORDER BY depend on the query's shape, is assembled from constant
 * fragments only (never from input) and cached per connection per shape.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/buf.h"
#include "core/jsonw.h"
#include "store/grams.h"
#include "store/migrations.h"
#include "store/sqlite_int.h"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_PING,
	S_AUDIT_INSERT,
	S_ORG_INSERT,
	S_ORG_EXISTS,
	S_ORG_LIST,
	S_TOKEN_INSERT,
	S_TOKEN_LOOKUP,
	S_TOKEN_LIST,
	S_TOKEN_REVOKE,
	S_CLIENT_INSERT,
	S_CLIENT_LOOKUP,
	S_CLIENT_LIST,
	S_CLIENT_REVOKE,
	S_CLIENT_TOKENS_REVOKE,
	S_USER_INSERT,
	S_USER_GET,
	S_USER_UPDATE,
	S_USER_SET_DELETED,
	S_USER_ERASE,
	S_AUDIT_STRIP,
	S_AUDIT_LIST,
	S_AUDIT_LIST_TARGET,
	S_ORG_OWNS_ALL,
	S_FTS_COUNT,
	S_VOCAB_DOC,
	S_GRAMS_DOC,
	S_FTS_COUNT_CAP,
	S_GRAMS_COUNT_CAP,
	S_ATTN_FEW,
	S_GRAMS_COUNT,
	S_COUNT
};

#define USER_COLS                                                                                                      \
	"seq, id, org_id, role, external_user_id, email, first_name, last_name, street_and_number, "                   \
	"street_add_info, zip_code, town, country_iso2, created_at, updated_at, deleted_at, version, erased_at"

static const char *const stmt_sql[S_COUNT] = {
    /* 1 when every user row in the database is this org's and (unless :all) none is deleted */
    [S_ORG_OWNS_ALL] = "SELECT (SELECT ifnull(sum(n), 0) FROM user_counts) = "
                       "(SELECT ifnull(sum(n), 0) FROM user_counts WHERE org_id = :org AND (:all OR deleted = 0))",
    [S_FTS_COUNT] = "SELECT count(*) FROM users_fts WHERE users_fts MATCH :q",
    [S_GRAMS_COUNT] = "SELECT count(*) FROM users_grams WHERE users_grams MATCH :q",
    [S_VOCAB_DOC] = "SELECT ifnull((SELECT doc FROM users_fts_vocab WHERE term = ?1), 0)",
    [S_GRAMS_DOC] = "SELECT ifnull((SELECT doc FROM users_grams_vocab WHERE term = ?1), 0)",
    [S_FTS_COUNT_CAP] = "SELECT count(*) FROM (SELECT 1 FROM users_fts WHERE users_fts MATCH :q LIMIT :cap)",
    [S_GRAMS_COUNT_CAP] = "SELECT count(*) FROM (SELECT 1 FROM users_grams WHERE users_grams MATCH :q LIMIT :cap)",
    [S_ATTN_FEW] = "SELECT count(*) FROM (SELECT 1 FROM users INDEXED BY users_attn WHERE org_id = :org AND attn > 0 "
                   "LIMIT :win)",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_PING] = "SELECT 1",
    [S_AUDIT_INSERT] = "INSERT INTO audit (org_id, at, request_id, actor_type, actor_id, actor_name, action, "
                       "target_type, target_id, changes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_ORG_INSERT] = "INSERT INTO orgs (id, name, created_at) VALUES (?1, ?2, ?3)",
    [S_ORG_EXISTS] = "SELECT 1 FROM orgs WHERE id = ?1",
    [S_ORG_LIST] = "SELECT id, name, created_at FROM orgs ORDER BY created_at, id",
    [S_TOKEN_INSERT] = "INSERT INTO tokens (id, org_id, hash, name, role, kind, client_id, created_at, "
                       "expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_TOKEN_LOOKUP] = "SELECT id, org_id, role, name, kind, ifnull(client_id, ''), ifnull(expires_ms, 0) "
                       "FROM tokens WHERE hash = ?1 AND revoked_at IS NULL "
                       "AND (expires_ms IS NULL OR expires_ms > ?2)",
    [S_TOKEN_LIST] = "SELECT id, name, role, kind, client_id, created_at, expires_ms, revoked_at "
                     "FROM tokens WHERE org_id = ?1 ORDER BY created_at, id",
    [S_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?3 WHERE org_id = ?1 AND id = ?2 AND revoked_at IS NULL",
    [S_CLIENT_INSERT] = "INSERT INTO clients (id, org_id, name, secret_hash, created_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_CLIENT_LOOKUP] = "SELECT org_id, secret_hash FROM clients WHERE id = ?1 AND revoked_at IS NULL",
    [S_CLIENT_LIST] = "SELECT id, name, created_at, revoked_at FROM clients WHERE org_id = ?1 "
                      "ORDER BY created_at, id",
    [S_CLIENT_REVOKE] = "UPDATE clients SET revoked_at = ?3 WHERE org_id = ?1 AND id = ?2 AND revoked_at IS NULL",
    [S_CLIENT_TOKENS_REVOKE] = "UPDATE tokens SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
    [S_USER_INSERT] = "INSERT INTO users (id, org_id, role, external_user_id, email, first_name, last_name, "
                      "street_and_number, street_add_info, zip_code, town, country_iso2, created_at, updated_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    [S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1 AND org_id = ?2",
    [S_USER_UPDATE] = "UPDATE users SET role = ?2, external_user_id = ?3, email = ?4, first_name = ?5, "
                      "last_name = ?6, street_and_number = ?7, street_add_info = ?8, zip_code = ?9, town = ?10, "
                      "country_iso2 = ?11, updated_at = ?12, version = version + 1 WHERE seq = ?1",
    [S_USER_SET_DELETED] = "UPDATE users SET deleted_at = ?2, updated_at = ?3, version = version + 1 "
                           "WHERE seq = ?1",
    [S_USER_ERASE] = "UPDATE users SET external_user_id = NULL, email = NULL, first_name = NULL, "
                     "last_name = NULL, street_and_number = NULL, street_add_info = NULL, zip_code = NULL, "
                     "town = NULL, country_iso2 = NULL, deleted_at = ifnull(deleted_at, ?2), erased_at = ?2, "
                     "updated_at = ?2, version = version + 1 WHERE seq = ?1",
    [S_AUDIT_STRIP] = "UPDATE audit SET changes = (SELECT json_group_object(key, json('{\"erased\":true}')) "
                      "FROM json_each(audit.changes)) "
                      "WHERE org_id = ?1 AND target_type = 'user' AND target_id = ?2 AND changes IS NOT NULL",
    [S_AUDIT_LIST] = "SELECT id, at, request_id, actor_type, actor_id, actor_name, action, target_type, "
                     "target_id, changes FROM audit WHERE org_id = :org "
                     "AND (:tt IS NULL OR target_type = :tt) AND (:aid IS NULL OR actor_id = :aid) "
                     "AND (:act IS NULL OR action = :act) AND (:from IS NULL OR at >= :from) "
                     "AND (:to IS NULL OR at < :to) AND (:before = 0 OR id < :before) "
                     "ORDER BY id DESC LIMIT :lim",
    [S_AUDIT_LIST_TARGET] = "SELECT id, at, request_id, actor_type, actor_id, actor_name, action, target_type, "
                            "target_id, changes FROM audit WHERE org_id = :org AND target_id = :tid "
                            "AND (:tt IS NULL OR target_type = :tt) AND (:aid IS NULL OR actor_id = :aid) "
                            "AND (:act IS NULL OR action = :act) AND (:from IS NULL OR at >= :from) "
                            "AND (:to IS NULL OR at < :to) AND (:before = 0 OR id < :before) "
                            "ORDER BY id DESC LIMIT :lim",
};

/* The shape of a users list query: which fragments its SQL is made of. */
/*
 * How a search runs:
 *   SEARCH_FTS   the term as a trigram phrase (any term of 3+ characters);
 *   SEARCH_RARE  candidates from the term's rarest trigrams, each checked for
 *                the whole substring (ASCII terms that mix very common and
 *                rare trigrams, like "cust_012345": the phrase would walk the
 *                million-entry lists of "cus" and "ust");
 *   SEARCH_SHORT a 1-2 character term: one doclist of the users_grams index;
 *   SEARCH_SCAN  a page sorted by a key (email, last name, updated) for an
 *                ASCII term that matches many users: the sort key's index is
 *                walked in order and each row checked for the substring, so
 *                the page stops after LIMIT matches instead of sorting them
 *                all (its total still comes from the index of the term).
 */
enum search_mode { SEARCH_NONE = 0, SEARCH_FTS, SEARCH_SHORT, SEARCH_RARE, SEARCH_SCAN, SEARCH_ATTN, SEARCH_MODES };

/*
 * SEARCH_ATTN: a search with needs_attention=true in an org where few users
 * need attention walks those users (the users_attn index) and checks each
 * for the substring (an ASCII term), list and total alike, instead of every
 * match of the term: a term matching a million users, none of them needing
 * attention, read them all (400 ms).
 */
#define ATTN_WALK_MAX 20000

/*
 * When a sorted search walks the sort index instead: its term matches at
 * least this many users. Sorting M matches costs about M row reads; the walk
 * reads about limit * users / M rows, so at a million users the two meet
 * near M = sqrt(50 * 1M), about 7,000.
 */
#define SCAN_MIN_MATCHES 7000
/*
 * The rows a walk reads before it gives up: the matches may cluster far down
 * the order (a last name, sorted by last name), and then sorting them is
 * cheaper. A given-up walk costs about 20-40 ms at most.
 */
#define SCAN_WINDOW 20000

/* A planning threshold: dflt, or in test builds (FD_TEST_HOOKS) the value
 * of the environment variable name, so the tests' small orgs take the plans
 * a million users would. */
static int64_t tunable(const char *name, int64_t dflt)
{
#ifdef FD_TEST_HOOKS
	const char *env = getenv(name);
	if (env)
		return strtoll(env, NULL, 10);
#else
	(void)name;
#endif
	return dflt;
}

static int scan_window(void)
{
	return (int)tunable("FLEETDESK_SCAN_WINDOW", SCAN_WINDOW);
}
#define LIST_SHAPES  (STORE_SORT_COUNT * 2 * SEARCH_MODES * 2 * 3 * 3 * 2)
#define COUNT_SHAPES (SEARCH_MODES * 2 * 3 * 3 * 2)

/*
 * A search's total costs time in proportion to its matches. Following the
 * next links of one search would recount it on every page, so each
 * connection remembers its last few search totals, valid while SQLite's
 * data version of the database (which changes on any commit, by any
 * connection or process) stays the same.
 */
#define COUNT_CACHE 32
struct count_cache_entry {
	unsigned dv; /* the data version the total was counted at */
	int used;
	int deleted, attention; /* deleted_mode(), needs_attention */
	int64_t cap;            /* count_cap() */
	char org_id[FD_UUID_LEN + 1];
	char role[16];
	char search[260];
	int64_t total;
};

#define XS_SLOTS 512
struct conn {
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *s;
	} xs[XS_SLOTS]; /* sq_prep()'s cache, open addressing by address */
	sqlite3_stmt *stmts[S_COUNT];
	sqlite3_stmt *list[LIST_SHAPES];
	sqlite3_stmt *count[COUNT_SHAPES];
	struct count_cache_entry cc[COUNT_CACHE];
	int cc_next;
	pthread_mutex_t *write_lock; /* the store's; held from BEGIN IMMEDIATE to COMMIT/ROLLBACK */
	int writing;
	/* the users created and not yet in the search indexes (migration 7): from row
	 * fts_from on (0: none); fts_defer while a batch leaves them to its end */
	int fts_defer;
	int64_t fts_from;
	struct buf scratch; /* a create's audit text, reused */
	struct conn *next;
};

#define TRI_SLOTS  65536
#define TRI_TTL_MS (10 * 60 * 1000)
struct tri_stat {
	uint32_t key; /* the three bytes, 0: empty */
	uint32_t docs;
	int64_t at_ms;
};

struct sqlite_store {
	struct store base; /* must be first */
	char *path;
	pthread_key_t key;
	pthread_mutex_t lock; /* guards conns */
	/* Serialises this process's write transactions. SQLite would serialise
	 * them too, but a writer that finds the lock taken sleeps in its busy
	 * handler (up to 100 ms a nap); queueing on a mutex instead keeps the
	 * write latency tail short. Other processes still meet the busy timeout. */
	pthread_mutex_t write_lock;
	struct conn *conns;
	/* how many users hold each ASCII trigram, learnt on first use: only a
	 * planning estimate (a stale count costs speed, never correctness) */
	pthread_mutex_t tri_lock;
	struct tri_stat *tri; /* TRI_SLOTS, open addressing */
};

struct sqlite_store *sq_of(struct store *st)
{
	return (struct sqlite_store *)st;
}

enum fd_err sq_map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return FD_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return FD_EBUSY;
	case SQLITE_CONSTRAINT:
		return FD_ECONFLICT;
	case SQLITE_NOMEM:
		return FD_ENOMEM;
	default:
		return FD_EIO;
	}
}

static void conn_free(struct conn *c)
{
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	for (int i = 0; i < LIST_SHAPES; i++)
		sqlite3_finalize(c->list[i]);
	for (int i = 0; i < COUNT_SHAPES; i++)
		sqlite3_finalize(c->count[i]);
	for (int i = 0; i < XS_SLOTS; i++)
		sqlite3_finalize(c->xs[i].s);
	sqlite3_close(c->db);
	buf_release(&c->scratch);
	free(c);
}

/* Another process holds the write lock: look again every millisecond, for
 * up to 10 s. SQLite's own handler backs off to 100 ms naps, which a
 * process that writes batch after batch (a job) leaves too few of its gaps
 * for: a CLI command waited seconds, or gave up, during a big import. */
static int on_busy(void *arg, int count)
{
	(void)arg;
	if (count >= 10000)
		return 0;
	struct timespec ms = {0, 1000 * 1000};
	nanosleep(&ms, NULL);
	return 1;
}

static enum fd_err conn_open(const char *path, struct conn **out)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return FD_ENOMEM;
	int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		conn_free(c);
		return FD_EIO;
	}
	sqlite3_busy_handler(c->db, on_busy, NULL);
	rc = grams_register(c->db);
	if (rc != SQLITE_OK) {
		conn_free(c);
		return FD_EIO;
	}
	/* synchronous=FULL: a commit acknowledged to a client survives power loss */
	rc = sqlite3_exec(c->db,
	                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
	                  "PRAGMA cache_size=-8000; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0;",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		conn_free(c);
		return sq_map_rc(rc);
	}
	*out = c;
	return FD_OK;
}

/* The calling thread's connection, opened on first use. NULL on failure. */
struct conn *sq_conn(struct sqlite_store *s)
{
	struct conn *c = pthread_getspecific(s->key);
	if (c)
		return c;
	if (conn_open(s->path, &c) != FD_OK)
		return NULL;
	c->write_lock = &s->write_lock;
	pthread_mutex_lock(&s->lock);
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->lock);
	pthread_setspecific(s->key, c);
	return c;
}

static sqlite3_stmt *prep_cached(struct conn *c, sqlite3_stmt **slot, const char *sql)
{
	if (!*slot) {
		if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
			*slot = NULL;
			return NULL;
		}
	}
	return *slot;
}

struct conn *sq_get(struct store *st)
{
	return sq_conn(sq_of(st));
}

sqlite3 *sq_db(struct conn *c)
{
	return c->db;
}

sqlite3_stmt *sq_prep(struct conn *c, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) % XS_SLOTS;
	for (size_t n = 0; n < XS_SLOTS; n++, h = (h + 1) % XS_SLOTS) {
		if (c->xs[h].sql == sql)
			return c->xs[h].s;
		if (!c->xs[h].sql) {
			sqlite3_stmt *s = NULL;
			if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
				sqlite3_finalize(s);
				return NULL;
			}
			c->xs[h].sql = sql;
			c->xs[h].s = s;
			return s;
		}
	}
	return NULL; /* more distinct statements than slots: raise XS_SLOTS */
}

static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
{
	return prep_cached(c, &c->stmts[id], stmt_sql[id]);
}

/* Resets a statement after use so it holds no read lock. */
void sq_done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Steps a bound write statement once and resets it. */
enum fd_err sq_step_write(sqlite3_stmt *s)
{
	int r = sqlite3_step(s);
	sq_done(s);
	return r == SQLITE_DONE ? FD_OK : sq_map_rc(r);
}

static enum fd_err exec_simple(struct conn *c, enum stmt_id id)
{
	sqlite3_stmt *s = stmt(c, id);
	if (!s)
		return FD_EIO;
	int rc = sqlite3_step(s);
	sq_done(s);
	return rc == SQLITE_DONE ? FD_OK : sq_map_rc(rc);
}

static void write_unlock(struct conn *c)
{
	if (c->writing) {
		c->writing = 0;
		pthread_mutex_unlock(c->write_lock);
	}
}

enum fd_err sq_tx_begin(struct conn *c)
{
	pthread_mutex_lock(c->write_lock);
	c->writing = 1;
	c->fts_defer = 0;
	c->fts_from = 0;
	enum fd_err rc = exec_simple(c, S_BEGIN);
	if (rc != FD_OK)
		write_unlock(c);
	return rc;
}

enum fd_err sq_tx_commit(struct conn *c)
{
	enum fd_err rc = exec_simple(c, S_COMMIT);
	if (rc != FD_OK)
		exec_simple(c, S_ROLLBACK);
	write_unlock(c);
	return rc;
}

void sq_tx_rollback(struct conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		exec_simple(c, S_ROLLBACK);
	write_unlock(c);
}

static const char SQL_SP_BEGIN[] = "SAVEPOINT fd_sp";
static const char SQL_SP_RELEASE[] = "RELEASE fd_sp";
static const char SQL_SP_ROLLBACK[] = "ROLLBACK TO fd_sp";

static enum fd_err sp_exec(struct conn *c, const char *sql)
{
	sqlite3_stmt *s = sq_prep(c, sql);
	return s ? sq_step_write(s) : FD_EIO;
}

enum fd_err sq_sp_begin(struct conn *c)
{
	return sp_exec(c, SQL_SP_BEGIN);
}

void sq_sp_release(struct conn *c)
{
	sp_exec(c, SQL_SP_RELEASE);
}

void sq_sp_rollback(struct conn *c)
{
	sp_exec(c, SQL_SP_ROLLBACK);
	sp_exec(c, SQL_SP_RELEASE);
}

enum fd_err sq_fault(const char *name)
{
#ifdef FD_TEST_HOOKS
	const char *f = getenv("FLEETDESK_FAULT");
	return f && strcmp(f, name) == 0 ? FD_EIO : FD_OK;
#else
	(void)name;
	return FD_OK;
#endif
}

json_t *sq_diff(json_t *before, json_t *after, json_t *keys)
{
	json_t *ch = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(keys, k, v)
	{
		json_t *x = json_object_get(before, k), *y = json_object_get(after, k);
		if (!x)
			x = json_null();
		if (!y)
			y = json_null();
		if (!json_equal(x, y))
			json_object_set_new(ch, k, json_pack("{sOsO}", "before", x, "after", y));
	}
	return ch;
}

enum fd_err sq_room(struct conn *c, const char *count_sql, int64_t user_seq, int kind)
{
	sqlite3_stmt *s = sq_prep(c, count_sql);
	if (!s)
		return FD_EIO;
	sqlite3_bind_int64(s, 1, user_seq);
	sqlite3_bind_int(s, 2, kind);
	int r = sqlite3_step(s);
	int64_t n = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sq_done(s);
	if (r != SQLITE_ROW)
		return sq_map_rc(r);
	return n >= STORE_MAX_PER_USER ? FD_ETOOLARGE : FD_OK;
}

static const char SQL_USER_SEQ[] = "SELECT seq, deleted_at IS NOT NULL FROM users WHERE id = ?1 AND org_id = ?2";

enum fd_err sq_user_seq(struct conn *c, const char *org_id, const char *user_id, int64_t *seq, int *deleted)
{
	sqlite3_stmt *s = sq_prep(c, SQL_USER_SEQ);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, user_id);
	sq_bind_text(s, 2, org_id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		if (deleted)
			*deleted = sqlite3_column_int(s, 1);
	}
	sq_done(s);
	return r == SQLITE_ROW ? FD_OK : r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

void sq_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

/* Binds a string or null member of a JSON object. */
void sq_bind_json_str(sqlite3_stmt *s, int i, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	sq_bind_text(s, i, json_is_string(v) ? json_string_value(v) : NULL);
}

void sq_bind_named_text(sqlite3_stmt *s, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(s, name);
	if (i > 0)
		sq_bind_text(s, i, v);
}

void sq_bind_named_int(sqlite3_stmt *s, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(s, name);
	if (i > 0)
		sqlite3_bind_int64(s, i, v);
}

json_t *sq_col_str(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return json_null();
	return json_string((const char *)sqlite3_column_text(s, i));
}

const char *sq_col_cstr(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);
	return v ? v : "";
}

void sq_copy_col(char *dst, size_t n, sqlite3_stmt *s, int i)
{
	snprintf(dst, n, "%s", sq_col_cstr(s, i));
}

enum fd_err sq_tx_end(struct conn *c, enum fd_err rc)
{
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

enum fd_err sq_tx_prep(struct store *st, const char *sql, struct conn **c, sqlite3_stmt **s)
{
	*c = sq_get(st);
	if (!*c)
		return FD_EIO;
	enum fd_err rc = sq_tx_begin(*c);
	if (rc != FD_OK)
		return rc;
	*s = sq_prep(*c, sql);
	return *s ? FD_OK : sq_tx_end(*c, FD_EIO);
}

/* Writes one audit record inside the caller's transaction. changes may be NULL. */
/* sq_audit with the changes as JSON text (NULL: none). */
static enum fd_err audit_text(struct conn *c, const struct store_actor *a, const char *org_id, const char *at,
                              const char *action, const char *target_type, const char *target_id, const char *changes,
                              size_t changes_len)
{
	sqlite3_stmt *s = stmt(c, S_AUDIT_INSERT);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	sq_bind_text(s, 2, at);
	sq_bind_text(s, 3, a->request_id);
	sq_bind_text(s, 4, a->type);
	sq_bind_text(s, 5, a->id);
	sq_bind_text(s, 6, a->name);
	sq_bind_text(s, 7, action);
	sq_bind_text(s, 8, target_type);
	sq_bind_text(s, 9, target_id);
	if (changes)
		sqlite3_bind_text(s, 10, changes, (int)changes_len, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sq_done(s);
	return rc == SQLITE_DONE ? FD_OK : sq_map_rc(rc);
}

enum fd_err sq_audit(struct conn *c, const struct store_actor *a, const char *org_id, const char *at,
                     const char *action, const char *target_type, const char *target_id, json_t *changes)
{
	char *ch = NULL;
	if (changes) {
		ch = json_dumps(changes, JSON_COMPACT);
		if (!ch)
			return FD_ENOMEM;
	}
	enum fd_err rc = audit_text(c, a, org_id, at, action, target_type, target_id, ch, ch ? strlen(ch) : 0);
	free(ch);
	return rc;
}

/* ---------------------------------------------------------------- open/close */

static enum fd_err migrate(struct conn *c)
{
	char *err = NULL;
	int rc = sqlite3_exec(c->db,
	                      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
	                      "applied_at TEXT NOT NULL)",
	                      NULL, NULL, &err);
	sqlite3_free(err);
	if (rc != SQLITE_OK)
		return sq_map_rc(rc);
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT ifnull(max(version), 0) FROM schema_migrations", -1, &q, NULL) !=
	    SQLITE_OK)
		return FD_EIO;
	int have = 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		have = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (have > sqlite_migrations_count)
		return FD_EIO; /* a newer fleetdesk wrote this database */
	for (int v = have + 1; v <= sqlite_migrations_count; v++) {
		enum fd_err e = sq_tx_begin(c);
		if (e != FD_OK)
			return e;
		rc = sqlite3_exec(c->db, sqlite_migrations[v - 1], NULL, NULL, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_stmt *ins = NULL;
			char now[FD_TIME_LEN + 1];
			util_now_rfc3339(now);
			rc = sqlite3_prepare_v2(c->db, "INSERT INTO schema_migrations VALUES (?1, ?2)", -1, &ins, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_int(ins, 1, v);
				sq_bind_text(ins, 2, now);
				rc = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
			}
			sqlite3_finalize(ins);
		}
		if (rc != SQLITE_OK) {
			sq_tx_rollback(c);
			return FD_EIO;
		}
		e = sq_tx_commit(c);
		if (e != FD_OK)
			return e;
	}
	return FD_OK;
}

static void sq_close(struct store *st)
{
	struct sqlite_store *s = sq_of(st);
	struct conn *c = s->conns;
	while (c) {
		struct conn *n = c->next;
		conn_free(c);
		c = n;
	}
	pthread_key_delete(s->key);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->write_lock);
	pthread_mutex_destroy(&s->tri_lock);
	free(s->tri);
	free(s->path);
	free(s);
}

static enum fd_err sq_open(const char *path, struct store **out)
{
	/* Before SQLite initialises: no global malloc statistics, whose mutex
	 * every allocation of every connection would otherwise take (seen as
	 * futex contention under load). Connections are per thread, so
	 * multi-thread mode needs no per-connection mutexes either. Both calls
	 * fail harmlessly if SQLite is already initialised. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	struct sqlite_store *s = calloc(1, sizeof *s);
	if (!s)
		return FD_ENOMEM;
	s->base.ops = &store_sqlite_ops;
	s->base.dev = &store_sqlite_device_ops;
	s->base.rec = &store_sqlite_record_ops;
	s->base.work = &store_sqlite_work_ops;
	s->base.team = &store_sqlite_team_ops;
	s->path = strdup(path);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->write_lock, NULL);
	pthread_mutex_init(&s->tri_lock, NULL);
	s->tri = calloc(TRI_SLOTS, sizeof *s->tri);
	if (!s->tri) {
		free(s->path);
		free(s);
		return FD_ENOMEM;
	}
	if (!s->path || pthread_key_create(&s->key, NULL) != 0) {
		free(s->path);
		free(s);
		return FD_ENOMEM;
	}
	struct conn *c = sq_conn(s);
	enum fd_err rc = c ? migrate(c) : FD_EIO;
	if (rc != FD_OK) {
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return FD_OK;
}

static enum fd_err sq_ping(struct store *st)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, S_PING);
	if (!s)
		return FD_EIO;
	int rc = sqlite3_step(s);
	sq_done(s);
	return rc == SQLITE_ROW ? FD_OK : sq_map_rc(rc);
}

/* ---------------------------------------------------------------- orgs */

static enum fd_err write_audited(struct conn *c, struct store *st, sqlite3_stmt *s, const char *org_must_exist,
                                 const struct store_actor *a, const char *org_id, const char *now, const char *action,
                                 const char *target_type, const char *target_id, json_t *changes);

static enum fd_err sq_org_create(struct store *st, const struct store_actor *a, const char *name, json_t **org)
{
	struct conn *c = sq_conn(sq_of(st));
	sqlite3_stmt *s = c ? stmt(c, S_ORG_INSERT) : NULL;
	if (!s)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	util_uuid(id);
	util_now_rfc3339(now);
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, name);
	sq_bind_text(s, 3, now);
	json_t *changes = json_pack("{s{snss}}", "name", "before", "after", name);
	enum fd_err rc = write_audited(c, st, s, NULL, a, id, now, "org.create", "org", id, changes);
	json_decref(changes);
	if (rc == FD_OK && org)
		*org = json_pack("{ssssss}", "id", id, "name", name, "created_at", now);
	return rc;
}

static enum fd_err sq_org_exists(struct store *st, const char *org_id)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, S_ORG_EXISTS);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	int r = sqlite3_step(s);
	sq_done(s);
	if (r == SQLITE_ROW)
		return FD_OK;
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

/*
 * Runs one bound write statement s and its audit record in one write
 * transaction. If org_must_exist is set, that org is checked inside the
 * same transaction first (FD_ENOTFOUND). changes is borrowed, may be NULL.
 * The statement is reset whatever happens.
 */
static enum fd_err write_audited(struct conn *c, struct store *st, sqlite3_stmt *s, const char *org_must_exist,
                                 const struct store_actor *a, const char *org_id, const char *now, const char *action,
                                 const char *target_type, const char *target_id, json_t *changes)
{
	enum fd_err rc = sq_tx_begin(c);
	if (rc == FD_OK && org_must_exist)
		rc = sq_org_exists(st, org_must_exist);
	if (rc != FD_OK) {
		sq_done(s);
		sq_tx_rollback(c);
		return rc;
	}
	rc = sq_step_write(s);
	if (rc == FD_OK)
		rc = sq_audit(c, a, org_id, now, action, target_type, target_id, changes);
	if (rc != FD_OK) {
		sq_tx_rollback(c);
		return rc;
	}
	return sq_tx_commit(c);
}

static enum fd_err sq_org_list(struct store *st, json_t **orgs)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, S_ORG_LIST);
	if (!s)
		return FD_EIO;
	json_t *arr = json_array();
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		json_array_append_new(arr, json_pack("{sososo}", "id", sq_col_str(s, 0), "name", sq_col_str(s, 1),
		                                     "created_at", sq_col_str(s, 2)));
	}
	sq_done(s);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*orgs = arr;
	return FD_OK;
}

/* ---------------------------------------------------------------- tokens */

static enum fd_err sq_token_create(struct store *st, const struct store_actor *a, const char *org_id, const char *role,
                                   const char *name, const char *kind, const char *client_id, const char *hash,
                                   int64_t expires_ms, json_t **meta)
{
	struct conn *c = sq_conn(sq_of(st));
	sqlite3_stmt *s = c ? stmt(c, S_TOKEN_INSERT) : NULL;
	if (!s)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	util_uuid(id);
	util_now_rfc3339(now);
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sq_bind_text(s, 3, hash);
	sq_bind_text(s, 4, name);
	sq_bind_text(s, 5, role);
	sq_bind_text(s, 6, kind);
	sq_bind_text(s, 7, client_id);
	sq_bind_text(s, 8, now);
	if (expires_ms > 0)
		sqlite3_bind_int64(s, 9, expires_ms);
	else
		sqlite3_bind_null(s, 9);
	/* never the token or its hash: only what identifies it */
	json_t *changes = json_pack("{s{snss}s{snss}s{snss}}", "name", "before", "after", name, "role", "before",
	                            "after", role, "kind", "before", "after", kind);
	enum fd_err rc = write_audited(c, st, s, org_id, a, org_id, now, "token.create", "token", id, changes);
	json_decref(changes);
	if (rc == FD_OK && meta)
		*meta =
		    json_pack("{ssssssssss}", "id", id, "name", name, "role", role, "kind", kind, "created_at", now);
	return rc;
}

static enum fd_err sq_token_lookup(struct store *st, const char *hash, int64_t now_ms, struct store_token *tok)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, S_TOKEN_LOOKUP);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, hash);
	sqlite3_bind_int64(s, 2, now_ms);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		sq_copy_col(tok->id, sizeof tok->id, s, 0);
		sq_copy_col(tok->org_id, sizeof tok->org_id, s, 1);
		sq_copy_col(tok->role, sizeof tok->role, s, 2);
		sq_copy_col(tok->name, sizeof tok->name, s, 3);
		sq_copy_col(tok->kind, sizeof tok->kind, s, 4);
		sq_copy_col(tok->client_id, sizeof tok->client_id, s, 5);
		tok->expires_ms = sqlite3_column_int64(s, 6);
	}
	sq_done(s);
	if (r == SQLITE_ROW)
		return FD_OK;
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

static json_t *ms_or_null(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return json_null();
	char t[FD_TIME_LEN + 1];
	util_format_rfc3339(sqlite3_column_int64(s, i), t);
	return json_string(t);
}

static enum fd_err sq_token_list(struct store *st, const char *org_id, json_t **tokens)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, S_TOKEN_LIST);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	json_t *arr = json_array();
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		json_array_append_new(arr,
		                      json_pack("{sosososososososo}", "id", sq_col_str(s, 0), "name", sq_col_str(s, 1),
		                                "role", sq_col_str(s, 2), "kind", sq_col_str(s, 3), "client_id",
		                                sq_col_str(s, 4), "created_at", sq_col_str(s, 5), "expires_at",
		                                ms_or_null(s, 6), "revoked_at", sq_col_str(s, 7)));
	}
	sq_done(s);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*tokens = arr;
	return FD_OK;
}

/* Runs an UPDATE that revokes one row, and audits it. FD_ENOTFOUND if no live row matched. */
static enum fd_err revoke_one(struct conn *c, enum stmt_id id, const struct store_actor *a, const char *org_id,
                              const char *target_id, const char *action, const char *target_type)
{
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = stmt(c, id);
	if (!s) {
		rc = FD_EIO;
		goto out;
	}
	sq_bind_text(s, 1, org_id);
	sq_bind_text(s, 2, target_id);
	sq_bind_text(s, 3, now);
	rc = sq_step_write(s);
	if (rc != FD_OK)
		goto out;
	if (sqlite3_changes(c->db) == 0) {
		rc = FD_ENOTFOUND;
		goto out;
	}
	if (id == S_CLIENT_REVOKE) {
		s = stmt(c, S_CLIENT_TOKENS_REVOKE);
		if (!s) {
			rc = FD_EIO;
			goto out;
		}
		sq_bind_text(s, 1, target_id);
		sq_bind_text(s, 2, now);
		rc = sq_step_write(s);
		if (rc != FD_OK)
			goto out;
	}
	json_t *changes = json_pack("{s{snss}}", "revoked_at", "before", "after", now);
	rc = sq_audit(c, a, org_id, now, action, target_type, target_id, changes);
	json_decref(changes);
	if (rc != FD_OK)
		goto out;
	rc = sq_tx_commit(c);
out:
	if (rc != FD_OK)
		sq_tx_rollback(c);
	return rc;
}

static enum fd_err sq_token_revoke(struct store *st, const struct store_actor *a, const char *org_id,
                                   const char *token_id)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	return revoke_one(c, S_TOKEN_REVOKE, a, org_id, token_id, "token.revoke", "token");
}

/* ---------------------------------------------------------------- clients */

static enum fd_err sq_client_create(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *client_id, const char *name, const char *secret_hash, json_t **meta)
{
	struct conn *c = sq_conn(sq_of(st));
	sqlite3_stmt *s = c ? stmt(c, S_CLIENT_INSERT) : NULL;
	if (!s)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	sq_bind_text(s, 1, client_id);
	sq_bind_text(s, 2, org_id);
	sq_bind_text(s, 3, name);
	sq_bind_text(s, 4, secret_hash);
	sq_bind_text(s, 5, now);
	json_t *changes = json_pack("{s{snss}}", "name", "before", "after", name);
	enum fd_err rc = write_audited(c, st, s, org_id, a, org_id, now, "client.create", "client", client_id, changes);
	json_decref(changes);
	if (rc == FD_OK && meta)
		*meta =
		    json_pack("{ssssssss}", "client_id", client_id, "name", name, "org_id", org_id, "created_at", now);
	return rc;
}

static enum fd_err sq_client_lookup(struct store *st, const char *client_id, char *org_id, char *secret_hash)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, S_CLIENT_LOOKUP);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, client_id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		sq_copy_col(org_id, FD_UUID_LEN + 1, s, 0);
		sq_copy_col(secret_hash, 65, s, 1);
	}
	sq_done(s);
	if (r == SQLITE_ROW)
		return FD_OK;
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

static enum fd_err sq_client_list(struct store *st, const char *org_id, json_t **clients)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, S_CLIENT_LIST);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	json_t *arr = json_array();
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		json_array_append_new(arr,
		                      json_pack("{sosososo}", "client_id", sq_col_str(s, 0), "name", sq_col_str(s, 1),
		                                "created_at", sq_col_str(s, 2), "revoked_at", sq_col_str(s, 3)));
	}
	sq_done(s);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*clients = arr;
	return FD_OK;
}

static enum fd_err sq_client_revoke(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *client_id)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	return revoke_one(c, S_CLIENT_REVOKE, a, org_id, client_id, "client.revoke", "client");
}

/* ---------------------------------------------------------------- users */

/* A user row read with USER_COLS. */
struct user_row {
	int64_t seq;
	int64_t version;
	int erased;
	json_t *obj; /* owned */
};

/* store_user_fields are columns 1.. of USER_COLS, in that order. */
#define NUSER_FIELDS STORE_USER_FIELDS

static json_t *user_from_stmt(sqlite3_stmt *s, struct user_row *row)
{
	json_t *u = json_object();
	if (!u)
		return NULL;
	for (size_t i = 0; i < NUSER_FIELDS; i++)
		json_object_set_new(u, store_user_fields[i], sq_col_str(s, (int)i + 1));
	if (row) {
		row->seq = sqlite3_column_int64(s, 0);
		row->version = sqlite3_column_int64(s, 16);
		row->erased = sqlite3_column_type(s, 17) != SQLITE_NULL;
	}
	return u;
}

/* Appends the user in the current row as a JSON object, without a jansson tree. */
static enum fd_err user_write_json(sqlite3_stmt *s, struct buf *b)
{
	enum fd_err rc = buf_append(b, "{", 1);
	for (size_t i = 0; rc == FD_OK && i < NUSER_FIELDS; i++) {
		rc = jsonw_key(b, store_user_fields[i], i == 0);
		if (rc == FD_OK)
			rc = jsonw_str(b, (const char *)sqlite3_column_text(s, (int)i + 1));
	}
	if (rc == FD_OK)
		rc = buf_append(b, "}", 1);
	return rc;
}

/* Reads one user of the org. FD_ENOTFOUND if missing or another org's. */
/*
 * Positions S_USER_GET on the org's user. FD_OK: *out is on the row and the
 * caller reads it, then calls sq_done(*out). Otherwise the statement is reset.
 */
static enum fd_err user_select(struct conn *c, const char *org_id, const char *user_id, sqlite3_stmt **out)
{
	sqlite3_stmt *s = stmt(c, S_USER_GET);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, user_id);
	sq_bind_text(s, 2, org_id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*out = s;
		return FD_OK;
	}
	sq_done(s);
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

static enum fd_err user_read(struct conn *c, const char *org_id, const char *user_id, struct user_row *row)
{
	sqlite3_stmt *s = NULL;
	enum fd_err rc = user_select(c, org_id, user_id, &s);
	if (rc != FD_OK)
		return rc;
	row->obj = user_from_stmt(s, row);
	sq_done(s);
	return row->obj ? FD_OK : FD_ENOMEM;
}

/* Names the unique field a constraint error is about. */
static const char *unique_field(struct conn *c)
{
	const char *m = sqlite3_errmsg(c->db);
	if (strstr(m, "external_user_id"))
		return "external_user_id";
	if (strstr(m, "email"))
		return "email";
	return NULL;
}

/* The user a create just inserted, as user_read would read it back
 * (without the read): the id, the org, the fields sent, the times. */
static json_t *user_as_inserted(const char *id, const char *org_id, json_t *fields, const char *now)
{
	json_t *u = json_object();
	if (!u)
		return NULL;
	json_t *role = json_object_get(fields, "role");
	json_object_set_new(u, "id", json_string(id));
	json_object_set_new(u, "org_id", json_string(org_id));
	json_object_set_new(u, "role", json_string(json_is_string(role) ? json_string_value(role) : "user"));
	for (int i = 1; store_user_writable[i]; i++) {
		json_t *v = json_object_get(fields, store_user_writable[i]);
		json_object_set(u, store_user_writable[i], json_is_string(v) ? v : json_null());
	}
	json_object_set_new(u, "created_at", json_string(now));
	json_object_set_new(u, "updated_at", json_string(now));
	json_object_set_new(u, "deleted_at", json_null());
	return u;
}

/* Puts the users created since row fts_from into the search indexes, one
 * statement per index (they are the newest rows: seq only grows). */
static enum fd_err fts_index(struct conn *c)
{
	if (!c->fts_from)
		return FD_OK;
	static const char *const sql[] = {
	    "INSERT INTO users_fts(rowid, email, first_name, last_name, external_user_id) "
	    "SELECT seq, email, first_name, last_name, external_user_id FROM users WHERE seq >= ?1",
	    "INSERT INTO users_grams(rowid, email, first_name, last_name, external_user_id) "
	    "SELECT seq, email, first_name, last_name, external_user_id FROM users WHERE seq >= ?1",
	};
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		sqlite3_stmt *s = sq_prep(c, sql[i]);
		if (!s)
			return FD_EIO;
		sqlite3_bind_int64(s, 1, c->fts_from);
		enum fd_err rc = sq_step_write(s);
		if (rc != FD_OK)
			return rc == FD_ECONFLICT ? FD_EIO : rc;
	}
	c->fts_from = 0;
	return FD_OK;
}

enum fd_err sq_user_insert(struct conn *c, const struct store_actor *a, const char *org_id, json_t *fields,
                           const char *now, char *id, const char **conflict_field)
{
	util_uuid(id);
	sqlite3_stmt *s = stmt(c, S_USER_INSERT);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	json_t *role = json_object_get(fields, "role");
	sq_bind_text(s, 3, json_is_string(role) ? json_string_value(role) : "user");
	for (int i = 1; store_user_writable[i]; i++) /* all but role, in column order */
		sq_bind_json_str(s, 3 + i, fields, store_user_writable[i]);
	sq_bind_text(s, 13, now);
	int r = sqlite3_step(s);
	sq_done(s);
	if (r != SQLITE_DONE) {
		enum fd_err rc = sq_map_rc(r);
		if (rc == FD_ECONFLICT && conflict_field)
			*conflict_field = unique_field(c);
		return rc;
	}
	if (!c->fts_from)
		c->fts_from = sqlite3_last_insert_rowid(c->db);
	if (!c->fts_defer) {
		enum fd_err rc = fts_index(c);
		if (rc != FD_OK)
			return rc == FD_ENOMEM ? rc : FD_EIO;
	}
	/* the changes store_user_diff(NULL, the new user) names, written straight out: every
	 * field set, in store_user_writable's order, from null */
	struct buf *b = &c->scratch;
	b->len = 0;
	b->max = 64 * 1024;
	enum fd_err rc = buf_puts(b, "{");
	for (int i = 0; rc == FD_OK && store_user_writable[i]; i++) {
		json_t *v = json_object_get(fields, store_user_writable[i]);
		const char *text = json_is_string(v) ? json_string_value(v) : i == 0 ? "user" : NULL;
		if (!text)
			continue;
		if ((rc = jsonw_key(b, store_user_writable[i], b->len == 1)) == FD_OK &&
		    (rc = buf_puts(b, "{\"before\":null,\"after\":")) == FD_OK && (rc = jsonw_str(b, text)) == FD_OK)
			rc = buf_puts(b, "}");
	}
	if (rc == FD_OK)
		rc = buf_puts(b, "}");
	if (rc == FD_OK)
		rc = audit_text(c, a, org_id, now, "user.create", "user", id, b->data, b->len);
	return rc == FD_OK || rc == FD_ENOMEM ? rc : FD_EIO; /* past the INSERT, no failure is the item's */
}

static const char SQL_USER_ARCHIVE[] =
    "UPDATE users SET email = NULL, external_user_id = NULL, deleted_at = ifnull(deleted_at, ?2), updated_at = ?2, "
    "version = version + 1 WHERE seq = ?1";

enum fd_err sq_user_archive(struct conn *c, const struct store_actor *a, const char *org_id, const char *user_id,
                            int64_t expect, const char *now, json_t *note)
{
	struct user_row row = {0};
	enum fd_err rc = user_read(c, org_id, user_id, &row);
	if (rc == FD_OK && expect >= 0 && expect != row.version)
		rc = FD_EPRECOND;
	if (rc == FD_OK && row.erased)
		rc = FD_ECONFLICT;
	sqlite3_stmt *s = rc == FD_OK ? sq_prep(c, SQL_USER_ARCHIVE) : NULL;
	if (rc == FD_OK && !s)
		rc = FD_EIO;
	if (rc == FD_OK) {
		sqlite3_bind_int64(s, 1, row.seq);
		sq_bind_text(s, 2, now);
		rc = sq_step_write(s);
	}
	if (rc == FD_OK) {
		struct user_row after = {0};
		rc = user_read(c, org_id, user_id, &after);
		if (rc == FD_OK) {
			json_t *changes = store_user_diff(row.obj, after.obj);
			json_object_set(changes, "migration", note);
			rc = sq_audit(c, a, org_id, now, "user.archive", "user", user_id, changes);
			json_decref(changes);
			json_decref(after.obj);
		}
	}
	json_decref(row.obj);
	return rc;
}

/* Reads the user for a write inside the caller's transaction, checking the
 * op's expected version and its check of the role. */
static enum fd_err user_load_for_write(struct conn *c, const char *org_id, const struct store_user_op *op,
                                       struct user_row *row)
{
	enum fd_err rc = user_read(c, org_id, op->user_id, row);
	if (rc == FD_OK && op->expect_version >= 0 && op->expect_version != row->version)
		rc = FD_EPRECOND;
	if (rc == FD_OK && op->check)
		rc = op->check(op->check_ctx, json_string_value(json_object_get(row->obj, "role")));
	if (rc != FD_OK && row->obj) {
		json_decref(row->obj);
		row->obj = NULL;
	}
	return rc;
}

/* Hands a row's object and version to an op's outputs (the object when
 * want_user, else it is released). */
static void user_hand_out(struct user_row *row, struct store_user_op *op, int want_user)
{
	op->version = row->version;
	if (want_user)
		op->user = row->obj;
	else
		json_decref(row->obj);
	row->obj = NULL;
}

/* After a write inside the caller's transaction: re-reads the user and
 * audits the diff (or changes_override). Releases before->obj. */
static enum fd_err user_changed(struct conn *c, const struct store_actor *a, const char *org_id, const char *now,
                                const char *action, struct user_row *before, json_t *changes_override,
                                struct store_user_op *op, int want_user)
{
	struct user_row after = {0};
	enum fd_err rc = user_read(c, org_id, op->user_id, &after);
	if (rc == FD_OK) {
		json_t *changes =
		    changes_override ? json_incref(changes_override) : store_user_diff(before->obj, after.obj);
		rc = sq_audit(c, a, org_id, now, action, "user", op->user_id, changes);
		json_decref(changes);
	}
	json_decref(before->obj);
	before->obj = NULL;
	if (rc != FD_OK) {
		json_decref(after.obj);
		return rc;
	}
	user_hand_out(&after, op, want_user);
	return FD_OK;
}

static enum fd_err user_create_in(struct conn *c, const struct store_actor *a, const char *org_id, const char *now,
                                  struct store_user_op *op)
{
	enum fd_err rc = sq_user_insert(c, a, org_id, op->fields, now, op->new_id, &op->conflict_field);
	if (rc != FD_OK)
		return rc;
	op->version = 1; /* a new row's version */
	if (op->no_user)
		return FD_OK;
	op->user = user_as_inserted(op->new_id, org_id, op->fields, now);
	return op->user ? FD_OK : FD_ENOMEM;
}

static enum fd_err user_update_in(struct conn *c, const struct store_actor *a, const char *org_id, const char *now,
                                  struct store_user_op *op)
{
	struct user_row row = {0};
	enum fd_err rc = user_load_for_write(c, org_id, op, &row);
	if (rc != FD_OK)
		return rc;
	if (row.erased) {
		op->conflict_field = NULL;
		json_decref(row.obj);
		return FD_ECONFLICT;
	}
	json_t *merged = json_deep_copy(row.obj);
	if (!merged) {
		json_decref(row.obj);
		return FD_ENOMEM;
	}
	json_object_update(merged, op->fields);
	json_t *changes = store_user_diff(row.obj, merged);
	size_t nchanges = json_object_size(changes);
	json_decref(changes);
	if (nchanges == 0) { /* nothing to write */
		json_decref(merged);
		user_hand_out(&row, op, 1);
		return FD_OK;
	}
	sqlite3_stmt *s = stmt(c, S_USER_UPDATE);
	if (!s) {
		json_decref(merged);
		json_decref(row.obj);
		return FD_EIO;
	}
	sqlite3_bind_int64(s, 1, row.seq);
	for (int i = 0; store_user_writable[i]; i++)
		sq_bind_json_str(s, 2 + i, merged, store_user_writable[i]);
	sq_bind_text(s, 12, now);
	int r = sqlite3_step(s);
	sq_done(s);
	json_decref(merged);
	if (r != SQLITE_DONE) {
		rc = sq_map_rc(r);
		if (rc == FD_ECONFLICT)
			op->conflict_field = unique_field(c);
		json_decref(row.obj);
		return rc;
	}
	return user_changed(c, a, org_id, now, "user.update", &row, NULL, op, 1);
}

static enum fd_err set_deleted(struct conn *c, int64_t seq, const char *deleted_at, const char *now)
{
	sqlite3_stmt *s = stmt(c, S_USER_SET_DELETED);
	if (!s)
		return FD_EIO;
	sqlite3_bind_int64(s, 1, seq);
	sq_bind_text(s, 2, deleted_at);
	sq_bind_text(s, 3, now);
	return sq_step_write(s);
}

/* Delete (restore = 0) or restore (restore = 1): setting or clearing
 * deleted_at. Doing what is already done changes nothing. */
static enum fd_err user_set_deleted_in(struct conn *c, const struct store_actor *a, const char *org_id, const char *now,
                                       struct store_user_op *op, int restore)
{
	struct user_row row = {0};
	enum fd_err rc = user_load_for_write(c, org_id, op, &row);
	if (rc != FD_OK)
		return rc;
	if (restore && row.erased) {
		json_decref(row.obj);
		return FD_ECONFLICT;
	}
	if (json_is_null(json_object_get(row.obj, "deleted_at")) == restore) {
		user_hand_out(&row, op, restore);
		return FD_OK;
	}
	rc = set_deleted(c, row.seq, restore ? NULL : now, now);
	if (rc != FD_OK) {
		json_decref(row.obj);
		return rc;
	}
	return user_changed(c, a, org_id, now, restore ? "user.restore" : "user.delete", &row, NULL, op, restore);
}

static enum fd_err user_erase_in(struct conn *c, const struct store_actor *a, const char *org_id, const char *now,
                                 struct store_user_op *op)
{
	struct user_row row = {0};
	enum fd_err rc = user_load_for_write(c, org_id, op, &row);
	if (rc != FD_OK)
		return rc;
	if (row.erased) {
		user_hand_out(&row, op, 1);
		return FD_OK;
	}
	json_t *changes = json_object();
	sqlite3_stmt *s = stmt(c, S_USER_ERASE);
	if (!s || !changes) {
		rc = s ? FD_ENOMEM : FD_EIO;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, row.seq);
	sq_bind_text(s, 2, now);
	rc = sq_step_write(s);
	if (rc != FD_OK)
		goto fail;
	/* earlier records keep who did what and when, but no personal values */
	s = stmt(c, S_AUDIT_STRIP);
	if (!s) {
		rc = FD_EIO;
		goto fail;
	}
	sq_bind_text(s, 1, org_id);
	sq_bind_text(s, 2, op->user_id);
	rc = sq_step_write(s);
	if (rc != FD_OK)
		goto fail;
	rc = sq_records_erase(c, org_id, row.seq);
	if (rc != FD_OK)
		goto fail;
	for (int i = 1; store_user_writable[i]; i++) { /* every personal field: all but role */
		if (!json_is_null(json_object_get(row.obj, store_user_writable[i])))
			json_object_set_new(changes, store_user_writable[i], json_pack("{sb}", "erased", 1));
	}
	rc = user_changed(c, a, org_id, now, "user.erase", &row, changes, op, 1);
	json_decref(changes);
	return rc;
fail:
	json_decref(changes);
	json_decref(row.obj);
	return rc;
}

/* One op inside the caller's transaction. */
static enum fd_err user_op_in(struct conn *c, const struct store_actor *a, const char *org_id, const char *now,
                              struct store_user_op *op)
{
	switch (op->kind) {
	case STORE_UOP_CREATE:
		return user_create_in(c, a, org_id, now, op);
	case STORE_UOP_UPDATE:
		return user_update_in(c, a, org_id, now, op);
	case STORE_UOP_DELETE:
		return user_set_deleted_in(c, a, org_id, now, op, 0);
	case STORE_UOP_RESTORE:
		return user_set_deleted_in(c, a, org_id, now, op, 1);
	case STORE_UOP_ERASE:
		return user_erase_in(c, a, org_id, now, op);
	}
	return FD_EINVALID;
}

static void user_op_reset(struct store_user_op *op)
{
	json_decref(op->user);
	op->user = NULL;
	op->version = 0;
	op->conflict_field = NULL;
	op->result = FD_OK;
}

static enum fd_err sq_user_batch(struct store *st, const struct store_actor *a, const char *org_id,
                                 struct store_user_op *ops, size_t n, int mode, const struct store_job_step *step)
{
	int atomic = mode & STORE_BATCH_ATOMIC, dry = mode & STORE_BATCH_DRY;
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	for (size_t i = 0; i < n; i++)
		user_op_reset(&ops[i]);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	c->fts_defer = n > 1;
	c->fts_from = 0;
	if (dry)
		rc = sq_step_write(sq_prep(c, "SAVEPOINT fd_dry"));
	size_t failed = 0;
	for (size_t i = 0; i < n && rc == FD_OK; i++) {
		struct store_user_op *op = &ops[i];
		if (op->kind != STORE_UOP_CREATE && (rc = fts_index(c)) != FD_OK)
			break; /* an update's trigger takes the old values out of the index: they must be in */
		/* A create needs no savepoint of its own: its one INSERT either fails whole (SQLite
		 * undoes the statement) or succeeds, and its audit record cannot fail but for the
		 * database (which ends the batch). Savepoints cost a statement journal per item. */
		int sp = n > 1 && op->kind != STORE_UOP_CREATE;
		if (sp && (rc = sq_sp_begin(c)) != FD_OK)
			break;
		op->result = user_op_in(c, a, org_id, now, op);
		if (op->result == FD_ENOMEM || op->result == FD_EIO || op->result == FD_EBUSY)
			rc = op->result; /* the database failed, not the item: stop */
		if (sp) {
			if (op->result == FD_OK)
				sq_sp_release(c);
			else
				sq_sp_rollback(c);
		}
		if (op->result != FD_OK) {
			failed++;
			json_decref(op->user);
			op->user = NULL;
		}
	}
	if (rc == FD_OK)
		rc = fts_index(c);
	c->fts_defer = 0;
	if (rc == FD_OK && dry) { /* every op ran and met every check: now none is kept */
		rc = sq_step_write(sq_prep(c, "ROLLBACK TO fd_dry"));
		if (rc == FD_OK)
			rc = sq_step_write(sq_prep(c, "RELEASE fd_dry"));
	}
	if (rc == FD_OK && atomic && failed)
		rc = FD_EINVALID;
	rc = sq_batch_end(c, rc, step, now); /* an atomic batch's FD_EINVALID rolls back too */
	if (rc != FD_OK) {
		for (size_t i = 0; i < n; i++) { /* nothing was applied: no item hands out a user */
			json_decref(ops[i].user);
			ops[i].user = NULL;
			if (rc != FD_EINVALID && ops[i].result == FD_OK)
				ops[i].result = rc;
		}
	}
	return rc;
}

/* One op in its own transaction: the single-user writes. */
static enum fd_err user_op_tx(struct store *st, const struct store_actor *a, const char *org_id,
                              struct store_user_op *op)
{
	enum fd_err rc = sq_user_batch(st, a, org_id, op, 1, 1, NULL);
	return rc == FD_EINVALID ? op->result : rc;
}

static enum fd_err sq_user_create(struct store *st, const struct store_actor *a, const char *org_id, json_t *fields,
                                  json_t **user, int64_t *version, const char **conflict_field)
{
	struct store_user_op op = {.kind = STORE_UOP_CREATE, .fields = fields};
	enum fd_err rc = user_op_tx(st, a, org_id, &op);
	if (conflict_field)
		*conflict_field = op.conflict_field;
	if (rc != FD_OK)
		return rc;
	*user = op.user;
	*version = op.version;
	return FD_OK;
}

static enum fd_err sq_user_get(struct store *st, const char *org_id, const char *user_id, json_t **user,
                               int64_t *version)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	struct user_row row = {0};
	enum fd_err rc = user_read(c, org_id, user_id, &row);
	if (rc != FD_OK)
		return rc;
	*user = row.obj;
	*version = row.version;
	return FD_OK;
}

static enum fd_err sq_user_get_text(struct store *st, const char *org_id, const char *user_id, char **json, size_t *len,
                                    int64_t *version)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = NULL;
	enum fd_err rc = user_select(c, org_id, user_id, &s);
	if (rc != FD_OK)
		return rc;
	struct buf b;
	buf_init(&b, 64 * 1024);
	rc = user_write_json(s, &b);
	*version = sqlite3_column_int64(s, 16);
	sq_done(s);
	if (rc != FD_OK) {
		buf_release(&b);
		return rc;
	}
	*json = buf_detach(&b, len);
	return FD_OK;
}

static const char SQL_USER_BY_EXT[] = "SELECT " USER_COLS " FROM users WHERE org_id = ?1 AND external_user_id = ?2";
static const char SQL_USER_BY_EMAIL[] = "SELECT " USER_COLS " FROM users WHERE org_id = ?1 AND email = ?2";

static enum fd_err sq_user_find(struct store *st, const char *org_id, const char *field, const char *value,
                                json_t **user, int64_t *version)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = sq_prep(c, strcmp(field, "email") == 0 ? SQL_USER_BY_EMAIL : SQL_USER_BY_EXT);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	sq_bind_text(s, 2, value);
	int r = sqlite3_step(s);
	enum fd_err rc = r == SQLITE_ROW ? FD_OK : r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
	if (rc == FD_OK) {
		struct user_row row = {0};
		*user = user_from_stmt(s, &row);
		*version = row.version;
		if (!*user)
			rc = FD_ENOMEM;
	}
	sq_done(s);
	return rc;
}

/* The single-user writes other than create: one op in its own transaction. */
static enum fd_err user_write(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                              int kind, json_t *patch, int64_t expect, json_t **user, int64_t *version,
                              const char **conflict_field)
{
	struct store_user_op op = {.kind = kind, .user_id = user_id, .fields = patch, .expect_version = expect};
	enum fd_err rc = user_op_tx(st, a, org_id, &op);
	if (conflict_field)
		*conflict_field = op.conflict_field;
	if (rc != FD_OK)
		return rc;
	if (user)
		*user = op.user;
	else
		json_decref(op.user);
	if (version)
		*version = op.version;
	return FD_OK;
}

static enum fd_err sq_user_update(struct store *st, const struct store_actor *a, const char *org_id,
                                  const char *user_id, json_t *patch, int64_t expect, json_t **user, int64_t *version,
                                  const char **conflict_field)
{
	return user_write(st, a, org_id, user_id, STORE_UOP_UPDATE, patch, expect, user, version, conflict_field);
}

static enum fd_err sq_user_delete(struct store *st, const struct store_actor *a, const char *org_id,
                                  const char *user_id, int64_t expect)
{
	return user_write(st, a, org_id, user_id, STORE_UOP_DELETE, NULL, expect, NULL, NULL, NULL);
}

static enum fd_err sq_user_restore(struct store *st, const struct store_actor *a, const char *org_id,
                                   const char *user_id, int64_t expect, json_t **user, int64_t *version)
{
	return user_write(st, a, org_id, user_id, STORE_UOP_RESTORE, NULL, expect, user, version, NULL);
}

static enum fd_err sq_user_erase(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                 int64_t expect, json_t **user, int64_t *version)
{
	return user_write(st, a, org_id, user_id, STORE_UOP_ERASE, NULL, expect, user, version, NULL);
}

/* Counts UTF-8 code points. */
static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static const char *const sort_key_sql[STORE_SORT_COUNT] = {
    [STORE_SORT_CREATED] = NULL,
    [STORE_SORT_EMAIL] = "ifnull(u.email,'') COLLATE NOCASE",
    [STORE_SORT_LAST_NAME] = "ifnull(u.last_name,'') COLLATE NOCASE",
    [STORE_SORT_UPDATED] = "u.updated_at",
};

/* Appends the WHERE conditions shared by a list and its count. */
/* The whole term as a substring of a searched field (ASCII case folded). */
#define SUBSTRING_CHECK                                                                                                \
	"(instr(lower(ifnull(u.email,'')), :n) OR instr(lower(ifnull(u.first_name,'')), :n)"                           \
	" OR instr(lower(ifnull(u.last_name,'')), :n) OR instr(lower(ifnull(u.external_user_id,'')), :n))"

/* 0: live users, 1: all, 2: deleted only. */
static int deleted_mode(const struct store_user_query *q)
{
	return q->only_deleted ? 2 : q->include_deleted ? 1 : 0;
}

static enum fd_err append_filters(struct buf *b, enum search_mode sm, int has_role, int deleted, int attention)
{
	enum fd_err rc = buf_puts(b, " WHERE u.org_id = :org");
	if (rc == FD_OK && (sm == SEARCH_FTS || sm == SEARCH_RARE))
		rc = buf_puts(b, " AND users_fts MATCH :q");
	if (rc == FD_OK && sm == SEARCH_SHORT)
		rc = buf_puts(b, " AND users_grams MATCH :q");
	if (rc == FD_OK && (sm == SEARCH_RARE || sm == SEARCH_ATTN))
		rc = buf_puts(b, " AND " SUBSTRING_CHECK);
	if (rc == FD_OK && has_role)
		rc = buf_puts(b, " AND u.role = :role");
	if (rc == FD_OK && deleted == 0)
		rc = buf_puts(b, " AND u.deleted_at IS NULL");
	if (rc == FD_OK && deleted == 2)
		rc = buf_puts(b, " AND u.deleted_at IS NOT NULL");
	/* the user's own count of devices needing attention (kept by triggers) */
	if (rc == FD_OK && attention)
		rc = buf_puts(b, attention == 1 ? " AND u.attn > 0" : " AND u.attn = 0");
	return rc;
}

static const char *from_clause(enum search_mode sm)
{
	/* CROSS JOIN pins the trigram index as the outer loop: the work is
	 * proportional to the matches, not to the org's size */
	if (sm == SEARCH_SHORT)
		return " FROM users_grams CROSS JOIN users u ON u.seq = users_grams.rowid";
	if (sm == SEARCH_ATTN)
		return " FROM users u INDEXED BY users_attn";
	return sm == SEARCH_FTS || sm == SEARCH_RARE ? " FROM users_fts CROSS JOIN users u ON u.seq = users_fts.rowid"
	                                             : " FROM users u";
}

static sqlite3_stmt *list_stmt(struct conn *c, const struct store_user_query *q, enum search_mode sm)
{
	int has_role = q->role != NULL, after = q->has_after;
	int shape =
	    ((((((int)q->sort * 2 + !!q->desc) * SEARCH_MODES + (int)sm) * 2 + has_role) * 3 + deleted_mode(q)) * 3 +
	     q->needs_attention) *
	        2 +
	    !!after;
	if (c->list[shape])
		return c->list[shape];
	struct buf b;
	buf_init(&b, 4096);
	const char *key = sort_key_sql[q->sort];
	const char *gt = q->desc ? "<" : ">";
	const char *dir = q->desc ? " DESC" : "";
	enum fd_err rc = buf_puts(&b, "SELECT u.seq, u.id, u.org_id, u.role, u.external_user_id, u.email, "
	                              "u.first_name, u.last_name, u.street_and_number, u.street_add_info, u.zip_code, "
	                              "u.town, u.country_iso2, u.created_at, u.updated_at, u.deleted_at, u.version, "
	                              "u.erased_at, ");
	if (rc == FD_OK)
		rc = buf_puts(&b, key ? key : "NULL");
	if (rc == FD_OK && sm == SEARCH_SCAN) /* column 19: does the row match? */
		rc = buf_puts(&b, ", " SUBSTRING_CHECK);
	if (rc == FD_OK)
		rc = buf_puts(&b, from_clause(sm));
	if (rc == FD_OK)
		rc = append_filters(&b, sm, has_role, deleted_mode(q), q->needs_attention);
	/* in FTS mode the trigram index yields rows in rowid (= seq) order: sorting
	 * and seeking on its rowid lets a page stop after LIMIT matches */
	const char *seq = sm == SEARCH_FTS || sm == SEARCH_RARE ? "users_fts.rowid"
	                  : sm == SEARCH_SHORT                  ? "users_grams.rowid"
	                                                        : "u.seq";
	if (rc == FD_OK && after && !key) {
		rc = buf_puts(&b, " AND ");
		if (rc == FD_OK)
			rc = buf_puts(&b, seq);
		if (rc == FD_OK)
			rc = buf_puts(&b, " ");
		if (rc == FD_OK)
			rc = buf_puts(&b, gt);
		if (rc == FD_OK)
			rc = buf_puts(&b, " :s");
	} else if (rc == FD_OK && after) {
		/* (key, seq) after (:k, :s), written so the index range applies */
		const char *parts[] = {" AND ", key, q->desc ? " <= " : " >= ", ":k AND (", key,
		                       " ",     gt,  " :k OR u.seq ",           gt,         " :s)"};
		for (size_t i = 0; rc == FD_OK && i < sizeof parts / sizeof parts[0]; i++)
			rc = buf_puts(&b, parts[i]);
	}
	if (rc == FD_OK)
		rc = buf_puts(&b, " ORDER BY ");
	if (rc == FD_OK && key) {
		rc = buf_puts(&b, key);
		if (rc == FD_OK)
			rc = buf_puts(&b, dir);
		if (rc == FD_OK)
			rc = buf_puts(&b, ", ");
	}
	if (rc == FD_OK)
		rc = buf_puts(&b, seq);
	if (rc == FD_OK)
		rc = buf_puts(&b, dir);
	if (rc == FD_OK)
		rc = buf_puts(&b, sm == SEARCH_SCAN ? " LIMIT :win" : " LIMIT :lim");
	sqlite3_stmt *s = NULL;
	if (rc == FD_OK)
		s = prep_cached(c, &c->list[shape], b.data);
	buf_release(&b);
	return s;
}

/* How far a total of q is counted: 0 for all of it. */
static int64_t count_cap(const struct store_user_query *q)
{
	int64_t cap = q->needs_attention ? tunable("FLEETDESK_COUNT_CAP", STORE_COUNT_CAP) : 0;
	if (q->count_limit > 0 && (!cap || q->count_limit < cap))
		cap = q->count_limit;
	return cap;
}

static sqlite3_stmt *count_stmt(struct conn *c, const struct store_user_query *q, enum search_mode sm)
{
	int has_role = q->role != NULL, capped = count_cap(q) > 0;
	int shape = ((((int)sm * 2 + has_role) * 3 + deleted_mode(q)) * 3 + q->needs_attention) * 2 + capped;
	if (c->count[shape])
		return c->count[shape];
	struct buf b;
	buf_init(&b, 4096);
	enum fd_err rc;
	if (sm == SEARCH_NONE && !q->needs_attention) {
		/* the trigger-kept counters: O(roles), not O(users); never capped */
		rc = buf_puts(&b, "SELECT ifnull(sum(n), 0) FROM user_counts WHERE org_id = :org");
		if (rc == FD_OK && has_role)
			rc = buf_puts(&b, " AND role = :role");
		if (rc == FD_OK && deleted_mode(q) != 1)
			rc = buf_puts(&b, q->only_deleted ? " AND deleted = 1" : " AND deleted = 0");
	} else if (sm == SEARCH_NONE && q->needs_attention == 1) {
		/* from the partial index of such users, up to the cap */
		rc = buf_puts(&b, "SELECT count(*) FROM (SELECT 1 FROM users u INDEXED BY users_attn "
		                  "WHERE u.org_id = :org AND u.attn > 0");
		if (rc == FD_OK && has_role)
			rc = buf_puts(&b, " AND u.role = :role");
		if (rc == FD_OK && deleted_mode(q) != 1)
			rc = buf_puts(&b,
			              q->only_deleted ? " AND u.deleted_at IS NOT NULL" : " AND u.deleted_at IS NULL");
		if (rc == FD_OK)
			rc = buf_puts(&b, " LIMIT :cap)");
	} else {
		rc = buf_puts(&b, capped ? "SELECT count(*) FROM (SELECT 1" : "SELECT count(*)");
		if (rc == FD_OK)
			rc = buf_puts(&b, from_clause(sm));
		if (rc == FD_OK)
			rc = append_filters(&b, sm, has_role, deleted_mode(q), q->needs_attention);
		if (rc == FD_OK && capped)
			rc = buf_puts(&b, " LIMIT :cap)");
	}
	sqlite3_stmt *s = NULL;
	if (rc == FD_OK)
		s = prep_cached(c, &c->count[shape], b.data);
	buf_release(&b);
	return s;
}

/* The term as an FTS5 phrase: quoted, inner quotes doubled. malloc'd. */
static char *search_phrase(const char *term)
{
	size_t n = strlen(term), o = 0;
	char *out = malloc(2 * n + 3);
	if (!out)
		return NULL;
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (term[i] == '"')
			out[o++] = '"';
		out[o++] = term[i];
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* The term with ASCII upper case folded, for instr(lower(...)). malloc'd. */
static char *search_needle(const char *term)
{
	char *out = strdup(term);
	for (char *p = out; p && *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return out;
}

/* How many users hold trigram t (3 bytes), from the cache or the index. */
static uint32_t trigram_docs(struct sqlite_store *st, struct conn *c, const char *t)
{
	uint32_t key = 0x1000000u | ((uint32_t)(unsigned char)t[0] << 16) | ((uint32_t)(unsigned char)t[1] << 8) |
	               (uint32_t)(unsigned char)t[2];
	uint32_t h = (key * 2654435761u) >> 16;
	int64_t now = util_now_ms();
	struct tri_stat *slot = NULL;
	pthread_mutex_lock(&st->tri_lock);
	for (int i = 0; i < 16; i++) {
		struct tri_stat *e = &st->tri[(h + (uint32_t)i) & (TRI_SLOTS - 1)];
		if (e->key == key && now - e->at_ms < TRI_TTL_MS) {
			uint32_t d = e->docs;
			pthread_mutex_unlock(&st->tri_lock);
			return d;
		}
		if (!slot && (e->key == 0 || e->key == key))
			slot = e;
	}
	pthread_mutex_unlock(&st->tri_lock);
	uint32_t docs = UINT32_MAX; /* unknown: never the rarest */
	sqlite3_stmt *s = stmt(c, S_VOCAB_DOC);
	if (s) {
		sqlite3_bind_text(s, 1, t, 3, SQLITE_TRANSIENT);
		if (sqlite3_step(s) == SQLITE_ROW)
			docs = (uint32_t)sqlite3_column_int64(s, 0);
		sq_done(s);
	}
	if (slot && docs != UINT32_MAX) {
		pthread_mutex_lock(&st->tri_lock);
		slot->key = key;
		slot->docs = docs;
		slot->at_ms = now;
		pthread_mutex_unlock(&st->tri_lock);
	}
	return docs;
}

/*
 * Checking a candidate row costs about as much as reading some fifty
 * doclist entries (measured at 1M users: 12k candidates took ~35 ms, a
 * phrase over ~230k entries ~7 ms). The rare-trigram plan is taken only
 * when its candidates cost less than the whole phrase would.
 */
#define RARE_MAX_DOCS 20000
#define RARE_COST     50
#define RARE_PICK     3

/*
 * Decides whether an ASCII term of 4+ characters is better searched by its
 * rarest trigrams (SEARCH_RARE). If so, returns a malloc'd FTS5 expression
 * '"t1" AND "t2" AND "t3"' of them; NULL otherwise.
 */
static char *plan_rare(struct sqlite_store *st, struct conn *c, const char *needle)
{
	size_t n = strlen(needle);
	if (n < 4 || n > 64)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)needle[i] >= 0x80)
			return NULL; /* the trigram index folds Unicode case; our check folds ASCII only */
	}
	uint32_t docs[64];
	uint32_t lo = UINT32_MAX;
	uint64_t sum = 0;
	size_t ntri = n - 2;
	for (size_t i = 0; i < ntri; i++) {
		docs[i] = trigram_docs(st, c, needle + i);
		if (docs[i] < lo)
			lo = docs[i];
		if (docs[i] != UINT32_MAX)
			sum += docs[i];
	}
	if (lo > RARE_MAX_DOCS || (uint64_t)lo * RARE_COST >= sum)
		return NULL;
	struct buf b;
	buf_init(&b, 256);
	enum fd_err rc = FD_OK;
	for (int k = 0; k < RARE_PICK && rc == FD_OK; k++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < ntri; i++) {
			if (docs[i] != UINT32_MAX && (best == SIZE_MAX || docs[i] < docs[best]))
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		for (size_t i = 0; i < ntri; i++) { /* take each distinct trigram once */
			if (memcmp(needle + i, needle + best, 3) == 0)
				docs[i] = UINT32_MAX;
		}
		char tri[4] = {needle[best], needle[best + 1], needle[best + 2], 0};
		char *ph = search_phrase(tri);
		if (!ph) {
			rc = FD_ENOMEM;
			break;
		}
		if (k > 0)
			rc = buf_puts(&b, " AND ");
		if (rc == FD_OK)
			rc = buf_puts(&b, ph);
		free(ph);
	}
	if (rc != FD_OK) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* How many users a term's index says may match it, at most: the documents
 * of its 1-2 character gram, or of its rarest trigram. UINT32_MAX: unknown. */
static uint32_t search_estimate(struct sqlite_store *st, struct conn *c, const char *needle, enum search_mode sm)
{
	size_t n = strlen(needle);
	if (sm == SEARCH_SHORT) {
		sqlite3_stmt *s = stmt(c, S_GRAMS_DOC);
		uint32_t docs = UINT32_MAX;
		if (s) {
			sqlite3_bind_text(s, 1, needle, (int)n, SQLITE_TRANSIENT);
			if (sqlite3_step(s) == SQLITE_ROW)
				docs = (uint32_t)sqlite3_column_int64(s, 0);
			sq_done(s);
		}
		return docs;
	}
	uint32_t lo = UINT32_MAX;
	for (size_t i = 0; i + 3 <= n && i < 64; i++) {
		uint32_t d = trigram_docs(st, c, needle + i);
		if (d < lo)
			lo = d;
	}
	return lo;
}

/* 1 when q (a search with needs_attention=true) is better answered by
 * walking the few users that need attention (SEARCH_ATTN). */
static int attn_walk_better(struct conn *c, const struct store_user_query *q, const char *needle, enum search_mode sm)
{
	if (sm == SEARCH_NONE || q->needs_attention != 1)
		return 0;
	for (const char *p = needle; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			return 0; /* the walk's check folds ASCII only */
	}
	sqlite3_stmt *s = stmt(c, S_ATTN_FEW);
	if (!s)
		return 0;
	sq_bind_named_text(s, ":org", q->org_id);
	sq_bind_named_int(s, ":win", ATTN_WALK_MAX + 1);
	int few = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) <= ATTN_WALK_MAX;
	sq_done(s);
	return few;
}

/* 1 when the list of q is better made by walking its sort index (SEARCH_SCAN). */
static int scan_better(struct sqlite_store *st, struct conn *c, const struct store_user_query *q, const char *needle,
                       enum search_mode sm)
{
	if (sm == SEARCH_NONE || sm == SEARCH_ATTN || q->sort == STORE_SORT_CREATED)
		return 0;
	for (const char *p = needle; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			return 0; /* the walk's check folds ASCII only; the indexes fold Unicode */
	}
	uint32_t est = search_estimate(st, c, needle, sm);
	return est != UINT32_MAX && est >= tunable("FLEETDESK_SCAN_MIN_MATCHES", SCAN_MIN_MATCHES);
}

static int count_cache_matches(const struct count_cache_entry *e, const struct store_user_query *q, unsigned dv)
{
	return e->used && e->dv == dv && e->deleted == deleted_mode(q) && e->attention == q->needs_attention &&
	       e->cap == count_cap(q) && strcmp(e->org_id, q->org_id) == 0 &&
	       strcmp(e->role, q->role ? q->role : "") == 0 && strcmp(e->search, q->search ? q->search : "") == 0;
}

static struct count_cache_entry *count_cache_find(struct conn *c, const struct store_user_query *q, unsigned dv)
{
	for (int i = 0; i < COUNT_CACHE; i++) {
		if (count_cache_matches(&c->cc[i], q, dv))
			return &c->cc[i];
	}
	return NULL;
}

static void count_cache_put(struct conn *c, const struct store_user_query *q, unsigned dv, int64_t total)
{
	const char *search = q->search ? q->search : "";
	if (strlen(search) >= sizeof c->cc[0].search || strlen(q->org_id) > FD_UUID_LEN ||
	    (q->role && strlen(q->role) >= sizeof c->cc[0].role))
		return;
	struct count_cache_entry *e = &c->cc[c->cc_next];
	c->cc_next = (c->cc_next + 1) % COUNT_CACHE;
	e->used = 1;
	e->dv = dv;
	e->deleted = deleted_mode(q);
	e->attention = q->needs_attention;
	e->cap = count_cap(q);
	snprintf(e->org_id, sizeof e->org_id, "%s", q->org_id);
	snprintf(e->role, sizeof e->role, "%s", q->role ? q->role : "");
	snprintf(e->search, sizeof e->search, "%s", search);
	e->total = total;
}

/*
 * True when a search's total can be counted on the trigram index alone: no
 * role filter, and every user row in the database is this org's and
 * visible (so the join that filters org and deletion would drop nothing).
 * That is the usual single-partner installation, and it saves one random
 * row read per match.
 */
static int fts_count_alone(struct conn *c, const struct store_user_query *q, enum search_mode sm)
{
	if ((sm != SEARCH_FTS && sm != SEARCH_SHORT) || q->role || q->only_deleted || q->needs_attention)
		return 0;
	sqlite3_stmt *s = stmt(c, S_ORG_OWNS_ALL);
	if (!s)
		return 0;
	sq_bind_named_text(s, ":org", q->org_id);
	sq_bind_named_int(s, ":all", q->include_deleted);
	int yes = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
	sq_done(s);
	return yes;
}

static void bind_list_params(sqlite3_stmt *s, const struct store_user_query *q, const char *match, const char *needle)
{
	sq_bind_named_text(s, ":org", q->org_id);
	sq_bind_named_text(s, ":q", match);
	sq_bind_named_text(s, ":n", needle);
	sq_bind_named_text(s, ":role", q->role);
	sq_bind_named_text(s, ":k", q->after_key ? q->after_key : "");
	sq_bind_named_int(s, ":s", q->after_seq);
	sq_bind_named_int(s, ":lim", q->limit + 1);
	sq_bind_named_int(s, ":cap", count_cap(q));
	sq_bind_named_int(s, ":win", scan_window());
}

/*
 * Runs the list statement of q in mode sm and writes its page into page
 * (the items, the last row's key and seq, has_more); *n is its rows. In
 * SEARCH_SCAN mode rows that do not match (column 19) are skipped, and when
 * the window was read before the page filled, *unfinished is set and the
 * page is incomplete.
 */
static enum fd_err list_page(struct conn *c, const struct store_user_query *q, enum search_mode sm, const char *match,
                             const char *needle, struct store_user_page *page, int *n, int *unfinished)
{
	sqlite3_stmt *s = list_stmt(c, q, sm);
	if (!s)
		return FD_EIO;
	bind_list_params(s, q, match, needle);
	struct buf json;
	buf_init(&json, (size_t)64 << 20);
	enum fd_err rc = buf_append(&json, "[", 1);
	int r = SQLITE_DONE, examined = 0;
	*n = 0;
	*unfinished = 0;
	while (rc == FD_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
		examined++;
		if (sm == SEARCH_SCAN && !sqlite3_column_int(s, 19))
			continue;
		if (*n == q->limit) {
			page->has_more = 1;
			break;
		}
		if (*n > 0)
			rc = buf_append(&json, ",", 1);
		if (rc == FD_OK)
			rc = user_write_json(s, &json);
		page->last_seq = sqlite3_column_int64(s, 0);
		free(page->last_key);
		page->last_key = NULL;
		if (sqlite3_column_type(s, 18) != SQLITE_NULL) {
			page->last_key = strdup((const char *)sqlite3_column_text(s, 18));
			if (!page->last_key)
				rc = FD_ENOMEM;
		}
		(*n)++;
	}
	sq_done(s);
	if (rc == FD_OK && r == SQLITE_DONE && sm == SEARCH_SCAN && examined >= scan_window()) {
		if (*n < q->limit)
			*unfinished = 1;
		else
			page->has_more = 1; /* a full page, and the walk did not reach the end: the next page looks */
	}
	if (rc == FD_OK)
		rc = buf_append(&json, "]", 1);
	page->items_json = buf_detach(&json, &page->items_len);
	if (rc == FD_OK && r != SQLITE_ROW && r != SQLITE_DONE)
		rc = sq_map_rc(r);
	return rc;
}

static enum fd_err sq_user_list(struct store *st, const struct store_user_query *q, struct store_user_page *page)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	memset(page, 0, sizeof *page);
	enum search_mode sm = SEARCH_NONE;
	char *match = NULL, *needle = NULL;
	enum fd_err rc = FD_OK;
	sqlite3_stmt *cs = NULL;
	/* one read transaction, so the total and the page agree */
	if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return FD_EBUSY;
	if (q->search && *q->search) {
		needle = search_needle(q->search);
		if (!needle) {
			rc = FD_ENOMEM;
			goto out;
		}
		if (utf8_len(q->search) < 3) {
			sm = SEARCH_SHORT;
			match = search_phrase(q->search);
			if (!match) {
				rc = FD_ENOMEM;
				goto out;
			}
		} else {
			match = plan_rare(sq_of(st), c, needle);
			sm = match ? SEARCH_RARE : SEARCH_FTS;
			if (!match)
				match = search_phrase(q->search);
			if (!match) {
				rc = FD_ENOMEM;
				goto out;
			}
		}
	}
	if (attn_walk_better(c, q, needle, sm))
		sm = SEARCH_ATTN;
	int unfinished = 0, n = 0, scan = scan_better(sq_of(st), c, q, needle, sm);
	if (scan) {
		rc = list_page(c, q, SEARCH_SCAN, match, needle, page, &n, &unfinished);
		if (rc != FD_OK)
			goto out;
		if (unfinished) { /* the matches lie further down the order: sort them instead */
			store_user_page_release(page);
			memset(page, 0, sizeof *page);
		}
	}
	if (unfinished || !scan) {
		rc = list_page(c, q, sm, match, needle, page, &n, &unfinished);
		if (rc != FD_OK)
			goto out;
	}
	if (!q->has_after && !page->has_more) {
		page->total = n; /* a first page that is not full holds every match */
		goto out;
	}
	unsigned dv = 0;
	struct count_cache_entry *hit = NULL;
	int cacheable = sm != SEARCH_NONE || q->needs_attention; /* counts that cost time */
	if (cacheable) {
		sqlite3_file_control(c->db, "main", SQLITE_FCNTL_DATA_VERSION, &dv);
		hit = count_cache_find(c, q, dv);
	}
	int64_t cap = count_cap(q);
	if (hit) {
		page->total = hit->total;
		page->total_capped = cap > 0 && page->total >= cap;
		goto out;
	}
	cs = !fts_count_alone(c, q, sm) ? count_stmt(c, q, sm)
	     : sm == SEARCH_SHORT       ? stmt(c, cap ? S_GRAMS_COUNT_CAP : S_GRAMS_COUNT)
	                                : stmt(c, cap ? S_FTS_COUNT_CAP : S_FTS_COUNT);
	if (!cs) {
		rc = FD_EIO;
		goto out;
	}
	bind_list_params(cs, q, match, needle);
	int r = sqlite3_step(cs);
	if (r == SQLITE_ROW)
		page->total = sqlite3_column_int64(cs, 0);
	else
		rc = sq_map_rc(r);
	sq_done(cs);
	page->total_capped = cap > 0 && page->total >= cap;
	if (rc == FD_OK && cacheable)
		count_cache_put(c, q, dv, page->total);
out:
	if (rc == FD_OK && q->count_limit > 0 && page->total >= q->count_limit) {
		page->total = q->count_limit; /* the same answer whichever way it was counted */
		page->total_capped = 1;
	}
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
	free(match);
	free(needle);
	if (rc != FD_OK)
		store_user_page_release(page);
	return rc;
}

static enum fd_err sq_user_seed(struct store *st, const struct store_actor *a, const char *org_id, json_t *users)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = stmt(c, S_USER_INSERT);
	if (!s) {
		rc = FD_EIO;
		goto out;
	}
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
	{
		util_uuid(id);
		util_now_rfc3339(now);
		sq_bind_text(s, 1, id);
		sq_bind_text(s, 2, org_id);
		json_t *role = json_object_get(u, "role");
		sq_bind_text(s, 3, json_is_string(role) ? json_string_value(role) : "user");
		for (int k = 1; store_user_writable[k]; k++)
			sq_bind_json_str(s, 3 + k, u, store_user_writable[k]);
		sq_bind_text(s, 13, now);
		int r = sqlite3_step(s);
		sq_done(s);
		if (r != SQLITE_DONE) {
			rc = sq_map_rc(r);
			goto out;
		}
		if (!c->fts_from)
			c->fts_from = sqlite3_last_insert_rowid(c->db);
	}
	if ((rc = fts_index(c)) != FD_OK)
		goto out;
	util_now_rfc3339(now);
	json_t *changes = json_pack("{s{sisI}}", "count", "before", 0, "after", (json_int_t)json_array_size(users));
	rc = sq_audit(c, a, org_id, now, "user.seed", "org", org_id, changes);
	json_decref(changes);
	if (rc != FD_OK)
		goto out;
	rc = sq_tx_commit(c);
out:
	if (rc != FD_OK)
		sq_tx_rollback(c);
	return rc;
}

/* 64 MiB of page cache (the default is 8), commits that do not wait for the
 * disk (see below). Its commits checkpoint only once
 * the log passes 256 MiB (a backstop): the serve loop's store_checkpoint
 * does it each second on another thread, and an index page that batch after
 * batch dirties is copied back once per checkpoint, not once per commit. */
static enum fd_err sq_bulk_writer(struct store *st)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	/* synchronous=NORMAL: a job's batch commits its progress with its writes, so a batch that
	 * a power cut takes back is taken back whole, and the job does it again on restart */
	return sq_map_rc(
	    sqlite3_exec(c->db, "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=65536; PRAGMA synchronous=NORMAL;",
	                 NULL, NULL, NULL));
}

static void sq_thread_end(struct store *st)
{
	struct sqlite_store *s = sq_of(st);
	struct conn *c = pthread_getspecific(s->key);
	if (!c)
		return;
	pthread_setspecific(s->key, NULL);
	pthread_mutex_lock(&s->lock);
	for (struct conn **p = &s->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	conn_free(c);
}

static enum fd_err sq_checkpoint(struct store *st)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	int r = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return r == SQLITE_BUSY ? FD_OK : sq_map_rc(r); /* busy: another checkpoint runs; next second */
}

static enum fd_err sq_optimize(struct store *st)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	int r = sqlite3_exec(c->db,
	                     "INSERT INTO users_fts(users_fts) VALUES ('optimize');"
	                     "INSERT INTO users_grams(users_grams) VALUES ('optimize'); PRAGMA optimize;",
	                     NULL, NULL, NULL);
	return sq_map_rc(r);
}

/* ---------------------------------------------------------------- audit */

static enum fd_err sq_audit_list(struct store *st, const struct store_audit_query *q, json_t **items, int *has_more,
                                 int64_t *last_id)
{
	struct conn *c = sq_conn(sq_of(st));
	if (!c)
		return FD_EIO;
	sqlite3_stmt *s = stmt(c, q->target_id ? S_AUDIT_LIST_TARGET : S_AUDIT_LIST);
	if (!s)
		return FD_EIO;
	sq_bind_named_text(s, ":org", q->org_id);
	sq_bind_named_text(s, ":tid", q->target_id);
	sq_bind_named_text(s, ":tt", q->target_type);
	sq_bind_named_text(s, ":aid", q->actor_id);
	sq_bind_named_text(s, ":act", q->action);
	sq_bind_named_text(s, ":from", q->from);
	sq_bind_named_text(s, ":to", q->to);
	sq_bind_named_int(s, ":before", q->before_id);
	sq_bind_named_int(s, ":lim", q->limit + 1);
	json_t *arr = json_array();
	*has_more = 0;
	*last_id = 0;
	int r, n = 0;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == q->limit) {
			*has_more = 1;
			break;
		}
		json_t *changes = NULL;
		if (sqlite3_column_type(s, 9) != SQLITE_NULL)
			changes = json_loads((const char *)sqlite3_column_text(s, 9), 0, NULL);
		*last_id = sqlite3_column_int64(s, 0);
		json_array_append_new(arr,
		                      json_pack("{sIsoso s{sososo} so s{soso} so}", "id", (json_int_t)*last_id, "at",
		                                sq_col_str(s, 1), "request_id", sq_col_str(s, 2), "actor", "type",
		                                sq_col_str(s, 3), "id", sq_col_str(s, 4), "name", sq_col_str(s, 5),
		                                "action", sq_col_str(s, 6), "target", "type", sq_col_str(s, 7), "id",
		                                sq_col_str(s, 8), "changes", changes ? changes : json_null()));
		n++;
	}
	sq_done(s);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*items = arr;
	return FD_OK;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .org_create = sq_org_create,
    .org_exists = sq_org_exists,
    .org_list = sq_org_list,
    .token_create = sq_token_create,
    .token_lookup = sq_token_lookup,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .client_create = sq_client_create,
    .client_lookup = sq_client_lookup,
    .client_list = sq_client_list,
    .client_revoke = sq_client_revoke,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_get_text = sq_user_get_text,
    .user_update = sq_user_update,
    .user_delete = sq_user_delete,
    .user_restore = sq_user_restore,
    .user_erase = sq_user_erase,
    .user_list = sq_user_list,
    .user_batch = sq_user_batch,
    .user_find = sq_user_find,
    .user_seed = sq_user_seed,
    .optimize = sq_optimize,
    .bulk_writer = sq_bulk_writer,
    .checkpoint = sq_checkpoint,
    .thread_end = sq_thread_end,
    .audit_list = sq_audit_list,
};
