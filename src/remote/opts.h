/*
 * opts.h - the options of the HTTP client's commands: "--name value",
 * "--name=value", flags, options that may repeat (--field k=v --field ...)
 * and positional arguments (an id, a file), with "--" ending the options.
 *
 * cli/args.h parses the local commands, which take no positional arguments;
 * the client's take both, so they have this parser. Usage errors are
 * reported the same way: one line on stderr, exit status 2.
 */
#ifndef FD_REMOTE_OPTS_H
#define FD_REMOTE_OPTS_H

#include <stddef.h>

#define ROPT_MAX_REPEAT 64 /* values one repeatable option may collect */
#define ROPT_MAX_POS    4  /* positional arguments a command may take */

struct ropt {
	const char *name; /* without the leading "--" */
	int has_arg;
	int repeat;                          /* may be given more than once (every value is kept) */
	const char *value;                   /* OUT: the last value, or "1" for a flag; NULL if absent */
	const char *values[ROPT_MAX_REPEAT]; /* OUT (repeat): every value in order */
	size_t nvalues;
};

struct ropt_pos {
	const char *v[ROPT_MAX_POS]; /* OUT: borrowed from argv */
	size_t n;
};

/*
 * Parses argv[0..argc) against opts[0..n), putting positional arguments
 * into pos (at most max of them). A lone "-" is positional; "--" makes every
 * later argument positional. Returns 0 when parsed, -1 for --help or -h (the
 * caller prints its help and exits 0), or EXIT_USAGE after printing one line
 * on stderr ("fleetdesk: CMD: ..."): an unknown option, a missing value, a
 * value to a flag, a repeatable option given too often, or too many
 * positional arguments. A non-repeatable option given twice keeps the last.
 */
int ropt_parse(int argc, char **argv, struct ropt *opts, size_t n, struct ropt_pos *pos, size_t max, const char *cmd);

/* The option called name, or NULL when the table has none. */
struct ropt *ropt_find(struct ropt *opts, size_t n, const char *name);

/* The value of option name, or NULL when absent. */
const char *ropt_get(struct ropt *opts, size_t n, const char *name);

/*
 * Parses the value of option name as an integer in [min, max] into *out,
 * leaving *out alone when the option is absent. 0, or EXIT_USAGE after one
 * line on stderr naming the option and the range.
 */
int ropt_int(struct ropt *opts, size_t n, const char *name, long long min, long long max, long long *out,
             const char *cmd);

#endif
