/* jobs.c - the worker threads: see jobs.h. */
#include "jobs/jobs.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define JOBS_MAX_WORKERS 4

struct jobs {
	struct store *st;
	char dir[512];
	pthread_t threads[JOBS_MAX_WORKERS];
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int kicked;
	json_t *busy; /* ids of the jobs being run, guarded by mu */
	void (*on_progress)(void *);
	void *arg;
};

static const struct {
	const char *kind;
	job_run_fn run;
} kinds[] = {
    {"users.import", job_import_run},
    {"devices.update", job_devices_run},
    {"users.export", job_export_run},
    {"devices.export", job_export_run},
};

struct store *jobs_store(struct jobs *j)
{
	return j->st;
}

const char *jobs_dir(const struct jobs *j)
{
	return j->dir;
}

int jobs_stopping(struct jobs *j)
{
	pthread_mutex_lock(&j->mu);
	int s = j->stop;
	pthread_mutex_unlock(&j->mu);
	return s;
}

int jobs_interrupted(struct jobs *j, const char *job_id, const char **state, enum fd_err *rc)
{
	if (jobs_stopping(j)) {
		*rc = FD_EBUSY;
		return 1;
	}
	json_t *now = NULL;
	int cancel =
	    store_job_get(j->st, NULL, job_id, &now) == FD_OK && json_is_true(json_object_get(now, "cancel_requested"));
	json_decref(now);
	if (cancel)
		*state = "cancelled";
	return cancel;
}

void jobs_yield(struct jobs *j)
{
	(void)j;
	struct timespec ms = {0, 3 * 1000 * 1000}; /* three of another process's 1 ms looks */
	nanosleep(&ms, NULL);
}

void jobs_progress(struct jobs *j)
{
	if (j->on_progress)
		j->on_progress(j->arg);
}

void jobs_kick(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->kicked = 1;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

static void run_one(struct jobs *j, json_t *job)
{
	const char *kind = json_string_value(json_object_get(job, "kind"));
	const char *id = json_string_value(json_object_get(job, "id"));
	job_run_fn run = NULL;
	for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(kinds[i].kind, kind) == 0)
			run = kinds[i].run;
	}
	const char *state = "succeeded";
	char error[256] = "";
	enum fd_err rc = run ? run(j, job, &state, error, sizeof error) : FD_EINVALID;
	if (!run)
		snprintf(error, sizeof error, "this server does not know jobs of kind %s", kind ? kind : "(none)");
	if (rc == FD_EBUSY)
		return; /* stopping: it stays running and resumes at the next start */
	if (rc != FD_OK) {
		state = "failed";
		if (!error[0])
			snprintf(error, sizeof error, "the job stopped on an error (%s)", fd_err_name(rc));
	}
	if (store_job_finish(j->st, id, state, error[0] ? error : NULL) != FD_OK)
		log_msg("error", "a job's end could not be recorded; it runs again from its last batch");
	jobs_progress(j);
}

static void *worker(void *arg)
{
	struct jobs *j = arg;
	if (store_bulk_writer(j->st) != FD_OK)
		log_msg("warn", "the job worker runs with the default database tuning");
	pthread_mutex_lock(&j->mu);
	while (!j->stop) {
		json_t *job = NULL;
		enum fd_err rc = store_job_next(j->st, j->busy, &job);
		if (rc != FD_OK) {
			if (rc != FD_ENOTFOUND)
				log_msg("error", "the job queue could not be read; trying again in a second");
			if (!j->kicked) {
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_sec += 1;
				pthread_cond_timedwait(&j->cv, &j->mu, &until);
			}
			j->kicked = 0;
			continue;
		}
		json_t *id = json_object_get(job, "id");
		json_array_append(j->busy, id);
		jobs_progress(j);
		pthread_mutex_unlock(&j->mu);
		run_one(j, job);
		pthread_mutex_lock(&j->mu);
		size_t i;
		json_t *v;
		json_array_foreach(j->busy, i, v)
		{
			if (json_equal(v, id)) {
				json_array_remove(j->busy, i);
				break;
			}
		}
		json_decref(job);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

enum fd_err jobs_start(struct store *st, const char *dir, int workers, void (*on_progress)(void *), void *arg,
                       struct jobs **out)
{
	if (strlen(dir) >= sizeof((struct jobs *)0)->dir - 64)
		return FD_EBADREQ;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return FD_EIO;
	struct jobs *j = calloc(1, sizeof *j);
	if (!j)
		return FD_ENOMEM;
	snprintf(j->dir, sizeof j->dir, "%s", dir);
	j->st = st;
	j->on_progress = on_progress;
	j->arg = arg;
	j->busy = json_array();
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	if (workers < 1)
		workers = 1;
	if (workers > JOBS_MAX_WORKERS)
		workers = JOBS_MAX_WORKERS;
	for (int i = 0; i < workers; i++) {
		if (pthread_create(&j->threads[i], NULL, worker, j) != 0)
			break;
		j->nthreads++;
	}
	if (!j->busy || j->nthreads == 0) {
		jobs_stop(j);
		return FD_ENOMEM;
	}
	*out = j;
	return FD_OK;
}

void jobs_stop(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	for (int i = 0; i < j->nthreads; i++)
		pthread_join(j->threads[i], NULL);
	json_decref(j->busy);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

void jobs_sweep_results(struct jobs *j)
{
	if (!j)
		return;
	DIR *d = opendir(j->dir);
	if (!d)
		return;
	time_t cutoff = time(NULL) - JOBS_RESULT_TTL_S;
	struct dirent *e;
	char path[1024];
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		struct stat sb;
		if (n < 5 || strcmp(e->d_name + n - 4, ".out") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", j->dir, e->d_name);
		if (stat(path, &sb) == 0 && sb.st_mtime < cutoff)
			unlink(path);
	}
	closedir(d);
}
