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
	enum store_user_sort sort;
	int desc;
	int limit; /* 1..1000 */
	/* keyset position: rows strictly after (after_key, after_seq) in sort order */
	int has_after;
	const char *after_key; /* the sort key of the last row seen (unused for created) */
	int64_t after_seq;
};

/* One page of users. */
struct store_user_page {
	char *items_json; /* the JSON array of user objects, malloc'd, owned by the caller */
	size_t items_len;
	int64_t total; /* all rows matching the filters */
	int has_more;
	char *last_key; /* malloc'd sort key of the last row, NULL for created */
	int64_t last_seq;
};

void store_user_page_release(struct store_user_page *p);

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
/* Inserts many users at once without per-row audit (demo and benchmark seeding);
 * one audit record "user.seed" names the count. */
enum fd_err store_user_seed(struct store *st, const struct store_actor *a, const char *org_id,
                            json_t *users /* array of field objects */);

/* Reorganises indexes after a bulk load (merges the search index's
 * segments), so later searches read fewer, larger runs. May take seconds. */
enum fd_err store_optimize(struct store *st);

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
