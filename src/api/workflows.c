/*
 * workflows.c - the support workflows, each one call: a device's
 * diagnosis and consumption comparison, the user summary, the fleet view
 * and the user migration. The computations are support.c's; this file
 * gathers their input from the store and replies.
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/device_fields.h"
#include "api/devices.h"
#include "api/handlers.h"
#include "api/peers.h"
#include "api/records.h"
#include "api/support.h"
#include "api/user_fields.h"
#include "core/jsonw.h"
#include "core/util.h"

/* ------------------------------------------------------------------ diagnosis */

/* The user's live energy contracts as the API shows them; NULL on failure (replied). */
static json_t *user_contracts(struct req *r, enum fd_err *rc)
{
	json_t *recs = NULL;
	*rc = store_record_list(req_store(r), req_param(r, 0), req_param(r, 1), REC_CONTRACT, &recs);
	if (*rc != FD_OK) {
		reply_problem(r, *rc, *rc == FD_ENOTFOUND ? "no such user" : NULL, NULL);
		return NULL;
	}
	json_t *out = json_array();
	size_t i;
	json_t *k;
	json_array_foreach(recs, i, k) json_array_append_new(out, record_view(REC_CONTRACT, k));
	json_decref(recs);
	return out;
}

enum fd_err devices_diagnosis(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *view = NULL;
	int64_t version = 0;
	int64_t now = util_now_ms();
	rc = device_load(r, now, &view, &version);
	if (rc != FD_OK)
		return rc;
	int type = device_route_type(r);
	json_t *contracts = user_contracts(r, &rc);
	if (!contracts) {
		json_decref(view);
		return rc;
	}
	char at[FD_TIME_LEN + 1];
	util_format_rfc3339(now, at);
	json_t *out = json_pack("{sOsssssososO}", "device_id", json_object_get(view, "id"), "device_type",
	                        device_types[type].path, "checked_at", at, "connection", support_connection(view, now),
	                        "optimization", support_optimization(type, view, contracts, now), "actions",
	                        json_object_get(view, "actions"));
	json_decref(view);
	json_decref(contracts);
	return reply_json(r, 200, out);
}

/* ------------------------------------------------------------------ summary */

enum fd_err users_summary(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	if (!uid)
		return FD_ENOTFOUND;
	json_t *user = NULL, *devs[DEV_TYPES] = {0}, *buildings = NULL, *out = NULL;
	int64_t version;
	struct store *st = req_store(r);
	const char *org = req_param(r, 0);
	rc = store_user_get(st, org, uid, &user, &version);
	for (int t = 0; rc == FD_OK && t < DEV_TYPES; t++)
		rc = store_device_list(st, org, uid, t, &devs[t]);
	if (rc == FD_OK)
		rc = store_record_list(st, org, uid, REC_BUILDING, &buildings);
	if (rc == FD_OK) {
		out = support_summary(user, devs, json_array_size(buildings));
		rc = out ? reply_json(r, 200, out) : FD_ENOMEM;
	} else {
		rc = reply_problem(r, rc, rc == FD_ENOTFOUND ? "no such user" : NULL, NULL);
	}
	json_decref(user);
	json_decref(buildings);
	for (int t = 0; t < DEV_TYPES; t++)
		json_decref(devs[t]);
	return rc;
}

/* ------------------------------------------------------------------ consumption comparison */

static json_t *compare_one(double x, const struct support_dist *d, size_t n)
{
	if (n == 0)
		return json_pack("{sfsnsnsnsn}", "kwh", x, "median", "p90", "percentile_rank", "ratio_to_median");
	json_t *ratio = d->median > 0 ? json_real(support_round2(x / d->median)) : json_null();
	return json_pack("{sfsfsfsfso}", "kwh", x, "median", support_round2(d->median), "p90", support_round2(d->p90),
	                 "percentile_rank", support_round2(d->rank), "ratio_to_median", ratio);
}

enum fd_err devices_consumption_comparison(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *dev = NULL; /* the device as the API shows it */
	int64_t version = 0;
	int64_t now = util_now_ms(), as_of = now;
	rc = device_load(r, now, &dev, &version);
	if (rc != FD_OK)
		return rc;
	int type = device_route_type(r);
	double day = json_number_value(json_object_get(dev, "consumption_last_day_kwh"));
	double month = json_number_value(json_object_get(dev, "consumption_last_month_kwh"));
	struct support_dist dd = {0}, dm = {0};
	size_t nd = 0, nm = 0;
	rc = peers_lookup(req_store(r), req_param(r, 0), type, 0, day, now, &dd, &nd, &as_of);
	if (rc == FD_OK)
		rc = peers_lookup(req_store(r), req_param(r, 0), type, 1, month, now, &dm, &nm, &as_of);
	if (rc != FD_OK) {
		json_decref(dev);
		return reply_problem(r, rc, NULL, NULL);
	}
	const char *assessment = nm == 0             ? "no_peers"
	                         : month > dm.p90    ? "above_p90"
	                         : month > dm.median ? "above_median"
	                                             : "at_or_below_median";
	char at[FD_TIME_LEN + 1];
	util_format_rfc3339(as_of, at);
	json_t *out = json_pack("{sOsssssIsoso ss sO?sO?sO?}", "device_id", json_object_get(dev, "id"), "device_type",
	                        device_types[type].path, "peers_as_of", at, "peers", (json_int_t)nm, "last_day",
	                        compare_one(day, &dd, nd), "last_month", compare_one(month, &dm, nm), "assessment",
	                        assessment, "operational_mode", json_object_get(dev, "operational_mode"),
	                        "current_mode", json_object_get(dev, "current_mode"), "is_smart_optimization_active",
	                        json_object_get(dev, "is_smart_optimization_active"));
	json_decref(dev);
	return reply_json(r, 200, out);
}

/* ------------------------------------------------------------------ fleet view */

static const char *const fleet_params[] = {
    "type", "authenticated", "stale", "optimization_active", "needs_attention", "zip_code", "user_id", NULL};

/* The fleet view's filters (shared with its export). */
static enum fd_err parse_fleet(struct req *r, struct store_fleet_query *q)
{
	const char *t = req_query(r, "type");
	if (t) {
		for (int i = 0; i < DEV_TYPES; i++) {
			if (strcmp(t, device_types[i].path) == 0)
				q->type = i;
		}
		if (q->type < 0)
			return api_bad_param(r, "type", "must be one of heat-pumps, electric-vehicles, inverters");
	}
	enum fd_err rc;
	if ((rc = api_bool_param(r, "authenticated", &q->authenticated)) != FD_OK ||
	    (rc = api_bool_param(r, "stale", &q->stale)) != FD_OK ||
	    (rc = api_bool_param(r, "optimization_active", &q->optimization_active)) != FD_OK)
		return rc;
	if ((rc = api_bool_param(r, "needs_attention", &q->needs_attention)) != FD_OK)
		return rc;
	q->zip_code = req_query(r, "zip_code");
	if (q->zip_code && (!*q->zip_code || strlen(q->zip_code) > 20))
		return api_bad_param(r, "zip_code", "must be a zip code (1 to 20 characters)");
	q->user_id = req_query(r, "user_id");
	if (q->user_id && !util_is_uuid(q->user_id))
		return api_bad_param(r, "user_id", "must be a user id (a UUID)");
	return FD_OK;
}

enum fd_err fleet_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	struct store_fleet_query q = {.org_id = req_param(r, 0), .type = -1};
	if ((rc = parse_fleet(r, &q)) != FD_OK || (rc = api_limit(r, &q.limit)) != FD_OK)
		return rc;
	const char *c = req_query(r, "cursor");
	if (c) {
		json_t *j = NULL;
		rc = api_cursor_decode(r, c, &j);
		if (rc != FD_OK)
			return rc;
		json_t *n = json_object_get(j, "n");
		if (!json_is_integer(n) || json_integer_value(n) < 0) {
			json_decref(j);
			return api_bad_param(r, "cursor", "is not a cursor of this list; start again without one");
		}
		q.after_seq = json_integer_value(n);
		json_decref(j);
	}
	json_t *items = NULL;
	int has_more = 0;
	int64_t last = 0, total = 0;
	rc = store_fleet_list(req_store(r), &q, &items, &has_more, &last, &total);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	/* written as it goes, each device's tree freed once written: a page of 1000 never holds two copies */
	struct buf out;
	buf_init(&out, 64u * 1024 * 1024);
	rc = buf_reserve(&out, json_array_size(items) * 1600 + 16); /* a device is about 1.4 kB */
	if (rc == FD_OK)
		rc = buf_append(&out, "[", 1);
	int64_t now = util_now_ms();
	for (size_t i = 0; rc == FD_OK && i < json_array_size(items); i++) {
		json_t *v = device_fleet_view(json_array_get(items, i), now);
		if (i)
			rc = buf_append(&out, ",", 1);
		if (rc == FD_OK)
			rc = v ? jsonw_value(&out, v) : FD_ENOMEM;
		json_decref(v);
		json_array_set_new(items, i, json_null());
	}
	json_decref(items);
	if (rc == FD_OK)
		rc = buf_append(&out, "]", 1);
	if (rc != FD_OK) {
		buf_release(&out);
		return reply_problem(r, rc, NULL, NULL);
	}
	char tot[32];
	snprintf(tot, sizeof tot, "%lld", (long long)total);
	reply_header(r, "X-Total-Count", tot);
	if (has_more) {
		json_t *next = json_pack("{sI}", "n", (json_int_t)last);
		char *enc = next ? api_cursor_encode(next) : NULL;
		json_decref(next);
		if (enc)
			api_link_next(r, fleet_params, q.limit, enc);
		free(enc);
	}
	size_t len = 0;
	char *text = buf_detach(&out, &len);
	return reply_take(r, 200, "application/json", text, len);
}

/* ------------------------------------------------------------------ fleet export */

/* GET streams the export; POST makes it a job (api_export, exports.c). */
static enum fd_err export_fleet(struct req *r, int job)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *format = NULL;
	if ((rc = api_export_format(r, &format)) != FD_OK)
		return rc;
	struct store_fleet_query q = {.org_id = req_param(r, 0), .type = -1};
	if ((rc = parse_fleet(r, &q)) != FD_OK)
		return rc;
	json_t *params =
	    json_pack("{sssssisisisisiss?ss?}", "kind", "devices", "format", format, "type", q.type, "authenticated",
	              q.authenticated, "stale", q.stale, "optimization_active", q.optimization_active,
	              "needs_attention", q.needs_attention, "zip_code", q.zip_code, "user_id", q.user_id);
	return api_export(r, params, job);
}

enum fd_err fleet_export(struct req *r)
{
	return export_fleet(r, 0);
}

enum fd_err fleet_export_job(struct req *r)
{
	return export_fleet(r, 1);
}

enum fd_err fleet_counts(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *counts = NULL;
	rc = store_fleet_counts(req_store(r), req_param(r, 0), &counts);
	return rc == FD_OK ? reply_json(r, 200, counts) : reply_problem(r, rc, NULL, NULL);
}

/* ------------------------------------------------------------------ migration */

enum fd_err users_migrate(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_MIGRATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	if (!uid)
		return FD_ENOTFOUND;
	json_t *old = NULL, *body = NULL, *clean = NULL, *errors = NULL, *report = NULL, *fresh = NULL;
	int64_t version = 0;
	rc = store_user_get(req_store(r), req_param(r, 0), uid, &old, &version);
	if (rc != FD_OK)
		return reply_problem(r, rc, rc == FD_ENOTFOUND ? "no such user" : NULL, NULL);
	if (json_is_string(json_object_get(old, "deleted_at"))) {
		json_decref(old);
		return reply_problem(r, FD_ECONFLICT, "the user is deleted or already migrated; restore the user first",
		                     NULL);
	}
	rc = req_json_body(r, &body);
	if (rc == FD_OK) {
		/* the body overrides the old user's fields; read-only fields may round-trip */
		rc = user_fields_validate(body, old, &clean, &errors);
		if (rc == FD_EINVALID)
			rc = reply_problem(r, rc, "the new user's fields are invalid", errors);
	}
	json_decref(body);
	if (rc != FD_OK) {
		json_decref(old);
		return rc;
	}
	json_t *new_user = json_object();
	for (int i = 0; store_user_writable[i]; i++)
		json_object_set(new_user, store_user_writable[i], json_object_get(old, store_user_writable[i]));
	json_object_update(new_user, clean);
	json_decref(clean);
	enum role old_role = role_parse(json_string_value(json_object_get(old, "role")));
	enum role new_role = role_parse(json_string_value(json_object_get(new_user, "role")));
	json_decref(old);
	rc = api_authorize(r, ACT_MIGRATE, old_role, new_role);
	if (rc != FD_OK) {
		json_decref(new_user);
		return rc;
	}
	if (api_if_match(r, version) != FD_OK) {
		json_decref(new_user);
		return reply_problem(r, FD_EPRECOND,
		                     "the user changed since you read it (If-Match is stale); read it again", NULL);
	}
	struct store_actor a = api_actor(r);
	const char *field = NULL;
	rc = store_user_migrate(req_store(r), &a, req_param(r, 0), uid, version, new_user, &report, &field);
	json_decref(new_user);
	if (rc == FD_ECONFLICT && field) {
		char d[160];
		snprintf(d, sizeof d, "%s is already used by another user of this org", field);
		return reply_problem(
		    r, rc, d, json_pack("[o]", problem_field(field, "is already used by another user of this org")));
	}
	if (rc == FD_EPRECOND)
		return reply_problem(r, rc, "the user changed during the migration; nothing was changed, try again",
		                     NULL);
	if (rc != FD_OK)
		return reply_problem(r, rc, "the migration was rolled back; nothing was changed", NULL);
	const char *nid = json_string_value(json_object_get(report, "new_user_id"));
	int64_t nv;
	if (store_user_get(req_store(r), req_param(r, 0), nid, &fresh, &nv) == FD_OK)
		json_object_set_new(report, "new_user", fresh);
	json_object_set_new(report, "verified", json_true());
	char loc[256];
	snprintf(loc, sizeof loc, API_PREFIX "/org/%s/users/%s", req_param(r, 0), nid);
	reply_header(r, "Location", loc);
	return reply_json(r, 201, report);
}
