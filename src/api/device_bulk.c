/*
 * device_bulk.c - one settings change applied to many devices (see
 * device_bulk.h): the shared checks, and POST /devices/bulk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common.h"
#include "api/device_bulk.h"
#include "api/device_fields.h"
#include "api/handlers.h"
#include "core/util.h"

enum fd_err device_action_parse(json_t *obj, int type, struct device_action *act, json_t **errors)
{
	memset(act, 0, sizeof *act);
	*errors = json_array();
	if (!*errors)
		return FD_ENOMEM;
	const char *action = json_string_value(json_object_get(obj, "action"));
	json_t *settings = json_object_get(obj, "settings");
	if (!action || (strcmp(action, "reset_optimization") != 0 && strcmp(action, "update") != 0)) {
		json_array_append_new(*errors, problem_field("action", "must be reset_optimization or update"));
	} else if (strcmp(action, "reset_optimization") == 0) {
		act->reset = 1;
		act->patch = json_pack("{sbsn}", "is_smart_optimization_active", 1, "pause_power_until");
		if (settings)
			json_array_append_new(*errors, problem_field("settings", "is not taken by reset_optimization"));
	} else if (!json_is_object(settings) || !json_object_size(settings)) {
		json_array_append_new(*errors, problem_field("settings", "must be an object of the settings to set"));
	} else {
		/* the settings must suit a type they may meet (the filter's, or any): their field rules,
		 * without a device yet; each device checks them again against itself */
		json_t *first = NULL;
		int suits = 0;
		for (int t = 0; t < DEV_TYPES && !suits; t++) {
			if (type >= 0 && t != type)
				continue;
			json_t *clean = NULL, *errs = NULL;
			enum fd_err rc = device_fields_validate(t, FM_UPDATE, settings, NULL, &clean, &errs);
			json_decref(clean);
			if (rc == FD_OK)
				suits = 1;
			else if (rc == FD_EINVALID && !first)
				first = errs;
			else
				json_decref(errs);
			if (rc != FD_OK && rc != FD_EINVALID) {
				json_decref(first);
				json_decref(*errors);
				*errors = NULL;
				return rc;
			}
		}
		if (!suits) {
			size_t i;
			json_t *e;
			json_array_foreach(first, i, e) json_array_append(*errors, problem_prefix(e, "settings"));
		}
		json_decref(first);
		act->settings = json_incref(settings);
	}
	if (json_array_size(*errors)) {
		device_action_release(act);
		return FD_EINVALID;
	}
	json_decref(*errors);
	*errors = NULL;
	return act->reset && !act->patch ? FD_ENOMEM : FD_OK;
}

void device_action_release(struct device_action *act)
{
	json_decref(act->settings);
	json_decref(act->patch);
	memset(act, 0, sizeof *act);
}

/* store_device_op's prepare for an update: the settings checked against the
 * device as it is inside the transaction, as its PUT would check them. */
static enum fd_err prepare_update(void *ctx, int type, json_t *stored, json_t **patch, json_t **errors)
{
	const struct device_action *act = ctx;
	if (type < 0 || type >= DEV_TYPES)
		return FD_EIO;
	json_t *view = device_view(type, stored, util_now_ms());
	if (!view)
		return FD_ENOMEM;
	enum fd_err rc = device_fields_validate(type, FM_UPDATE, act->settings, view, patch, errors);
	json_decref(view);
	return rc;
}

void device_action_op(const struct device_action *act, const char *device_id, struct store_device_op *op)
{
	memset(op, 0, sizeof *op);
	op->device_id = device_id;
	op->expect_version = -1;
	op->type = -1;
	if (act->reset) {
		op->patch = act->patch;
		op->action = "device.reset_optimization";
	} else {
		op->prepare = prepare_update;
		op->ctx = (void *)act;
		op->action = "device.update";
	}
}

json_t *device_op_problem(const struct store_device_op *op)
{
	switch (op->result) {
	case FD_ENOTFOUND:
		return problem_new(op->result, "no such device in this org", NULL);
	case FD_ECONFLICT:
		return problem_new(op->result, "the device is deleted", NULL);
	case FD_EPRECOND:
		return problem_new(op->result, "the device changed meanwhile; try again", NULL);
	case FD_EINVALID:
		if (op->errors) {
			json_t *errs = json_array();
			size_t i;
			json_t *e;
			json_array_foreach(op->errors, i, e) json_array_append(errs, problem_prefix(e, "settings"));
			return problem_new(op->result, "the settings do not suit this device", errs);
		}
		return problem_new(op->result, "building_id must name a building of the device's user", NULL);
	default:
		return problem_new(op->result, NULL, NULL);
	}
}

static enum fd_err filter_bool(json_t *filter, const char *name, int *out, json_t *errors)
{
	json_t *v = json_object_get(filter, name);
	*out = -1;
	if (!v || json_is_null(v))
		return FD_OK;
	if (!json_is_boolean(v)) {
		json_array_append_new(errors, problem_prefix(problem_field(name, "must be true or false"), "filter"));
		return FD_EINVALID;
	}
	*out = json_is_true(v);
	return FD_OK;
}

enum fd_err device_filter_parse(json_t *filter, struct store_fleet_query *q, json_t **errors)
{
	*errors = json_array();
	if (!*errors)
		return FD_ENOMEM;
	q->type = -1;
	q->authenticated = q->stale = q->optimization_active = q->needs_attention = -1;
	static const char *const known[] = {
	    "type", "authenticated", "stale", "optimization_active", "needs_attention", "zip_code", NULL};
	const char *key;
	json_t *v;
	json_object_foreach(filter, key, v)
	{
		int ok = 0;
		for (int i = 0; known[i]; i++)
			ok |= strcmp(key, known[i]) == 0;
		if (!ok)
			json_array_append_new(*errors,
			                      problem_prefix(problem_field(key, "is not a fleet filter"), "filter"));
	}
	json_t *t = json_object_get(filter, "type");
	if (t && !json_is_null(t)) {
		for (int i = 0; json_is_string(t) && i < DEV_TYPES; i++) {
			if (strcmp(json_string_value(t), device_types[i].path) == 0)
				q->type = i;
		}
		if (q->type < 0)
			json_array_append_new(
			    *errors,
			    problem_prefix(problem_field("type", "must be heat-pumps, electric-vehicles or inverters"),
			                   "filter"));
	}
	filter_bool(filter, "authenticated", &q->authenticated, *errors);
	filter_bool(filter, "stale", &q->stale, *errors);
	filter_bool(filter, "optimization_active", &q->optimization_active, *errors);
	filter_bool(filter, "needs_attention", &q->needs_attention, *errors);
	json_t *zip = json_object_get(filter, "zip_code");
	if (zip && !json_is_null(zip)) {
		if (!json_is_string(zip) || !*json_string_value(zip) || strlen(json_string_value(zip)) > 20)
			json_array_append_new(
			    *errors,
			    problem_prefix(problem_field("zip_code", "must be a zip code (1 to 20 characters)"),
			                   "filter"));
		else
			q->zip_code = json_string_value(zip);
	}
	if (json_array_size(*errors))
		return FD_EINVALID;
	json_decref(*errors);
	*errors = NULL;
	return FD_OK;
}

/* ------------------------------------------------------------------ POST /devices/bulk */

/* A list of ids, applied at once: one result per id, in order. */
static enum fd_err bulk_ids(struct req *r, json_t *ids, struct device_action *act)
{
	size_t n = json_array_size(ids);
	struct store_device_op *ops = calloc(n ? n : 1, sizeof *ops);
	if (!ops)
		return FD_ENOMEM;
	for (size_t i = 0; i < n; i++)
		device_action_op(act, json_string_value(json_array_get(ids, i)), &ops[i]);
	struct store_actor a = api_actor(r);
	enum fd_err rc = store_device_batch(req_store(r), &a, req_param(r, 0), ops, n, NULL);
	json_t *results = rc == FD_OK ? json_array() : NULL;
	size_t ok = 0;
	int64_t now = util_now_ms();
	for (size_t i = 0; results && i < n; i++) {
		struct store_device_op *op = &ops[i];
		json_t *item = json_pack("{sIss}", "index", (json_int_t)i, "device_id", op->device_id);
		if (op->result == FD_OK) {
			ok++;
			json_t *view = device_view(op->type, op->dev, now);
			if (view)
				json_object_set_new(view, "device_type", json_string(device_types[op->type].path));
			json_object_set_new(item, "status", json_string("success"));
			json_object_set_new(item, "status_code", json_integer(200));
			json_object_set_new(item, "data", view ? view : json_null());
		} else {
			json_t *p = device_op_problem(op);
			json_object_set_new(item, "status", json_string("error"));
			json_object_set_new(item, "status_code", json_integer(problem_status(op->result)));
			json_object_set_new(item, "error", p);
		}
		json_array_append_new(results, item);
	}
	for (size_t i = 0; i < n; i++) {
		json_decref(ops[i].dev);
		json_decref(ops[i].errors);
	}
	free(ops);
	if (rc != FD_OK)
		return reply_problem(r, rc, "nothing was applied", NULL);
	return reply_json(
	    r, 200,
	    json_pack("{sosIsI}", "results", results, "succeeded", (json_int_t)ok, "failed", (json_int_t)(n - ok)));
}

/* A fleet filter: a job that works through every device it matches. */
static enum fd_err bulk_filter(struct req *r, json_t *body, const struct store_fleet_query *q)
{
	struct jobs *jobs = req_jobs(r);
	if (!jobs)
		return reply_problem(r, FD_EBUSY, "this server runs no jobs", NULL);
	json_t *items = NULL;
	int has_more = 0;
	int64_t last = 0, total = 0;
	struct store_fleet_query count = *q;
	count.limit = 1;
	enum fd_err rc = store_fleet_list(req_store(r), &count, &items, &has_more, &last, &total);
	json_decref(items);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	json_t *params =
	    json_pack("{sOsO}", "action", json_object_get(body, "action"), "filter", json_object_get(body, "filter"));
	if (params && json_object_get(body, "settings"))
		json_object_set(params, "settings", json_object_get(body, "settings"));
	rc = params ? api_job_start(r, "devices.update", params, total, "the job") : FD_ENOMEM;
	json_decref(params);
	return rc;
}

enum fd_err devices_bulk(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_DEVICE_UPDATE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *body = NULL, *errors = NULL;
	if ((rc = req_json_body(r, &body)) != FD_OK)
		return rc;
	json_t *ids = json_object_get(body, "device_ids"), *filter = json_object_get(body, "filter");
	struct store_fleet_query q = {.org_id = req_param(r, 0), .type = -1};
	errors = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "action") != 0 && strcmp(key, "settings") != 0 && strcmp(key, "device_ids") != 0 &&
		    strcmp(key, "filter") != 0)
			json_array_append_new(errors, problem_field(key, "is not a member of a bulk device request"));
	}
	if (!ids == !filter) {
		json_array_append_new(errors, problem_field(ids ? "filter" : "device_ids",
		                                            "give either device_ids or filter, exactly one of them"));
	} else if (ids) {
		size_t n = json_array_size(ids);
		if (!json_is_array(ids) || n == 0 || n > DEVICE_BULK_MAX)
			json_array_append_new(errors,
			                      problem_field("device_ids", "must be an array of 1 to 1000 device ids"));
		for (size_t i = 0; json_is_array(ids) && i < n && i < DEVICE_BULK_MAX; i++) {
			const char *id = json_string_value(json_array_get(ids, i));
			char seg[24];
			snprintf(seg, sizeof seg, "%zu", i);
			if (!util_is_uuid(id)) {
				json_array_append_new(
				    errors,
				    problem_prefix(problem_field(seg, "must be a device id (a UUID)"), "device_ids"));
				continue;
			}
			for (size_t k = 0; k < i; k++) {
				const char *earlier = json_string_value(json_array_get(ids, k));
				if (earlier && strcasecmp(id, earlier) == 0) {
					json_array_append_new(
					    errors,
					    problem_prefix(problem_field(seg, "repeats an earlier id"), "device_ids"));
					break;
				}
			}
		}
	} else if (!json_is_object(filter)) {
		json_array_append_new(errors, problem_field("filter", "must be an object of fleet filters"));
	} else {
		json_t *ferr = NULL;
		if (device_filter_parse(filter, &q, &ferr) == FD_EINVALID)
			json_array_extend(errors, ferr);
		json_decref(ferr);
	}
	struct device_action act;
	json_t *aerr = NULL;
	rc = device_action_parse(body, q.type, &act, &aerr);
	if (rc == FD_EINVALID)
		json_array_extend(errors, aerr);
	json_decref(aerr);
	if (json_array_size(errors)) {
		if (rc == FD_OK)
			device_action_release(&act);
		json_decref(body);
		return api_reply_invalid(r, errors);
	}
	json_decref(errors);
	if (rc != FD_OK) {
		json_decref(body);
		return rc;
	}
	if (ids && (rc = req_charge(r, (double)json_array_size(ids) - 1)) != FD_OK) { /* each device weighs one */
		device_action_release(&act);
		json_decref(body);
		return rc;
	}
	rc = ids ? bulk_ids(r, ids, &act) : bulk_filter(r, body, &q);
	device_action_release(&act);
	json_decref(body);
	return rc;
}
