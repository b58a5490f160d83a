/*
 * peers.h - the cached distribution of consumption among a device's peers
 * (the org's live devices of the same type), for the consumption comparison.
 *
 * Reading a million values takes a scan; answering from them takes a
 * binary search. So each (org, type, window) distribution is built once,
 * kept, and refreshed in the background by the server's housekeeping loop
 * (peers_refresh) while requests keep being answered from the copy they
 * have. Only the first request for a distribution waits for it to be built,
 * and concurrent first requests wait for that one build, not each their own.
 */
#ifndef FD_PEERS_H
#define FD_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "api/support.h"
#include "store/store.h"

/* Refreshed when older than this (by peers_refresh) and used in the last day. */
#define PEERS_TTL_MS (5 * 60 * 1000LL)

/*
 * Where x stands among the peers of (org, type) over the last day (month 0)
 * or month (month 1): out, the number of peers *n and when the distribution
 * was built *as_of.
 */
enum fd_err peers_lookup(struct store *st, const char *org_id, int type, int month, double x, int64_t now_ms,
                         struct support_dist *out, size_t *n, int64_t *as_of);

/* Rebuilds the distributions older than PEERS_TTL_MS that were asked for in
 * the last day. Called from one thread (the server's housekeeping loop). */
void peers_refresh(struct store *st, int64_t now_ms);

/* Builds the distributions of the orgs with more than 20,000 live devices
 * (where a build takes a scan), so their first comparison does not wait.
 * Called once from the housekeeping loop when the server starts. */
void peers_warm(struct store *st, int64_t now_ms);

/* Frees every cached distribution (at shutdown, after the last request). */
void peers_clear(void);

#endif
