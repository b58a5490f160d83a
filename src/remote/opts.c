/* opts.c - option parsing for the HTTP client's commands: see opts.h. */
#include "remote/opts.h"

#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "core/util.h"

/* "WHAT 'ARG'" or, with an option, "option '--NAME' WHAT" as the one usage line. */
static int usage(const char *cmd, const char *what, const char *a, size_t alen, int option)
{
	char msg[256];
	int l = (int)(alen > 100 ? 100 : alen);
	if (option)
		snprintf(msg, sizeof msg, "option '--%.*s' %s", l, a, what);
	else
		snprintf(msg, sizeof msg, "%s '%.*s'", what, l, a);
	return args_usage_error(cmd, msg);
}

int ropt_parse(int argc, char **argv, struct ropt *opts, size_t n, struct ropt_pos *pos, size_t max, const char *cmd)
{
	int only_pos = 0;
	pos->n = 0;
	if (max > ROPT_MAX_POS)
		max = ROPT_MAX_POS;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0))
			return -1;
		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			if (pos->n >= max)
				return usage(cmd, "unexpected argument", a, strlen(a), 0);
			pos->v[pos->n++] = a;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return usage(cmd, "unknown option", a, strlen(a), 0);
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		struct ropt *o = NULL;
		for (size_t k = 0; k < n; k++) {
			if (strlen(opts[k].name) == nl && strncmp(opts[k].name, name, nl) == 0)
				o = &opts[k];
		}
		if (!o)
			return usage(cmd, "is unknown", name, nl, 1);
		const char *v = "1";
		if (!o->has_arg) {
			if (eq)
				return usage(cmd, "takes no value", name, nl, 1);
		} else if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			return usage(cmd, "needs a value", name, nl, 1);
		}
		if (o->repeat) {
			if (o->nvalues >= ROPT_MAX_REPEAT)
				return usage(cmd, "is given too often", name, nl, 1);
			o->values[o->nvalues++] = v;
		}
		o->value = v;
	}
	return 0;
}

struct ropt *ropt_find(struct ropt *opts, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(opts[k].name, name) == 0)
			return &opts[k];
	}
	return NULL;
}

const char *ropt_get(struct ropt *opts, size_t n, const char *name)
{
	struct ropt *o = ropt_find(opts, n, name);
	return o ? o->value : NULL;
}

int ropt_int(struct ropt *opts, size_t n, const char *name, long long min, long long max, long long *out,
             const char *cmd)
{
	const char *v = ropt_get(opts, n, name);
	if (!v)
		return 0;
	long long x = 0;
	if (util_parse_int(v, min, max, &x) != FD_OK) {
		char msg[160];
		snprintf(msg, sizeof msg, "--%s must be a whole number from %lld to %lld", name, min, max);
		return args_usage_error(cmd, msg);
	}
	*out = x;
	return 0;
}
