/*
 * exports.c - the export endpoints' common half: a GET streams the export
 * as it is read (export.h), a POST makes it a job whose file is fetched
 * from GET /jobs/{id}/result once it has succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/export.h"
#include "core/util.h"

static enum fd_err stream_next(void *ctx, struct buf *out, int closing, enum chunk_state *state)
{
	(void)closing; /* an export runs to its end: the server's grace period is for it */
	int64_t rows = 0;
	int done = 0;
	enum fd_err rc = export_next(ctx, out, &rows, &done);
	*state = done ? CHUNK_DONE : CHUNK_MORE;
	return rc;
}

static void stream_free(void *ctx)
{
	export_free(ctx);
}

static const struct chunk_ops stream_ops = {stream_next, stream_free};

/* Content-Disposition: attachment; filename="users-2026-11-27.csv". */
static void disposition(struct req *r, const char *kind, const char *ext)
{
	char disp[96], day[FD_TIME_LEN + 1];
	util_now_rfc3339(day);
	day[10] = '\0';
	snprintf(disp, sizeof disp, "attachment; filename=\"%s-%s.%s\"", kind, day, ext);
	reply_header(r, "Content-Disposition", disp);
}

static enum fd_err export_stream(struct req *r, json_t *params)
{
	struct export *x = NULL;
	enum fd_err rc = export_open(req_store(r), req_param(r, 0), params, NULL, &x);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	/* the first page before the reply: a failure is still a problem, and the total a header */
	struct buf first;
	buf_init(&first, 64u * 1024 * 1024);
	int64_t rows = 0;
	int done = 0;
	rc = export_next(x, &first, &rows, &done);
	if (rc != FD_OK) {
		buf_release(&first);
		export_free(x);
		return reply_problem(r, rc, NULL, NULL);
	}
	char total[32];
	snprintf(total, sizeof total, "%lld", (long long)export_total(x));
	reply_header(r, "X-Total-Count", total);
	disposition(r, json_string_value(json_object_get(params, "kind")), export_extension(x));
	rc = reply_chunks_first(r, 200, export_content_type(x), &stream_ops, x, &first, done);
	buf_release(&first);
	return rc;
}

static enum fd_err export_job(struct req *r, json_t *params)
{
	struct jobs *jobs = req_jobs(r);
	if (!jobs)
		return reply_problem(r, FD_EBUSY, "this server runs no jobs", NULL);
	struct export *x = NULL;
	enum fd_err rc = export_open(req_store(r), req_param(r, 0), params, NULL, &x);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	export_free(x);
	char uuid[FD_UUID_LEN + 1], output[FD_UUID_LEN + 8];
	util_uuid(uuid);
	snprintf(output, sizeof output, "%s.out", uuid);
	json_object_set_new(params, "output", json_string(output));
	const char *kind = strcmp(json_string_value(json_object_get(params, "kind")), "users") == 0 ? "users.export"
	                                                                                            : "devices.export";
	return api_job_start(r, kind, params, -1, "the export job");
}

enum fd_err api_export_format(struct req *r, const char **format)
{
	const char *f = req_query(r, "format");
	if (f && strcmp(f, "csv") != 0 && strcmp(f, "jsonl") != 0)
		return api_bad_param(r, "format", "must be csv or jsonl");
	*format = f ? f : "csv";
	return FD_OK;
}

enum fd_err api_export(struct req *r, json_t *params, int job)
{
	if (!params)
		return FD_ENOMEM;
	enum fd_err rc = job ? export_job(r, params) : export_stream(r, params);
	json_decref(params);
	return rc;
}
