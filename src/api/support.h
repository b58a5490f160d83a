/*
 * support.h - the product document's support scripts, answered by the
 * server: troubleshoot_device_connection, the "Optimization Not Working"
 * checklist, generate_user_summary and the "High Consumption" comparison.
 *
 * Pure functions over the API's own JSON (no I/O), so each branch is
 * unit-tested against the document's text directly.
 */
#ifndef FD_SUPPORT_H
#define FD_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Python's datetime.fromisoformat(s).isoformat() for our RFC 3339 UTC
 * timestamps: "2026-11-27T07:20:00.500Z" -> "2026-11-27T07:20:00.500000+00:00".
 * out holds 40 bytes. Returns -1 if s does not parse.
 */
int support_isoformat(const char *s, char out[40]);

/* Python's round(x, 2): correctly rounded from the binary value, ties to even. */
double support_round2(double x);

/*
 * Exactly what the document's troubleshoot_device_connection(device)
 * returns for dev (a device as the API shows it), at now_ms. A device that
 * never reported (current_state_last_updated_at null), where the script
 * would raise, is reported stale with last_update null. New reference.
 */
json_t *support_connection(json_t *dev, int64_t now_ms);

/*
 * The "Optimization Not Working" checklist: {"ok", "checks": [{"check",
 * "title", "passed", "detail", "resolution"}]}. contracts are the user's
 * live energy contracts (API view). New reference.
 */
json_t *support_optimization(int type, json_t *dev, json_t *contracts, int64_t now_ms);

/*
 * generate_user_summary(): user is the API's user object, devices[t] the
 * API's list of type t (heat pumps, electric vehicles, inverters), and
 * nbuildings the length of the buildings list. New reference.
 */
json_t *support_summary(json_t *user, json_t *const devices[3], size_t nbuildings);

/*
 * Where x stands among sorted values v[0..n): the median and p90 (linear
 * interpolation between closest ranks, as numpy's default) and the
 * percentile rank (the share of values below x, ties counting half), in
 * percent. Returns 0 when n is 0.
 */
struct support_dist {
	double median, p90, rank;
};
int support_distribution(const double *v, size_t n, double x, struct support_dist *out);

#endif
