/* args.c - small, strict option parsing. */
#include "cli/args.h"

#include <stdio.h>
#include <string.h>

int args_usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "fleetdesk: %s: %s (see 'fleetdesk %s --help')\n", cmd, msg, cmd);
	return EXIT_USAGE;
}

int args_parse(int argc, char **argv, struct cli_opt *opts, size_t n, const char *cmd)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return -1;
		if (strncmp(a, "--", 2) != 0) {
			char msg[256];
			snprintf(msg, sizeof msg, "unexpected argument '%.100s'", a);
			return args_usage_error(cmd, msg);
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		struct cli_opt *o = NULL;
		for (size_t k = 0; k < n; k++) {
			if (strlen(opts[k].name) == nl && strncmp(opts[k].name, name, nl) == 0)
				o = &opts[k];
		}
		if (!o) {
			char msg[256];
			snprintf(msg, sizeof msg, "unknown option '--%.*s'", (int)(nl > 100 ? 100 : nl), name);
			return args_usage_error(cmd, msg);
		}
		if (!o->has_arg) {
			if (eq) {
				char msg[256];
				snprintf(msg, sizeof msg, "option '--%s' takes no value", o->name);
				return args_usage_error(cmd, msg);
			}
			o->value = "1";
			continue;
		}
		if (eq) {
			o->value = eq + 1;
		} else if (i + 1 < argc) {
			o->value = argv[++i];
		} else {
			char msg[256];
			snprintf(msg, sizeof msg, "option '--%s' needs a value", o->name);
			return args_usage_error(cmd, msg);
		}
	}
	return 0;
}

const char *args_get(const struct cli_opt *opts, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(opts[k].name, name) == 0)
			return opts[k].value;
	}
	return NULL;
}
