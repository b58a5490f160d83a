/*
 * progress.h - a progress report on stderr for long operations (an upload,
 * an import job, a bulk update).
 *
 * When stderr is a terminal it is one bar, redrawn in place with '\r' at
 * most ten times a second: done/total, the percentage, the rate, the time
 * left and the failures so far, fitted to the terminal's width. Otherwise
 * (a log file, a pipe) it is a plain line at most once a second, and one at
 * the end, so a log stays readable.
 */
#ifndef FD_REMOTE_PROGRESS_H
#define FD_REMOTE_PROGRESS_H

#include <stdint.h>

struct progress;

/* A progress report labelled label ("import"), counting unit ("rows"),
 * both copied. enabled 0 makes every call a no-op. NULL on allocation
 * failure (the calls then do nothing either). */
struct progress *progress_new(const char *label, const char *unit, int enabled);

/*
 * Reports done of total (-1: unknown) with failed failures. rate (units a
 * second) and eta (seconds) are shown as given, or computed from the time
 * since progress_new when negative. Throttled as the file comment says.
 */
void progress_update(struct progress *p, int64_t done, int64_t total, int64_t failed, double rate, double eta);

/* Prints the final state (always, whatever the throttle) and ends the
 * bar's line. Further updates start a new report. */
void progress_done(struct progress *p);

void progress_free(struct progress *p);

#endif
