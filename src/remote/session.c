/* session.c - the client commands' shared connection and reporting: see session.h. */
#include "remote/session.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/args.h"
#include "remote/table.h"

volatile sig_atomic_t session_interrupted;

const char session_help[] =
    "connection (every command):\n"
    "  --url URL          the server's root, e.g. http://127.0.0.1:8080 (default $FLEETDESK_URL)\n"
    "  --token TOKEN      the bearer token (default $FLEETDESK_TOKEN)\n"
    "  --token-file PATH  read the token from the first line of PATH (keeps it out of ps)\n"
    "  --org ORG_ID       the org (default $FLEETDESK_ORG, else the token's own, from GET /me)\n"
    "  --rate N           at most N requests a second from this client (default 50; 0: no limit)\n"
    "  --retries N        retries of a request that failed on the way (default 6)\n"
    "  --timeout S        seconds to connect, and without progress before a transfer fails (default 60)\n"
    "  --verbose          one line on stderr per request: method, path, status, time, retries\n";

void session_say(const struct session *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "fleetdesk: %s: ", s->cmd);
	table_put_clean(stderr, msg, sizeof msg);
	fputc('\n', stderr);
}

/* A token fit for a header: 1 to SESSION_TOKEN_MAX visible ASCII characters. */
static int token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > SESSION_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] <= ' ' || t[i] > '~')
			return 0;
	}
	return 1;
}

/* Reads the first line of path into out[n], without its line break and
 * surrounding blanks. 0, or -1 with errno (EINVAL: too long). */
static int read_token_file(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t got = fread(out, 1, n - 1, f);
	int err = ferror(f);
	fclose(f);
	if (err) {
		errno = EIO;
		return -1;
	}
	out[got] = '\0';
	char *nl = strpbrk(out, "\r\n");
	if (nl)
		*nl = '\0';
	else if (got == n - 1) {
		errno = EINVAL;
		return -1;
	}
	size_t len = strlen(out);
	while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\t'))
		out[--len] = '\0';
	size_t lead = strspn(out, " \t");
	memmove(out, out + lead, len - lead + 1);
	return 0;
}

static int resolve_org(struct session *s)
{
	struct rhttp_request rq = {.method = "GET", .path = "/me"};
	struct rhttp_response resp;
	enum fd_err rc = session_send(s, &rq, &resp);
	int status = 0;
	if (rc != FD_OK || resp.status != 200) {
		status = session_fail(s, rc, &resp, "cannot find the token's org (GET /me)");
		goto out;
	}
	json_t *me = rhttp_json(&resp);
	const char *org = json_string_value(json_object_get(me, "org_id"));
	if (!org || !util_is_uuid(org)) {
		session_say(s, "GET /me did not name an org");
		status = 1;
	} else {
		snprintf(s->org, sizeof s->org, "%s", org);
	}
	json_decref(me);
out:
	rhttp_response_release(&resp);
	return status;
}

int session_open(struct session *s, const char *cmd, struct ropt *opts, size_t n, int need_org)
{
	memset(s, 0, sizeof *s);
	s->cmd = cmd;
	const char *url = ropt_get(opts, n, "url");
	const char *tok = ropt_get(opts, n, "token");
	const char *tfile = ropt_get(opts, n, "token-file");
	const char *org = ropt_get(opts, n, "org");
	const char *rate_s = ropt_get(opts, n, "rate");
	if (!url)
		url = getenv("FLEETDESK_URL");
	if (!org)
		org = getenv("FLEETDESK_ORG");
	if (!url || !*url)
		return args_usage_error(cmd, "no server: set FLEETDESK_URL or give --url http://HOST:PORT");
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return args_usage_error(cmd, "--url must start with http:// or https://");
	if (tok && tfile)
		return args_usage_error(cmd, "give --token or --token-file, not both");
	if (org && *org && !util_is_uuid(org))
		return args_usage_error(cmd, "--org must be an org id (a UUID)");
	double rate = SESSION_RATE_DEFAULT;
	if (rate_s) {
		char *end = NULL;
		rate = strtod(rate_s, &end);
		if (!*rate_s || *end || !isfinite(rate) || rate < 0 || rate > 100000)
			return args_usage_error(cmd, "--rate must be a number of requests a second from 0 to 100000");
	}
	long long retries = SESSION_RETRIES_DEFAULT, timeout = SESSION_TIMEOUT_DEFAULT;
	int u = ropt_int(opts, n, "retries", 0, 20, &retries, cmd);
	if (!u)
		u = ropt_int(opts, n, "timeout", 1, 3600, &timeout, cmd);
	if (u)
		return u;
	char tbuf[SESSION_TOKEN_MAX + 2];
	tbuf[0] = '\0';
	if (tfile) {
		if (read_token_file(tfile, tbuf, sizeof tbuf) != 0) {
			char msg[300];
			snprintf(msg, sizeof msg, "--token-file: cannot read %.200s: %s", tfile,
			         errno == EINVAL ? "the first line is too long" : strerror(errno));
			return args_usage_error(cmd, msg);
		}
		tok = tbuf;
	} else if (!tok) {
		tok = getenv("FLEETDESK_TOKEN");
	}
	int status = 0;
	if (!tok || !*tok) {
		status = args_usage_error(cmd, "no token: set FLEETDESK_TOKEN or give --token or --token-file");
		goto out;
	}
	if (!token_ok(tok)) {
		status = args_usage_error(cmd, "the token must be 1 to 4096 visible ASCII characters");
		goto out;
	}
	s->verbose = ropt_get(opts, n, "verbose") != NULL;
	struct rhttp_config cfg = {.base_url = url,
	                           .token = tok,
	                           .rate = rate,
	                           .retries = (int)retries,
	                           .timeout_s = (long)timeout,
	                           .verbose = s->verbose,
	                           .interrupt = &session_interrupted};
	enum fd_err rc = rhttp_new(&cfg, &s->http);
	if (rc == FD_EINVALID) {
		status = args_usage_error(cmd, "--url must be http://HOST[:PORT] or https://HOST[:PORT]");
		goto out;
	}
	if (rc != FD_OK) {
		session_say(s, "cannot start the HTTP client (%s)", fd_err_name(rc));
		status = 1;
		goto out;
	}
	if (org && *org)
		snprintf(s->org, sizeof s->org, "%s", org);
	else if (need_org)
		status = resolve_org(s);
out:
	sodium_memzero(tbuf, sizeof tbuf);
	return status;
}

void session_close(struct session *s)
{
	rhttp_free(s->http);
	s->http = NULL;
}

enum fd_err session_send(struct session *s, const struct rhttp_request *rq, struct rhttp_response *resp)
{
	return rhttp_send(s->http, rq, resp);
}

enum fd_err session_org_path(const struct session *s, struct buf *b, const char *tail)
{
	enum fd_err rc = buf_puts(b, "/org/");
	if (rc == FD_OK)
		rc = buf_puts(b, s->org);
	if (rc == FD_OK)
		rc = buf_puts(b, tail);
	return rc;
}

const char *session_status_text(long status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 424:
		return "Failed Dependency";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

void session_print_problem(json_t *problem)
{
	json_t *errors = json_object_get(problem, "errors");
	size_t i;
	json_t *e;
	json_array_foreach(errors, i, e)
	{
		if (i >= 20) {
			fprintf(stderr, "  … and %zu more\n", json_array_size(errors) - i);
			break;
		}
		const char *ptr = json_string_value(json_object_get(e, "pointer"));
		const char *d = json_string_value(json_object_get(e, "detail"));
		fputs("  ", stderr);
		table_put_clean(stderr, ptr && *ptr ? ptr : "/", 300);
		fputs(": ", stderr);
		table_put_clean(stderr, d ? d : "", 600);
		fputc('\n', stderr);
	}
}

int session_fail(const struct session *s, enum fd_err rc, const struct rhttp_response *resp, const char *what)
{
	if (rc != FD_OK) {
		if (resp->interrupted)
			session_say(s, "%s: interrupted", what);
		else
			session_say(s, "%s: %s", what, resp->error[0] ? resp->error : fd_err_name(rc));
		return 1;
	}
	json_t *p = rhttp_json(resp);
	const char *detail = json_string_value(json_object_get(p, "detail"));
	const char *title = json_string_value(json_object_get(p, "title"));
	char text[400] = "";
	if (!p && resp->body.data && strncmp(resp->content_type, "text/plain", 10) == 0)
		snprintf(text, sizeof text, "%.300s", resp->body.data);
	const char *why = detail ? detail : title ? title : text;
	const char *name = session_status_text(resp->status);
	char rid[120] = "";
	if (resp->request_id[0])
		snprintf(rid, sizeof rid, " (request id %.80s)", resp->request_id);
	session_say(s, "%s: %ld%s%s%s%s%s", what, resp->status, *name ? " " : "", name, *why ? ": " : "", why, rid);
	session_print_problem(p);
	json_decref(p);
	return 1;
}

int session_list(struct session *s, const char *path, int all, enum fd_err (*each)(void *ctx, json_t *item), void *ctx,
                 long long *total, int *more, const char *what)
{
	char *next = strdup(path);
	int status = 0;
	*total = -1;
	*more = 0;
	if (!next) {
		session_say(s, "%s: out of memory", what);
		return 1;
	}
	while (next && !status) {
		struct rhttp_request rq = {.method = "GET", .path = next};
		struct rhttp_response resp;
		enum fd_err rc = session_send(s, &rq, &resp);
		free(next);
		next = NULL;
		if (rc != FD_OK || resp.status != 200) {
			status = session_fail(s, rc, &resp, what);
			rhttp_response_release(&resp);
			break;
		}
		json_t *items = rhttp_json(&resp);
		if (!json_is_array(items)) {
			session_say(s, "%s: the reply is not a JSON array", what);
			status = 1;
		}
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			rc = each(ctx, it);
			if (rc != FD_OK) {
				session_say(s, "%s: %s", what, fd_err_name(rc));
				status = 1;
				break;
			}
		}
		json_decref(items);
		*total = resp.total_count;
		if (resp.link_next[0]) {
			if (all) {
				next = strdup(resp.link_next);
				if (!next) {
					session_say(s, "%s: out of memory", what);
					status = 1;
				}
			} else {
				*more = 1;
			}
		}
		rhttp_response_release(&resp);
	}
	free(next);
	return status;
}

static void on_sigint(int sig)
{
	(void)sig;
	if (session_interrupted)
		_exit(1);
	session_interrupted = 1;
}

void session_catch_interrupt(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a blocking call returns so the command can stop */
	sigaction(SIGINT, &sa, NULL);
}
