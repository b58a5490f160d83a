/*
 * sqlite_team.c - the SQLite side of the team: staff accounts, their
 * sign-in sessions and invites.
 *
 * Sessions and invites are stored by the SHA-256 of their token only.
 * Session times are milliseconds, so expiry is simple arithmetic; the
 * session's expiry rules themselves live in auth/session.c.
 */
#include <stdio.h>
#include <string.h>

#include "store/sqlite_int.h"

static const char SQL_STAFF_INSERT[] = "INSERT INTO staff (id, org_id, email, role, password_hash, created_at, "
                                       "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";
static const char SQL_STAFF_LIST[] = "SELECT id, org_id, email, role, created_at, updated_at, deactivated_at "
                                     "FROM staff WHERE org_id = ?1 ORDER BY created_at, id";
static const char SQL_STAFF_GET[] = "SELECT id, org_id, email, role, created_at, updated_at, deactivated_at "
                                    "FROM staff WHERE org_id = ?1 AND id = ?2";
static const char SQL_STAFF_FIND[] =
    "SELECT id, org_id, email, role, ifnull(password_hash, ''), deactivated_at IS NULL FROM staff WHERE email = ?1";
static const char SQL_STAFF_EMAIL_TAKEN[] = "SELECT 1 FROM staff WHERE email = ?1";
static const char SQL_STAFF_OTHER_ADMINS[] = "SELECT count(*) FROM staff WHERE org_id = ?1 AND id != ?2 AND "
                                             "role = 'admin' AND deactivated_at IS NULL";
static const char SQL_STAFF_SET[] =
    "UPDATE staff SET role = ?3, deactivated_at = ?4, updated_at = ?5 WHERE org_id = ?1 AND id = ?2";

static const char SQL_SESSION_INSERT[] = "INSERT INTO sessions (id, token_hash, staff_id, created_ms, seen_ms, "
                                         "expires_ms) VALUES (?1, ?2, ?3, ?4, ?4, ?5)";
static const char SQL_SESSION_LOOKUP[] =
    "SELECT se.id, se.staff_id, st.org_id, st.email, st.role, o.name, se.created_ms, se.seen_ms, se.expires_ms "
    "FROM sessions se JOIN staff st ON st.id = se.staff_id JOIN orgs o ON o.id = st.org_id "
    "WHERE se.token_hash = ?1 AND se.ended_ms IS NULL AND st.deactivated_at IS NULL";
static const char SQL_SESSION_TOUCH[] = "UPDATE sessions SET seen_ms = ?2 WHERE id = ?1 AND seen_ms < ?2";
static const char SQL_SESSION_END[] = "UPDATE sessions SET ended_ms = ?2 WHERE id = ?1 AND ended_ms IS NULL";
static const char SQL_SESSION_END_STAFF[] =
    "UPDATE sessions SET ended_ms = ?2 WHERE staff_id = ?1 AND ended_ms IS NULL";
static const char SQL_SESSION_SWEEP[] = "DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions "
                                        "WHERE expires_ms < ?1 OR ended_ms < ?1 LIMIT ?2)";

static const char SQL_INVITE_INSERT[] = "INSERT INTO invites (id, org_id, email, role, token_hash, created_by, "
                                        "created_at, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_INVITE_SUPERSEDE[] = "UPDATE invites SET revoked_at = ?3 WHERE org_id = ?1 AND email = ?2 "
                                           "AND used_at IS NULL AND revoked_at IS NULL";
static const char SQL_INVITE_LIST[] = "SELECT id, email, role, created_at, expires_ms, created_by FROM invites "
                                      "WHERE org_id = ?1 AND used_at IS NULL AND revoked_at IS NULL AND "
                                      "expires_ms > ?2 ORDER BY created_at, id";
static const char SQL_INVITE_REVOKE[] = "UPDATE invites SET revoked_at = ?3 WHERE org_id = ?1 AND id = ?2 AND "
                                        "used_at IS NULL AND revoked_at IS NULL";
static const char SQL_INVITE_FIND[] =
    "SELECT i.id, i.org_id, o.name, i.email, i.role, i.expires_ms FROM invites i JOIN orgs o ON o.id = i.org_id "
    "WHERE i.token_hash = ?1 AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_ms > ?2";
static const char SQL_INVITE_USE[] = "UPDATE invites SET used_at = ?2 WHERE id = ?1";

static json_t *time_of_ms(int64_t ms)
{
	char t[FD_TIME_LEN + 1];
	util_format_rfc3339(ms, t);
	return json_string(t);
}

/* Runs the prepared statement sql with text parameters (NULL binds NULL);
 * FD_ENOTFOUND when it changed no row and must_change is set. */
static enum fd_err exec_text(struct conn *c, const char *sql, int must_change, int n, const char *const *v)
{
	sqlite3_stmt *s = sq_prep(c, sql);
	if (!s)
		return FD_EIO;
	for (int i = 0; i < n; i++)
		sq_bind_text(s, i + 1, v[i]);
	enum fd_err rc = sq_step_write(s);
	if (rc == FD_OK && must_change && sqlite3_changes(sq_db(c)) == 0)
		rc = FD_ENOTFOUND;
	return rc;
}

/* FD_OK when no account has email, FD_ECONFLICT when one has. */
static enum fd_err email_free(struct conn *c, const char *email)
{
	sqlite3_stmt *s = sq_prep(c, SQL_STAFF_EMAIL_TAKEN);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, email);
	int r = sqlite3_step(s);
	sq_done(s);
	return r == SQLITE_ROW ? FD_ECONFLICT : r == SQLITE_DONE ? FD_OK : sq_map_rc(r);
}

static json_t *staff_from_stmt(sqlite3_stmt *s)
{
	static const char *const cols[] = {"id",         "org_id",     "email",         "role",
	                                   "created_at", "updated_at", "deactivated_at"};
	json_t *o = json_object();
	for (int i = 0; o && i < 7; i++)
		json_object_set_new(o, cols[i], sq_col_str(s, i));
	return o;
}

/* The org's staff member as JSON (FD_ENOTFOUND when not the org's). */
static enum fd_err staff_get(struct conn *c, const char *org_id, const char *staff_id, json_t **out)
{
	sqlite3_stmt *s = sq_prep(c, SQL_STAFF_GET);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	sq_bind_text(s, 2, staff_id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*out = staff_from_stmt(s);
	sq_done(s);
	if (r == SQLITE_ROW)
		return *out ? FD_OK : FD_ENOMEM;
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

/* Inserts a staff account and audits it inside the caller's transaction. */
static enum fd_err staff_insert(struct conn *c, const struct store_actor *a, const char *org_id, const char *email,
                                const char *role, const char *password_hash, const char *invite_id, const char *now,
                                char id[FD_UUID_LEN + 1])
{
	enum fd_err rc = email_free(c, email);
	if (rc != FD_OK)
		return rc;
	util_uuid(id);
	sqlite3_stmt *s = sq_prep(c, SQL_STAFF_INSERT);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sq_bind_text(s, 3, email);
	sq_bind_text(s, 4, role);
	sq_bind_text(s, 5, password_hash);
	sq_bind_text(s, 6, now);
	rc = sq_step_write(s);
	if (rc != FD_OK)
		return rc;
	json_t *changes = json_pack("{s{snss}s{snss}s{snsb}}", "email", "before", "after", email, "role", "before",
	                            "after", role, "password_set", "before", "after", password_hash != NULL);
	if (changes && invite_id)
		json_object_set_new(changes, "invite_id", json_pack("{snss}", "before", "after", invite_id));
	rc = sq_audit(c, a, org_id, now, "staff.create", "staff", id, changes);
	json_decref(changes);
	return rc;
}

static enum fd_err sq_staff_create(struct store *st, const struct store_actor *a, const char *org_id, const char *email,
                                   const char *role, const char *password_hash, json_t **staff)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_tx_end(c, staff_insert(c, a, org_id, email, role, password_hash, NULL, now, id));
	if (rc == FD_OK && staff)
		*staff = json_pack("{sssssssssssssn}", "id", id, "org_id", org_id, "email", email, "role", role,
		                   "created_at", now, "updated_at", now, "deactivated_at");
	return rc;
}

static enum fd_err sq_staff_list(struct store *st, const char *org_id, json_t **list)
{
	struct conn *c = sq_get(st);
	sqlite3_stmt *s = c ? sq_prep(c, SQL_STAFF_LIST) : NULL;
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	json_t *arr = json_array();
	int r;
	while (arr && (r = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, staff_from_stmt(s));
	sq_done(s);
	if (!arr)
		return FD_ENOMEM;
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*list = arr;
	return FD_OK;
}

static enum fd_err sq_staff_find(struct store *st, const char *email, struct store_staff *out)
{
	struct conn *c = sq_get(st);
	sqlite3_stmt *s = c ? sq_prep(c, SQL_STAFF_FIND) : NULL;
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, email);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		sq_copy_col(out->id, sizeof out->id, s, 0);
		sq_copy_col(out->org_id, sizeof out->org_id, s, 1);
		sq_copy_col(out->email, sizeof out->email, s, 2);
		sq_copy_col(out->role, sizeof out->role, s, 3);
		sq_copy_col(out->password_hash, sizeof out->password_hash, s, 4);
		out->active = sqlite3_column_int(s, 5);
	}
	sq_done(s);
	if (r == SQLITE_ROW)
		return FD_OK;
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

static enum fd_err staff_update_tx(struct conn *c, const struct store_actor *a, const char *org_id,
                                   const char *staff_id, const char *role, int deactivate, const char *now,
                                   json_t **out)
{
	json_t *before = NULL;
	enum fd_err rc = staff_get(c, org_id, staff_id, &before);
	if (rc != FD_OK)
		return rc;
	const char *old_role = json_string_value(json_object_get(before, "role"));
	const char *old_off = json_string_value(json_object_get(before, "deactivated_at"));
	const char *new_role = role ? role : old_role;
	const char *new_off = deactivate < 0 ? old_off : deactivate ? (old_off ? old_off : now) : NULL;
	int was_admin = strcmp(old_role, "admin") == 0 && !old_off;
	int is_admin = strcmp(new_role, "admin") == 0 && !new_off;
	if (was_admin && !is_admin) {
		sqlite3_stmt *s = sq_prep(c, SQL_STAFF_OTHER_ADMINS);
		if (!s) {
			json_decref(before);
			return FD_EIO;
		}
		sq_bind_text(s, 1, org_id);
		sq_bind_text(s, 2, staff_id);
		int r = sqlite3_step(s);
		int64_t others = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
		sq_done(s);
		if (others == 0)
			rc = FD_ECONFLICT; /* the org would have no active admin */
		else if (others < 0)
			rc = sq_map_rc(r);
	}
	int changed = strcmp(new_role, old_role) != 0 || (new_off == NULL) != (old_off == NULL);
	if (rc == FD_OK && changed)
		rc = exec_text(c, SQL_STAFF_SET, 1, 5, (const char *const[]){org_id, staff_id, new_role, new_off, now});
	if (rc == FD_OK && changed && new_off && !old_off) {
		char ms[24];
		snprintf(ms, sizeof ms, "%lld", (long long)util_now_ms());
		rc = exec_text(c, SQL_SESSION_END_STAFF, 0, 2, (const char *const[]){staff_id, ms});
	}
	if (rc == FD_OK && changed) {
		json_t *changes = json_object();
		if (strcmp(new_role, old_role) != 0)
			json_object_set_new(changes, "role",
			                    json_pack("{ssss}", "before", old_role, "after", new_role));
		if ((new_off == NULL) != (old_off == NULL))
			json_object_set_new(changes, "deactivated_at",
			                    json_pack("{ss?ss?}", "before", old_off, "after", new_off));
		rc = sq_audit(c, a, org_id, now, new_off && !old_off ? "staff.deactivate" : "staff.update", "staff",
		              staff_id, changes);
		json_decref(changes);
	}
	json_decref(before);
	if (rc == FD_OK)
		rc = staff_get(c, org_id, staff_id, out);
	return rc;
}

static enum fd_err sq_staff_update(struct store *st, const struct store_actor *a, const char *org_id,
                                   const char *staff_id, const char *role, int deactivate, json_t **staff)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	json_t *out = NULL;
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_tx_end(c, staff_update_tx(c, a, org_id, staff_id, role, deactivate, now, &out));
	if (rc == FD_OK && staff)
		*staff = out;
	else
		json_decref(out);
	return rc;
}

/* ---------------------------------------------------------------- sessions */

static enum fd_err sq_session_create(struct store *st, const struct store_actor *a, const struct store_staff *who,
                                     const char *token_hash, int64_t now_ms, int64_t expires_ms,
                                     char id[FD_UUID_LEN + 1])
{
	char now[FD_TIME_LEN + 1];
	util_format_rfc3339(now_ms, now);
	util_uuid(id);
	struct conn *c;
	sqlite3_stmt *s;
	enum fd_err rc = sq_tx_prep(st, SQL_SESSION_INSERT, &c, &s);
	if (rc != FD_OK)
		return rc;
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, token_hash);
	sq_bind_text(s, 3, who->id);
	sqlite3_bind_int64(s, 4, now_ms);
	sqlite3_bind_int64(s, 5, expires_ms);
	rc = sq_step_write(s);
	if (rc == FD_OK) {
		json_t *changes = json_pack("{s{snss}}", "session_id", "before", "after", id);
		rc = sq_audit(c, a, who->org_id, now, "staff.sign_in", "staff", who->id, changes);
		json_decref(changes);
	}
	return sq_tx_end(c, rc);
}

static enum fd_err sq_session_lookup(struct store *st, const char *token_hash, struct store_session *out)
{
	struct conn *c = sq_get(st);
	sqlite3_stmt *s = c ? sq_prep(c, SQL_SESSION_LOOKUP) : NULL;
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, token_hash);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		sq_copy_col(out->id, sizeof out->id, s, 0);
		sq_copy_col(out->staff_id, sizeof out->staff_id, s, 1);
		sq_copy_col(out->org_id, sizeof out->org_id, s, 2);
		sq_copy_col(out->email, sizeof out->email, s, 3);
		sq_copy_col(out->role, sizeof out->role, s, 4);
		sq_copy_col(out->org_name, sizeof out->org_name, s, 5);
		out->created_ms = sqlite3_column_int64(s, 6);
		out->seen_ms = sqlite3_column_int64(s, 7);
		out->expires_ms = sqlite3_column_int64(s, 8);
	}
	sq_done(s);
	if (r == SQLITE_ROW)
		return FD_OK;
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

static enum fd_err sq_session_touch(struct store *st, const char *session_id, int64_t now_ms)
{
	struct conn *c;
	sqlite3_stmt *s;
	enum fd_err rc = sq_tx_prep(st, SQL_SESSION_TOUCH, &c, &s);
	if (rc != FD_OK)
		return rc;
	sq_bind_text(s, 1, session_id);
	sqlite3_bind_int64(s, 2, now_ms);
	return sq_tx_end(c, sq_step_write(s));
}

static enum fd_err sq_session_end(struct store *st, const struct store_actor *a, const struct store_session *se)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1], ms[24];
	int64_t now_ms = util_now_ms();
	util_format_rfc3339(now_ms, now);
	snprintf(ms, sizeof ms, "%lld", (long long)now_ms);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = exec_text(c, SQL_SESSION_END, 1, 2, (const char *const[]){se->id, ms});
	if (rc == FD_OK) {
		json_t *changes = json_pack("{s{snss}}", "session_id", "before", "after", se->id);
		rc = sq_audit(c, a, se->org_id, now, "staff.sign_out", "staff", se->staff_id, changes);
		json_decref(changes);
	}
	return sq_tx_end(c, rc);
}

static enum fd_err sq_session_sweep(struct store *st, int64_t before_ms, int limit)
{
	struct conn *c;
	sqlite3_stmt *s;
	enum fd_err rc = sq_tx_prep(st, SQL_SESSION_SWEEP, &c, &s);
	if (rc != FD_OK)
		return rc;
	sqlite3_bind_int64(s, 1, before_ms);
	sqlite3_bind_int64(s, 2, limit);
	return sq_tx_end(c, sq_step_write(s));
}

/* ---------------------------------------------------------------- invites */

static enum fd_err invite_create_tx(struct conn *c, const struct store_actor *a, const char *org_id, const char *email,
                                    const char *role, const char *token_hash, int64_t expires_ms, const char *now,
                                    const char *id)
{
	enum fd_err rc = email_free(c, email);
	if (rc == FD_OK) /* a new invite replaces an open one for the same address */
		rc = exec_text(c, SQL_INVITE_SUPERSEDE, 0, 3, (const char *const[]){org_id, email, now});
	sqlite3_stmt *s = rc == FD_OK ? sq_prep(c, SQL_INVITE_INSERT) : NULL;
	if (rc != FD_OK || !s)
		return rc != FD_OK ? rc : FD_EIO;
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sq_bind_text(s, 3, email);
	sq_bind_text(s, 4, role);
	sq_bind_text(s, 5, token_hash);
	sq_bind_text(s, 6, a->id);
	sq_bind_text(s, 7, now);
	sqlite3_bind_int64(s, 8, expires_ms);
	rc = sq_step_write(s);
	if (rc != FD_OK)
		return rc;
	json_t *changes = json_pack("{s{snss}s{snss}s{snso}}", "email", "before", "after", email, "role", "before",
	                            "after", role, "expires_at", "before", "after", time_of_ms(expires_ms));
	rc = sq_audit(c, a, org_id, now, "invite.create", "invite", id, changes);
	json_decref(changes);
	return rc;
}

static enum fd_err sq_invite_create(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *email, const char *role, const char *token_hash, int64_t expires_ms,
                                    json_t **invite)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	util_uuid(id);
	util_now_rfc3339(now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_tx_end(c, invite_create_tx(c, a, org_id, email, role, token_hash, expires_ms, now, id));
	if (rc == FD_OK && invite)
		*invite = json_pack("{sssssssssoss}", "id", id, "email", email, "role", role, "created_at", now,
		                    "expires_at", time_of_ms(expires_ms), "created_by", a->id);
	return rc;
}

static enum fd_err sq_invite_list(struct store *st, const char *org_id, int64_t now_ms, json_t **list)
{
	struct conn *c = sq_get(st);
	sqlite3_stmt *s = c ? sq_prep(c, SQL_INVITE_LIST) : NULL;
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	sqlite3_bind_int64(s, 2, now_ms);
	json_t *arr = json_array();
	int r;
	while (arr && (r = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(
		    arr, json_pack("{sosososososo}", "id", sq_col_str(s, 0), "email", sq_col_str(s, 1), "role",
		                   sq_col_str(s, 2), "created_at", sq_col_str(s, 3), "expires_at",
		                   time_of_ms(sqlite3_column_int64(s, 4)), "created_by", sq_col_str(s, 5)));
	sq_done(s);
	if (!arr)
		return FD_ENOMEM;
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*list = arr;
	return FD_OK;
}

static enum fd_err sq_invite_revoke(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *invite_id)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = exec_text(c, SQL_INVITE_REVOKE, 1, 3, (const char *const[]){org_id, invite_id, now});
	if (rc == FD_OK) {
		json_t *changes = json_pack("{s{snss}}", "revoked_at", "before", "after", now);
		rc = sq_audit(c, a, org_id, now, "invite.revoke", "invite", invite_id, changes);
		json_decref(changes);
	}
	return sq_tx_end(c, rc);
}

/* The open invite with token_hash: {"id","org_id","org_name","email","role","expires_at"}. */
static enum fd_err invite_find(struct conn *c, const char *token_hash, int64_t now_ms, json_t **out)
{
	sqlite3_stmt *s = sq_prep(c, SQL_INVITE_FIND);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, token_hash);
	sqlite3_bind_int64(s, 2, now_ms);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*out = json_pack("{sosososososo}", "id", sq_col_str(s, 0), "org_id", sq_col_str(s, 1), "org_name",
		                 sq_col_str(s, 2), "email", sq_col_str(s, 3), "role", sq_col_str(s, 4), "expires_at",
		                 time_of_ms(sqlite3_column_int64(s, 5)));
	sq_done(s);
	if (r == SQLITE_ROW)
		return *out ? FD_OK : FD_ENOMEM;
	return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
}

static enum fd_err sq_invite_find(struct store *st, const char *token_hash, int64_t now_ms, json_t **invite)
{
	struct conn *c = sq_get(st);
	return c ? invite_find(c, token_hash, now_ms, invite) : FD_EIO;
}

static enum fd_err invite_accept_tx(struct conn *c, const char *token_hash, int64_t now_ms, const char *password_hash,
                                    const char *request_id, json_t **staff)
{
	json_t *inv = NULL;
	enum fd_err rc = invite_find(c, token_hash, now_ms, &inv);
	if (rc != FD_OK)
		return rc;
	const char *invite_id = json_string_value(json_object_get(inv, "id"));
	const char *org_id = json_string_value(json_object_get(inv, "org_id"));
	const char *email = json_string_value(json_object_get(inv, "email"));
	const char *role = json_string_value(json_object_get(inv, "role"));
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	util_format_rfc3339(now_ms, now);
	struct store_actor a = {.type = "invite", .id = invite_id, .name = email, .request_id = request_id};
	rc = staff_insert(c, &a, org_id, email, role, password_hash, invite_id, now, id);
	if (rc == FD_OK)
		rc = exec_text(c, SQL_INVITE_USE, 1, 2, (const char *const[]){invite_id, now});
	if (rc == FD_OK)
		rc = staff_get(c, org_id, id, staff);
	json_decref(inv);
	return rc;
}

static enum fd_err sq_invite_accept(struct store *st, const char *token_hash, int64_t now_ms, const char *password_hash,
                                    const char *request_id, json_t **staff)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	json_t *out = NULL;
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_tx_end(c, invite_accept_tx(c, token_hash, now_ms, password_hash, request_id, &out));
	if (rc == FD_OK)
		*staff = out;
	else
		json_decref(out);
	return rc;
}

const struct store_team_ops store_sqlite_team_ops = {
    .staff_create = sq_staff_create,
    .staff_list = sq_staff_list,
    .staff_find = sq_staff_find,
    .staff_update = sq_staff_update,
    .session_create = sq_session_create,
    .session_lookup = sq_session_lookup,
    .session_touch = sq_session_touch,
    .session_end = sq_session_end,
    .session_sweep = sq_session_sweep,
    .invite_create = sq_invite_create,
    .invite_list = sq_invite_list,
    .invite_revoke = sq_invite_revoke,
    .invite_find = sq_invite_find,
    .invite_accept = sq_invite_accept,
};
