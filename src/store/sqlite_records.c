/*
 * sqlite_records.c - buildings and energy contracts ("records" of a user)
 * and the one-transaction user migration, for the SQLite backend.
 *
 * A record keeps its fields as one JSON object (attrs): nothing filters on
 * them but the owner, and a user has a handful. Contracts point at a
 * building of the same user through attrs.building_id.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

static const char *const kind_names[REC_KINDS] = {"building", "energy_contract"};

#define REC_COLS "r.seq, r.id, u.id, r.attrs, r.created_at, r.updated_at, r.deleted_at, r.version, r.user_seq"
enum { R_SEQ, R_ID, R_USER, R_ATTRS, R_CREATED, R_UPDATED, R_DELETED, R_VERSION, R_USER_SEQ };

static const char SQL_REC_GET[] = "SELECT " REC_COLS " FROM records r JOIN users u ON u.seq = r.user_seq "
                                  "WHERE r.id = ?1 AND r.org_id = ?2 AND r.kind = ?3 AND u.id = ?4";
static const char SQL_REC_LIST[] = "SELECT " REC_COLS " FROM records r JOIN users u ON u.seq = r.user_seq "
                                   "WHERE r.user_seq = ?1 AND r.kind = ?2 AND r.deleted_at IS NULL ORDER BY r.seq";
static const char SQL_REC_INSERT[] = "INSERT INTO records (id, org_id, user_seq, kind, attrs, created_at, updated_at) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";
static const char SQL_REC_UPDATE[] =
    "UPDATE records SET attrs = ?2, updated_at = ?3, version = version + 1 WHERE seq = ?1";
static const char SQL_REC_DELETE[] =
    "UPDATE records SET deleted_at = ?2, updated_at = ?2, version = version + 1 WHERE seq = ?1";
static const char SQL_REC_COUNT[] =
    "SELECT count(*) FROM records WHERE user_seq = ?1 AND kind = ?2 AND deleted_at IS NULL";
static const char SQL_BUILDING_OF[] =
    "SELECT 1 FROM records WHERE id = ?1 AND user_seq = ?2 AND kind = 0 AND deleted_at IS NULL";
static const char SQL_BUILDING_USERS[] =
    "SELECT (SELECT count(*) FROM devices WHERE building_id = ?1 AND deleted_at IS NULL), "
    "(SELECT count(*) FROM records WHERE user_seq = ?2 AND kind = 1 AND deleted_at IS NULL "
    "AND json_extract(attrs, '$.building_id') = ?1)";
static const char SQL_ERASE_BUILDINGS[] =
    "UPDATE records SET attrs = json_remove(attrs, '$.name', '$.street_and_number', '$.zip_code', '$.town'), "
    "version = version + 1 WHERE user_seq = ?1 AND kind = 0";
static const char SQL_ERASE_CONTRACTS[] =
    "UPDATE records SET attrs = json_remove(attrs, '$.meter_id'), version = version + 1 "
    "WHERE user_seq = ?1 AND kind = 1";
static const char SQL_ERASE_DEVICES[] =
    "UPDATE devices SET attrs = json_remove(attrs, '$.comment', '$.external_device_id'), version = version + 1 "
    "WHERE user_seq = ?1";
static const char SQL_ERASE_AUDIT[] =
    "UPDATE audit SET changes = (SELECT json_group_object(key, json('{\"erased\":true}')) FROM json_each(audit.changes)) "
    "WHERE org_id = ?1 AND target_type IN ('building', 'energy_contract', 'device') AND changes IS NOT NULL "
    "AND target_id IN (SELECT id FROM records WHERE user_seq = ?2 UNION ALL SELECT id FROM devices WHERE user_seq = ?2)";

static json_t *rec_from_stmt(sqlite3_stmt *s)
{
	const char *attrs = (const char *)sqlite3_column_text(s, R_ATTRS);
	json_t *r = attrs ? json_loads(attrs, 0, NULL) : NULL;
	if (!json_is_object(r)) {
		json_decref(r);
		r = json_object();
		if (!r)
			return NULL;
	}
	json_object_set_new(r, "id", sq_col_str(s, R_ID));
	json_object_set_new(r, "user_id", sq_col_str(s, R_USER));
	json_object_set_new(r, "created_at", sq_col_str(s, R_CREATED));
	json_object_set_new(r, "updated_at", sq_col_str(s, R_UPDATED));
	json_object_set_new(r, "deleted_at", sq_col_str(s, R_DELETED));
	return r;
}

struct rec_row {
	int64_t seq, version, user_seq;
	int deleted;
	json_t *obj;
};

static enum fd_err rec_read(struct conn *c, const char *org_id, const char *user_id, int kind, const char *id,
                            struct rec_row *row)
{
	sqlite3_stmt *s = sq_prep(c, SQL_REC_GET);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sqlite3_bind_int(s, 3, kind);
	sq_bind_text(s, 4, user_id);
	int r = sqlite3_step(s);
	if (r != SQLITE_ROW) {
		sq_done(s);
		return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
	}
	row->seq = sqlite3_column_int64(s, R_SEQ);
	row->version = sqlite3_column_int64(s, R_VERSION);
	row->user_seq = sqlite3_column_int64(s, R_USER_SEQ);
	row->deleted = sqlite3_column_type(s, R_DELETED) != SQLITE_NULL;
	row->obj = rec_from_stmt(s);
	sq_done(s);
	return row->obj ? FD_OK : FD_ENOMEM;
}

static const char *const own_fields[] = {"id", "user_id", "created_at", "updated_at", "deleted_at", NULL};

static char *attrs_text(json_t *rec)
{
	json_t *a = json_deep_copy(rec);
	for (const char *const *k = own_fields; a && *k; k++)
		json_object_del(a, *k);
	char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return t;
}

enum fd_err sq_building_live(struct conn *c, const char *building_id, int64_t user_seq)
{
	if (!building_id)
		return FD_OK;
	sqlite3_stmt *s = sq_prep(c, SQL_BUILDING_OF);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, building_id);
	sqlite3_bind_int64(s, 2, user_seq);
	int r = sqlite3_step(s);
	sq_done(s);
	return r == SQLITE_ROW ? FD_OK : r == SQLITE_DONE ? FD_EINVALID : sq_map_rc(r);
}

/* FD_EINVALID unless a contract's building_id (if any) is a live building of the user. */
static enum fd_err check_building(struct conn *c, int kind, json_t *fields, int64_t user_seq)
{
	if (kind != REC_CONTRACT)
		return FD_OK;
	return sq_building_live(c, json_string_value(json_object_get(fields, "building_id")), user_seq);
}

static void action_name(char *out, size_t n, int kind, const char *verb)
{
	snprintf(out, n, "%s.%s", kind_names[kind], verb);
}

static enum fd_err sq_record_create(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, int kind, json_t *fields, json_t **rec, int64_t *version)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1], action[40];
	util_uuid(id);
	util_now_rfc3339(now);
	int64_t user_seq;
	int deleted = 0;
	struct rec_row row = {0};
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_user_seq(c, org_id, user_id, &user_seq, &deleted);
	if (rc == FD_OK && deleted)
		rc = FD_ECONFLICT;
	if (rc == FD_OK)
		rc = sq_room(c, SQL_REC_COUNT, user_seq, kind);
	if (rc == FD_OK)
		rc = check_building(c, kind, fields, user_seq);
	sqlite3_stmt *s = rc == FD_OK ? sq_prep(c, SQL_REC_INSERT) : NULL;
	char *attrs = rc == FD_OK ? attrs_text(fields) : NULL;
	if (rc == FD_OK && (!s || !attrs))
		rc = s ? FD_ENOMEM : FD_EIO;
	if (rc != FD_OK) {
		free(attrs);
		goto out;
	}
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sqlite3_bind_int64(s, 3, user_seq);
	sqlite3_bind_int(s, 4, kind);
	sqlite3_bind_text(s, 5, attrs, -1, free);
	sq_bind_text(s, 6, now);
	rc = sq_step_write(s);
	if (rc == FD_OK)
		rc = rec_read(c, org_id, user_id, kind, id, &row);
	if (rc == FD_OK) {
		json_t *changes = sq_diff(NULL, row.obj, fields);
		action_name(action, sizeof action, kind, "create");
		rc = sq_audit(c, a, org_id, now, action, kind_names[kind], id, changes);
		json_decref(changes);
	}
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
out:
	if (rc != FD_OK) {
		sq_tx_rollback(c);
		json_decref(row.obj);
		return rc;
	}
	*rec = row.obj;
	*version = row.version;
	return FD_OK;
}

static enum fd_err sq_record_get(struct store *st, const char *org_id, const char *user_id, int kind, const char *id,
                                 json_t **rec, int64_t *version)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	struct rec_row row = {0};
	enum fd_err rc = rec_read(c, org_id, user_id, kind, id, &row);
	if (rc != FD_OK)
		return rc;
	*rec = row.obj;
	*version = row.version;
	return FD_OK;
}

static enum fd_err sq_record_list(struct store *st, const char *org_id, const char *user_id, int kind, json_t **recs)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	int64_t user_seq;
	enum fd_err rc = sq_user_seq(c, org_id, user_id, &user_seq, NULL);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = sq_prep(c, SQL_REC_LIST);
	if (!s)
		return FD_EIO;
	sqlite3_bind_int64(s, 1, user_seq);
	sqlite3_bind_int(s, 2, kind);
	json_t *arr = json_array();
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, rec_from_stmt(s));
	sq_done(s);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*recs = arr;
	return FD_OK;
}

static enum fd_err rec_write_begin(struct conn *c, const char *org_id, const char *user_id, int kind, const char *id,
                                   int64_t expect, struct rec_row *row)
{
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = rec_read(c, org_id, user_id, kind, id, row);
	if (rc == FD_OK && expect >= 0 && expect != row->version)
		rc = FD_EPRECOND;
	if (rc == FD_OK && row->deleted)
		rc = FD_ECONFLICT;
	if (rc != FD_OK) {
		json_decref(row->obj);
		row->obj = NULL;
		sq_tx_rollback(c);
	}
	return rc;
}

static enum fd_err sq_record_update(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, int kind, const char *id, json_t *patch, int64_t expect,
                                    json_t **rec, int64_t *version)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	struct rec_row row = {0}, after = {0};
	enum fd_err rc = rec_write_begin(c, org_id, user_id, kind, id, expect, &row);
	if (rc != FD_OK)
		return rc;
	json_t *merged = json_deep_copy(row.obj), *changes = NULL;
	char *attrs = NULL;
	if (!merged || json_object_update(merged, patch) != 0) {
		rc = FD_ENOMEM;
		goto out;
	}
	changes = sq_diff(row.obj, merged, patch);
	if (json_object_size(changes) == 0) {
		rc = sq_tx_commit(c);
		if (rc == FD_OK) {
			*rec = row.obj;
			*version = row.version;
			row.obj = NULL;
		}
		goto done;
	}
	if (json_object_get(changes, "building_id"))
		rc = check_building(c, kind, merged, row.user_seq);
	sqlite3_stmt *s = rc == FD_OK ? sq_prep(c, SQL_REC_UPDATE) : NULL;
	attrs = rc == FD_OK ? attrs_text(merged) : NULL;
	if (rc == FD_OK && (!s || !attrs))
		rc = s ? FD_ENOMEM : FD_EIO;
	if (rc != FD_OK)
		goto out;
	char now[FD_TIME_LEN + 1], action[40];
	util_now_rfc3339(now);
	sqlite3_bind_int64(s, 1, row.seq);
	sqlite3_bind_text(s, 2, attrs, -1, free);
	attrs = NULL;
	sq_bind_text(s, 3, now);
	rc = sq_step_write(s);
	action_name(action, sizeof action, kind, "update");
	if (rc == FD_OK)
		rc = sq_audit(c, a, org_id, now, action, kind_names[kind], id, changes);
	if (rc == FD_OK)
		rc = rec_read(c, org_id, user_id, kind, id, &after);
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
out:
	free(attrs);
	if (rc != FD_OK) {
		sq_tx_rollback(c);
		json_decref(after.obj);
	} else {
		*rec = after.obj;
		*version = after.version;
	}
done:
	json_decref(changes);
	json_decref(merged);
	json_decref(row.obj);
	return rc;
}

static enum fd_err sq_record_delete(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, int kind, const char *id, int64_t expect)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	struct rec_row row = {0};
	enum fd_err rc = rec_write_begin(c, org_id, user_id, kind, id, expect, &row);
	if (rc == FD_ECONFLICT)
		return FD_OK; /* already deleted */
	if (rc != FD_OK)
		return rc;
	json_decref(row.obj);
	if (kind == REC_BUILDING) { /* nothing may point at a deleted building */
		sqlite3_stmt *q = sq_prep(c, SQL_BUILDING_USERS);
		if (!q) {
			sq_tx_rollback(c);
			return FD_EIO;
		}
		sq_bind_text(q, 1, id);
		sqlite3_bind_int64(q, 2, row.user_seq);
		int r = sqlite3_step(q);
		int used = r == SQLITE_ROW && (sqlite3_column_int(q, 0) > 0 || sqlite3_column_int(q, 1) > 0);
		sq_done(q);
		if (r != SQLITE_ROW || used) {
			sq_tx_rollback(c);
			return r != SQLITE_ROW ? sq_map_rc(r) : FD_ECONFLICT;
		}
	}
	char now[FD_TIME_LEN + 1], action[40];
	util_now_rfc3339(now);
	sqlite3_stmt *s = sq_prep(c, SQL_REC_DELETE);
	if (!s) {
		sq_tx_rollback(c);
		return FD_EIO;
	}
	sqlite3_bind_int64(s, 1, row.seq);
	sq_bind_text(s, 2, now);
	rc = sq_step_write(s);
	json_t *changes = json_pack("{s{snss}}", "deleted_at", "before", "after", now);
	action_name(action, sizeof action, kind, "delete");
	if (rc == FD_OK)
		rc = sq_audit(c, a, org_id, now, action, kind_names[kind], id, changes);
	json_decref(changes);
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

enum fd_err sq_records_erase(struct conn *c, const char *org_id, int64_t user_seq)
{
	const char *const sqls[] = {SQL_ERASE_AUDIT, SQL_ERASE_BUILDINGS, SQL_ERASE_CONTRACTS, SQL_ERASE_DEVICES};
	for (size_t i = 0; i < 4; i++) {
		sqlite3_stmt *s = sq_prep(c, sqls[i]);
		if (!s)
			return FD_EIO;
		if (i == 0) {
			sq_bind_text(s, 1, org_id);
			sqlite3_bind_int64(s, 2, user_seq);
		} else {
			sqlite3_bind_int64(s, 1, user_seq);
		}
		enum fd_err rc = sq_step_write(s);
		if (rc != FD_OK)
			return rc;
	}
	return FD_OK;
}

/* ---------------------------------------------------------------- migration */

static const char SQL_OWNED_RECORDS[] =
    "SELECT id, kind FROM records WHERE user_seq = ?1 AND deleted_at IS NULL ORDER BY seq";
static const char SQL_OWNED_DEVICES[] = "SELECT id FROM devices WHERE user_seq = ?1 AND deleted_at IS NULL ORDER BY seq";
static const char SQL_MOVE_RECORDS[] = "UPDATE records SET user_seq = ?2, updated_at = ?3, version = version + 1 "
                                       "WHERE user_seq = ?1 AND deleted_at IS NULL";
static const char SQL_MOVE_DEVICES[] = "UPDATE devices SET user_seq = ?2, updated_at = ?3, version = version + 1 "
                                       "WHERE user_seq = ?1 AND deleted_at IS NULL";
/* references that would leave the new user: a device or contract whose building is not the new user's */
static const char SQL_DANGLING[] =
    "SELECT (SELECT count(*) FROM devices d WHERE d.user_seq = ?1 AND d.deleted_at IS NULL "
    "  AND d.building_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM records b WHERE b.id = d.building_id "
    "  AND b.user_seq = ?1 AND b.kind = 0)) + "
    "(SELECT count(*) FROM records k WHERE k.user_seq = ?1 AND k.kind = 1 AND k.deleted_at IS NULL "
    "  AND json_extract(k.attrs, '$.building_id') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM records b "
    "  WHERE b.id = json_extract(k.attrs, '$.building_id') AND b.user_seq = ?1 AND b.kind = 0))";

/* {"buildings": n, "devices": n, "energy_contracts": n, "building_ids": [...], ...} of a user's live records. */
static enum fd_err inventory(struct conn *c, int64_t user_seq, json_t **out)
{
	json_t *ids[3] = {json_array(), json_array(), json_array()}; /* buildings, contracts, devices */
	sqlite3_stmt *s = sq_prep(c, SQL_OWNED_RECORDS), *d = sq_prep(c, SQL_OWNED_DEVICES);
	enum fd_err rc = s && d ? FD_OK : FD_EIO;
	int r = SQLITE_DONE;
	if (rc == FD_OK) {
		sqlite3_bind_int64(s, 1, user_seq);
		while ((r = sqlite3_step(s)) == SQLITE_ROW) {
			int kind = sqlite3_column_int(s, 1);
			if (kind >= 0 && kind < REC_KINDS)
				json_array_append_new(ids[kind], sq_col_str(s, 0));
		}
		sq_done(s);
		if (r == SQLITE_DONE) {
			sqlite3_bind_int64(d, 1, user_seq);
			while ((r = sqlite3_step(d)) == SQLITE_ROW)
				json_array_append_new(ids[2], sq_col_str(d, 0));
			sq_done(d);
		}
		if (r != SQLITE_DONE)
			rc = sq_map_rc(r);
	}
	if (rc != FD_OK) {
		for (int i = 0; i < 3; i++)
			json_decref(ids[i]);
		return rc;
	}
	*out = json_pack("{sIsIsIsososo}", "buildings", (json_int_t)json_array_size(ids[0]), "devices",
	                 (json_int_t)json_array_size(ids[2]), "energy_contracts", (json_int_t)json_array_size(ids[1]),
	                 "building_ids", ids[0], "device_ids", ids[2], "energy_contract_ids", ids[1]);
	return *out ? FD_OK : FD_ENOMEM;
}

static enum fd_err exec3(struct conn *c, const char *sql, int64_t a, int64_t b, const char *t)
{
	sqlite3_stmt *s = sq_prep(c, sql);
	if (!s)
		return FD_EIO;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	sq_bind_text(s, 3, t);
	return sq_step_write(s);
}

/* FD_OK when the new user holds exactly what the old one held, and nothing points outside it. */
static enum fd_err verify(struct conn *c, json_t *before, json_t *after, int64_t old_seq, int64_t new_seq)
{
	json_t *left = NULL;
	enum fd_err rc = inventory(c, old_seq, &left);
	if (rc != FD_OK)
		return rc;
	int ok = json_equal(before, after) && json_integer_value(json_object_get(left, "buildings")) == 0 &&
	         json_integer_value(json_object_get(left, "devices")) == 0 &&
	         json_integer_value(json_object_get(left, "energy_contracts")) == 0;
	json_decref(left);
	sqlite3_stmt *s = sq_prep(c, SQL_DANGLING);
	if (!s)
		return FD_EIO;
	sqlite3_bind_int64(s, 1, new_seq);
	int r = sqlite3_step(s);
	ok = ok && r == SQLITE_ROW && sqlite3_column_int(s, 0) == 0;
	sq_done(s);
	return ok ? FD_OK : FD_EIO;
}

static enum fd_err sq_user_migrate(struct store *st, const struct store_actor *a, const char *org_id,
                                   const char *old_user_id, int64_t expect, json_t *new_user, json_t **report,
                                   const char **conflict_field)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1], new_id[FD_UUID_LEN + 1];
	util_now_rfc3339(now);
	int64_t old_seq = 0, new_seq = 0;
	json_t *before = NULL, *after = NULL;
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_user_seq(c, org_id, old_user_id, &old_seq, NULL);
	if (rc == FD_OK)
		rc = inventory(c, old_seq, &before);
	json_t *note = json_pack("{ss}", "step", "archived by a migration");
	if (rc == FD_OK) /* first, so the new user can take over its email and external_user_id */
		rc = sq_user_archive(c, a, org_id, old_user_id, expect, now, note);
	json_decref(note);
	if (rc == FD_OK)
		rc = sq_user_insert(c, a, org_id, new_user, now, new_id, conflict_field);
	if (rc == FD_OK)
		rc = sq_user_seq(c, org_id, new_id, &new_seq, NULL);
	if (rc == FD_OK)
		rc = exec3(c, SQL_MOVE_RECORDS, old_seq, new_seq, now);
	if (rc == FD_OK)
		rc = sq_fault("migration.move");
	if (rc == FD_OK)
		rc = exec3(c, SQL_MOVE_DEVICES, old_seq, new_seq, now);
	if (rc == FD_OK)
		rc = inventory(c, new_seq, &after);
	if (rc == FD_OK)
		rc = verify(c, before, after, old_seq, new_seq);
	if (rc == FD_OK) {
		json_t *changes = json_pack("{s{ssss}sO}", "user_id", "before", old_user_id, "after", new_id, "moved", after);
		rc = sq_audit(c, a, org_id, now, "user.migrate", "user", new_id, changes);
		json_decref(changes);
	}
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
	if (rc != FD_OK) {
		sq_tx_rollback(c);
		json_decref(before);
		json_decref(after);
		return rc;
	}
	*report = json_pack("{sssssoso}", "old_user_id", old_user_id, "new_user_id", new_id, "before", before, "after",
	                    after);
	return *report ? FD_OK : FD_ENOMEM;
}

const struct store_record_ops store_sqlite_record_ops = {
    .record_create = sq_record_create,
    .record_get = sq_record_get,
    .record_list = sq_record_list,
    .record_update = sq_record_update,
    .record_delete = sq_record_delete,
    .onboarding_create = sq_onboarding_create,
    .onboarding_find = sq_onboarding_find,
    .onboarding_complete = sq_onboarding_complete,
    .user_migrate = sq_user_migrate,
};
