/*
 * metrics.h - request counters and latency histograms, Prometheus format.
 *
 * Counters are indexed by route (the route table's index, plus one slot for
 * requests that matched no route) and status code; all updates are atomic
 * and lock-free, so recording costs a few nanoseconds on the hot path.
 */
#ifndef FD_METRICS_H
#define FD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/router.h"

struct metrics;

/* Creates metrics for a route table of n routes. NULL on allocation failure. */
struct metrics *metrics_new(const struct route *table, size_t n);
void metrics_free(struct metrics *m);

/* Records one request. route_index == n means "no route". */
void metrics_record(struct metrics *m, size_t route_index, unsigned status, uint64_t dur_ns);

/* Appends the Prometheus text exposition to out. */
enum fd_err metrics_render(struct metrics *m, struct buf *out);

#endif
