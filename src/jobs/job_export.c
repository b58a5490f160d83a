/*
 * job_export.c - the "users.export" and "devices.export" jobs: the export
 * (api/export.h) written to a file in the jobs directory, fetched from
 * GET /jobs/{id}/result once the job has succeeded.
 *
 * Every few pages the file is synced to disk and then the job's progress
 * is committed with its cursor and the file's length then. A resumed job
 * cuts the file back to that length and goes on from the cursor, so the
 * file holds every row exactly once whatever stopped the server.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/export.h"
#include "jobs/jobs.h"

#define PAGES_PER_STEP 5

static enum fd_err write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0)
			return FD_EIO;
		p += w;
		n -= (size_t)w;
	}
	return FD_OK;
}

enum fd_err job_export_run(struct jobs *j, json_t *job, const char **state, char *error, size_t error_len)
{
	struct store *st = jobs_store(j);
	const char *id = json_string_value(json_object_get(job, "id"));
	const char *org_id = json_string_value(json_object_get(job, "org_id"));
	json_t *params = json_object_get(job, "params"), *cursor = json_object_get(job, "cursor");
	const char *output = json_string_value(json_object_get(params, "output"));
	if (!output || strchr(output, '/')) {
		snprintf(error, error_len, "the job's parameters are incomplete");
		return FD_EINVALID;
	}
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", jobs_dir(j), output);
	int64_t bytes = json_integer_value(json_object_get(cursor, "bytes"));
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	struct stat sb;
	if (fd >= 0 && (fstat(fd, &sb) != 0 || sb.st_size < bytes)) { /* not the file the cursor was written for */
		close(fd);
		unlink(path);
		snprintf(error, error_len, "the export's file is gone; start the export again");
		return FD_EIO;
	}
	if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0 || lseek(fd, (off_t)bytes, SEEK_SET) < 0) {
		if (fd >= 0)
			close(fd);
		snprintf(error, error_len, "the export's file could not be written");
		return FD_EIO;
	}
	struct export *x = NULL;
	enum fd_err rc = export_open(st, org_id, params, json_is_object(cursor) ? cursor : NULL, &x);
	struct buf b;
	buf_init(&b, (size_t)PAGES_PER_STEP * 64 * 1024 * 1024);
	int done = 0, total_set = json_integer_value(json_object_get(job, "total")) > 0;
	while (rc == FD_OK && !done) {
		if (jobs_interrupted(j, id, state, &rc))
			break;
		b.len = 0;
		int64_t rows = 0;
		for (int k = 0; rc == FD_OK && k < PAGES_PER_STEP && !done; k++) {
			int64_t n = 0;
			rc = export_next(x, &b, &n, &done);
			rows += n;
		}
		if (rc == FD_OK && b.len)
			rc = write_all(fd, b.data, b.len);
		if (rc == FD_OK && fdatasync(fd) != 0)
			rc = FD_EIO;
		if (rc != FD_OK)
			break;
		bytes += (int64_t)b.len;
		json_t *c = export_cursor(x);
		if (c)
			json_object_set_new(c, "bytes", json_integer(bytes));
		char *text = c ? json_dumps(c, JSON_COMPACT) : NULL;
		json_decref(c);
		struct store_job_step step = {.job_id = id,
		                              .cursor = text,
		                              .processed = rows,
		                              .succeeded = rows,
		                              .total = total_set ? -1 : export_total(x)};
		rc = text ? store_job_progress(st, &step) : FD_ENOMEM;
		free(text);
		total_set = 1;
		if (rc == FD_OK)
			jobs_progress(j);
	}
	buf_release(&b);
	export_free(x);
	close(fd);
	if (rc == FD_ECONFLICT) { /* the job stopped running under us (cancelled and ended) */
		*state = "cancelled";
		rc = FD_OK;
	}
	if ((rc != FD_OK && rc != FD_EBUSY) || strcmp(*state, "cancelled") == 0)
		unlink(path); /* only a finished export is kept */
	if (rc != FD_OK && rc != FD_EBUSY && !error[0])
		snprintf(error, error_len, "the export stopped (%s); start it again", fd_err_name(rc));
	return rc;
}
