/*
 * store.h - the storage interface. Handlers and the CLI call only these.
 *
 * Everything a request reads or changes goes through a store_*() call. The
 * calls are backend-neutral: no SQL, no dialect, no connection handling is
 * visible here. A backend (sqlite.c today, PostgreSQL later) provides a
 * const struct store_ops (store_int.h); these wrappers dispatch to it.
 *
 * Threads: one struct store is shared by all threads; a backend keeps what it
 * needs per thread (SQLite: one connection per thread).
 *
 * Ownership: every json_t returned through an OUT parameter belongs to the
 * caller, who json_decref()s it. Strings passed in are borrowed.
 *
 * Audit: every call that changes data takes a const struct store_actor and
 * writes the audit record in the same transaction as the change.
 */
#ifndef FD_STORE_H
#define FD_STORE_H

#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"

struct store;

/* Who is making a change, for the audit record. All fields borrowed. */
struct store_actor {
	const char *type;       /* "token", "client", "cli" */
	const char *id;         /* token id, client id, or "local" */
	const char *name;       /* label, may be NULL */
	const char *request_id; /* may be NULL */
};

/* A bearer token as the store knows it (never the token itself). */
struct store_token {
	char id[FD_UUID_LEN + 1];
	char org_id[FD_UUID_LEN + 1];
	char role[16];
	char name[128];
	char kind[16];                   /* "api" or "oauth" */
	char client_id[FD_UUID_LEN + 1]; /* "" unless kind is "oauth" */
	int64_t expires_ms;              /* 0: never */
};

enum store_user_sort {
	STORE_SORT_CREATED = 0,
	STORE_SORT_EMAIL,
	STORE_SORT_LAST_NAME,
	STORE_SORT_UPDATED,
	STORE_SORT_COUNT
};

/* A users list query. Strings borrowed; NULL means "no filter". */
struct store_user_query {
	const char *org_id;
	const char *search; /* case-insensitive substring, any length >= 1 */
	const char *role;
	int include_deleted;
	int only_deleted;    /* only deleted users (include_deleted is then moot) */
	int needs_attention; /* 0: any; 1: users with a live device that needs attention; 2: users with none */
	int64_t count_limit; /* > 0: count a search's or filter's matches up to this many (total_capped beyond) */
	enum store_user_sort sort;
	int desc;
	int limit; /* 1..1000 */
	/* keyset position: rows strictly after (after_key, after_seq) in sort order */
	int has_after;
	const char *after_key; /* the sort key of the last row seen (unused for created) */
	int64_t after_seq;
};

/* With needs_attention, a total is counted up to this many users (or
 * count_limit, when smaller): a short search can match them all. */
#define STORE_COUNT_CAP 10000

/* One page of users. */
struct store_user_page {
	char *items_json; /* the JSON array of user objects, malloc'd, owned by the caller */
	size_t items_len;
	int64_t total; /* all rows matching the filters, or the cap when total_capped */
	int total_capped;
	int has_more;
	char *last_key; /* malloc'd sort key of the last row, NULL for created */
	int64_t last_seq;
};

void store_user_page_release(struct store_user_page *p);

/* A user's public fields, in output order (NULL-terminated): what the API
 * shows, and the columns of an export. */
#define STORE_USER_FIELDS 15
extern const char *const store_user_fields[STORE_USER_FIELDS + 1];

/* The user fields a client may write, in output order (NULL-terminated). */
extern const char *const store_user_writable[];

/* Opens (creating if needed) the store at path and applies pending migrations.
 * The path selects the backend; today every path is an SQLite file. */
enum fd_err store_open(const char *path, struct store **out /* OUT */);
/* Closes every connection. Only after all threads using st are done. */
void store_close(struct store *st);
/* FD_OK when the database answers. */
enum fd_err store_ping(struct store *st);

/* --- orgs --- */
enum fd_err store_org_create(struct store *st, const struct store_actor *a, const char *name, json_t **org /* OUT */);
/* FD_OK if the org exists, FD_ENOTFOUND otherwise. */
enum fd_err store_org_exists(struct store *st, const char *org_id);
enum fd_err store_org_list(struct store *st, json_t **orgs /* OUT */);

/* --- tokens (hash is the hex SHA-256 of the bearer token) --- */
enum fd_err store_token_create(struct store *st, const struct store_actor *a, const char *org_id, const char *role,
                               const char *name, const char *kind, const char *client_id, const char *hash,
                               int64_t expires_ms, json_t **meta /* OUT, may be NULL */);
/* Finds a live (not revoked, not expired at now_ms) token. FD_ENOTFOUND otherwise. */
enum fd_err store_token_lookup(struct store *st, const char *hash, int64_t now_ms, struct store_token *tok /* OUT */);
enum fd_err store_token_list(struct store *st, const char *org_id, json_t **tokens /* OUT */);
enum fd_err store_token_revoke(struct store *st, const struct store_actor *a, const char *org_id, const char *token_id);

/* --- OAuth2 clients (secret_hash is the hex SHA-256 of the secret) --- */
/* --- the team: staff accounts, sign-in sessions, invites ---
 * A staff member is {"id","org_id","email","role","created_at","updated_at",
 * "deactivated_at"}; the password hash leaves the store only through
 * store_staff_find.
 * Creates one with password_hash (an Argon2id string, or NULL: none yet);
 * FD_ECONFLICT when the email has an account (in any org). Audited
 * "staff.create", without the hash. */
enum fd_err store_staff_create(struct store *st, const struct store_actor *a, const char *org_id, const char *email,
                               const char *role, const char *password_hash, json_t **staff /* OUT */);
/* The org's staff, oldest first (a JSON array). */
enum fd_err store_staff_list(struct store *st, const char *org_id, json_t **list /* OUT */);

/* An account as sign-in needs it. */
struct store_staff {
	char id[FD_UUID_LEN + 1];
	char org_id[FD_UUID_LEN + 1];
	char email[256];
	char role[16];
	char password_hash[192]; /* "" when none is set */
	int active;              /* 0 once deactivated */
};
/* The account with email (any case). FD_ENOTFOUND if none. */
enum fd_err store_staff_find(struct store *st, const char *email, struct store_staff *out /* OUT */);
/* Changes the org's staff member: role (NULL: unchanged); deactivate 1
 * deactivates (and ends their sessions), 0 reactivates, -1 leaves it.
 * FD_ENOTFOUND when not the org's; FD_ECONFLICT when the org would be left
 * without an active admin. Audited "staff.update" or "staff.deactivate".
 * staff (OUT, may be NULL) is the result. */
enum fd_err store_staff_update(struct store *st, const struct store_actor *a, const char *org_id, const char *staff_id,
                               const char *role, int deactivate, json_t **staff /* OUT */);

/* A live sign-in session (the store keeps only its token's SHA-256). */
struct store_session {
	char id[FD_UUID_LEN + 1];
	char staff_id[FD_UUID_LEN + 1];
	char org_id[FD_UUID_LEN + 1];
	char email[256];
	char role[16];
	char org_name[128];
	int64_t created_ms, seen_ms, expires_ms;
};
/* Starts a session for who, absolute expiry expires_ms. Audited "staff.sign_in". */
enum fd_err store_session_create(struct store *st, const struct store_actor *a, const struct store_staff *who,
                                 const char *token_hash, int64_t now_ms, int64_t expires_ms,
                                 char id[FD_UUID_LEN + 1] /* OUT */);
/* The session with token_hash, unless ended or its account deactivated
 * (FD_ENOTFOUND). Expiry is the caller's to check. */
enum fd_err store_session_lookup(struct store *st, const char *token_hash, struct store_session *out /* OUT */);
/* Records activity at now_ms (for the idle expiry). */
enum fd_err store_session_touch(struct store *st, const char *session_id, int64_t now_ms);
/* Ends a session (sign-out). Audited "staff.sign_out". FD_ENOTFOUND if already ended. */
enum fd_err store_session_end(struct store *st, const struct store_actor *a, const struct store_session *se);
/* Deletes up to limit sessions that expired or ended before before_ms. */
enum fd_err store_session_sweep(struct store *st, int64_t before_ms, int limit);

/* An invite: {"id","email","role","created_at","expires_at","created_by"}.
 * Creating one replaces the org's open invite for the same email;
 * FD_ECONFLICT when the email has an account. Audited "invite.create". */
enum fd_err store_invite_create(struct store *st, const struct store_actor *a, const char *org_id, const char *email,
                                const char *role, const char *token_hash, int64_t expires_ms,
                                json_t **invite /* OUT, may be NULL */);
/* The org's open invites (not used, revoked or expired at now_ms). */
enum fd_err store_invite_list(struct store *st, const char *org_id, int64_t now_ms, json_t **list /* OUT */);
/* FD_ENOTFOUND unless an open invite of the org. Audited "invite.revoke". */
enum fd_err store_invite_revoke(struct store *st, const struct store_actor *a, const char *org_id,
                                const char *invite_id);
/* The open invite with token_hash, with "org_id" and "org_name"; FD_ENOTFOUND otherwise. */
enum fd_err store_invite_find(struct store *st, const char *token_hash, int64_t now_ms, json_t **invite /* OUT */);
/* Uses the open invite: creates its account with password_hash, in one
 * transaction (audited "staff.create" by the invite). FD_ENOTFOUND for no
 * open invite, FD_ECONFLICT when the email got an account meanwhile. */
enum fd_err store_invite_accept(struct store *st, const char *token_hash, int64_t now_ms, const char *password_hash,
                                const char *request_id, json_t **staff /* OUT */);

enum fd_err store_client_create(struct store *st, const struct store_actor *a, const char *org_id,
                                const char *client_id, const char *name, const char *secret_hash,
                                json_t **meta /* OUT, may be NULL */);
/* Finds a live client. org_id OUT is FD_UUID_LEN + 1 bytes, secret_hash OUT 65 bytes. */
enum fd_err store_client_lookup(struct store *st, const char *client_id, char *org_id /* OUT */,
                                char *secret_hash /* OUT */);
enum fd_err store_client_list(struct store *st, const char *org_id, json_t **clients /* OUT */);
/* Revokes the client and every access token issued to it. */
enum fd_err store_client_revoke(struct store *st, const struct store_actor *a, const char *org_id,
                                const char *client_id);

/* --- users ---
 * User objects are JSON with the public fields (see README). version is the
 * ETag validator: it grows on every write.
 * conflict_field (OUT, may be NULL) names the unique field on FD_ECONFLICT. */
enum fd_err store_user_create(struct store *st, const struct store_actor *a, const char *org_id, json_t *fields,
                              json_t **user /* OUT */, int64_t *version /* OUT */,
                              const char **conflict_field /* OUT */);
enum fd_err store_user_get(struct store *st, const char *org_id, const char *user_id, json_t **user /* OUT */,
                           int64_t *version /* OUT */);
/* The same as store_user_get, but the user comes serialised as JSON text
 * (malloc'd, caller frees): the read path of GET, with no jansson tree. */
enum fd_err store_user_get_text(struct store *st, const char *org_id, const char *user_id, char **json /* OUT */,
                                size_t *len /* OUT */, int64_t *version /* OUT */);
/* Applies patch (validated fields only). expect_version < 0 means any.
 * A patch that changes nothing writes nothing. FD_EPRECOND on a stale version. */
enum fd_err store_user_update(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                              json_t *patch, int64_t expect_version, json_t **user /* OUT */,
                              int64_t *version /* OUT */, const char **conflict_field /* OUT */);
/* Soft delete; deleting a deleted user changes nothing. */
enum fd_err store_user_delete(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                              int64_t expect_version);
/* Clears deleted_at. FD_ECONFLICT for an erased user. */
enum fd_err store_user_restore(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                               int64_t expect_version, json_t **user /* OUT */, int64_t *version /* OUT */);
/* Blanks personal data, marks deleted, strips values from earlier audit records. */
enum fd_err store_user_erase(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                             int64_t expect_version, json_t **user /* OUT */, int64_t *version /* OUT */);
enum fd_err store_user_list(struct store *st, const struct store_user_query *q, struct store_user_page *page /* OUT */);
struct store_job_step;

/* The org's user whose field ("email", case-insensitively, or
 * "external_user_id") is value, deleted users included. FD_ENOTFOUND if none. */
enum fd_err store_user_find(struct store *st, const char *org_id, const char *field, const char *value,
                            json_t **user /* OUT */, int64_t *version /* OUT */);

/* One write in a batch of user writes (store_user_batch). */
enum store_user_op_kind { STORE_UOP_CREATE, STORE_UOP_UPDATE, STORE_UOP_DELETE, STORE_UOP_RESTORE, STORE_UOP_ERASE };
struct store_user_op {
	int kind;               /* enum store_user_op_kind */
	const char *user_id;    /* every kind but create (borrowed) */
	json_t *fields;         /* create and update: validated fields (borrowed) */
	int64_t expect_version; /* < 0: any */
	/* NULL: none; else called inside the transaction with the user's role
	 * as stored at that moment: a result other than FD_OK fails the op */
	enum fd_err (*check)(void *ctx, const char *role);
	void *check_ctx;
	int no_user; /* the caller needs no user back (OUT user stays NULL on a create) */
	/* OUT */
	enum fd_err result;           /* as the single-user call would return it */
	json_t *user;                 /* the user after the op, owned by the caller; NULL for delete or failure */
	int64_t version;              /* after the op */
	const char *conflict_field;   /* on FD_ECONFLICT, as for store_user_create */
	char new_id[FD_UUID_LEN + 1]; /* create: the id it was given */
};
/*
 * Applies ops in order in one transaction, each as the single-user call
 * would (audited, with the same results), and each in its own savepoint:
 * an op that fails changes nothing. mode 0: the others apply, and the call
 * returns FD_OK. STORE_BATCH_ATOMIC: if any op fails, none applies and the
 * call returns FD_EINVALID, each op's result saying how it fared.
 * STORE_BATCH_DRY: every op runs, with the results it would have, and then
 * none is kept (a dry run that meets the database's own checks, such as a
 * taken email); the call returns FD_OK and step is still recorded. Any
 * other error is the database's: nothing applied, and every op that had
 * not failed carries that error. step (may be NULL) records a job's
 * progress in the same transaction; FD_ECONFLICT, nothing applied, when
 * the job is no longer running.
 */
#define STORE_BATCH_ATOMIC 1
#define STORE_BATCH_DRY    2
enum fd_err store_user_batch(struct store *st, const struct store_actor *a, const char *org_id,
                             struct store_user_op *ops, size_t n, int mode, const struct store_job_step *step);
/* Inserts many users at once without per-row audit (demo and benchmark seeding);
 * one audit record "user.seed" names the count. */
enum fd_err store_user_seed(struct store *st, const struct store_actor *a, const char *org_id,
                            json_t *users /* array of field objects */);

/* Reorganises indexes after a bulk load (merges the search index's
 * segments), so later searches read fewer, larger runs. May take seconds. */
enum fd_err store_optimize(struct store *st);

/* Tunes the calling thread's use of the store for long runs of large write
 * transactions (a job worker): more memory for pages, the write-ahead log
 * copied back less often, in larger steps, and commits that do not wait for
 * the disk: a power cut may take back the last ones, whole (for a job that
 * commits its progress with its writes, nothing is lost or done twice).
 * Other threads are unchanged. */
enum fd_err store_bulk_writer(struct store *st);

/* Copies committed writes from the write-ahead log back into the database,
 * as far as readers allow, without waiting for or blocking writers. The
 * serve loop calls it each second, so a bulk writer (which leaves this to
 * others) does not pay for it on its own thread. */
enum fd_err store_checkpoint(struct store *st);

/* Releases what the store keeps for the calling thread (its connection), for
 * a thread that ends before the store closes. The thread may use the store
 * again later; it then gets a new one. */
void store_thread_end(struct store *st);

/* --- devices ---
 * A device is a JSON object of its stored fields: the settings and state a
 * client sent (validated by the API's field rules), plus id, user_id,
 * created_at, updated_at, deleted_at and the consumption derived from its
 * readings (consumption_last_{day,week,month}_kwh, and production_last_*_kwh
 * for inverters). version grows on every change, as for users.
 * Lookups take the org, the user and the type: a device of another user or
 * another type is FD_ENOTFOUND. */
enum store_device_type { DEV_HEAT_PUMP = 0, DEV_EV = 1, DEV_INVERTER = 2, DEV_TYPES };

/* At most this many live devices of each type, buildings and contracts per
 * user: creating one more is FD_ETOOLARGE. */
#define STORE_MAX_PER_USER 50

/* The device stops reporting for this long before it counts as stale. */
#define STORE_STALE_MS (2 * 3600 * 1000LL)

enum fd_err store_device_create(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int type, json_t *fields, json_t **dev /* OUT */, int64_t *version /* OUT */);
enum fd_err store_device_get(struct store *st, const char *org_id, const char *user_id, int type, const char *device_id,
                             json_t **dev /* OUT */, int64_t *version /* OUT */);
/* The user's live devices of the type, oldest first (a JSON array). */
enum fd_err store_device_list(struct store *st, const char *org_id, const char *user_id, int type,
                              json_t **devs /* OUT */);
/* Sets the fields of patch at expect_version (< 0: any). action names the
 * audit record ("device.update", "device.reset_optimization"). FD_EPRECOND
 * on a stale version; FD_ECONFLICT when the device is deleted. */
enum fd_err store_device_update(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int type, const char *device_id, json_t *patch, int64_t expect_version,
                                const char *action, json_t **dev /* OUT */, int64_t *version /* OUT */);
enum fd_err store_device_delete(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int type, const char *device_id, int64_t expect_version);

/* One device write of store_device_batch: patch (validated settings,
 * borrowed) set on the org's device at expect_version (< 0: any). With
 * prepare, the patch is made inside the transaction instead, from the
 * device's type and stored fields as they are then: prepare sets *patch (a
 * new reference) or fails the op with its error (FD_EINVALID with *errors,
 * the field errors, a new reference). */
struct store_device_op {
	const char *device_id;
	json_t *patch;
	enum fd_err (*prepare)(void *ctx, int type, json_t *stored, json_t **patch, json_t **errors);
	void *ctx;
	int64_t expect_version;
	const char *action; /* the audit record's ("device.update", "device.reset_optimization") */
	enum fd_err result; /* OUT: FD_OK, FD_ENOTFOUND, FD_EPRECOND, FD_ECONFLICT (deleted), FD_EINVALID
	                     * (settings, with errors, or a building that is not the user's: errors NULL) */
	json_t *errors;     /* OUT: the caller's, NULL unless prepare failed with FD_EINVALID */
	int type;           /* OUT: the device's type (when it was found) */
	json_t *dev;        /* OUT: the device afterwards (the caller's), NULL unless result is FD_OK */
	int64_t version;    /* OUT */
};
struct store_job_step;
/* Applies ops in one transaction, each in its own savepoint (a failing op
 * writes nothing); with step, the job's progress commits with them, as for
 * store_user_batch. FD_OK even when ops failed (see each result); another
 * error means nothing was applied. */
enum fd_err store_device_batch(struct store *st, const struct store_actor *a, const char *org_id,
                               struct store_device_op *ops, size_t n, const struct store_job_step *step);

/* One interval energy reading: the interval starts at ts (Unix seconds). */
struct store_reading {
	int64_t ts;
	double kwh_in, kwh_out; /* consumed, produced */
};

/* One state report: state holds validated state fields (may be empty);
 * readings are stored or replace the reading at the same ts. */
struct store_report {
	const char *device_id;
	const char *user_id; /* NULL: any user of the org */
	int type;            /* -1: any type */
	json_t *state;
	const struct store_reading *readings;
	size_t nreadings;
	enum fd_err result; /* OUT: FD_OK, FD_ENOTFOUND, FD_ECONFLICT (deleted) */
};

/* Applies reports in one transaction; an item that fails (its result) writes
 * nothing. Derived consumption and staleness are recomputed for each device.
 * Audited: one record per device whose connection changed, and one
 * "device.report" record naming the counts. */
enum fd_err store_device_report(struct store *st, const struct store_actor *a, const char *org_id,
                                struct store_report *reports, size_t n);

/* Sums of a device's readings per period. resolution is "1DAY", "1WEEK"
 * (ISO weeks), "1MONTH", "1QUARTER" or "1YEAR"; [from_s, to_s) in Unix
 * seconds. *buckets: [{"start": s, "end": s, "consumption": kWh, "production": kWh}]. */
enum fd_err store_device_statistics(struct store *st, const char *org_id, const char *user_id, int type,
                                    const char *device_id, const char *resolution, int64_t from_s, int64_t to_s,
                                    json_t **buckets /* OUT */);

/* The fleet view across all users. -1 in a filter means "either". */
struct store_fleet_query {
	const char *org_id;
	int type;
	int authenticated, stale, optimization_active, needs_attention;
	const char *zip_code; /* the user's; NULL: any */
	const char *user_id;  /* one user's devices; NULL: every user's */
	int limit;
	int64_t after_seq; /* 0: from the start */
};
/* *items: devices with user_id and type; total counts every match. */
enum fd_err store_fleet_list(struct store *st, const struct store_fleet_query *q, json_t **items /* OUT */,
                             int *has_more /* OUT */, int64_t *last_seq /* OUT */, int64_t *total /* OUT */);
/* Live devices per type and condition: {"total", "needs_attention", "not_authenticated",
 * "stale", "optimization_off", "by_type": {...the same per type...}}. */
enum fd_err store_fleet_counts(struct store *st, const char *org_id, json_t **counts /* OUT */);

/* Every live device's consumption of the type over the last day (month = 0)
 * or month (month = 1), sorted ascending. *values is malloc'd. */
enum fd_err store_device_values(struct store *st, const char *org_id, int type, int month, double **values /* OUT */,
                                size_t *n /* OUT */);

/*
 * Seeds buildings, contracts, devices and readings for existing users
 * without per-row audit (demo and benchmark data); one "device.seed" audit
 * record names the counts. items: [{"external_user_id", "buildings": [fields],
 * "contracts": [fields], "devices": [{"type": 0..2, "fields": {...},
 * "readings": [[ts, kwh_in, kwh_out], ...]}]}]. A building_id of "#0" in a
 * contract or device means the item's first building.
 */
enum fd_err store_device_seed(struct store *st, const struct store_actor *a, const char *org_id, json_t *items);

/* Housekeeping (the server runs it every few seconds): marks devices that
 * stopped reporting as stale and refreshes consumption figures older than an
 * hour, at most batch devices per call. */
enum fd_err store_device_sweep(struct store *st, int64_t now_ms, int batch);

/* --- buildings and energy contracts (records of a user) --- */
enum store_record_kind { REC_BUILDING = 0, REC_CONTRACT = 1, REC_KINDS };

enum fd_err store_record_create(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int kind, json_t *fields, json_t **rec /* OUT */, int64_t *version /* OUT */);
enum fd_err store_record_get(struct store *st, const char *org_id, const char *user_id, int kind, const char *id,
                             json_t **rec /* OUT */, int64_t *version /* OUT */);
enum fd_err store_record_list(struct store *st, const char *org_id, const char *user_id, int kind,
                              json_t **recs /* OUT */);
enum fd_err store_record_update(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int kind, const char *id, json_t *patch, int64_t expect_version, json_t **rec /* OUT */,
                                int64_t *version /* OUT */);
/* Soft delete. FD_ECONFLICT while live devices or contracts refer to the building. */
enum fd_err store_record_delete(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int kind, const char *id, int64_t expect_version);

/* --- self-service onboarding sessions --- */
/* request: the validated session request (type, building_id, urls, language,
 * device_id for a re-authentication). Only secret_hash is stored. */
enum fd_err store_onboarding_create(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, json_t *request, const char *secret_hash, int64_t expires_ms,
                                    json_t **session /* OUT */);
/* The session for a link's secret, FD_ENOTFOUND if none: {"id", "org_id",
 * "user_id", "request", "expires_ms", "used_at", "device_id", "created_at"}.
 * The caller tells used and expired sessions by used_at and expires_ms. */
enum fd_err store_onboarding_find(struct store *st, const char *secret_hash, json_t **session /* OUT */);
/* Uses the session once, atomically: creates the device (fields) or, for a
 * re-authentication, sets fields on request.device_id. FD_ECONFLICT when the
 * session was used already or has expired at now_ms; FD_EINVALID when its
 * user or building has been deleted since; FD_ETOOLARGE when the user has
 * the most devices of the type. cancel: marks it used and changes nothing
 * else. *device_id OUT (FD_UUID_LEN + 1) unless cancel. */
enum fd_err store_onboarding_complete(struct store *st, const char *secret_hash, int64_t now_ms, int cancel,
                                      json_t *fields, char *device_id /* OUT */);

/* --- migration --- */
/* Creates a user from new_user (validated user fields), moves every
 * building, device and energy contract of old_user_id to it, verifies the
 * move, clears the old user's email and external_user_id and archives it
 * (soft delete), all in one transaction. *report: {"old_user_id",
 * "new_user_id", "before", "after", "verified"}. conflict_field as for
 * store_user_create. */
enum fd_err store_user_migrate(struct store *st, const struct store_actor *a, const char *org_id,
                               const char *old_user_id, int64_t expect_version, json_t *new_user,
                               json_t **report /* OUT */, const char **conflict_field /* OUT */);

/* --- idempotency keys ---
 * An entry is keyed by an opaque id and holds the request's fingerprint and,
 * once done, the reply as an opaque (sealed) blob: the HTTP layer derives
 * the id and seals the reply with the caller's key, so the store holds
 * nothing readable without the key. */
struct store_idem {
	char fingerprint[65];
	char owner[33];       /* the process that claimed it */
	int done;             /* the reply is stored */
	unsigned char *reply; /* when done: the blob, malloc'd, the caller frees it */
	size_t reply_len;
	int64_t created_ms;
};
/* Claims id for a request at now_ms. FD_ECONFLICT when an entry younger than
 * ttl_ms exists: *prev describes it. An older entry is replaced. */
enum fd_err store_idem_claim(struct store *st, const char *id, const char *fingerprint, const char *owner,
                             int64_t now_ms, int64_t ttl_ms, struct store_idem *prev /* OUT */);
/* Stores the reply of a claimed id and marks it done. */
enum fd_err store_idem_finish(struct store *st, const char *id, const void *reply, size_t len);
/* Forgets a claim: the request changed nothing, so a retry runs it again. */
enum fd_err store_idem_release(struct store *st, const char *id);
/* Deletes at most batch entries created before before_ms. */
enum fd_err store_idem_sweep(struct store *st, int64_t before_ms, int batch);

/* --- background jobs ---
 * A job is {"id", "org_id", "kind", "state", "params", "actor", "total",
 * "processed", "succeeded", "failed", "cursor", "error", "cancel_requested",
 * "created_at", "started_at", "finished_at", "updated_at", "version", "seq",
 * "stored_errors"}. state: queued, running, succeeded, failed, cancelled.
 * version grows with every change. A job's work and its progress commit in
 * one transaction (a step), so a job resumed after a crash continues from
 * its cursor and applies nothing twice. */

/* At most this many failed rows of a job are kept (the rest are counted). */
#define STORE_JOB_ERRORS_MAX 100000

/* One batch of a job's progress: added to its counts in the transaction
 * of the batch's work. */
struct store_job_step {
	const char *job_id;
	const char *cursor; /* JSON text: where the next batch starts */
	int64_t processed, succeeded, failed;
	int64_t total;  /* < 0: unchanged */
	json_t *errors; /* [{"line", "row" (text or null), "error" (object)}], borrowed, may be NULL */
	/* called by store_user_batch after its ops ran and before the step is
	 * written, to add their outcomes to the counts and errors; may be NULL */
	void (*settle)(void *ctx, struct store_job_step *step);
	void *ctx;
};

/* actor: what the worker needs to act for its creator (borrowed, stored). */
enum fd_err store_job_create(struct store *st, const struct store_actor *a, const char *org_id, const char *kind,
                             json_t *params, json_t *actor, int64_t total, json_t **job /* OUT */);
/* org_id NULL: any org's (the workers). */
enum fd_err store_job_get(struct store *st, const char *org_id, const char *job_id, json_t **job /* OUT */);
/* Newest first, before before_seq (0: from the newest). */
enum fd_err store_job_list(struct store *st, const char *org_id, int limit, int64_t before_seq, json_t **jobs /* OUT */,
                           int *has_more /* OUT */, int64_t *last_seq /* OUT */);
/* The oldest queued or running job whose id is not in busy (an array of
 * ids), marked running. FD_ENOTFOUND when there is none. */
enum fd_err store_job_next(struct store *st, json_t *busy, json_t **job /* OUT */);
/* A step with no other work in its transaction (an export's page). */
enum fd_err store_job_progress(struct store *st, const struct store_job_step *step);
/* Ends a queued or running job: state succeeded, failed or cancelled. */
enum fd_err store_job_finish(struct store *st, const char *job_id, const char *state, const char *error);
/* Cancels a queued job at once; asks a running one to stop after its batch. Audited. */
enum fd_err store_job_cancel(struct store *st, const struct store_actor *a, const char *org_id, const char *job_id,
                             json_t **job /* OUT */);
/* Kept failed rows after line, in line order: [{"line", "row", "error"}]. */
enum fd_err store_job_errors(struct store *st, const char *job_id, int64_t after_line, int limit,
                             json_t **items /* OUT */);

/* --- audit log --- */
struct store_audit_query {
	const char *org_id;
	const char *target_type, *target_id, *actor_id, *action; /* NULL: any */
	const char *from, *to; /* normalised RFC 3339 (util_format_rfc3339), NULL: open */
	int limit;
	int64_t before_id; /* 0: from the newest */
};
enum fd_err store_audit_list(struct store *st, const struct store_audit_query *q, json_t **items /* OUT */,
                             int *has_more /* OUT */, int64_t *last_id /* OUT */);

#endif
