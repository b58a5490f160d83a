/* metrics.c - lock-free counters, rendered as Prometheus text. */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* status codes we count one by one; anything else lands in "other" */
static const unsigned statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405,
                                    409, 412, 413, 415, 422, 429, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1)
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKET (sizeof buckets / sizeof buckets[0])

struct route_metrics {
	_Atomic uint64_t count[NSTATUS];
	_Atomic uint64_t bucket[NBUCKET]; /* non-cumulative; summed when rendered */
	_Atomic uint64_t total;
	_Atomic uint64_t sum_ns;
};

struct metrics {
	const struct route *table;
	size_t n;
	struct route_metrics *r; /* n + 1 */
};

struct metrics *metrics_new(const struct route *table, size_t n)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->r = calloc(n + 1, sizeof *m->r);
	if (!m->r) {
		free(m);
		return NULL;
	}
	m->table = table;
	m->n = n;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m) {
		free(m->r);
		free(m);
	}
}

static size_t status_slot(unsigned status)
{
	for (size_t i = 0; i < NSTATUS - 1; i++) {
		if (statuses[i] == status)
			return i;
	}
	return NSTATUS - 1;
}

void metrics_record(struct metrics *m, size_t route_index, unsigned status, uint64_t dur_ns)
{
	if (route_index > m->n)
		route_index = m->n;
	struct route_metrics *rm = &m->r[route_index];
	atomic_fetch_add_explicit(&rm->count[status_slot(status)], 1, memory_order_relaxed);
	double secs = (double)dur_ns / 1e9;
	for (size_t b = 0; b < NBUCKET; b++) {
		if (secs <= buckets[b]) {
			atomic_fetch_add_explicit(&rm->bucket[b], 1, memory_order_relaxed);
			break;
		}
	}
	atomic_fetch_add_explicit(&rm->total, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rm->sum_ns, dur_ns, memory_order_relaxed);
}

__attribute__((format(printf, 2, 3))) static enum fd_err putf(struct buf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return FD_EIO;
	return buf_append(out, line, (size_t)n);
}

enum fd_err metrics_render(struct metrics *m, struct buf *out)
{
	enum fd_err rc =
	    buf_puts(out, "# HELP fleetdesk_http_requests_total HTTP requests by route, method and status.\n"
	                  "# TYPE fleetdesk_http_requests_total counter\n");
	for (size_t i = 0; rc == FD_OK && i <= m->n; i++) {
		const char *name = i < m->n ? m->table[i].name : "unmatched";
		const char *method = i < m->n ? m->table[i].method : "any";
		for (size_t s = 0; rc == FD_OK && s < NSTATUS; s++) {
			uint64_t v = atomic_load_explicit(&m->r[i].count[s], memory_order_relaxed);
			if (!v)
				continue;
			char st[16];
			if (s < NSTATUS - 1)
				snprintf(st, sizeof st, "%u", statuses[s]);
			else
				snprintf(st, sizeof st, "other");
			rc = putf(out, "fleetdesk_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
			          name, method, st, (unsigned long long)v);
		}
	}
	if (rc == FD_OK)
		rc = buf_puts(out, "# HELP fleetdesk_http_request_duration_seconds Request latency by route.\n"
		                   "# TYPE fleetdesk_http_request_duration_seconds histogram\n");
	for (size_t i = 0; rc == FD_OK && i <= m->n; i++) {
		uint64_t total = atomic_load_explicit(&m->r[i].total, memory_order_relaxed);
		if (!total)
			continue;
		const char *name = i < m->n ? m->table[i].name : "unmatched";
		uint64_t cum = 0;
		for (size_t b = 0; rc == FD_OK && b < NBUCKET; b++) {
			cum += atomic_load_explicit(&m->r[i].bucket[b], memory_order_relaxed);
			char le[32];
			snprintf(le, sizeof le, "%g", buckets[b]);
			rc = putf(out, "fleetdesk_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
			          name, le, (unsigned long long)cum);
		}
		if (rc == FD_OK)
			rc =
			    putf(out, "fleetdesk_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
			         name, (unsigned long long)total);
		if (rc == FD_OK)
			rc = putf(out, "fleetdesk_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n", name,
			          (double)atomic_load_explicit(&m->r[i].sum_ns, memory_order_relaxed) / 1e9);
		if (rc == FD_OK)
			rc = putf(out, "fleetdesk_http_request_duration_seconds_count{route=\"%s\"} %llu\n", name,
			          (unsigned long long)total);
	}
	return rc;
}
