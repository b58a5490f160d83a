/*
 * jobs.h - background jobs: work too big for one request (an import of a
 * million users, an export), run by a few worker threads, batch by batch.
 *
 * A job lives in the store (store.h, "background jobs"); its files (the
 * uploaded input, the export's output) live in the jobs directory. Each
 * batch commits its work and the job's progress in one transaction, so a
 * job cut short by a crash or a stop resumes at its next batch when the
 * server starts again, with nothing applied twice and nothing lost.
 *
 * Kinds: "users.import" (job_import.c).
 */
#ifndef FD_JOBS_H
#define FD_JOBS_H

#include <jansson.h>

#include "core/err.h"
#include "store/store.h"

#define JOBS_BATCH 4000 /* rows per batch: per transaction, and per progress step */

struct jobs;

/* Starts workers threads running st's jobs, keeping files in dir (created
 * if missing, mode 0700). on_progress(arg) is called after every step. */
enum fd_err jobs_start(struct store *st, const char *dir, int workers, void (*on_progress)(void *), void *arg,
                       struct jobs **out /* OUT */);
/* Stops the workers after their current batch; running jobs stay running
 * in the store and resume at the next start. */
void jobs_stop(struct jobs *j);
/* Wakes a worker: a job was queued. */
void jobs_kick(struct jobs *j);
/* The jobs directory (borrowed). */
const char *jobs_dir(const struct jobs *j);

/* --- for the job kinds --- */
struct store *jobs_store(struct jobs *j);
/* 1 once the workers are stopping: a job returns at its next batch. */
int jobs_stopping(struct jobs *j);
/* Whether a job's run should stop before its next batch: the server is
 * stopping (*rc = FD_EBUSY: the job stays running, to resume) or the job
 * was asked to cancel (*state = "cancelled"). */
int jobs_interrupted(struct jobs *j, const char *job_id, const char **state, enum fd_err *rc);
/* A short pause between a job's transactions, so that another process
 * waiting to write (a CLI command) gets its turn. */
void jobs_yield(struct jobs *j);
void jobs_progress(struct jobs *j);

/* A job kind's run: works from the job's cursor to the end, a batch at a
 * time. FD_OK: done (or cancelled: *state says which). FD_EBUSY: the server
 * is stopping, the job stays running. Other errors fail the job, with
 * error (a sentence, error_len bytes) saying why. */
typedef enum fd_err (*job_run_fn)(struct jobs *j, json_t *job, const char **state, char *error, size_t error_len);
enum fd_err job_import_run(struct jobs *j, json_t *job, const char **state, char *error, size_t error_len);
enum fd_err job_devices_run(struct jobs *j, json_t *job, const char **state, char *error, size_t error_len);
enum fd_err job_export_run(struct jobs *j, json_t *job, const char **state, char *error, size_t error_len);

/* How long a finished export's file is kept for GET /jobs/{id}/result. */
#define JOBS_RESULT_TTL_S (24 * 3600)

/* Removes the export files in the jobs directory older than
 * JOBS_RESULT_TTL_S (the serve loop calls it now and then). */
void jobs_sweep_results(struct jobs *j);

#endif
