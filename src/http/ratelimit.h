/*
 * ratelimit.h - token buckets keyed by a string: one per credential for the
 * request rate, and the same structure counts failed sign-ins and token
 * exchanges per account and per address.
 *
 * A bucket holds at most burst tokens and refills at rate tokens a second.
 * Memory is bounded: RL_SLOTS hash slots of at most RL_SLOT_MAX buckets;
 * a full bucket is the same as no bucket, so full ones are dropped first,
 * then the least recently used. Thread-safe (one mutex per slot).
 */
#ifndef FD_RATELIMIT_H
#define FD_RATELIMIT_H

#include <stdint.h>

#define RL_SLOTS    256
#define RL_SLOT_MAX 256
#define RL_ID_MAX   63

struct ratelimit;

/* The state of one bucket after a call. */
struct rl_state {
	double remaining;   /* tokens left */
	double retry_after; /* seconds until the call would have succeeded (0 when it did) */
	double reset;       /* seconds until the bucket is full again */
};

/* rate > 0 and burst >= 1. NULL on no memory. */
struct ratelimit *ratelimit_new(double rate, double burst);
void ratelimit_free(struct ratelimit *rl);
double ratelimit_rate(const struct ratelimit *rl);
double ratelimit_burst(const struct ratelimit *rl);

/* Takes cost tokens (a cost above the burst counts as the burst, so a full
 * bucket always admits one call) from id's bucket at now_ns. 1: taken.
 * 0: not enough; nothing taken. */
int ratelimit_take(struct ratelimit *rl, const char *id, double cost, uint64_t now_ns, struct rl_state *out);
/* 1 when id's bucket holds at least one token; takes nothing. */
int ratelimit_peek(struct ratelimit *rl, const char *id, uint64_t now_ns, struct rl_state *out);
/* Gives amount tokens back to id's bucket (never past the burst). */
void ratelimit_give(struct ratelimit *rl, const char *id, double amount, uint64_t now_ns);
/* Forgets id's bucket (it is full again). */
void ratelimit_reset(struct ratelimit *rl, const char *id);

#endif
