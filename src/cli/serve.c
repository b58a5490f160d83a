/*
 * serve.c - `fleetdesk serve`: open the store, start the HTTP server, wait
 * for SIGINT or SIGTERM, then shut down gracefully.
 *
 * The signals are blocked before any thread starts, so every thread
 * inherits the mask and only sigwait() in this thread ever sees them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/peers.h"
#include "api/routes.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/util.h"
#include "core/log.h"
#include "http/idem.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "store/store.h"

/* The server a job's progress wakes (its parked long polls and event
 * streams); NULL before it starts and once it stops. */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static struct server *wake_srv;

static void wake_on_progress(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wake_mu);
	server_wake(wake_srv);
	pthread_mutex_unlock(&wake_mu);
}

static void wake_target(struct server *srv)
{
	pthread_mutex_lock(&wake_mu);
	wake_srv = srv;
	pthread_mutex_unlock(&wake_mu);
}

#define GRACE_MS        10000
#define SESSION_KEEP_MS (86400LL * 1000) /* ended and expired sessions are deleted a day later */
#define SWEEP_BATCH     1000 /* devices per second the sweep marks stale or refreshes: 3.6 million an hour */

static const char serve_help[] =
    "usage: fleetdesk serve [--listen HOST:PORT] [--db PATH] [--threads N] [--access-log PATH|-|off]\n"
    "                       [--public-url URL] [--rate-limit N] [--rate-burst N] [--jobs-dir DIR]\n"
    "                       [--session-idle SECONDS] [--session-max SECONDS]\n"
    "Serves the API and the web app. Defaults: --listen 127.0.0.1:8080 --db ./fleetdesk.db, one thread per CPU,\n"
    "access log on stderr. --public-url is the server's address as users reach it (for example\n"
    "https://desk.example.com behind a TLS proxy), used in the links it hands out; without it\n"
    "they are built from the request's Host. --rate-limit is the requests a second each token may\n"
    "make (default 100; 0 turns the limit off) and --rate-burst how many it may make at once\n"
    "(default 1000); a batch counts each of its items. --jobs-dir holds the files of background\n"
    "jobs (default: the database's path with .jobs appended). A web app session ends after\n"
    "--session-idle seconds without a request (default 1800) and --session-max after sign-in\n"
    "(default 43200); with an https --public-url its cookie is marked Secure. SIGINT or SIGTERM stop it\n"
    "gracefully; a running job resumes where it stopped when the server starts again.\n";

int cmd_serve(int argc, char **argv, const char *db)
{
	struct cli_opt opts[] = {{"listen", 1, NULL},     {"db", 1, NULL},         {"threads", 1, NULL},
	                         {"access-log", 1, NULL}, {"public-url", 1, NULL}, {"rate-limit", 1, NULL},
	                         {"rate-burst", 1, NULL}, {"jobs-dir", 1, NULL},   {"session-idle", 1, NULL},
	                         {"session-max", 1, NULL}};
	size_t n = sizeof opts / sizeof opts[0];
	int prc = args_parse(argc, argv, opts, n, "serve");
	if (prc < 0) {
		fputs(serve_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	if (args_get(opts, n, "db"))
		db = args_get(opts, n, "db");
	struct server_config cfg = {.listen = args_get(opts, n, "listen"), .threads = 0};
	if (!cfg.listen)
		cfg.listen = "127.0.0.1:8080";
	long long threads = sysconf(_SC_NPROCESSORS_ONLN);
	if (args_get(opts, n, "threads") && util_parse_int(args_get(opts, n, "threads"), 1, 256, &threads) != FD_OK)
		return args_usage_error("serve", "--threads must be an integer from 1 to 256");
	cfg.threads = threads > 0 ? (int)threads : 1;
	long long rate = 100, burst = 1000;
	if (args_get(opts, n, "rate-limit") &&
	    util_parse_int(args_get(opts, n, "rate-limit"), 0, 1000000, &rate) != FD_OK)
		return args_usage_error("serve", "--rate-limit must be an integer from 0 (no limit) to 1000000");
	if (args_get(opts, n, "rate-burst") &&
	    util_parse_int(args_get(opts, n, "rate-burst"), 1, 10000000, &burst) != FD_OK)
		return args_usage_error("serve", "--rate-burst must be an integer from 1 to 10000000");
	cfg.rate = (double)rate;
	cfg.burst = (double)burst;
	long long idle = 0, smax = 0;
	if (args_get(opts, n, "session-idle") &&
	    util_parse_int(args_get(opts, n, "session-idle"), 1, 7 * 86400, &idle) != FD_OK)
		return args_usage_error("serve", "--session-idle must be a number of seconds from 1 to 604800");
	if (args_get(opts, n, "session-max") &&
	    util_parse_int(args_get(opts, n, "session-max"), 1, 30 * 86400, &smax) != FD_OK)
		return args_usage_error("serve", "--session-max must be a number of seconds from 1 to 2592000");
	cfg.session_idle_s = (int)idle;
	cfg.session_max_s = (int)smax;
	cfg.public_url = args_get(opts, n, "public-url");
	if (cfg.public_url) {
		const char *u = cfg.public_url;
		size_t ul = strlen(u);
		int scheme = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;
		int ok = scheme && ul > (size_t)scheme && ul < 200 && u[ul - 1] != '/';
		for (const char *p = u; ok && *p; p++)
			ok = *p > 0x20 && *p < 0x7f && *p != '"' && *p != '<' && *p != '>';
		if (!ok)
			return args_usage_error("serve",
			                        "--public-url must be an http(s) URL without a trailing slash, "
			                        "like https://desk.example.com");
	}
	const char *alog = args_get(opts, n, "access-log");
	if (log_open(alog ? alog : "-") != 0) {
		fprintf(stderr, "fleetdesk: serve: cannot open the access log %s\n", alog);
		return 1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct store *st = NULL;
	enum fd_err rc = store_open(db, &st);
	if (rc != FD_OK) {
		fprintf(stderr, "fleetdesk: serve: cannot open the database %s (%s)\n", db, fd_err_name(rc));
		return 1;
	}
	char jobs_dir[1024];
	snprintf(jobs_dir, sizeof jobs_dir, "%s", args_get(opts, n, "jobs-dir") ? args_get(opts, n, "jobs-dir") : "");
	if (!jobs_dir[0])
		snprintf(jobs_dir, sizeof jobs_dir, "%s.jobs", db);
	struct jobs *jobs = NULL;
	rc = jobs_start(st, jobs_dir, 1, wake_on_progress, NULL, &jobs);
	if (rc != FD_OK) {
		fprintf(stderr, "fleetdesk: serve: cannot use the jobs directory %s (%s)\n", jobs_dir, fd_err_name(rc));
		store_close(st);
		return 1;
	}
	cfg.jobs = jobs;
	cfg.spool_dir = jobs_dir;
	struct server *srv = NULL;
	rc = server_start(&cfg, st, api_routes, api_routes_count, &srv);
	if (rc != FD_OK)
		jobs_stop(jobs);
	if (rc == FD_EBADREQ) {
		store_close(st);
		return args_usage_error("serve", "--listen must be HOST:PORT");
	}
	if (rc != FD_OK) {
		fprintf(stderr, "fleetdesk: serve: cannot listen on %s (%s)\n", cfg.listen, fd_err_name(rc));
		store_close(st);
		return 1;
	}
	wake_target(srv);
	fprintf(stderr, "fleetdesk: serving %s on %s with %d threads\n", db, server_url(srv), cfg.threads);
	/* Housekeeping between signals: stale devices, consumption of quiet devices. */
	int sig = 0;
	int warmed = 0;
	unsigned ticks = 0;
	for (;;) {
		struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		enum fd_err sw = store_device_sweep(st, util_now_ms(), SWEEP_BATCH);
		if (sw != FD_OK && sw != FD_EBUSY)
			log_msg("error", "the device sweep failed; it runs again in a second");
		if (!warmed) {
			peers_warm(st, util_now_ms());
			warmed = 1;
		}
		peers_refresh(st, util_now_ms());
		if (store_idem_sweep(st, util_now_ms() - IDEM_TTL_MS, SWEEP_BATCH) != FD_OK)
			log_msg("error", "expired idempotency keys could not be swept; it runs again in a second");
		if (store_checkpoint(st) != FD_OK)
			log_msg("error", "the write-ahead log could not be checkpointed; it runs again in a second");
		server_wake(srv); /* parked replies look again: a long poll's deadline, an event stream's ping */
		if (++ticks % 60 == 1) {
			jobs_sweep_results(jobs); /* finished exports older than a day */
			if (store_session_sweep(st, util_now_ms() - SESSION_KEEP_MS, SWEEP_BATCH) != FD_OK)
				log_msg("error", "old sessions could not be swept; it runs again in a minute");
		}
	}
	fprintf(stderr, "fleetdesk: %s received, finishing in-flight requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	wake_target(NULL);
	server_stop(srv, GRACE_MS);
	jobs_stop(jobs);
	peers_clear();
	store_close(st);
	log_close();
	fprintf(stderr, "fleetdesk: stopped cleanly\n");
	return 0;
}
