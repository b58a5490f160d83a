/*
 * sqlite_devices.c - devices, their readings, the fleet view and the
 * housekeeping sweep, for the SQLite backend.
 *
 * A device row keeps in columns what queries filter, sort or sum on (the
 * connection, optimisation, freshness, derived consumption, building) and
 * the rest of its fields as one JSON object (attrs). "attention" is a
 * generated column of three bits (not authenticated, optimisation off,
 * stale) with partial indexes, so the fleet view's "needs attention" lists
 * walk only the devices that need it; device_counts (kept by triggers)
 * gives its totals in O(1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"

/* The fields kept in columns; everything else a client sets lives in attrs. */
static const char *const column_fields[] = {"building_id",
                                            "is_authenticated",
                                            "authorization_url",
                                            "is_smart_optimization_active",
                                            "pause_power_until",
                                            "current_state_last_updated_at",
                                            NULL};
/* Fields the store itself writes: never stored in attrs. */
static const char *const own_fields[] = {"id",
                                         "user_id",
                                         "created_at",
                                         "updated_at",
                                         "deleted_at",
                                         "consumption_last_day_kwh",
                                         "consumption_last_week_kwh",
                                         "consumption_last_month_kwh",
                                         "production_last_day_kwh",
                                         "production_last_week_kwh",
                                         "production_last_month_kwh",
                                         NULL};

static int in_list(const char *const *list, const char *k)
{
	for (; *list; list++) {
		if (strcmp(*list, k) == 0)
			return 1;
	}
	return 0;
}

#define DEV_COLS                                                                                                       \
	"d.seq, d.id, u.id, d.type, d.building_id, d.is_authenticated, d.authorization_url, "                          \
	"d.is_smart_optimization_active, d.pause_power_until, d.state_at, d.cons_day, d.cons_week, d.cons_month, "     \
	"d.prod_day, d.prod_week, d.prod_month, d.attrs, d.created_at, d.updated_at, d.deleted_at, d.version, "        \
	"d.attention"
enum {
	C_SEQ,
	C_ID,
	C_USER,
	C_TYPE,
	C_BUILDING,
	C_AUTH,
	C_AUTH_URL,
	C_OPT,
	C_PAUSE,
	C_STATE_AT,
	C_CONS_DAY,
	C_CONS_WEEK,
	C_CONS_MONTH,
	C_PROD_DAY,
	C_PROD_WEEK,
	C_PROD_MONTH,
	C_ATTRS,
	C_CREATED,
	C_UPDATED,
	C_DELETED,
	C_VERSION,
	C_ATTENTION
};

static const char SQL_DEV_GET[] = "SELECT " DEV_COLS " FROM devices d JOIN users u ON u.seq = d.user_seq "
                                  "WHERE d.id = ?1 AND d.org_id = ?2 AND (?3 < 0 OR d.type = ?3) "
                                  "AND (?4 IS NULL OR u.id = ?4)";
static const char SQL_DEV_LIST[] = "SELECT " DEV_COLS " FROM devices d JOIN users u ON u.seq = d.user_seq "
                                   "WHERE d.user_seq = ?1 AND d.type = ?2 AND d.deleted_at IS NULL ORDER BY d.seq";
static const char SQL_DEV_INSERT[] =
    "INSERT INTO devices (id, org_id, user_seq, type, building_id, is_authenticated, authorization_url, "
    "is_smart_optimization_active, pause_power_until, state_at, stale, derived_at, attrs, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)";
static const char SQL_DEV_UPDATE[] =
    "UPDATE devices SET building_id = ?2, is_authenticated = ?3, authorization_url = ?4, "
    "is_smart_optimization_active = ?5, pause_power_until = ?6, state_at = ?7, stale = ?8, attrs = ?9, "
    "updated_at = ?10, cons_day = ifnull(?11, cons_day), cons_week = ifnull(?12, cons_week), "
    "cons_month = ifnull(?13, cons_month), prod_day = ifnull(?14, prod_day), prod_week = ifnull(?15, prod_week), "
    "prod_month = ifnull(?16, prod_month), derived_at = ifnull(?17, derived_at), version = version + 1 "
    "WHERE seq = ?1";
static const char SQL_DEV_DELETE[] =
    "UPDATE devices SET deleted_at = ?2, updated_at = ?2, version = version + 1 WHERE seq = ?1";
static const char SQL_DEV_COUNT[] =
    "SELECT count(*) FROM devices WHERE user_seq = ?1 AND type = ?2 AND deleted_at IS NULL";
static const char SQL_READING_PUT[] = "INSERT INTO readings (device_seq, ts, kwh_in, kwh_out) VALUES (?1, ?2, ?3, ?4) "
                                      "ON CONFLICT DO UPDATE SET kwh_in = excluded.kwh_in, kwh_out = excluded.kwh_out";
static const char SQL_SUMS[] =
    "SELECT ifnull(sum(kwh_in) FILTER (WHERE ts >= ?3), 0), ifnull(sum(kwh_in) FILTER (WHERE ts >= ?4), 0), "
    "ifnull(sum(kwh_in), 0), ifnull(sum(kwh_out) FILTER (WHERE ts >= ?3), 0), "
    "ifnull(sum(kwh_out) FILTER (WHERE ts >= ?4), 0), ifnull(sum(kwh_out), 0) "
    "FROM readings WHERE device_seq = ?1 AND ts >= ?5 AND ts <= ?2";
/* ?9: whether a change of the figures makes a new version (not when the caller writes one anyway) */
static const char SQL_DERIVED_SET[] =
    "UPDATE devices SET cons_day = ?2, cons_week = ?3, cons_month = ?4, prod_day = ?5, prod_week = ?6, "
    "prod_month = ?7, derived_at = ?8, version = version + (?9 AND (cons_day, cons_week, cons_month, prod_day, "
    "prod_week, prod_month) IS NOT (?2, ?3, ?4, ?5, ?6, ?7)) WHERE seq = ?1";
static const char SQL_READINGS_RANGE[] =
    "SELECT ts, kwh_in, kwh_out FROM readings WHERE device_seq = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts";
static const char SQL_SWEEP_STALE[] = "UPDATE devices SET stale = 1 WHERE seq IN (SELECT seq FROM devices "
                                      "WHERE deleted_at IS NULL AND stale = 0 AND state_at < ?1 LIMIT ?2)";
static const char SQL_SWEEP_DERIVED[] =
    "SELECT seq FROM devices WHERE deleted_at IS NULL AND derived_at < ?1 ORDER BY derived_at LIMIT ?2";
static const char SQL_VALUES_DAY[] =
    "SELECT cons_day FROM devices WHERE org_id = ?1 AND type = ?2 AND deleted_at IS NULL ORDER BY cons_day";
static const char SQL_VALUES_MONTH[] =
    "SELECT cons_month FROM devices WHERE org_id = ?1 AND type = ?2 AND deleted_at IS NULL ORDER BY cons_month";
static const char SQL_COUNTS[] = "SELECT type, attention, n FROM device_counts WHERE org_id = ?1 AND deleted = 0";

/* the fleet view's rows also name their user, so a list can show who owns each device */
#define FLEET_COLS DEV_COLS ", u.email, u.first_name, u.last_name"

/* The fleet list: four shapes (by type or not, attention index or not), all constant text. */
#define FLEET_WHERE                                                                                                    \
	" AND (d.attention & :mask) = :want AND (:zip IS NULL OR u.zip_code = :zip) AND d.seq > :after ORDER BY "      \
	"d.seq "                                                                                                       \
	"LIMIT :lim"
/* INDEXED BY: ordered by seq, SQLite would otherwise walk every org's rows by rowid */
static const char SQL_FLEET_ALL[] = "SELECT " FLEET_COLS " FROM devices d INDEXED BY devices_org "
                                    "JOIN users u ON u.seq = d.user_seq "
                                    "WHERE d.org_id = :org AND d.deleted_at IS NULL" FLEET_WHERE;
static const char SQL_FLEET_TYPE[] = "SELECT " FLEET_COLS " FROM devices d JOIN users u ON u.seq = d.user_seq "
                                     "WHERE d.org_id = :org AND d.type = :type AND d.deleted_at IS NULL" FLEET_WHERE;
static const char SQL_FLEET_ATTN[] = "SELECT " FLEET_COLS " FROM devices d JOIN users u ON u.seq = d.user_seq "
                                     "WHERE d.org_id = :org AND d.deleted_at IS NULL AND d.attention != 0" FLEET_WHERE;
static const char SQL_FLEET_ATTN_TYPE[] =
    "SELECT " FLEET_COLS " FROM devices d JOIN users u ON u.seq = d.user_seq "
    "WHERE d.org_id = :org AND d.type = :type AND d.deleted_at IS NULL AND d.attention != 0" FLEET_WHERE;
/* one user's devices: from devices_user, whatever the other filters */
static const char SQL_FLEET_USER[] =
    "SELECT " FLEET_COLS " FROM users u CROSS JOIN devices d ON d.user_seq = u.seq "
    "WHERE u.id = :uid AND d.org_id = :org AND d.deleted_at IS NULL "
    "AND (:type < 0 OR d.type = :type) AND (:attn = 0 OR d.attention != 0)" FLEET_WHERE;
static const char SQL_FLEET_TOTAL_USER[] =
    "SELECT count(*) FROM users u CROSS JOIN devices d ON d.user_seq = u.seq WHERE u.id = :uid AND d.org_id = :org "
    "AND d.deleted_at IS NULL AND (:type < 0 OR d.type = :type) AND (d.attention & :mask) = :want "
    "AND (:attn = 0 OR d.attention != 0) AND (:zip IS NULL OR u.zip_code = :zip)";
/* the counts table knows no zip codes: with one, the rows are counted */
static const char SQL_FLEET_TOTAL_ZIP[] =
    "SELECT count(*) FROM devices d JOIN users u ON u.seq = d.user_seq WHERE d.org_id = :org AND d.deleted_at IS NULL "
    "AND (:type < 0 OR d.type = :type) AND (d.attention & :mask) = :want AND (:attn = 0 OR d.attention != 0) "
    "AND u.zip_code = :zip";
static const char SQL_FLEET_TOTAL[] =
    "SELECT ifnull(sum(n), 0) FROM device_counts WHERE org_id = :org AND deleted = 0 AND (:type < 0 OR type = :type) "
    "AND (attention & :mask) = :want AND (:attn = 0 OR attention != 0)";

/* ---------------------------------------------------------------- rows */

static json_t *col_real(sqlite3_stmt *s, int i)
{
	return json_real(sqlite3_column_double(s, i));
}

/* The device in the current row, as a JSON object; NULL on allocation failure. */
static json_t *dev_from_stmt(sqlite3_stmt *s)
{
	const char *attrs = (const char *)sqlite3_column_text(s, C_ATTRS);
	json_t *d = attrs ? json_loads(attrs, 0, NULL) : NULL;
	if (!json_is_object(d)) {
		json_decref(d);
		d = json_object();
		if (!d)
			return NULL;
	}
	json_object_set_new(d, "id", sq_col_str(s, C_ID));
	json_object_set_new(d, "user_id", sq_col_str(s, C_USER));
	json_object_set_new(d, "building_id", sq_col_str(s, C_BUILDING));
	json_object_set_new(d, "is_authenticated", json_boolean(sqlite3_column_int(s, C_AUTH)));
	json_object_set_new(d, "authorization_url", sq_col_str(s, C_AUTH_URL));
	json_object_set_new(d, "is_smart_optimization_active", json_boolean(sqlite3_column_int(s, C_OPT)));
	json_object_set_new(d, "pause_power_until", sq_col_str(s, C_PAUSE));
	json_object_set_new(d, "current_state_last_updated_at", sq_col_str(s, C_STATE_AT));
	json_object_set_new(d, "consumption_last_day_kwh", col_real(s, C_CONS_DAY));
	json_object_set_new(d, "consumption_last_week_kwh", col_real(s, C_CONS_WEEK));
	json_object_set_new(d, "consumption_last_month_kwh", col_real(s, C_CONS_MONTH));
	if (sqlite3_column_int(s, C_TYPE) == DEV_INVERTER) {
		json_object_set_new(d, "production_last_day_kwh", col_real(s, C_PROD_DAY));
		json_object_set_new(d, "production_last_week_kwh", col_real(s, C_PROD_WEEK));
		json_object_set_new(d, "production_last_month_kwh", col_real(s, C_PROD_MONTH));
	}
	json_object_set_new(d, "created_at", sq_col_str(s, C_CREATED));
	json_object_set_new(d, "updated_at", sq_col_str(s, C_UPDATED));
	json_object_set_new(d, "deleted_at", sq_col_str(s, C_DELETED));
	return d;
}

static enum fd_err live_figures(struct conn *c, int64_t seq, int type, json_t *d);

struct dev_row {
	int64_t seq, version, user_seq;
	int type, deleted;
	json_t *obj;
};

/* Reads a device of the org (of user_id and type when given) into row; with
 * figures, its consumption figures computed from its readings as of now
 * (what a reader sees), else the stored ones (enough for a writer). */
static enum fd_err dev_read(struct conn *c, const char *org_id, const char *user_id, int type, const char *id,
                            struct dev_row *row, int figures)
{
	sqlite3_stmt *s = sq_prep(c, SQL_DEV_GET);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sqlite3_bind_int(s, 3, type);
	sq_bind_text(s, 4, user_id);
	int r = sqlite3_step(s);
	if (r != SQLITE_ROW) {
		sq_done(s);
		return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
	}
	row->seq = sqlite3_column_int64(s, C_SEQ);
	row->version = sqlite3_column_int64(s, C_VERSION);
	row->type = sqlite3_column_int(s, C_TYPE);
	row->deleted = sqlite3_column_type(s, C_DELETED) != SQLITE_NULL;
	row->obj = dev_from_stmt(s);
	sq_done(s);
	if (!row->obj)
		return FD_ENOMEM;
	return figures ? live_figures(c, row->seq, row->type, row->obj) : FD_OK;
}

static int b(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The attrs JSON text of a device object: its fields but the columns and the store's own. */
static char *attrs_text(json_t *dev)
{
	json_t *a = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(dev, k, v)
	{
		if (!in_list(column_fields, k) && !in_list(own_fields, k))
			json_object_set(a, k, v);
	}
	char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return t;
}

/* 1 if a device last heard from at state_at (NULL: never) is stale at now_ms. */
static int is_stale(const char *state_at, int64_t now_ms)
{
	int64_t ms;
	if (!state_at || util_parse_rfc3339(state_at, &ms) != FD_OK)
		return 1;
	return ms < now_ms - STORE_STALE_MS;
}

/* Writes obj's fields to the device row seq (version + 1), and with figures
 * (not NULL: the six sums of sums()) its stored figures as of now_ms too. */
static enum fd_err dev_write(struct conn *c, int64_t seq, json_t *obj, const char *now, int64_t now_ms,
                             const double *figures)
{
	sqlite3_stmt *s = sq_prep(c, SQL_DEV_UPDATE);
	char *attrs = attrs_text(obj);
	if (!s || !attrs) {
		free(attrs);
		return s ? FD_ENOMEM : FD_EIO;
	}
	sqlite3_bind_int64(s, 1, seq);
	sq_bind_text(s, 2, str(obj, "building_id"));
	sqlite3_bind_int(s, 3, b(obj, "is_authenticated"));
	sq_bind_text(s, 4, str(obj, "authorization_url"));
	sqlite3_bind_int(s, 5, b(obj, "is_smart_optimization_active"));
	sq_bind_text(s, 6, str(obj, "pause_power_until"));
	sq_bind_text(s, 7, str(obj, "current_state_last_updated_at"));
	sqlite3_bind_int(s, 8, is_stale(str(obj, "current_state_last_updated_at"), now_ms));
	sqlite3_bind_text(s, 9, attrs, -1, free);
	sq_bind_text(s, 10, now);
	for (int i = 0; figures && i < 6; i++)
		sqlite3_bind_double(s, 11 + i, figures[i]);
	if (figures)
		sqlite3_bind_int64(s, 17, now_ms / 1000);
	return sq_step_write(s);
}

/* ---------------------------------------------------------------- derived consumption */

static double wh(double kwh)
{
	return nearbyint(kwh * 1000.0) / 1000.0;
}

/* A device's consumption and production over the last day, week and month before now_s, in Wh steps. */
static enum fd_err sums(struct conn *c, int64_t seq, int64_t now_s, double v[6])
{
	sqlite3_stmt *s = sq_prep(c, SQL_SUMS);
	if (!s)
		return FD_EIO;
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int64(s, 2, now_s);
	sqlite3_bind_int64(s, 3, now_s - 86400);
	sqlite3_bind_int64(s, 4, now_s - 7 * 86400);
	sqlite3_bind_int64(s, 5, now_s - 30 * 86400);
	int r = sqlite3_step(s);
	for (int i = 0; i < 6; i++)
		v[i] = r == SQLITE_ROW ? wh(sqlite3_column_double(s, i)) : 0;
	sq_done(s);
	return r == SQLITE_ROW ? FD_OK : sq_map_rc(r);
}

static const char *const figure_names[6] = {"consumption_last_day_kwh",   "consumption_last_week_kwh",
                                            "consumption_last_month_kwh", "production_last_day_kwh",
                                            "production_last_week_kwh",   "production_last_month_kwh"};

/* Sets the device's figures in d from its readings as of now (exact at any moment). */
static enum fd_err live_figures(struct conn *c, int64_t seq, int type, json_t *d)
{
	double v[6];
	enum fd_err rc = sums(c, seq, util_now_ms() / 1000, v);
	if (rc != FD_OK)
		return rc;
	for (int i = 0; i < (type == DEV_INVERTER ? 6 : 3); i++)
		json_object_set_new(d, figure_names[i], json_real(v[i]));
	return FD_OK;
}

/* Recomputes the stored figures (used by the fleet view and comparisons) from the readings up to now. */
static enum fd_err derive(struct conn *c, int64_t seq, int64_t now_s, int bump_version)
{
	double v[6];
	enum fd_err rc = sums(c, seq, now_s, v);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *u = sq_prep(c, SQL_DERIVED_SET);
	if (!u)
		return FD_EIO;
	sqlite3_bind_int64(u, 1, seq);
	for (int i = 0; i < 6; i++)
		sqlite3_bind_double(u, 2 + i, v[i]);
	sqlite3_bind_int64(u, 8, now_s);
	sqlite3_bind_int(u, 9, bump_version);
	return sq_step_write(u);
}

/* ---------------------------------------------------------------- create, get, list */

/* Inserts a device row with id (its fields validated) inside the caller's transaction. */
static enum fd_err dev_insert(struct conn *c, const char *id, const char *org_id, int64_t user_seq, int type,
                              json_t *fields, const char *now, int64_t now_ms)
{
	sqlite3_stmt *s = sq_prep(c, SQL_DEV_INSERT);
	char *attrs = attrs_text(fields);
	if (!s || !attrs) {
		free(attrs);
		return s ? FD_ENOMEM : FD_EIO;
	}
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, org_id);
	sqlite3_bind_int64(s, 3, user_seq);
	sqlite3_bind_int(s, 4, type);
	sq_bind_text(s, 5, str(fields, "building_id"));
	sqlite3_bind_int(s, 6, b(fields, "is_authenticated"));
	sq_bind_text(s, 7, str(fields, "authorization_url"));
	sqlite3_bind_int(s, 8, b(fields, "is_smart_optimization_active"));
	sq_bind_text(s, 9, str(fields, "pause_power_until"));
	sq_bind_text(s, 10, str(fields, "current_state_last_updated_at"));
	sqlite3_bind_int(s, 11, is_stale(str(fields, "current_state_last_updated_at"), now_ms));
	sqlite3_bind_int64(s, 12, now_ms / 1000);
	sqlite3_bind_text(s, 13, attrs, -1, free);
	sq_bind_text(s, 14, now);
	return sq_step_write(s);
}

static enum fd_err sq_device_create(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, int type, json_t *fields, json_t **dev, int64_t *version)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1];
	util_uuid(id);
	int64_t now_ms = util_now_ms();
	util_format_rfc3339(now_ms, now);
	int64_t user_seq = 0;
	int deleted = 0;
	struct dev_row row = {0};
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_user_seq(c, org_id, user_id, &user_seq, &deleted);
	if (rc == FD_OK && deleted)
		rc = FD_ECONFLICT;
	if (rc == FD_OK)
		rc = sq_room(c, SQL_DEV_COUNT, user_seq, type);
	if (rc == FD_OK)
		rc = sq_building_live(c, str(fields, "building_id"), user_seq);
	if (rc == FD_OK)
		rc = dev_insert(c, id, org_id, user_seq, type, fields, now, now_ms);
	if (rc == FD_OK)
		rc = dev_read(c, org_id, user_id, type, id, &row, 1);
	if (rc == FD_OK) {
		json_t *changes = sq_diff(NULL, row.obj, fields);
		rc = sq_audit(c, a, org_id, now, "device.create", "device", id, changes);
		json_decref(changes);
	}
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
	if (rc != FD_OK) {
		sq_tx_rollback(c);
		json_decref(row.obj);
		return rc;
	}
	*dev = row.obj;
	*version = row.version;
	return FD_OK;
}

static enum fd_err sq_device_get(struct store *st, const char *org_id, const char *user_id, int type,
                                 const char *device_id, json_t **dev, int64_t *version)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	struct dev_row row = {0};
	enum fd_err rc = dev_read(c, org_id, user_id, type, device_id, &row, 1);
	if (rc != FD_OK)
		return rc;
	*dev = row.obj;
	*version = row.version;
	return FD_OK;
}

static enum fd_err sq_device_list(struct store *st, const char *org_id, const char *user_id, int type, json_t **devs)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	int64_t user_seq;
	enum fd_err rc = sq_user_seq(c, org_id, user_id, &user_seq, NULL);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = sq_prep(c, SQL_DEV_LIST);
	if (!s)
		return FD_EIO;
	sqlite3_bind_int64(s, 1, user_seq);
	sqlite3_bind_int(s, 2, type);
	json_t *arr = json_array();
	int r;
	enum fd_err fr = FD_OK;
	while (fr == FD_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *d = dev_from_stmt(s);
		fr = d ? live_figures(c, sqlite3_column_int64(s, C_SEQ), type, d) : FD_ENOMEM;
		json_array_append_new(arr, d);
	}
	sq_done(s);
	if (fr != FD_OK || r != SQLITE_DONE) {
		json_decref(arr);
		return fr != FD_OK ? fr : sq_map_rc(r);
	}
	*devs = arr;
	return FD_OK;
}

/* ---------------------------------------------------------------- update, delete */

/* Begins a transaction and reads the device at the expected version. */
static enum fd_err dev_write_begin(struct conn *c, const char *org_id, const char *user_id, int type, const char *id,
                                   int64_t expect, struct dev_row *row)
{
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = dev_read(c, org_id, user_id, type, id, row, 0);
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

/* Sets patch on a device inside the caller's transaction; *after (owned by
 * the caller) is the device as a reader sees it afterwards. */
static enum fd_err dev_update_in(struct conn *c, const struct store_actor *a, const char *org_id, const char *user_id,
                                 int type, const char *device_id, json_t *patch, int64_t expect, const char *action,
                                 struct dev_row *after)
{
	struct dev_row row = {0};
	enum fd_err rc = dev_read(c, org_id, user_id, type, device_id, &row, 0);
	if (rc == FD_OK && expect >= 0 && expect != row.version)
		rc = FD_EPRECOND;
	if (rc == FD_OK && row.deleted)
		rc = FD_ECONFLICT;
	if (rc != FD_OK) {
		json_decref(row.obj);
		return rc;
	}
	json_t *merged = json_deep_copy(row.obj), *changes = NULL;
	if (!merged || json_object_update(merged, patch) != 0) {
		rc = FD_ENOMEM;
		goto out;
	}
	changes = sq_diff(row.obj, merged, patch);
	if (json_object_size(changes) == 0) { /* nothing changes: nothing is written */
		rc = live_figures(c, row.seq, row.type, row.obj);
		if (rc == FD_OK) {
			*after = row;
			row.obj = NULL;
		}
		goto out;
	}
	if (json_object_get(changes, "building_id")) {
		int64_t user_seq;
		rc = sq_user_seq(c, org_id, str(row.obj, "user_id"), &user_seq, NULL);
		if (rc == FD_OK)
			rc = sq_building_live(c, str(merged, "building_id"), user_seq);
		if (rc != FD_OK)
			goto out;
	}
	char now[FD_TIME_LEN + 1];
	int64_t now_ms = util_now_ms();
	util_format_rfc3339(now_ms, now);
	rc = dev_write(c, row.seq, merged, now, now_ms, NULL);
	if (rc == FD_OK)
		rc = sq_audit(c, a, org_id, now, action, "device", device_id, changes);
	if (rc == FD_OK)
		rc = dev_read(c, org_id, user_id, type, device_id, after, 1);
out:
	json_decref(changes);
	json_decref(merged);
	json_decref(row.obj);
	return rc;
}

static enum fd_err sq_device_update(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, int type, const char *device_id, json_t *patch, int64_t expect,
                                    const char *action, json_t **dev, int64_t *version)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	struct dev_row after = {0};
	rc = dev_update_in(c, a, org_id, user_id, type, device_id, patch, expect, action, &after);
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
	else
		sq_tx_rollback(c);
	if (rc != FD_OK) {
		json_decref(after.obj);
		return rc;
	}
	*dev = after.obj;
	*version = after.version;
	return FD_OK;
}

static enum fd_err sq_device_batch(struct store *st, const struct store_actor *a, const char *org_id,
                                   struct store_device_op *ops, size_t n, const struct store_job_step *step)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	for (size_t i = 0; i < n; i++) {
		json_decref(ops[i].dev);
		json_decref(ops[i].errors);
		ops[i].dev = ops[i].errors = NULL;
		ops[i].result = FD_OK;
		ops[i].type = -1;
	}
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	for (size_t i = 0; i < n && rc == FD_OK; i++) {
		struct store_device_op *op = &ops[i];
		if ((rc = sq_sp_begin(c)) != FD_OK)
			break;
		struct dev_row after = {0}, cur = {0};
		json_t *patch = json_incref(op->patch);
		op->result = dev_read(c, org_id, NULL, -1, op->device_id, &cur, 0);
		if (op->result == FD_OK)
			op->type = cur.type;
		if (op->result == FD_OK && cur.deleted)
			op->result = FD_ECONFLICT;
		if (op->result == FD_OK && op->prepare) {
			json_decref(patch);
			patch = NULL;
			op->result = op->prepare(op->ctx, cur.type, cur.obj, &patch, &op->errors);
		}
		json_decref(cur.obj);
		if (op->result == FD_OK)
			op->result = dev_update_in(c, a, org_id, NULL, -1, op->device_id, patch, op->expect_version,
			                           op->action, &after);
		json_decref(patch);
		if (op->result == FD_ENOMEM || op->result == FD_EIO || op->result == FD_EBUSY)
			rc = op->result; /* the database failed, not the item: stop */
		if (op->result == FD_OK) {
			sq_sp_release(c);
			op->dev = after.obj;
			op->version = after.version;
		} else {
			sq_sp_rollback(c);
			json_decref(after.obj);
		}
	}
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	rc = sq_batch_end(c, rc, step, now);
	if (rc != FD_OK) {
		for (size_t i = 0; i < n; i++) { /* nothing was applied */
			json_decref(ops[i].dev);
			ops[i].dev = NULL;
			if (ops[i].result == FD_OK)
				ops[i].result = rc;
		}
	}
	return rc;
}

static enum fd_err sq_device_delete(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, int type, const char *device_id, int64_t expect)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	struct dev_row row = {0};
	enum fd_err rc = dev_write_begin(c, org_id, user_id, type, device_id, expect, &row);
	if (rc == FD_ECONFLICT)
		return FD_OK; /* deleting a deleted device changes nothing */
	if (rc != FD_OK)
		return rc;
	json_decref(row.obj);
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	sqlite3_stmt *s = sq_prep(c, SQL_DEV_DELETE);
	if (!s) {
		sq_tx_rollback(c);
		return FD_EIO;
	}
	sqlite3_bind_int64(s, 1, row.seq);
	sq_bind_text(s, 2, now);
	rc = sq_step_write(s);
	json_t *changes = json_pack("{s{snss}}", "deleted_at", "before", "after", now);
	if (rc == FD_OK)
		rc = sq_audit(c, a, org_id, now, "device.delete", "device", device_id, changes);
	json_decref(changes);
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

/* ---------------------------------------------------------------- state reports */

static enum fd_err put_readings(struct conn *c, int64_t seq, const struct store_reading *rd, size_t n)
{
	sqlite3_stmt *s = sq_prep(c, SQL_READING_PUT);
	if (!s)
		return FD_EIO;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_int64(s, 2, rd[i].ts);
		sqlite3_bind_double(s, 3, rd[i].kwh_in);
		sqlite3_bind_double(s, 4, rd[i].kwh_out);
		int r = sqlite3_step(s);
		sqlite3_reset(s);
		if (r != SQLITE_DONE) {
			sq_done(s);
			return sq_map_rc(r);
		}
	}
	sq_done(s);
	return FD_OK;
}

static const char *const connection_fields[] = {"is_authenticated", "authorization_url", NULL};

/* Applies one report inside the caller's transaction. */
static enum fd_err report_one(struct conn *c, const struct store_actor *a, const char *org_id, struct store_report *rep,
                              const char *now, int64_t now_ms)
{
	struct dev_row row = {0};
	enum fd_err rc = dev_read(c, org_id, rep->user_id, rep->type, rep->device_id, &row, 0);
	if (rc == FD_OK && row.deleted)
		rc = FD_ECONFLICT;
	if (rc != FD_OK) {
		json_decref(row.obj);
		return rc;
	}
	json_t *merged = json_deep_copy(row.obj), *changes = NULL;
	if (!merged) {
		json_decref(row.obj);
		return FD_ENOMEM;
	}
	if (rep->state) {
		/* a model report completes the stored model: {"year": 2022} keeps the make */
		json_t *model = json_object_get(rep->state, "device_model"),
		       *have = json_object_get(merged, "device_model");
		json_t *state = json_deep_copy(rep->state);
		if (json_is_object(model) && json_is_object(have) && state) {
			json_t *m = json_deep_copy(have);
			json_object_update(m, model);
			json_object_set_new(state, "device_model", m);
		}
		json_object_update(merged, state ? state : rep->state);
		json_decref(state);
	}
	/* a report is news from the device: it is current now unless it says when */
	if (!rep->state || !json_object_get(rep->state, "current_state_last_updated_at"))
		json_object_set_new(merged, "current_state_last_updated_at", json_string(now));
	/* the readings first, so the one write of the row carries the figures they make */
	double figures[6];
	rc = rep->nreadings ? put_readings(c, row.seq, rep->readings, rep->nreadings) : FD_OK;
	if (rc == FD_OK)
		rc = sums(c, row.seq, now_ms / 1000, figures);
	if (rc == FD_OK)
		rc = dev_write(c, row.seq, merged, now, now_ms, figures);
	if (rc == FD_OK) {
		json_t *keys = json_object();
		for (const char *const *k = connection_fields; *k; k++)
			json_object_set_new(keys, *k, json_true());
		changes = sq_diff(row.obj, merged, keys);
		json_decref(keys);
		if (json_object_size(changes) > 0)
			rc = sq_audit(c, a, org_id, now, "device.connection", "device", rep->device_id, changes);
	}
	json_decref(changes);
	json_decref(merged);
	json_decref(row.obj);
	return rc;
}

static enum fd_err sq_device_report(struct store *st, const struct store_actor *a, const char *org_id,
                                    struct store_report *reports, size_t n)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	int64_t now_ms = util_now_ms();
	util_format_rfc3339(now_ms, now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	size_t ok = 0, readings = 0;
	for (size_t i = 0; i < n; i++) {
		rc = sq_sp_begin(c);
		if (rc != FD_OK)
			break;
		reports[i].result = report_one(c, a, org_id, &reports[i], now, now_ms);
		if (reports[i].result == FD_OK) {
			sq_sp_release(c);
			ok++;
			readings += reports[i].nreadings;
		} else {
			sq_sp_rollback(c);
			if (reports[i].result != FD_ENOTFOUND && reports[i].result != FD_ECONFLICT) {
				rc = reports[i].result;
				break;
			}
		}
	}
	if (rc == FD_OK && ok > 0) {
		json_t *changes = json_pack("{sIsIsI}", "devices", (json_int_t)ok, "readings", (json_int_t)readings,
		                            "failed", (json_int_t)(n - ok));
		rc = sq_audit(c, a, org_id, now, "device.report", "org", org_id, changes);
		json_decref(changes);
	}
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

/* ---------------------------------------------------------------- statistics */

/* The start of the period holding t (UTC), and the start of the next one. */
static int period(int64_t t, const char *res, int64_t *start, int64_t *next)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (strcmp(res, "1DAY") == 0) {
		*start = (int64_t)timegm(&tm);
		*next = *start + 86400;
		return 0;
	}
	if (strcmp(res, "1WEEK") == 0) {
		int back = (tm.tm_wday + 6) % 7; /* days since Monday */
		*start = (int64_t)timegm(&tm) - (int64_t)back * 86400;
		*next = *start + 7 * 86400;
		return 0;
	}
	int months = strcmp(res, "1MONTH") == 0     ? 1
	             : strcmp(res, "1QUARTER") == 0 ? 3
	             : strcmp(res, "1YEAR") == 0    ? 12
	                                            : 0;
	if (!months)
		return -1;
	tm.tm_mday = 1;
	tm.tm_mon -= tm.tm_mon % months;
	*start = (int64_t)timegm(&tm);
	tm.tm_mon += months;
	*next = (int64_t)timegm(&tm);
	return 0;
}

#define MAX_BUCKETS 1000

static enum fd_err sq_device_statistics(struct store *st, const char *org_id, const char *user_id, int type,
                                        const char *device_id, const char *res, int64_t from_s, int64_t to_s,
                                        json_t **buckets)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	struct dev_row row = {0};
	enum fd_err rc = dev_read(c, org_id, user_id, type, device_id, &row, 0);
	json_decref(row.obj);
	if (rc != FD_OK)
		return rc;
	json_t *arr = json_array();
	int64_t start, next;
	if (period(from_s, res, &start, &next) != 0) {
		json_decref(arr);
		return FD_EBADREQ;
	}
	/* the empty periods first, so every period of the range is present */
	while (start < to_s) {
		if (json_array_size(arr) >= MAX_BUCKETS) {
			json_decref(arr);
			return FD_ETOOLARGE;
		}
		json_array_append_new(arr, json_pack("{sIsIsfsf}", "start", (json_int_t)start, "end", (json_int_t)next,
		                                     "consumption", 0.0, "production", 0.0));
		int64_t n2;
		period(next, res, &start, &n2);
		next = n2;
	}
	sqlite3_stmt *s = sq_prep(c, SQL_READINGS_RANGE);
	if (!s) {
		json_decref(arr);
		return FD_EIO;
	}
	/* whole periods: the first may start before from_s, the last end after to_s */
	size_t nb = json_array_size(arr);
	sqlite3_bind_int64(s, 1, row.seq);
	sqlite3_bind_int64(s, 2, nb ? json_integer_value(json_object_get(json_array_get(arr, 0), "start")) : from_s);
	sqlite3_bind_int64(s, 3, nb ? json_integer_value(json_object_get(json_array_get(arr, nb - 1), "end")) : to_s);
	size_t bi = 0;
	double in = 0, out = 0;
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t ts = sqlite3_column_int64(s, 0);
		while (bi < json_array_size(arr) &&
		       ts >= json_integer_value(json_object_get(json_array_get(arr, bi), "end"))) {
			json_t *bk = json_array_get(arr, bi);
			json_object_set_new(bk, "consumption", json_real(wh(in)));
			json_object_set_new(bk, "production", json_real(wh(out)));
			in = out = 0;
			bi++;
		}
		in += sqlite3_column_double(s, 1);
		out += sqlite3_column_double(s, 2);
	}
	sq_done(s);
	if (bi < json_array_size(arr)) {
		json_t *bk = json_array_get(arr, bi);
		json_object_set_new(bk, "consumption", json_real(wh(in)));
		json_object_set_new(bk, "production", json_real(wh(out)));
	}
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	*buckets = arr;
	return FD_OK;
}

/* ---------------------------------------------------------------- fleet view */

static const char *const type_keys[DEV_TYPES] = {"heat_pumps", "electric_vehicles", "inverters"};

/*
 * The attention bits a query filters on (mask) and their wanted values
 * (want); attn: the query only wants devices that need attention. Returns 0
 * when the filters contradict each other (needs_attention=false with, say,
 * stale=true): nothing can match.
 */
static int fleet_bits(const struct store_fleet_query *q, int *mask, int *want, int *attn)
{
	*mask = *want = *attn = 0;
	if (q->authenticated >= 0) {
		*mask |= 1;
		*want |= q->authenticated ? 0 : 1;
	}
	if (q->optimization_active >= 0) {
		*mask |= 2;
		*want |= q->optimization_active ? 0 : 2;
	}
	if (q->stale >= 0) {
		*mask |= 4;
		*want |= q->stale ? 4 : 0;
	}
	if (q->needs_attention == 0) {
		if (*want != 0)
			return 0;
		*mask = 7;
	}
	*attn = q->needs_attention == 1 || *want != 0;
	return 1;
}

static void bind_fleet(sqlite3_stmt *s, const struct store_fleet_query *q, int mask, int want, int attn)
{
	sq_bind_named_text(s, ":org", q->org_id);
	sq_bind_named_int(s, ":type", q->type);
	sq_bind_named_int(s, ":mask", mask);
	sq_bind_named_int(s, ":want", want);
	sq_bind_named_int(s, ":attn", attn);
	sq_bind_named_int(s, ":after", q->after_seq);
	sq_bind_named_int(s, ":lim", q->limit + 1);
	sq_bind_named_text(s, ":zip", q->zip_code);
	sq_bind_named_text(s, ":uid", q->user_id);
}

static json_t *attention_list(int bits)
{
	json_t *a = json_array();
	if (bits & 1)
		json_array_append_new(a, json_string("not_authenticated"));
	if (bits & 2)
		json_array_append_new(a, json_string("optimization_off"));
	if (bits & 4)
		json_array_append_new(a, json_string("stale"));
	return a;
}

static enum fd_err sq_fleet_list(struct store *st, const struct store_fleet_query *q, json_t **items, int *has_more,
                                 int64_t *last_seq, int64_t *total)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	int mask, want, attn;
	if (!fleet_bits(q, &mask, &want, &attn)) {
		*items = json_array();
		*has_more = 0;
		*total = 0;
		return *items ? FD_OK : FD_ENOMEM;
	}
	const char *sql = q->user_id     ? SQL_FLEET_USER
	                  : q->type >= 0 ? (attn ? SQL_FLEET_ATTN_TYPE : SQL_FLEET_TYPE)
	                                 : (attn ? SQL_FLEET_ATTN : SQL_FLEET_ALL);
	const char *tsql = q->user_id ? SQL_FLEET_TOTAL_USER : q->zip_code ? SQL_FLEET_TOTAL_ZIP : SQL_FLEET_TOTAL;
	sqlite3_stmt *s = sq_prep(c, sql), *t = sq_prep(c, tsql);
	if (!s || !t)
		return FD_EIO;
	bind_fleet(s, q, mask, want, attn);
	json_t *arr = json_array();
	int r, n = 0;
	*has_more = 0;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == q->limit) {
			*has_more = 1;
			break;
		}
		json_t *d = dev_from_stmt(s);
		int ty = sqlite3_column_int(s, C_TYPE);
		json_object_set_new(d, "device_type", json_string(ty >= 0 && ty < DEV_TYPES ? type_keys[ty] : ""));
		json_object_set_new(d, "attention", attention_list(sqlite3_column_int(s, C_ATTENTION)));
		json_object_set_new(d, "user",
		                    json_pack("{sososo}", "email", sq_col_str(s, C_ATTENTION + 1), "first_name",
		                              sq_col_str(s, C_ATTENTION + 2), "last_name",
		                              sq_col_str(s, C_ATTENTION + 3)));
		json_array_append_new(arr, d);
		*last_seq = sqlite3_column_int64(s, C_SEQ);
		n++;
	}
	sq_done(s);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		json_decref(arr);
		return sq_map_rc(r);
	}
	bind_fleet(t, q, mask, want, attn);
	r = sqlite3_step(t);
	*total = r == SQLITE_ROW ? sqlite3_column_int64(t, 0) : 0;
	sq_done(t);
	*items = arr;
	return FD_OK;
}

static json_t *new_counts(void)
{
	return json_pack("{sisisisisi}", "total", 0, "needs_attention", 0, "not_authenticated", 0, "stale", 0,
	                 "optimization_off", 0);
}

static void count_add(json_t *o, const char *k, int64_t n)
{
	json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + n));
}

static enum fd_err sq_fleet_counts(struct store *st, const char *org_id, json_t **counts)
{
	struct conn *c = sq_get(st);
	sqlite3_stmt *s = c ? sq_prep(c, SQL_COUNTS) : NULL;
	if (!s)
		return FD_EIO;
	json_t *all = new_counts(), *by = json_object();
	for (int i = 0; i < DEV_TYPES; i++)
		json_object_set_new(by, type_keys[i], new_counts());
	sq_bind_text(s, 1, org_id);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		int ty = sqlite3_column_int(s, 0), bits = sqlite3_column_int(s, 1);
		int64_t n = sqlite3_column_int64(s, 2);
		if (ty < 0 || ty >= DEV_TYPES)
			continue;
		json_t *targets[2] = {all, json_object_get(by, type_keys[ty])};
		for (int k = 0; k < 2; k++) {
			count_add(targets[k], "total", n);
			if (bits)
				count_add(targets[k], "needs_attention", n);
			if (bits & 1)
				count_add(targets[k], "not_authenticated", n);
			if (bits & 2)
				count_add(targets[k], "optimization_off", n);
			if (bits & 4)
				count_add(targets[k], "stale", n);
		}
	}
	sq_done(s);
	if (r != SQLITE_DONE) {
		json_decref(all);
		json_decref(by);
		return sq_map_rc(r);
	}
	json_object_set_new(all, "by_type", by);
	*counts = all;
	return FD_OK;
}

static enum fd_err sq_device_values(struct store *st, const char *org_id, int type, int month, double **values,
                                    size_t *n)
{
	struct conn *c = sq_get(st);
	sqlite3_stmt *s = c ? sq_prep(c, month ? SQL_VALUES_MONTH : SQL_VALUES_DAY) : NULL;
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, org_id);
	sqlite3_bind_int(s, 2, type);
	size_t cap = 1024, len = 0;
	double *v = malloc(cap * sizeof *v);
	int r;
	while (v && (r = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			double *nv = realloc(v, 2 * cap * sizeof *v);
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
			cap *= 2;
		}
		v[len++] = sqlite3_column_double(s, 0);
	}
	sq_done(s);
	if (!v)
		return FD_ENOMEM;
	if (r != SQLITE_DONE) {
		free(v);
		return sq_map_rc(r);
	}
	*values = v;
	*n = len;
	return FD_OK;
}

/* ---------------------------------------------------------------- sweep */

static enum fd_err sq_device_sweep(struct store *st, int64_t now_ms, int batch)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char cut[FD_TIME_LEN + 1];
	util_format_rfc3339(now_ms - STORE_STALE_MS, cut);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	sqlite3_stmt *s = sq_prep(c, SQL_SWEEP_STALE), *q = sq_prep(c, SQL_SWEEP_DERIVED);
	if (!s || !q) {
		sq_tx_rollback(c);
		return FD_EIO;
	}
	sq_bind_text(s, 1, cut);
	sqlite3_bind_int(s, 2, batch);
	rc = sq_step_write(s);
	/* consumption figures are refreshed at every report; this catches devices that went quiet */
	int64_t now_s = now_ms / 1000;
	int64_t *seqs = rc == FD_OK ? malloc((size_t)batch * sizeof *seqs) : NULL;
	int n = 0;
	if (rc == FD_OK && !seqs)
		rc = FD_ENOMEM;
	if (rc == FD_OK) {
		sqlite3_bind_int64(q, 1, now_s - 3600);
		sqlite3_bind_int(q, 2, batch);
		while (n < batch && sqlite3_step(q) == SQLITE_ROW)
			seqs[n++] = sqlite3_column_int64(q, 0);
		sq_done(q);
	}
	for (int i = 0; rc == FD_OK && i < n; i++)
		rc = derive(c, seqs[i], now_s, 1);
	free(seqs);
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

/* ---------------------------------------------------------------- seeding (demo, benchmarks) */

static const char SQL_SEED_USER[] = "SELECT seq FROM users WHERE org_id = ?1 AND external_user_id = ?2";
static const char SQL_SEED_RECORD[] = "INSERT INTO records (id, org_id, user_seq, kind, attrs, created_at, updated_at) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";

/* Replaces a "#0" building_id with the item's first building. */
static void resolve_building(json_t *fields, const char *first)
{
	const char *b0 = str(fields, "building_id");
	if (b0 && strcmp(b0, "#0") == 0)
		json_object_set_new(fields, "building_id", first ? json_string(first) : json_null());
}

static enum fd_err seed_records(struct conn *c, const char *org_id, int64_t user_seq, json_t *list, int kind,
                                const char *now, char *first, const char *first_building)
{
	sqlite3_stmt *s = sq_prep(c, SQL_SEED_RECORD);
	if (!s)
		return FD_EIO;
	size_t i;
	json_t *f;
	json_array_foreach(list, i, f)
	{
		char id[FD_UUID_LEN + 1];
		util_uuid(id);
		if (i == 0 && first)
			memcpy(first, id, sizeof id);
		resolve_building(f, first_building);
		char *attrs = json_dumps(f, JSON_COMPACT);
		if (!attrs)
			return FD_ENOMEM;
		sq_bind_text(s, 1, id);
		sq_bind_text(s, 2, org_id);
		sqlite3_bind_int64(s, 3, user_seq);
		sqlite3_bind_int(s, 4, kind);
		sqlite3_bind_text(s, 5, attrs, -1, free);
		sq_bind_text(s, 6, now);
		enum fd_err rc = sq_step_write(s);
		if (rc != FD_OK)
			return rc;
	}
	return FD_OK;
}

static enum fd_err seed_device(struct conn *c, const char *org_id, int64_t user_seq, json_t *d, const char *building,
                               const char *now, int64_t now_ms, size_t *nreadings)
{
	json_t *fields = json_object_get(d, "fields");
	int type = (int)json_integer_value(json_object_get(d, "type"));
	resolve_building(fields, building);
	char id[FD_UUID_LEN + 1];
	util_uuid(id);
	enum fd_err rc = dev_insert(c, id, org_id, user_seq, type, fields, now, now_ms);
	if (rc != FD_OK)
		return rc;
	int64_t seq = sqlite3_last_insert_rowid(sq_db(c));
	json_t *rd = json_object_get(d, "readings");
	size_t n = json_array_size(rd);
	if (n == 0)
		return FD_OK;
	struct store_reading *v = malloc(n * sizeof *v);
	if (!v)
		return FD_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(rd, i);
		v[i] = (struct store_reading){json_integer_value(json_array_get(r, 0)),
		                              json_number_value(json_array_get(r, 1)),
		                              json_number_value(json_array_get(r, 2))};
	}
	rc = put_readings(c, seq, v, n);
	free(v);
	*nreadings += n;
	return rc == FD_OK ? derive(c, seq, now_ms / 1000, 0) : rc;
}

static enum fd_err sq_device_seed(struct store *st, const struct store_actor *a, const char *org_id, json_t *items)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char now[FD_TIME_LEN + 1];
	int64_t now_ms = util_now_ms();
	util_format_rfc3339(now_ms, now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	size_t ndev = 0, nrec = 0, nreadings = 0;
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		sqlite3_stmt *s = sq_prep(c, SQL_SEED_USER);
		if (!s) {
			rc = FD_EIO;
			break;
		}
		sq_bind_text(s, 1, org_id);
		sq_bind_text(s, 2, str(it, "external_user_id"));
		int r = sqlite3_step(s);
		int64_t user_seq = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		sq_done(s);
		if (r != SQLITE_ROW) {
			rc = r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
			break;
		}
		char building[FD_UUID_LEN + 1] = "";
		json_t *bl = json_object_get(it, "buildings"), *kl = json_object_get(it, "contracts");
		rc = seed_records(c, org_id, user_seq, bl, REC_BUILDING, now, building, NULL);
		if (rc == FD_OK)
			rc =
			    seed_records(c, org_id, user_seq, kl, REC_CONTRACT, now, NULL, *building ? building : NULL);
		nrec += json_array_size(bl) + json_array_size(kl);
		size_t k;
		json_t *d;
		json_array_foreach(json_object_get(it, "devices"), k, d)
		{
			if (rc != FD_OK)
				break;
			rc = seed_device(c, org_id, user_seq, d, *building ? building : NULL, now, now_ms, &nreadings);
			ndev++;
		}
		if (rc != FD_OK)
			break;
	}
	if (rc == FD_OK) {
		json_t *changes = json_pack("{sIsIsI}", "devices", (json_int_t)ndev, "records", (json_int_t)nrec,
		                            "readings", (json_int_t)nreadings);
		rc = sq_audit(c, a, org_id, now, "device.seed", "org", org_id, changes);
		json_decref(changes);
	}
	if (rc == FD_OK)
		return sq_tx_commit(c);
	sq_tx_rollback(c);
	return rc;
}

const struct store_device_ops store_sqlite_device_ops = {
    .device_create = sq_device_create,
    .device_get = sq_device_get,
    .device_list = sq_device_list,
    .device_update = sq_device_update,
    .device_delete = sq_device_delete,
    .device_report = sq_device_report,
    .device_statistics = sq_device_statistics,
    .fleet_list = sq_fleet_list,
    .device_batch = sq_device_batch,
    .fleet_counts = sq_fleet_counts,
    .device_values = sq_device_values,
    .device_sweep = sq_device_sweep,
    .device_seed = sq_device_seed,
};

/* ---------------------------------------------------------------- onboarding sessions */

static const char SQL_OB_INSERT[] = "INSERT INTO onboarding (id, org_id, user_seq, secret_hash, request, created_at, "
                                    "expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_OB_FIND[] =
    "SELECT o.id, o.org_id, u.id, o.request, o.expires_ms, o.used_at, o.device_id, o.user_seq, o.created_at "
    "FROM onboarding o JOIN users u ON u.seq = o.user_seq WHERE o.secret_hash = ?1";
static const char SQL_OB_USE[] =
    "UPDATE onboarding SET used_at = ?2, device_id = ?3 WHERE id = ?1 AND used_at IS NULL AND expires_ms > ?4";

/* The device type of an onboarding request: hp, ev (and wb, a wallbox, kept as an EV charger) or iv. */
static int onboarding_type(json_t *req)
{
	const char *t = str(req, "device_type");
	if (!t)
		return -1;
	if (strcmp(t, "hp") == 0)
		return DEV_HEAT_PUMP;
	if (strcmp(t, "ev") == 0 || strcmp(t, "wb") == 0)
		return DEV_EV;
	if (strcmp(t, "iv") == 0)
		return DEV_INVERTER;
	return -1;
}

enum fd_err sq_onboarding_create(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                 json_t *request, const char *secret_hash, int64_t expires_ms, json_t **session)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	char id[FD_UUID_LEN + 1], now[FD_TIME_LEN + 1], exp[FD_TIME_LEN + 1];
	util_uuid(id);
	util_now_rfc3339(now);
	util_format_rfc3339(expires_ms, exp);
	int64_t user_seq;
	int deleted = 0;
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = sq_user_seq(c, org_id, user_id, &user_seq, &deleted);
	if (rc == FD_OK && deleted)
		rc = FD_ECONFLICT;
	if (rc == FD_OK)
		rc = sq_building_live(c, str(request, "building_id"), user_seq);
	if (rc == FD_OK && str(request, "device_id")) { /* a re-authentication: the user's live device */
		struct dev_row row = {0};
		rc = dev_read(c, org_id, user_id, onboarding_type(request), str(request, "device_id"), &row, 0);
		if (rc == FD_OK && row.deleted)
			rc = FD_ENOTFOUND;
		json_decref(row.obj);
	}
	char *text = rc == FD_OK ? json_dumps(request, JSON_COMPACT) : NULL;
	sqlite3_stmt *s = rc == FD_OK ? sq_prep(c, SQL_OB_INSERT) : NULL;
	if (rc == FD_OK && (!text || !s))
		rc = text ? FD_EIO : FD_ENOMEM;
	if (rc == FD_OK) {
		sq_bind_text(s, 1, id);
		sq_bind_text(s, 2, org_id);
		sqlite3_bind_int64(s, 3, user_seq);
		sq_bind_text(s, 4, secret_hash);
		sqlite3_bind_text(s, 5, text, -1, free);
		text = NULL;
		sq_bind_text(s, 6, now);
		sqlite3_bind_int64(s, 7, expires_ms);
		rc = sq_step_write(s);
	}
	free(text);
	if (rc == FD_OK) {
		json_t *changes = json_pack("{s{snsO}s{snss}}", "request", "before", "after", request,
		                            "expiration_date", "before", "after", exp);
		rc = sq_audit(c, a, org_id, now, "onboarding.create", "user", user_id, changes);
		json_decref(changes);
	}
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
	if (rc != FD_OK) {
		sq_tx_rollback(c);
		return rc;
	}
	*session = json_pack("{sssssssssO}", "id", id, "user_id", user_id, "created_at", now, "expiration_date", exp,
	                     "request", request);
	return *session ? FD_OK : FD_ENOMEM;
}

static enum fd_err ob_read(struct conn *c, const char *secret_hash, json_t **session, int64_t *user_seq)
{
	sqlite3_stmt *s = sq_prep(c, SQL_OB_FIND);
	if (!s)
		return FD_EIO;
	sq_bind_text(s, 1, secret_hash);
	int r = sqlite3_step(s);
	if (r != SQLITE_ROW) {
		sq_done(s);
		return r == SQLITE_DONE ? FD_ENOTFOUND : sq_map_rc(r);
	}
	const char *req = sq_col_cstr(s, 3);
	json_t *request = json_loads(req, 0, NULL);
	*session = json_pack("{sosososo sI sososo}", "id", sq_col_str(s, 0), "org_id", sq_col_str(s, 1), "user_id",
	                     sq_col_str(s, 2), "request", request ? request : json_object(), "expires_ms",
	                     (json_int_t)sqlite3_column_int64(s, 4), "used_at", sq_col_str(s, 5), "device_id",
	                     sq_col_str(s, 6), "created_at", sq_col_str(s, 8));
	if (user_seq)
		*user_seq = sqlite3_column_int64(s, 7);
	sq_done(s);
	return *session ? FD_OK : FD_ENOMEM;
}

enum fd_err sq_onboarding_find(struct store *st, const char *secret_hash, json_t **session)
{
	struct conn *c = sq_get(st);
	return c ? ob_read(c, secret_hash, session, NULL) : FD_EIO;
}

enum fd_err sq_onboarding_complete(struct store *st, const char *secret_hash, int64_t now_ms, int cancel,
                                   json_t *fields, char *device_id)
{
	struct conn *c = sq_get(st);
	if (!c)
		return FD_EIO;
	json_t *sess = NULL;
	int64_t user_seq = 0;
	char now[FD_TIME_LEN + 1];
	util_format_rfc3339(now_ms, now);
	enum fd_err rc = sq_tx_begin(c);
	if (rc != FD_OK)
		return rc;
	rc = ob_read(c, secret_hash, &sess, &user_seq);
	if (rc == FD_OK && (!json_is_null(json_object_get(sess, "used_at")) ||
	                    json_integer_value(json_object_get(sess, "expires_ms")) <= now_ms))
		rc = FD_ECONFLICT;
	if (rc != FD_OK) {
		json_decref(sess);
		sq_tx_rollback(c);
		return rc;
	}
	const char *sid = str(sess, "id"), *org = str(sess, "org_id"), *uid = str(sess, "user_id");
	json_t *req = json_object_get(sess, "request");
	int deleted = 0;
	if (!cancel) { /* the user, and the building a new device goes into, must still be there */
		rc = sq_user_seq(c, org, uid, &user_seq, &deleted);
		if (rc == FD_OK && deleted)
			rc = FD_EINVALID;
		if (rc == FD_OK && !str(req, "device_id"))
			rc = sq_building_live(c, str(req, "building_id"), user_seq);
		if (rc != FD_OK) {
			json_decref(sess);
			sq_tx_rollback(c);
			return rc;
		}
	}
	struct store_actor a = {.type = "onboarding", .id = sid, .name = "self-service connection"};
	char id[FD_UUID_LEN + 1] = "";
	int type = onboarding_type(req);
	if (!cancel && str(req, "device_id")) { /* re-authenticate the device */
		snprintf(id, sizeof id, "%s", str(req, "device_id"));
		struct dev_row row = {0};
		rc = dev_read(c, org, uid, type, id, &row, 0);
		if (rc == FD_OK && row.deleted)
			rc = FD_ECONFLICT;
		json_t *merged = rc == FD_OK ? json_deep_copy(row.obj) : NULL;
		if (merged) {
			json_object_update(merged, fields);
			rc = dev_write(c, row.seq, merged, now, now_ms, NULL);
			json_t *changes = rc == FD_OK ? sq_diff(row.obj, merged, fields) : NULL;
			if (rc == FD_OK)
				rc = sq_audit(c, &a, org, now, "device.reauthenticate", "device", id, changes);
			json_decref(changes);
			json_decref(merged);
		} else if (rc == FD_OK) {
			rc = FD_ENOMEM;
		}
		json_decref(row.obj);
	} else if (!cancel) { /* a new device of the session's type */
		util_uuid(id);
		rc = sq_room(c, SQL_DEV_COUNT, user_seq, type);
		if (rc == FD_OK) {
			rc = dev_insert(c, id, org, user_seq, type, fields, now, now_ms);
			if (rc == FD_OK) {
				json_t *changes = sq_diff(NULL, fields, fields);
				rc = sq_audit(c, &a, org, now, "device.create", "device", id, changes);
				json_decref(changes);
			}
		}
	}
	sqlite3_stmt *u = rc == FD_OK ? sq_prep(c, SQL_OB_USE) : NULL;
	if (rc == FD_OK && !u)
		rc = FD_EIO;
	if (rc == FD_OK) {
		sq_bind_text(u, 1, sid);
		sq_bind_text(u, 2, now);
		sq_bind_text(u, 3, cancel ? NULL : id);
		sqlite3_bind_int64(u, 4, now_ms);
		rc = sq_step_write(u);
		if (rc == FD_OK && sqlite3_changes(sq_db(c)) != 1)
			rc = FD_ECONFLICT;
	}
	if (rc == FD_OK) {
		json_t *changes =
		    json_pack("{s{snss}}", "result", "before", "after", cancel ? "cancelled" : "connected");
		rc = sq_audit(c, &a, org, now, cancel ? "onboarding.cancel" : "onboarding.complete", "user", uid,
		              changes);
		json_decref(changes);
	}
	json_decref(sess);
	if (rc == FD_OK)
		rc = sq_tx_commit(c);
	if (rc != FD_OK) {
		sq_tx_rollback(c);
		return rc;
	}
	if (device_id)
		snprintf(device_id, FD_UUID_LEN + 1, "%s", id);
	return FD_OK;
}
