/*
 * peers.c - the peer distribution cache (see peers.h).
 *
 * Up to EXACT_MAX values are kept as they are; a larger population keeps its
 * exact median and p90 and a SKETCH-point quantile sketch for ranks (within
 * 0.01 percentage points). Answers are computed under the lock: a binary
 * search over at most 20,000 values takes microseconds, and no reader ever
 * holds an array that a refresh frees.
 */
#include "api/peers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS     64
#define EXACT_MAX 20000
#define SKETCH    10001
#define KEEP_MS   (24 * 3600 * 1000LL) /* refreshed while asked for within this */

struct slot {
	int used;
	char org_id[FD_UUID_LEN + 1];
	int type, month;
	int building;     /* a build is running for this slot */
	double *v;        /* sorted values or the sketch; NULL until the first build */
	size_t nv, n;     /* values kept, devices */
	double median, p90;
	int64_t built_ms, asked_ms;
};

static struct slot slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t built = PTHREAD_COND_INITIALIZER;

/* Builds a distribution from the store (no lock held). */
static enum fd_err build(struct store *st, const char *org, int type, int month, struct slot *d)
{
	double *v = NULL;
	size_t n = 0;
	enum fd_err rc = store_device_values(st, org, type, month, &v, &n);
	if (rc != FD_OK)
		return rc;
	struct support_dist sd = {0};
	support_distribution(v, n, 0, &sd);
	d->n = n;
	d->median = sd.median;
	d->p90 = sd.p90;
	d->nv = n;
	if (n > EXACT_MAX) {
		double *s = malloc(SKETCH * sizeof *s);
		if (!s) {
			free(v);
			return FD_ENOMEM;
		}
		for (size_t i = 0; i < SKETCH; i++)
			s[i] = v[(size_t)((double)i / (SKETCH - 1) * (double)(n - 1))];
		free(v);
		v = s;
		d->nv = SKETCH;
	}
	d->v = v;
	return FD_OK;
}

static struct slot *find(const char *org, int type, int month)
{
	for (int i = 0; i < SLOTS; i++) {
		struct slot *d = &slots[i];
		if (d->used && d->type == type && d->month == month && strcmp(d->org_id, org) == 0)
			return d;
	}
	return NULL;
}

/* A free slot, or the least recently asked one that is not being built; NULL if all are. */
static struct slot *victim(void)
{
	struct slot *best = NULL;
	for (int i = 0; i < SLOTS; i++) {
		struct slot *d = &slots[i];
		if (!d->used)
			return d;
		if (!d->building && (!best || d->asked_ms < best->asked_ms))
			best = d;
	}
	return best;
}

/* Puts a built distribution (fresh, emptied) into slot d, freeing the one it held. */
static void install(struct slot *d, struct slot *fresh, int64_t now)
{
	free(d->v);
	d->v = fresh->v;
	d->nv = fresh->nv;
	d->n = fresh->n;
	d->median = fresh->median;
	d->p90 = fresh->p90;
	d->built_ms = now;
	fresh->v = NULL;
}

static void answer(const struct slot *d, double x, struct support_dist *out, size_t *n, int64_t *as_of)
{
	support_distribution(d->v, d->nv, x, out);
	out->median = d->median;
	out->p90 = d->p90;
	*n = d->n;
	*as_of = d->built_ms;
}

enum fd_err peers_lookup(struct store *st, const char *org, int type, int month, double x, int64_t now,
                         struct support_dist *out, size_t *n, int64_t *as_of)
{
	pthread_mutex_lock(&lock);
	struct slot *d;
	while ((d = find(org, type, month)) && !d->v) /* its first build is running: wait for it */
		pthread_cond_wait(&built, &lock);
	if (d) {
		d->asked_ms = now;
		answer(d, x, out, n, as_of);
		pthread_mutex_unlock(&lock);
		return FD_OK;
	}
	struct slot fresh = {0};
	d = victim();
	if (d) { /* claim it, so concurrent first requests wait for this build */
		free(d->v);
		memset(d, 0, sizeof *d);
		d->used = d->building = 1;
		snprintf(d->org_id, sizeof d->org_id, "%s", org);
		d->type = type;
		d->month = month;
	}
	pthread_mutex_unlock(&lock);
	enum fd_err rc = build(st, org, type, month, &fresh);
	pthread_mutex_lock(&lock);
	if (rc == FD_OK) {
		fresh.built_ms = fresh.asked_ms = now;
		answer(&fresh, x, out, n, as_of);
	}
	if (d) {
		if (rc == FD_OK) {
			install(d, &fresh, now);
			d->asked_ms = now;
		} else {
			d->used = 0; /* the waiters build it themselves */
		}
		d->building = 0;
		pthread_cond_broadcast(&built);
	}
	pthread_mutex_unlock(&lock);
	free(fresh.v);
	return rc;
}

void peers_refresh(struct store *st, int64_t now)
{
	for (int i = 0; i < SLOTS; i++) {
		pthread_mutex_lock(&lock);
		struct slot *d = &slots[i], key = {0};
		int due = d->used && d->v && !d->building && now - d->built_ms > PEERS_TTL_MS && now - d->asked_ms < KEEP_MS;
		if (due) {
			d->building = 1;
			memcpy(key.org_id, d->org_id, sizeof key.org_id);
			key.type = d->type;
			key.month = d->month;
		}
		pthread_mutex_unlock(&lock);
		if (!due)
			continue;
		struct slot fresh = {0};
		enum fd_err rc = build(st, key.org_id, key.type, key.month, &fresh);
		pthread_mutex_lock(&lock);
		if (rc == FD_OK) /* the slot is still this key: building kept it from being taken */
			install(d, &fresh, now);
		d->building = 0;
		pthread_mutex_unlock(&lock);
	}
}

void peers_clear(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < SLOTS; i++) {
		free(slots[i].v);
		memset(&slots[i], 0, sizeof slots[i]);
	}
	pthread_mutex_unlock(&lock);
}

void peers_warm(struct store *st, int64_t now)
{
	json_t *orgs = NULL;
	if (store_org_list(st, &orgs) != FD_OK)
		return;
	size_t i, warmed = 0;
	json_t *org;
	json_array_foreach(orgs, i, org)
	{
		const char *id = json_string_value(json_object_get(org, "id"));
		json_t *counts = NULL;
		if (!id || store_fleet_counts(st, id, &counts) != FD_OK)
			continue;
		json_t *by = json_object_get(counts, "by_type");
		static const char *const keys[DEV_TYPES] = {"heat_pumps", "electric_vehicles", "inverters"};
		for (int t = 0; t < DEV_TYPES && warmed + 2 <= SLOTS / 2; t++) {
			if (json_integer_value(json_object_get(json_object_get(by, keys[t]), "total")) <= EXACT_MAX)
				continue;
			for (int m = 0; m < 2; m++) {
				struct support_dist d;
				size_t n;
				int64_t at;
				peers_lookup(st, id, t, m, 0, now, &d, &n, &at);
				warmed++;
			}
		}
		json_decref(counts);
	}
	json_decref(orgs);
}
