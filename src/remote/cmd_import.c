/*
 * cmd_import.c - `fleetdesk users import FILE`: uploads a CSV or JSON-lines
 * file to POST /users/import (one Idempotency-Key for the upload and its
 * retries, so a lost reply never starts a second job), follows the job
 * with a progress bar, then reports: the counts, the first failed rows by
 * line (GET /jobs/{id}/errors) and the failed rows themselves, ready to be
 * fixed and sent again (GET /jobs/{id}/failed-rows), in a file.
 *
 * Ctrl-C while the job runs asks the server to cancel it (POST
 * /jobs/{id}/cancel): what committed stays, the rest is not applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "remote/failures.h"
#include "remote/progress.h"
#include "remote/remote.h"
#include "remote/rows.h"
#include "remote/session.h"
#include "remote/table.h"

#define NOPTS(a)       (sizeof(a) / sizeof((a)[0]))
#define POLL_S         0.5
#define UPLOAD_BAR_MIN (1024 * 1024) /* smaller uploads get no bar */

static const char import_help[] =
    "usage: fleetdesk users import FILE [--dry-run] [--failed-rows OUT] [--format csv|jsonl] [--json] [--no-progress]\n"
    "Imports users from FILE (CSV with a header row, or JSON lines: .csv, .jsonl, .ndjson) in a background job on\n"
    "the server: each row creates a user, or updates the one with its external_user_id (else email). It follows\n"
    "the job with a progress bar on stderr, then reports the rows that succeeded and failed, the first 20 failed\n"
    "rows by line with their error, and writes every failed row to OUT (default FILE.failed.csv or\n"
    "FILE.failed.jsonl beside FILE, only when a row failed), ready to be fixed and imported again.\n"
    "  --dry-run      check every row, apply none\n"
    "  --format F     csv or jsonl, when FILE's name does not say\n"
    "  --json         print the finished job as the server's JSON instead of the report\n"
    "  --no-progress  no progress bar\n"
    "Ctrl-C while it runs cancels the job on the server (what was applied stays) and exits 1.\n"
    "Exit status: 0 when every row succeeded, 1 when any failed (or the job did), 2 for a usage error.\n";

struct import {
	struct session s;
	const char *file;
	char failed_path[4096];
	int dry_run;
	int json;
	struct progress *bar;
	char job_id[FD_UUID_LEN + 1];
};

static void on_upload(void *ctx, int64_t sent, int64_t total)
{
	progress_update(ctx, sent, total, 0, -1, -1);
}

/* Uploads the file; on 202 fills im->job_id. Returns 0 or the exit status. */
static int upload(struct import *im, FILE *f, int64_t size, enum rows_format fmt, int show)
{
	struct buf path;
	buf_init(&path, 1024);
	enum fd_err rc = session_org_path(&im->s, &path, "/users/import");
	if (rc == FD_OK && im->dry_run)
		rc = rhttp_query(&path, "dry_run", "true");
	struct progress *bar = progress_new("upload", "bytes", show && size >= UPLOAD_BAR_MIN);
	struct rhttp_request rq = {.method = "POST",
	                           .path = path.data,
	                           .content_type = fmt == ROWS_CSV ? "text/csv" : "application/x-ndjson",
	                           .upload = f,
	                           .upload_len = size,
	                           .on_upload = on_upload,
	                           .ctx = bar};
	struct rhttp_response resp;
	int status = 0;
	rc = rc == FD_OK ? session_send(&im->s, &rq, &resp) : rc;
	progress_done(bar);
	progress_free(bar);
	json_t *job = NULL;
	if (rc != FD_OK && resp.interrupted) {
		session_say(&im->s,
		            "interrupted during the upload (if the server took the file, GET /jobs shows its job)");
		status = 1;
		goto out;
	}
	if (rc != FD_OK || resp.status != 202) {
		status = session_fail(&im->s, rc, &resp, "the import was refused");
		goto out;
	}
	job = rhttp_json(&resp);
	const char *id = json_string_value(json_object_get(job, "id"));
	if (!id || !util_is_uuid(id)) {
		session_say(&im->s, "the server answered 202 without a job id");
		status = 1;
		goto out;
	}
	snprintf(im->job_id, sizeof im->job_id, "%s", id);
	if (im->s.verbose)
		session_say(&im->s, "job %s%s", id,
		            resp.replayed ? " (the upload's retry found the first one's job)" : "");
out:
	json_decref(job);
	rhttp_response_release(&resp);
	buf_release(&path);
	return status;
}

/* The job's path with tail ("", "/errors", ...) into b. */
static enum fd_err job_path(const struct import *im, struct buf *b, const char *tail)
{
	enum fd_err rc = session_org_path(&im->s, b, "/jobs/");
	if (rc == FD_OK)
		rc = buf_puts(b, im->job_id);
	if (rc == FD_OK)
		rc = buf_puts(b, tail);
	return rc;
}

static int64_t num(json_t *job, const char *key)
{
	json_t *v = json_object_get(job, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static double real(json_t *job, const char *key)
{
	json_t *v = json_object_get(job, key);
	return json_is_number(v) ? json_number_value(v) : -1;
}

static int ended(json_t *job)
{
	const char *st = json_string_value(json_object_get(job, "state"));
	return st && (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0);
}

/* Asks the server to cancel the job after Ctrl-C. Returns 1 (the exit status). */
static int cancel(struct import *im)
{
	struct buf path;
	buf_init(&path, 1024);
	struct rhttp_response resp;
	enum fd_err rc = job_path(im, &path, "/cancel");
	struct rhttp_request rq = {.method = "POST", .path = path.data, .uninterruptible = 1};
	rc = rc == FD_OK ? session_send(&im->s, &rq, &resp) : rc;
	if (rc == FD_OK && resp.status == 202) {
		json_t *job = rhttp_json(&resp);
		session_say(&im->s,
		            "interrupted: the job %s is cancelled (%lld rows were processed; what was applied stays)",
		            im->job_id, (long long)num(job, "processed"));
		json_decref(job);
	} else {
		session_fail(&im->s, rc, &resp, "interrupted, and the job could not be cancelled");
	}
	rhttp_response_release(&resp);
	buf_release(&path);
	return 1;
}

/* Polls the job until it ends; *out is its last state. Returns 0, or the
 * exit status (1: it could not be read, or Ctrl-C cancelled it). */
static int follow(struct import *im, json_t **out)
{
	*out = NULL;
	struct buf path;
	buf_init(&path, 1024);
	if (job_path(im, &path, "") != FD_OK) {
		buf_release(&path);
		return 1;
	}
	int status = 0;
	for (;;) {
		struct rhttp_request rq = {.method = "GET", .path = path.data};
		struct rhttp_response resp;
		enum fd_err rc = session_send(&im->s, &rq, &resp);
		if (rc == FD_EIO && resp.interrupted) {
			rhttp_response_release(&resp);
			progress_done(im->bar);
			status = cancel(im);
			break;
		}
		if (rc != FD_OK || resp.status != 200) {
			progress_done(im->bar);
			status = session_fail(&im->s, rc, &resp, "cannot follow the import job");
			rhttp_response_release(&resp);
			break;
		}
		json_t *job = rhttp_json(&resp);
		rhttp_response_release(&resp);
		const char *state = json_string_value(json_object_get(job, "state"));
		int running = state && strcmp(state, "running") == 0;
		progress_update(im->bar, num(job, "processed"), num(job, "total"), num(job, "failed"),
		                running ? real(job, "rate_per_second") : -1, running ? real(job, "eta_seconds") : -1);
		if (ended(job)) {
			progress_done(im->bar);
			*out = job;
			break;
		}
		json_decref(job);
		if (rhttp_sleep(im->s.http, POLL_S)) {
			progress_done(im->bar);
			status = cancel(im);
			break;
		}
	}
	buf_release(&path);
	return status;
}

/* Prints the first FAILURES_SHOWN failed rows (GET /errors). */
static int show_errors(struct import *im, int64_t failed, int64_t kept)
{
	struct buf path;
	buf_init(&path, 1024);
	enum fd_err rc = job_path(im, &path, "/errors");
	char lim[16];
	snprintf(lim, sizeof lim, "%d", FAILURES_SHOWN);
	if (rc == FD_OK)
		rc = rhttp_query(&path, "limit", lim);
	struct rhttp_request rq = {.method = "GET", .path = path.data};
	struct rhttp_response resp;
	rc = rc == FD_OK ? session_send(&im->s, &rq, &resp) : rc;
	int status = 0;
	if (rc != FD_OK || resp.status != 200) {
		status = session_fail(&im->s, rc, &resp, "cannot read the failed rows' errors");
	} else {
		json_t *items = rhttp_json(&resp);
		size_t i;
		json_t *e;
		json_array_foreach(items, i, e)
		{
			char msg[600];
			failures_message(json_object_get(e, "error"), msg, sizeof msg);
			printf("  line %lld: ", (long long)num(e, "line"));
			table_put_clean(stdout, msg, sizeof msg);
			putchar('\n');
		}
		if (failed > (int64_t)json_array_size(items))
			printf("  … and %lld more\n", (long long)(failed - (int64_t)json_array_size(items)));
		if (kept >= 0 && kept < failed)
			printf("  (the server kept the first %lld failed rows; the file holds those)\n",
			       (long long)kept);
		json_decref(items);
	}
	rhttp_response_release(&resp);
	buf_release(&path);
	return status;
}

/* Writes GET /failed-rows to the failed-rows file. */
static int save_failed_rows(struct import *im)
{
	struct buf path;
	buf_init(&path, 1024);
	char tmp[4200];
	FILE *f = remote_temp_beside(im->failed_path, tmp, sizeof tmp);
	if (!f) {
		session_say(&im->s, "cannot write %s: %s", im->failed_path, strerror(errno));
		buf_release(&path);
		return 1;
	}
	enum fd_err rc = job_path(im, &path, "/failed-rows");
	struct rhttp_request rq = {.method = "GET", .path = path.data, .sink = f, .uninterruptible = 1};
	struct rhttp_response resp;
	rc = rc == FD_OK ? session_send(&im->s, &rq, &resp) : rc;
	int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	fclose(f);
	int status = 0;
	if (rc != FD_OK || (resp.status != 200 && resp.status != 204)) {
		status = session_fail(&im->s, rc, &resp, "cannot fetch the failed rows");
	} else if (resp.status == 204) {
		/* nothing was kept */
	} else if (bad || rename(tmp, im->failed_path) != 0) {
		session_say(&im->s, "cannot write %s: %s", im->failed_path, strerror(errno));
		status = 1;
	} else if (!im->json) {
		printf("failed rows written to %s (fix them and import that file)\n", im->failed_path);
	} else {
		session_say(&im->s, "failed rows written to %s", im->failed_path);
	}
	unlink(tmp);
	rhttp_response_release(&resp);
	buf_release(&path);
	return status;
}

/* The report of an ended job. Returns the exit status. */
static int report(struct import *im, json_t *job)
{
	const char *state = json_string_value(json_object_get(job, "state"));
	int64_t total = num(job, "total"), ok = num(job, "succeeded"), failed = num(job, "failed");
	int64_t kept = num(job, "errors_kept");
	int status = strcmp(state, "succeeded") == 0 && failed == 0 ? 0 : 1;
	if (im->json) {
		char *s = json_dumps(job, JSON_INDENT(2));
		if (s)
			puts(s);
		free(s);
	} else if (im->dry_run) {
		printf("dry run of %s: %lld rows checked: %lld valid, %lld would fail; nothing was applied\n", im->file,
		       (long long)total, (long long)ok, (long long)failed);
	} else {
		printf("import of %s: %lld rows: %lld succeeded, %lld failed\n", im->file, (long long)total,
		       (long long)ok, (long long)failed);
	}
	if (strcmp(state, "failed") == 0) {
		const char *err = json_string_value(json_object_get(job, "error"));
		session_say(&im->s, "the job failed: %s", err ? err : "(no reason given)");
	} else if (strcmp(state, "cancelled") == 0) {
		session_say(&im->s, "the job was cancelled");
	}
	if (failed > 0) {
		if (!im->json && show_errors(im, failed, kept))
			status = 1;
		if (save_failed_rows(im))
			status = 1;
	}
	return status;
}

int remote_users_import(int argc, char **argv)
{
	const char *cmd = "users import";
	struct ropt opts[] = {SESSION_OPTS,
	                      {.name = "dry-run"},
	                      {.name = "failed-rows", .has_arg = 1},
	                      {.name = "format", .has_arg = 1},
	                      {.name = "json"},
	                      {.name = "no-progress"}};
	size_t n = NOPTS(opts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 1, cmd);
	if (prc < 0) {
		fputs(import_help, stdout);
		fputs(session_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	if (pos.n == 0)
		return args_usage_error(cmd, "the file to import is missing");
	struct import im = {.file = pos.v[0],
	                    .dry_run = ropt_get(opts, n, "dry-run") != NULL,
	                    .json = ropt_get(opts, n, "json") != NULL};
	enum rows_format fmt;
	const char *fflag = ropt_get(opts, n, "format");
	if (rows_format_of(im.file, fflag, &fmt) != 0)
		return args_usage_error(
		    cmd, fflag ? "--format must be csv or jsonl"
		               : "cannot tell the file's format from its name: give --format csv or jsonl");
	const char *out = ropt_get(opts, n, "failed-rows");
	if (out) {
		snprintf(im.failed_path, sizeof im.failed_path, "%s", out);
	} else if (failures_default_path(im.file, fmt == ROWS_CSV, im.failed_path, sizeof im.failed_path) != FD_OK) {
		return args_usage_error(cmd, "the file's name is too long");
	}
	if ((prc = remote_check_output(cmd, im.file, im.failed_path)))
		return prc;
	FILE *f = fopen(im.file, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		char msg[300];
		snprintf(msg, sizeof msg, "cannot read %.200s: %s", im.file,
		         f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return args_usage_error(cmd, msg);
	}
	int status = session_open(&im.s, cmd, opts, n, 1);
	json_t *job = NULL;
	if (status)
		goto out;
	int show = ropt_get(opts, n, "no-progress") == NULL;
	session_catch_interrupt();
	status = upload(&im, f, (int64_t)st.st_size, fmt, show);
	if (status)
		goto out;
	im.bar = progress_new(im.dry_run ? "dry run" : "import", "rows", show);
	status = follow(&im, &job);
	if (!status)
		status = report(&im, job);
out:
	json_decref(job);
	progress_free(im.bar);
	fclose(f);
	session_close(&im.s);
	return status;
}
