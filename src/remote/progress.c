/* progress.c - the progress bar or lines on stderr: see progress.h. */
#include "remote/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "remote/table.h"

#define TTY_INTERVAL_NS  (100 * 1000 * 1000ULL)
#define LINE_INTERVAL_NS (1000 * 1000 * 1000ULL)
#define BAR_MAX          40

struct progress {
	char label[64];
	char unit[32];
	int enabled;
	int tty;
	uint64_t start_ns;
	uint64_t last_ns; /* of the last print; 0: none yet */
	int64_t done, total, failed;
	double rate, eta;
};

struct progress *progress_new(const char *label, const char *unit, int enabled)
{
	struct progress *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	snprintf(p->label, sizeof p->label, "%s", label);
	snprintf(p->unit, sizeof p->unit, "%s", unit);
	p->enabled = enabled;
	p->tty = isatty(STDERR_FILENO);
	p->start_ns = util_mono_ns();
	p->total = -1;
	p->rate = p->eta = -1;
	return p;
}

void progress_free(struct progress *p)
{
	free(p);
}

static void fmt_duration(char *out, size_t n, double s)
{
	long long t = (long long)(s + 0.5);
	if (t >= 3600)
		snprintf(out, n, "%lldh%02lldm", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(out, n, "%lldm%02llds", t / 60, t % 60);
	else
		snprintf(out, n, "%llds", t);
}

/* The text after the bar: "1200/5000 rows  24%  812 rows/s  ETA 5s  3 failed". */
static void fmt_stats(const struct progress *p, char *out, size_t n, int final)
{
	double secs = (double)(util_mono_ns() - p->start_ns) / 1e9;
	double rate = p->rate >= 0 ? p->rate : (secs > 0 ? (double)p->done / secs : 0);
	double eta = p->eta;
	if (eta < 0 && rate > 0 && p->total >= p->done)
		eta = (double)(p->total - p->done) / rate;
	char pct[16] = "", eta_s[64] = "", failed[48] = "", took[32] = "";
	if (p->total > 0)
		snprintf(pct, sizeof pct, "  %3d%%", (int)(100.0 * (double)p->done / (double)p->total));
	if (final) {
		fmt_duration(took, sizeof took, secs);
		snprintf(eta_s, sizeof eta_s, "  in %s", took);
	} else if (eta >= 0 && p->total >= 0) {
		char d[24];
		fmt_duration(d, sizeof d, eta);
		snprintf(eta_s, sizeof eta_s, "  ETA %s", d);
	}
	if (p->failed > 0)
		snprintf(failed, sizeof failed, "  %lld failed", (long long)p->failed);
	char total[32] = "";
	if (p->total >= 0)
		snprintf(total, sizeof total, "/%lld", (long long)p->total);
	long long r = rate < 1e15 ? (long long)(rate + 0.5) : (long long)1e15;
	snprintf(out, n, "%lld%s %s%s  %lld %s/s%s%s", (long long)p->done, total, p->unit, pct, r, p->unit, eta_s,
	         failed);
}

static void draw(struct progress *p, int final)
{
	char stats[256];
	fmt_stats(p, stats, sizeof stats, final);
	if (!p->tty) {
		fprintf(stderr, "%s: %s\n", p->label, stats);
		return;
	}
	int width = table_width(stderr);
	if (width <= 0)
		width = 80;
	int room = width - 1 - (int)strlen(p->label) - 2 - (int)strlen(stats) - 3;
	int bar = room > BAR_MAX ? BAR_MAX : room;
	fputs("\r\033[K", stderr);
	fputs(p->label, stderr);
	fputs(": ", stderr);
	if (bar >= 10 && p->total > 0) {
		int fill = (int)((double)bar * (double)p->done / (double)p->total);
		if (fill > bar)
			fill = bar;
		fputc('[', stderr);
		for (int i = 0; i < bar; i++)
			fputc(i < fill ? '#' : '-', stderr);
		fputs("] ", stderr);
	}
	fprintf(stderr, "%.*s", width > 1 ? width - 1 - (int)strlen(p->label) - 2 : 0, stats);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

void progress_update(struct progress *p, int64_t done, int64_t total, int64_t failed, double rate, double eta)
{
	if (!p || !p->enabled)
		return;
	p->done = done;
	p->total = total;
	p->failed = failed;
	p->rate = rate;
	p->eta = eta;
	uint64_t now = util_mono_ns();
	uint64_t every = p->tty ? TTY_INTERVAL_NS : LINE_INTERVAL_NS;
	if (p->last_ns && now - p->last_ns < every)
		return;
	p->last_ns = now;
	draw(p, 0);
}

void progress_done(struct progress *p)
{
	if (!p || !p->enabled)
		return;
	draw(p, 1);
	p->last_ns = 0;
}
