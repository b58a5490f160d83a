/* ratelimit.c - token buckets: see ratelimit.h. */
#include "http/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	char id[RL_ID_MAX + 1];
	double tokens;
	uint64_t at_ns; /* when tokens was last brought up to date */
	struct bucket *next;
};

struct slot {
	pthread_mutex_t mu;
	struct bucket *head;
	int n;
};

struct ratelimit {
	double rate, burst;
	struct slot slots[RL_SLOTS];
};

struct ratelimit *ratelimit_new(double rate, double burst)
{
	if (!(rate > 0) || !(burst >= 1))
		return NULL;
	struct ratelimit *rl = calloc(1, sizeof *rl);
	if (!rl)
		return NULL;
	rl->rate = rate;
	rl->burst = burst;
	for (int i = 0; i < RL_SLOTS; i++)
		pthread_mutex_init(&rl->slots[i].mu, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (int i = 0; i < RL_SLOTS; i++) {
		struct bucket *b = rl->slots[i].head;
		while (b) {
			struct bucket *n = b->next;
			free(b);
			b = n;
		}
		pthread_mutex_destroy(&rl->slots[i].mu);
	}
	free(rl);
}

double ratelimit_rate(const struct ratelimit *rl)
{
	return rl->rate;
}

double ratelimit_burst(const struct ratelimit *rl)
{
	return rl->burst;
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Brings b up to now. */
static void refill(const struct ratelimit *rl, struct bucket *b, uint64_t now)
{
	if (now > b->at_ns) {
		b->tokens += (double)(now - b->at_ns) / 1e9 * rl->rate;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
	}
	b->at_ns = now;
}

/* Makes room in a full slot: drops full buckets, else the least recently used. */
static void make_room(const struct ratelimit *rl, struct slot *s, uint64_t now)
{
	struct bucket **pp = &s->head, **lru = NULL;
	while (*pp) {
		struct bucket *b = *pp;
		refill(rl, b, now);
		if (b->tokens >= rl->burst) {
			*pp = b->next;
			free(b);
			s->n--;
			continue;
		}
		if (!lru || b->at_ns < (*lru)->at_ns)
			lru = pp;
		pp = &b->next;
	}
	if (s->n >= RL_SLOT_MAX && lru) {
		struct bucket *b = *lru;
		*lru = b->next;
		free(b);
		s->n--;
	}
}

/* The bucket of id, brought up to now; a new full one if there was none
 * (NULL only when out of memory). Called with the slot locked. */
static struct bucket *find(struct ratelimit *rl, struct slot *s, const char *id, uint64_t now)
{
	for (struct bucket *b = s->head; b; b = b->next) {
		if (strcmp(b->id, id) == 0) {
			refill(rl, b, now);
			return b;
		}
	}
	if (s->n >= RL_SLOT_MAX)
		make_room(rl, s, now);
	struct bucket *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	size_t n = strlen(id);
	memcpy(b->id, id, n < RL_ID_MAX ? n : RL_ID_MAX);
	b->tokens = rl->burst;
	b->at_ns = now;
	b->next = s->head;
	s->head = b;
	s->n++;
	return b;
}

static void fill_state(const struct ratelimit *rl, const struct bucket *b, double need, struct rl_state *out)
{
	out->remaining = b->tokens;
	out->retry_after = b->tokens >= need ? 0 : (need - b->tokens) / rl->rate;
	out->reset = (rl->burst - b->tokens) / rl->rate;
}

static int take(struct ratelimit *rl, const char *id, double cost, int really, uint64_t now, struct rl_state *out)
{
	if (cost > rl->burst)
		cost = rl->burst;
	struct slot *s = &rl->slots[hash(id) % RL_SLOTS];
	pthread_mutex_lock(&s->mu);
	struct bucket *b = find(rl, s, id, now);
	int ok = 1;
	if (b) {
		ok = b->tokens >= cost;
		if (ok && really)
			b->tokens -= cost;
		fill_state(rl, b, ok ? 0 : cost, out);
	} else { /* no memory for a bucket: let the call through rather than refuse everyone */
		out->remaining = rl->burst;
		out->retry_after = 0;
		out->reset = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

int ratelimit_take(struct ratelimit *rl, const char *id, double cost, uint64_t now_ns, struct rl_state *out)
{
	return take(rl, id, cost, 1, now_ns, out);
}

int ratelimit_peek(struct ratelimit *rl, const char *id, uint64_t now_ns, struct rl_state *out)
{
	return take(rl, id, 1, 0, now_ns, out);
}

void ratelimit_give(struct ratelimit *rl, const char *id, double amount, uint64_t now_ns)
{
	struct slot *s = &rl->slots[hash(id) % RL_SLOTS];
	pthread_mutex_lock(&s->mu);
	struct bucket *b = find(rl, s, id, now_ns);
	if (b) {
		b->tokens += amount;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
	}
	pthread_mutex_unlock(&s->mu);
}

void ratelimit_reset(struct ratelimit *rl, const char *id)
{
	struct slot *s = &rl->slots[hash(id) % RL_SLOTS];
	pthread_mutex_lock(&s->mu);
	for (struct bucket **pp = &s->head; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			struct bucket *b = *pp;
			*pp = b->next;
			free(b);
			s->n--;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
}
