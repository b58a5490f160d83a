/*
 * args.h - parsing "--name value" and "--flag" options for one command.
 *
 * Exit statuses of every command: 0 success, 1 runtime failure, 2 usage.
 */
#ifndef FD_ARGS_H
#define FD_ARGS_H

#include <stddef.h>

#define EXIT_USAGE 2

struct cli_opt {
	const char *name; /* without the leading "--" */
	int has_arg;
	const char *value; /* OUT: the argument, or "1" for a flag; NULL if absent */
};

/*
 * Parses argv[0..argc) against opts. Returns 0 when parsed, EXIT_USAGE after
 * printing one line on stderr for a bad argument, or -1 when --help was
 * given (the caller prints its help and exits 0). "--name=value" works too.
 */
int args_parse(int argc, char **argv, struct cli_opt *opts, size_t n, const char *cmd);

/* The value of option name, or NULL. */
const char *args_get(const struct cli_opt *opts, size_t n, const char *name);

/* Prints "fleetdesk: CMD: MSG" on stderr and returns EXIT_USAGE. */
int args_usage_error(const char *cmd, const char *msg);

#endif
