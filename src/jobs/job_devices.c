/*
 * job_devices.c - the "devices.update" job: one action (device_bulk.h)
 * applied to every device a fleet filter matches, a batch at a time.
 *
 * The job walks the filter in the order of the devices' rows, from its
 * cursor (the last row done). Each batch's writes commit in one
 * transaction with the job's progress and the devices that failed, so a
 * resumed job starts exactly after the last batch that committed. A
 * device that stops matching the filter before its batch is read (changed
 * by someone else) is skipped; the walk only ever moves forward.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/device_bulk.h"
#include "http/request.h"
#include "jobs/jobs.h"

#define DEVICE_BATCH 500

struct dev_batch {
	struct store_device_op ops[DEVICE_BATCH];
	size_t n;
	int64_t first; /* the ordinal of ops[0] in the job, from 1: the "line" of its errors */
	json_t *errors;
};

static void settle(void *ctx, struct store_job_step *step)
{
	struct dev_batch *b = ctx;
	step->succeeded = step->failed = 0;
	json_array_clear(b->errors);
	for (size_t i = 0; i < b->n; i++) {
		struct store_device_op *op = &b->ops[i];
		if (op->result == FD_OK) {
			step->succeeded++;
			continue;
		}
		step->failed++;
		json_array_append_new(b->errors, json_pack("{sIssso}", "line", (json_int_t)(b->first + (int64_t)i),
		                                           "row", op->device_id, "error", device_op_problem(op)));
	}
	step->errors = b->errors;
}

static void batch_clear(struct dev_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		json_decref(b->ops[i].dev);
		json_decref(b->ops[i].errors);
	}
	json_decref(b->errors);
	memset(b, 0, sizeof *b);
}

enum fd_err job_devices_run(struct jobs *j, json_t *job, const char **state, char *error, size_t error_len)
{
	struct store *st = jobs_store(j);
	const char *id = json_string_value(json_object_get(job, "id"));
	const char *org_id = json_string_value(json_object_get(job, "org_id"));
	json_t *params = json_object_get(job, "params"), *actor = json_object_get(job, "actor");
	struct store_fleet_query q = {0};
	struct device_action act;
	json_t *errors = NULL;
	if (device_filter_parse(json_object_get(params, "filter"), &q, &errors) != FD_OK) {
		json_decref(errors);
		snprintf(error, error_len, "the job's filter is not valid");
		return FD_EINVALID;
	}
	if (device_action_parse(params, q.type, &act, &errors) != FD_OK) {
		json_decref(errors);
		snprintf(error, error_len, "the job's action is not valid");
		return FD_EINVALID;
	}
	q.org_id = org_id;
	q.after_seq = json_integer_value(json_object_get(json_object_get(job, "cursor"), "after_seq"));
	int64_t done = json_integer_value(json_object_get(job, "processed"));
	struct store_actor a = {
	    .type = json_string_value(json_object_get(actor, "type")),
	    .id = json_string_value(json_object_get(actor, "id")),
	    .name = json_string_value(json_object_get(actor, "name")),
	    .request_id = json_string_value(json_object_get(actor, "request_id")),
	};
	struct dev_batch *b = calloc(1, sizeof *b);
	enum fd_err rc = b ? FD_OK : FD_ENOMEM;
	for (int more = 1; rc == FD_OK && more;) {
		if (jobs_interrupted(j, id, state, &rc))
			break;
		json_t *items = NULL;
		int64_t last = q.after_seq, total = 0;
		q.limit = DEVICE_BATCH;
		rc = store_fleet_list(st, &q, &items, &more, &last, &total);
		if (rc != FD_OK)
			break;
		b->errors = json_array();
		b->first = done + 1;
		for (size_t i = 0; i < json_array_size(items) && i < DEVICE_BATCH; i++)
			device_action_op(&act, json_string_value(json_object_get(json_array_get(items, i), "id")),
			                 &b->ops[b->n++]);
		char cursor[64];
		snprintf(cursor, sizeof cursor, "{\"after_seq\":%lld}", (long long)last);
		struct store_job_step step = {.job_id = id,
		                              .cursor = cursor,
		                              .processed = (int64_t)b->n,
		                              .total = -1,
		                              .settle = settle,
		                              .ctx = b};
		if (!b->errors)
			rc = FD_ENOMEM;
		else if (b->n)
			rc = store_device_batch(st, &a, org_id, b->ops, b->n, &step);
		else
			rc = store_job_progress(st, &step);
		json_decref(items);
		if (rc == FD_OK) {
			done += (int64_t)b->n;
			q.after_seq = last;
			jobs_progress(j);
			jobs_yield(j);
		}
		batch_clear(b);
	}
	if (rc == FD_ECONFLICT) { /* the job stopped running under us (cancelled and ended) */
		*state = "cancelled";
		rc = FD_OK;
	}
	if (rc != FD_OK && rc != FD_EBUSY && !error[0])
		snprintf(error, error_len, "the update stopped after %lld devices (%s); it can be run again from there",
		         (long long)done, fd_err_name(rc));
	free(b);
	device_action_release(&act);
	return rc;
}
