/*
 * devices.c - /users/{user_id}/{heat-pumps|electric-vehicles|inverters}:
 * list, create, get, update, delete, reset-optimization, state reports and
 * statistics; and the org-wide /device-states batch.
 *
 * The route's arg names the device type. Path parameters: 0 org, 1 user,
 * 2 device. Writes follow users.c: authorise, validate against the stored
 * device, write at exactly the version read, retry if someone wrote first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/device_fields.h"
#include "api/devices.h"
#include "api/handlers.h"
#include "core/util.h"
#include "http/router.h"

#define MAX_WRITE_ATTEMPTS 3
#define MAX_READINGS       20000 /* per device per report */
#define MAX_REPORTS        1000  /* per batch */
#define READING_MAX_KWH    1000000.0
#define FUTURE_SLACK_MS    (5 * 60 * 1000LL)

int device_route_type(struct req *r)
{
	return r->route->arg;
}

const char *device_path_id(struct req *r, int i, const char *what)
{
	const char *id = req_param(r, i);
	if (util_is_uuid(id))
		return id;
	char d[64];
	snprintf(d, sizeof d, "no such %s", what);
	reply_problem(r, FD_ENOTFOUND, d, NULL);
	return NULL;
}

enum fd_err device_reply_failed(struct req *r, enum fd_err rc)
{
	switch (rc) {
	case FD_ENOTFOUND:
		return reply_problem(r, rc, "no such device for this user (check the user id, the type and the id)",
		                     NULL);
	case FD_ECONFLICT:
		return reply_problem(r, rc, "the device is deleted", NULL);
	case FD_EPRECOND:
		return reply_problem(r, rc, "the device changed since you read it (If-Match is stale); read it again",
		                     NULL);
	default:
		return reply_problem(r, rc, NULL, NULL);
	}
}

/* Replies with a device view (stolen) and its entity tag. */
static enum fd_err reply_view(struct req *r, unsigned status, json_t *view, int64_t version)
{
	if (!view)
		return FD_ENOMEM;
	char tag[DEVICE_ETAG_LEN];
	device_etag(view, version, tag);
	reply_header(r, "ETag", tag);
	return reply_json(r, status, view);
}

/* Replies with a stored device (stolen) as the API shows it now. */
static enum fd_err reply_device(struct req *r, unsigned status, int type, json_t *dev, int64_t version)
{
	json_t *v = device_view(type, dev, util_now_ms());
	json_decref(dev);
	return reply_view(r, status, v, version);
}

/* ------------------------------------------------------------------ list, create, get */

enum fd_err devices_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	if (!uid)
		return FD_ENOTFOUND;
	int type = device_route_type(r);
	json_t *devs = NULL;
	rc = store_device_list(req_store(r), req_param(r, 0), uid, type, &devs);
	if (rc == FD_ENOTFOUND)
		return reply_problem(r, rc, "no such user", NULL);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	json_t *out = json_array();
	int64_t now = util_now_ms();
	size_t i;
	json_t *d;
	json_array_foreach(devs, i, d) json_array_append_new(out, device_view(type, d, now));
	json_decref(devs);
	return reply_json(r, 200, out);
}

enum fd_err devices_create(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_CREATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	if (!uid)
		return FD_ENOTFOUND;
	int type = device_route_type(r);
	json_t *body = NULL, *clean = NULL, *errors = NULL, *dev = NULL;
	rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	rc = device_fields_validate(type, FM_CREATE, body, NULL, &clean, &errors);
	json_decref(body);
	if (rc == FD_EINVALID)
		return api_reply_invalid(r, errors);
	if (rc != FD_OK)
		return rc;
	struct store_actor a = api_actor(r);
	int64_t version = 0;
	rc = store_device_create(req_store(r), &a, req_param(r, 0), uid, type, clean, &dev, &version);
	json_decref(clean);
	if (rc != FD_OK)
		return api_reply_create_failed(r, rc, device_types[type].path);
	char loc[320];
	snprintf(loc, sizeof loc, API_PREFIX "/org/%s/users/%s/%s/%s", req_param(r, 0), uid, device_types[type].path,
	         json_string_value(json_object_get(dev, "id")));
	reply_header(r, "Location", loc);
	return reply_device(r, 201, type, dev, version);
}

enum fd_err device_load(struct req *r, int64_t now_ms, json_t **view, int64_t *version)
{
	const char *uid = device_path_id(r, 1, "user");
	const char *did = uid ? device_path_id(r, 2, "device") : NULL;
	if (!did)
		return FD_ENOTFOUND;
	json_t *dev = NULL;
	enum fd_err rc = store_device_get(req_store(r), req_param(r, 0), uid, device_route_type(r), did, &dev, version);
	if (rc != FD_OK)
		return device_reply_failed(r, rc);
	*view = device_view(device_route_type(r), dev, now_ms);
	json_decref(dev);
	return *view ? FD_OK : FD_ENOMEM;
}

enum fd_err devices_get(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *view = NULL;
	int64_t version = 0;
	rc = device_load(r, util_now_ms(), &view, &version);
	if (rc != FD_OK)
		return rc;
	char tag[DEVICE_ETAG_LEN];
	device_etag(view, version, tag);
	if (api_if_none_match_tag(r, tag)) {
		json_decref(view);
		reply_header(r, "ETag", tag);
		return reply_empty(r, 304);
	}
	return reply_view(r, 200, view, version);
}

/* ------------------------------------------------------------------ writes */

/*
 * Validates body against the stored device (patch NULL: a fixed patch
 * given by the caller instead) and writes it at the version validated.
 */
static enum fd_err write_device(struct req *r, json_t *body, json_t *fixed, const char *action)
{
	int type = device_route_type(r);
	for (int attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
		json_t *view = NULL, *clean = NULL, *errors = NULL, *out = NULL;
		int64_t version = 0, nv = 0;
		enum fd_err rc = device_load(r, util_now_ms(), &view, &version);
		if (rc != FD_OK)
			return rc;
		if (json_is_string(json_object_get(view, "deleted_at"))) {
			json_decref(view);
			return device_reply_failed(r, FD_ECONFLICT);
		}
		char tag[DEVICE_ETAG_LEN];
		device_etag(view, version, tag);
		if (api_if_match_tag(r, tag) != FD_OK) {
			json_decref(view);
			return device_reply_failed(r, FD_EPRECOND);
		}
		if (fixed)
			clean = json_incref(fixed);
		else
			rc = device_fields_validate(type, FM_UPDATE, body, view, &clean, &errors);
		json_decref(view);
		if (rc != FD_OK)
			return rc == FD_EINVALID ? api_reply_invalid(r, errors) : rc;
		struct store_actor a = api_actor(r);
		rc = store_device_update(req_store(r), &a, req_param(r, 0), req_param(r, 1), type, req_param(r, 2), clean,
		                         version, action, &out, &nv);
		json_decref(clean);
		if (rc == FD_EPRECOND)
			continue;
		if (rc == FD_EINVALID)
			return api_reply_bad_building(r);
		if (rc != FD_OK)
			return device_reply_failed(r, rc);
		return reply_device(r, 200, type, out, nv);
	}
	return reply_problem(r, FD_EBUSY, "the device is being changed by others; try again", NULL);
}

enum fd_err devices_update(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_UPDATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *body = NULL;
	rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	rc = write_device(r, body, NULL, "device.update");
	json_decref(body);
	return rc;
}

enum fd_err devices_reset_optimization(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_UPDATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *reset = json_pack("{sbsn}", "is_smart_optimization_active", 1, "pause_power_until");
	rc = write_device(r, NULL, reset, "device.reset_optimization");
	json_decref(reset);
	return rc;
}

enum fd_err devices_delete(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_UPDATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	for (int attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
		json_t *view = NULL;
		int64_t version = 0;
		rc = device_load(r, util_now_ms(), &view, &version);
		if (rc != FD_OK)
			return rc;
		char tag[DEVICE_ETAG_LEN];
		device_etag(view, version, tag);
		json_decref(view);
		if (api_if_match_tag(r, tag) != FD_OK)
			return device_reply_failed(r, FD_EPRECOND);
		struct store_actor a = api_actor(r);
		rc = store_device_delete(req_store(r), &a, req_param(r, 0), req_param(r, 1), device_route_type(r),
		                         req_param(r, 2), version);
		if (rc == FD_EPRECOND)
			continue;
		if (rc != FD_OK)
			return device_reply_failed(r, rc);
		return reply_empty(r, 204);
	}
	return reply_problem(r, FD_EBUSY, "the device is being changed by others; try again", NULL);
}

/* ------------------------------------------------------------------ state reports */

/* One report body, validated: {"state": {...}, "readings": [...]}. prefix names the item in errors. */
struct report_in {
	json_t *state;
	struct store_reading *readings;
	size_t n;
};

static void report_release(struct report_in *in)
{
	json_decref(in->state);
	free(in->readings);
	memset(in, 0, sizeof *in);
}

/*
 * Appends the error e (stolen) about a report, under reports/{item} when the
 * report is an item of a batch (item >= 0), and under the nested member
 * path given by inner segments (e.g. "readings", "3") first.
 */
static void push(json_t *errors, long item, json_t *e, const char *seg1, const char *seg2)
{
	if (seg2)
		problem_prefix(e, seg2);
	if (seg1)
		problem_prefix(e, seg1);
	if (item >= 0) {
		char idx[24];
		snprintf(idx, sizeof idx, "%ld", item);
		problem_prefix(problem_prefix(e, idx), "reports");
	}
	json_array_append_new(errors, e);
}

static void add_err(json_t *errors, long item, const char *field, const char *detail)
{
	push(errors, item, problem_field(field, detail), NULL, NULL);
}

static int reading_number(json_t *v, double *out)
{
	if (!v || json_is_null(v)) {
		*out = 0;
		return 1;
	}
	if (!json_is_number(v))
		return 0;
	double x = json_number_value(v);
	if (!isfinite(x) || x < 0 || x > READING_MAX_KWH)
		return 0;
	*out = x;
	return 1;
}

static void parse_readings(json_t *arr, long item, struct report_in *in, json_t *errors)
{
	if (!arr)
		return;
	if (!json_is_array(arr) || json_array_size(arr) > MAX_READINGS) {
		add_err(errors, item, "readings", "must be an array of at most 20000 readings");
		return;
	}
	size_t n = json_array_size(arr);
	in->readings = n ? calloc(n, sizeof *in->readings) : NULL;
	if (n && !in->readings) {
		add_err(errors, item, "readings", "too many readings to hold");
		return;
	}
	int64_t latest = util_now_ms() + FUTURE_SLACK_MS;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		char idx[24];
		snprintf(idx, sizeof idx, "%zu", i);
		const char *ts = json_string_value(json_object_get(e, "timestamp"));
		int64_t ms;
		const char *key;
		json_t *v;
		int unknown = 0;
		json_object_foreach(e, key, v) unknown |= strcmp(key, "timestamp") != 0 &&
		                                          strcmp(key, "consumption_kwh") != 0 &&
		                                          strcmp(key, "production_kwh") != 0;
		if (!json_is_object(e) || unknown) {
			push(errors, item, problem_field(idx, "must be an object with timestamp, consumption_kwh and production_kwh"),
			     "readings", NULL);
			return;
		}
		if (!ts || util_parse_rfc3339(ts, &ms) != FD_OK || ms < 946684800000LL || ms > latest) {
			push(errors, item,
			     problem_field("timestamp", "must be an RFC 3339 date-time (the interval's start) from 2000 on, "
			                                "at most 5 minutes ahead of the server's clock"),
			     "readings", idx);
			return;
		}
		struct store_reading *rd = &in->readings[in->n];
		if (!reading_number(json_object_get(e, "consumption_kwh"), &rd->kwh_in) ||
		    !reading_number(json_object_get(e, "production_kwh"), &rd->kwh_out)) {
			push(errors, item,
			     problem_field(idx, "consumption_kwh and production_kwh must be numbers from 0 to 1000000"),
			     "readings", NULL);
			return;
		}
		rd->ts = ms / 1000;
		in->n++;
	}
}

/* Validates one report object for type; FD_EINVALID with errors added. */
static enum fd_err parse_report(json_t *body, int type, long item, struct report_in *in, json_t *errors)
{
	size_t before = json_array_size(errors);
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		int batch = item >= 0;
		if (strcmp(key, "state") != 0 && strcmp(key, "readings") != 0 &&
		    !(batch && (strcmp(key, "device_id") == 0 || strcmp(key, "device_type") == 0)))
			add_err(errors, item, key,
			        batch ? "is not a field of a report (device_id, device_type, state, readings)"
			              : "is not a field of a report (state, readings)");
	}
	json_t *state = json_object_get(body, "state");
	if (state && !json_is_object(state)) {
		add_err(errors, item, "state", "must be an object of state fields");
	} else if (state) {
		json_t *clean = NULL, *errs = NULL;
		enum fd_err rc = device_fields_validate(type, FM_STATE, state, NULL, &clean, &errs);
		if (rc == FD_EINVALID) {
			size_t i;
			json_t *e;
			json_array_foreach(errs, i, e) push(errors, item, json_incref(e), "state", NULL);
			json_decref(errs);
		} else if (rc != FD_OK) {
			return rc;
		}
		in->state = clean;
	}
	parse_readings(json_object_get(body, "readings"), item, in, errors);
	if (!state && !json_object_get(body, "readings"))
		add_err(errors, item, "state", "a report needs state, readings or both");
	return json_array_size(errors) > before ? FD_EINVALID : FD_OK;
}

enum fd_err devices_report_state(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_STATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	const char *did = uid ? device_path_id(r, 2, "device") : NULL;
	if (!did)
		return FD_ENOTFOUND;
	int type = device_route_type(r);
	json_t *body = NULL, *errors = json_array();
	rc = req_json_body(r, &body);
	if (rc != FD_OK) {
		json_decref(errors);
		return rc;
	}
	struct report_in in = {0};
	rc = parse_report(body, type, -1, &in, errors);
	json_decref(body);
	if (rc != FD_OK) {
		report_release(&in);
		return rc == FD_EINVALID ? api_reply_invalid(r, errors) : (json_decref(errors), rc);
	}
	json_decref(errors);
	struct store_report rep = {.device_id = did, .user_id = uid, .type = type, .state = in.state,
	                           .readings = in.readings, .nreadings = in.n};
	struct store_actor a = api_actor(r);
	rc = store_device_report(req_store(r), &a, req_param(r, 0), &rep, 1);
	report_release(&in);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	if (rep.result != FD_OK)
		return device_reply_failed(r, rep.result);
	json_t *view = NULL;
	int64_t version = 0;
	rc = device_load(r, util_now_ms(), &view, &version);
	return rc == FD_OK ? reply_view(r, 200, view, version) : rc;
}

static int type_from_path(const char *s)
{
	for (int t = 0; s && t < DEV_TYPES; t++) {
		if (strcmp(device_types[t].path, s) == 0)
			return t;
	}
	return -1;
}

enum fd_err devices_report_batch(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_STATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *body = NULL;
	rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	json_t *items = json_object_get(body, "reports");
	if (!json_is_array(items) || json_array_size(items) == 0 || json_array_size(items) > MAX_REPORTS ||
	    json_object_size(body) != 1) {
		json_decref(body);
		return reply_problem(r, FD_EINVALID, "the body must be {\"reports\": [...]} with 1 to 1000 reports",
		                     json_pack("[o]", problem_field("reports", "must be an array of 1 to 1000 reports")));
	}
	size_t n = json_array_size(items);
	struct report_in *ins = calloc(n, sizeof *ins);
	struct store_report *reps = calloc(n, sizeof *reps);
	json_t **errs = calloc(n, sizeof *errs);
	size_t *map = calloc(n, sizeof *map);
	unsigned *status = calloc(n, sizeof *status);
	if (!ins || !reps || !errs || !map || !status) {
		rc = FD_ENOMEM;
		goto out;
	}
	size_t valid = 0, readings = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(items, i);
		errs[i] = json_array();
		long item = (long)i;
		if (!json_is_object(it)) {
			char idx[24];
			snprintf(idx, sizeof idx, "%zu", i);
			push(errs[i], -1, problem_field(idx, "must be a report object"), "reports", NULL);
			continue;
		}
		const char *did = json_string_value(json_object_get(it, "device_id"));
		int type = type_from_path(json_string_value(json_object_get(it, "device_type")));
		if (!did || !util_is_uuid(did))
			add_err(errs[i], item, "device_id", "must be a device id (a UUID)");
		if (type < 0)
			add_err(errs[i], item, "device_type", "must be one of heat-pumps, electric-vehicles, inverters");
		if (json_array_size(errs[i]) > 0)
			continue;
		rc = parse_report(it, type, item, &ins[i], errs[i]);
		if (rc == FD_ENOMEM)
			goto out;
		if (rc != FD_OK)
			continue;
		reps[valid] = (struct store_report){.device_id = did, .type = type, .state = ins[i].state,
		                                    .readings = ins[i].readings, .nreadings = ins[i].n};
		map[valid++] = i;
	}
	struct store_actor a = api_actor(r);
	rc = valid ? store_device_report(req_store(r), &a, req_param(r, 0), reps, valid) : FD_OK;
	if (rc != FD_OK) {
		rc = reply_problem(r, rc, NULL, NULL);
		goto out;
	}
	for (size_t k = 0; k < valid; k++) {
		if (reps[k].result == FD_OK) {
			readings += reps[k].nreadings;
			continue;
		}
		status[map[k]] = problem_status(reps[k].result);
		add_err(errs[map[k]], (long)map[k], "device_id",
		        reps[k].result == FD_ENOTFOUND ? "is not a device of this org of that type" : "is deleted");
	}
	json_t *results = json_array();
	size_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *did = json_object_get(json_array_get(items, i), "device_id");
		int failed = json_array_size(errs[i]) > 0;
		json_t *res = json_pack("{sOss}", "device_id", json_is_string(did) ? did : json_null(), "status",
		                        failed ? "error" : "success");
		if (failed) {
			unsigned st = status[i] ? status[i] : 422;
			char detail[64];
			size_t ne = json_array_size(errs[i]);
			if (st == 404)
				snprintf(detail, sizeof detail, "no such device of this type in this org");
			else if (st == 409)
				snprintf(detail, sizeof detail, "the device is deleted");
			else
				snprintf(detail, sizeof detail, "%zu field%s invalid", ne, ne == 1 ? " is" : "s are");
			json_object_set_new(res, "error",
			                    json_pack("{sssssissss sO}", "type", "about:blank", "title",
			                              st == 404 ? "Not Found" : st == 409 ? "Conflict" : "Unprocessable Content",
			                              "status", (int)st, "detail", detail, "request_id", r->request_id,
			                              "errors", errs[i]));
		} else {
			ok++;
		}
		json_array_append_new(results, res);
	}
	json_t *reply = json_pack("{sIsIsIso}", "applied", (json_int_t)ok, "failed", (json_int_t)(n - ok), "readings",
	                          (json_int_t)readings, "results", results);
	rc = reply_json(r, 200, reply);
out:
	for (size_t i = 0; ins && errs && i < n; i++) {
		report_release(&ins[i]);
		json_decref(errs[i]);
	}
	free(ins);
	free(reps);
	free(errs);
	free(map);
	free(status);
	json_decref(body);
	return rc;
}

/* ------------------------------------------------------------------ statistics */

static const char *const resolutions[] = {"1DAY", "1WEEK", "1MONTH", "1QUARTER", "1YEAR", NULL};

static enum fd_err time_param(struct req *r, const char *name, int64_t def, int64_t *out)
{
	const char *s = req_query(r, name);
	if (!s) {
		*out = def;
		return FD_OK;
	}
	int64_t ms;
	if (util_parse_rfc3339(s, &ms) != FD_OK)
		return api_bad_param(r, name, "must be an RFC 3339 date-time, like 2026-11-01T00:00:00Z");
	*out = ms;
	return FD_OK;
}

enum fd_err devices_statistics(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	const char *did = uid ? device_path_id(r, 2, "device") : NULL;
	if (!did)
		return FD_ENOTFOUND;
	int type = device_route_type(r);
	const char *res = req_query(r, "resolution");
	if (!res)
		res = "1DAY";
	int ok = 0;
	for (const char *const *p = resolutions; *p; p++)
		ok |= strcmp(*p, res) == 0;
	if (!ok)
		return api_bad_param(r, "resolution", "must be one of 1DAY, 1WEEK, 1MONTH, 1QUARTER, 1YEAR");
	const char *kw = req_query(r, "keywords");
	if (!kw)
		kw = "consumption";
	int want_cons = 0, want_prod = 0;
	char kwbuf[64];
	if (strlen(kw) >= sizeof kwbuf)
		return api_bad_param(r, "keywords", "is too long: name consumption, production or both");
	snprintf(kwbuf, sizeof kwbuf, "%s", kw);
	for (char *save = NULL, *t = strtok_r(kwbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "consumption") == 0)
			want_cons = 1;
		else if (strcmp(t, "production") == 0 && type == DEV_INVERTER)
			want_prod = 1;
		else if (strcmp(t, "savings") == 0)
			return api_bad_param(r, "keywords", "savings are not computed by fleetdesk; ask for consumption");
		else
			return api_bad_param(r, "keywords",
			                 type == DEV_INVERTER ? "must be consumption, production or both, comma-separated"
			                                      : "must be consumption");
	}
	if (!want_cons && !want_prod)
		return api_bad_param(r, "keywords", type == DEV_INVERTER ? "must name consumption, production or both"
		                                                         : "must be consumption");
	int64_t now = util_now_ms(), to_ms = 0, from_ms = 0;
	if (time_param(r, "to", now, &to_ms) != FD_OK || time_param(r, "from", to_ms - 30LL * 86400000, &from_ms) != FD_OK)
		return FD_EBADREQ;
	if (from_ms >= to_ms)
		return api_bad_param(r, "from", "must be before to");
	json_t *buckets = NULL;
	rc = store_device_statistics(req_store(r), req_param(r, 0), uid, type, did, res, from_ms / 1000,
	                             (to_ms + 999) / 1000, &buckets);
	if (rc == FD_ETOOLARGE)
		return api_bad_param(r, "from", "gives more than 1000 periods at this resolution; narrow the range");
	if (rc != FD_OK)
		return device_reply_failed(r, rc);
	char nows[FD_TIME_LEN + 1], froms[FD_TIME_LEN + 1], tos[FD_TIME_LEN + 1];
	util_format_rfc3339(now, nows);
	util_format_rfc3339(from_ms, froms);
	util_format_rfc3339(to_ms, tos);
	json_t *data = json_array(), *units = json_object(), *kws = json_array();
	if (want_cons) {
		json_object_set_new(units, "consumption", json_string("kWh"));
		json_array_append_new(kws, json_string("consumption"));
	}
	if (want_prod) {
		json_object_set_new(units, "production", json_string("kWh"));
		json_array_append_new(kws, json_string("production"));
	}
	size_t i;
	json_t *bk;
	json_array_foreach(buckets, i, bk)
	{
		char s[FD_TIME_LEN + 1], e[FD_TIME_LEN + 1];
		util_format_rfc3339(json_integer_value(json_object_get(bk, "start")) * 1000, s);
		util_format_rfc3339(json_integer_value(json_object_get(bk, "end")) * 1000, e);
		json_t *d = json_pack("{sss{ssss}}", "resolution", res, "period", "start_period", s, "end_period", e);
		if (want_cons)
			json_object_set_new(d, "consumption", json_pack("{sO}", "total", json_object_get(bk, "consumption")));
		if (want_prod)
			json_object_set_new(d, "production", json_pack("{sO}", "total", json_object_get(bk, "production")));
		json_array_append_new(data, d);
	}
	json_decref(buckets);
	json_t *out = json_pack("{s{sss{sssssssssoss}sosn}so}", "metadata", "requested_at", nows, "query", "device_id",
	                        did, "resolution", res, "from", froms, "to", tos, "keywords", kws, "timezone", "UTC",
	                        "units", units, "error", "data", data);
	return reply_json(r, 200, out);
}
