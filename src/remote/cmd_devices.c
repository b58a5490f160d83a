/*
 * cmd_devices.c - `fleetdesk devices`: the fleet view (GET /devices with
 * its filters) or one user's devices, one device, its diagnosis shown
 * readably, and reset-optimization.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "remote/remote.h"
#include "remote/session.h"
#include "remote/table.h"
#include "remote/view.h"

#define NOPTS(a) (sizeof(a) / sizeof((a)[0]))
#define NTYPES   3

static const char *const type_paths[NTYPES] = {"heat-pumps", "electric-vehicles", "inverters"};

static const char devices_help[] =
    "usage: fleetdesk devices list [--user ID] [--type TYPE] [FLEET FILTERS] [--limit N] [--all] [--json]\n"
    "       fleetdesk devices get --user ID --type TYPE DEVICE_ID [--json]\n"
    "       fleetdesk devices diagnose --user ID --type TYPE DEVICE_ID [--json]\n"
    "       fleetdesk devices reset --user ID --type TYPE DEVICE_ID [--if-match ETAG] [--json]\n"
    "TYPE is heat-pump, electric-vehicle or inverter. 'fleetdesk devices SUBCOMMAND --help' says more.\n";

static const char list_help[] =
    "usage: fleetdesk devices list [--user ID] [--type TYPE] [FLEET FILTERS] [--limit N] [--all] [--json]\n"
    "Without --user: the org's fleet (GET /devices), a page (--limit, 1-1000, default 100) or every page (--all).\n"
    "With --user: that user's live devices of TYPE, or of every type.\n"
    "  --type TYPE                    heat-pump, electric-vehicle or inverter\n"
    "fleet filters (without --user), each true or false:\n"
    "  --authenticated B  --optimization-active B  --stale B  --needs-attention B\n"
    "  --json                         the server's JSON (with --user and no --type: an object by type)\n";

static const char get_help[] = "usage: fleetdesk devices get --user ID --type TYPE DEVICE_ID [--json]\n"
                               "Shows one device (deleted ones too).\n";

static const char diagnose_help[] =
    "usage: fleetdesk devices diagnose --user ID --type TYPE DEVICE_ID [--json]\n"
    "Diagnoses a device (GET .../diagnosis): its connection, the optimization checklist and its actions.\n"
    "Exit status 0 when the diagnosis was made, whatever it found.\n";

static const char reset_help[] =
    "usage: fleetdesk devices reset --user ID --type TYPE DEVICE_ID [--if-match ETAG] [--json]\n"
    "Resets the device's optimization (POST .../reset-optimization): smart optimization on, no pause.\n";

static int help(const char *text)
{
	fputs(text, stdout);
	fputs(session_help, stdout);
	return 0;
}

/* The path segment of a type name (heat-pump, heat-pumps, hp, ...), or -1. */
static int parse_type(const char *t)
{
	static const char *const names[][4] = {{"heat-pump", "heat-pumps", "hp", NULL},
	                                       {"electric-vehicle", "electric-vehicles", "ev", NULL},
	                                       {"inverter", "inverters", "iv", NULL}};
	for (int k = 0; k < NTYPES; k++) {
		for (int i = 0; names[k][i]; i++) {
			if (strcmp(t, names[k][i]) == 0)
				return k;
		}
	}
	return -1;
}

static int check_type(const char *cmd, const char *t, int *out)
{
	*out = t ? parse_type(t) : -1;
	if (t && *out < 0)
		return args_usage_error(cmd, "--type must be heat-pump, electric-vehicle or inverter");
	return 0;
}

/* true|false|1|0 as "true" or "false"; NULL for anything else. */
static const char *parse_bool(const char *v)
{
	if (!v)
		return NULL;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return "true";
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return "false";
	return NULL;
}

/* ------------------------------------------------------------------ list */

struct list_ctx {
	int json;
	int fleet;
	const char *type; /* the path's type, for a user's list */
	struct table *t;
	struct view_array arr;
	size_t n;
};

static enum fd_err list_row(void *ctx, json_t *d)
{
	struct list_ctx *c = ctx;
	c->n++;
	if (c->json)
		return view_array_add(&c->arr, d);
	json_t *model = json_object_get(d, "device_model");
	char mdl[256], last[24], attention[200] = "";
	snprintf(mdl, sizeof mdl, "%s%s%s", view_str(model, "manufacturer"),
	         *view_str(model, "manufacturer") ? " " : "", view_str(model, "model"));
	view_time(d, "current_state_last_updated_at", last);
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(d, "attention"), i, a)
	{
		size_t l = strlen(attention);
		snprintf(attention + l, sizeof attention - l, "%s%s", l ? "," : "",
		         json_string_value(a) ? json_string_value(a) : "");
	}
	const char *type = c->fleet ? view_str(d, "device_type") : c->type;
	const char *row[] = {view_str(d, "id"),
	                     type,
	                     view_str(d, "user_id"),
	                     mdl,
	                     json_is_true(json_object_get(d, "is_authenticated")) ? "yes" : "no",
	                     json_is_true(json_object_get(d, "is_smart_optimization_active")) ? "on" : "off",
	                     view_str(d, "connection_status"),
	                     last,
	                     attention};
	return table_add(c->t, row);
}

static const char *const list_head[] = {"ID",         "TYPE",       "USER",       "MODEL",    "AUTHENTICATED",
                                        "OPTIMIZING", "CONNECTION", "LAST STATE", "ATTENTION"};

/* One user's devices: a GET per type. */
static int user_devices(struct session *s, struct list_ctx *c, const char *user, int type)
{
	int status = 0;
	for (int k = 0; k < NTYPES && !status; k++) {
		if (type >= 0 && k != type)
			continue;
		struct buf path;
		buf_init(&path, 1024);
		enum fd_err rc = session_org_path(s, &path, "/users/");
		if (rc == FD_OK)
			rc = buf_puts(&path, user);
		if (rc == FD_OK)
			rc = buf_puts(&path, "/");
		if (rc == FD_OK)
			rc = buf_puts(&path, type_paths[k]);
		if (c->json && type < 0) {
			printf("%s\"%s\": ", k ? ",\n" : "{\n", type_paths[k]);
			view_array_begin(&c->arr, stdout);
		}
		c->type = type_paths[k];
		long long total;
		int more;
		status = rc == FD_OK
		             ? session_list(s, path.data, 1, list_row, c, &total, &more, "cannot list the devices")
		             : 1;
		if (c->json && type < 0) {
			/* view_array_end ends the line; the object's commas go before the next key */
			fputs(c->arr.n ? "\n]" : "]", stdout);
			buf_release(&c->arr.b);
		}
		buf_release(&path);
	}
	if (c->json && type < 0)
		puts("\n}");
	return status;
}

static int devices_list(int argc, char **argv)
{
	const char *cmd = "devices list";
	struct ropt opts[] = {SESSION_OPTS,
	                      {.name = "user", .has_arg = 1},
	                      {.name = "type", .has_arg = 1},
	                      {.name = "authenticated", .has_arg = 1},
	                      {.name = "optimization-active", .has_arg = 1},
	                      {.name = "stale", .has_arg = 1},
	                      {.name = "needs-attention", .has_arg = 1},
	                      {.name = "limit", .has_arg = 1},
	                      {.name = "all"},
	                      {.name = "json"}};
	static const char *const filters[][2] = {{"authenticated", "authenticated"},
	                                         {"optimization-active", "optimization_active"},
	                                         {"stale", "stale"},
	                                         {"needs-attention", "needs_attention"}};
	size_t n = NOPTS(opts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 0, cmd);
	if (prc < 0)
		return help(list_help);
	if (prc)
		return prc;
	int type;
	long long limit = 100;
	if ((prc = check_type(cmd, ropt_get(opts, n, "type"), &type)) ||
	    (prc = ropt_int(opts, n, "limit", 1, 1000, &limit, cmd)))
		return prc;
	const char *user = ropt_get(opts, n, "user");
	for (size_t i = 0; i < 4; i++) {
		const char *v = ropt_get(opts, n, filters[i][0]);
		char msg[120];
		if (v && user) {
			snprintf(msg, sizeof msg, "--%s filters the fleet view: not with --user", filters[i][0]);
			return args_usage_error(cmd, msg);
		}
		if (v && !parse_bool(v)) {
			snprintf(msg, sizeof msg, "--%s must be true or false", filters[i][0]);
			return args_usage_error(cmd, msg);
		}
	}
	if (user && (ropt_get(opts, n, "limit") || ropt_get(opts, n, "all")))
		return args_usage_error(cmd,
		                        "--limit and --all page the fleet view: a user's devices come in one page");
	if (user && !util_is_uuid(user))
		return args_usage_error(cmd, "--user must be a user id (a UUID)");
	struct list_ctx c = {.json = ropt_get(opts, n, "json") != NULL, .fleet = user == NULL};
	struct session s;
	int status = session_open(&s, cmd, opts, n, 1);
	struct buf path;
	buf_init(&path, 2048);
	if (status)
		goto out;
	if (!c.json) {
		c.t = table_new(stdout, list_head, user ? 8 : 9);
		if (!c.t) {
			status = 1;
			goto out;
		}
	}
	if (user) {
		if (c.json && type >= 0)
			view_array_begin(&c.arr, stdout);
		status = user_devices(&s, &c, user, type);
		if (c.json && type >= 0)
			view_array_end(&c.arr);
	} else {
		char lim[24];
		snprintf(lim, sizeof lim, "%lld", limit);
		enum fd_err rc = session_org_path(&s, &path, "/devices");
		if (rc == FD_OK)
			rc = rhttp_query(&path, "limit", lim);
		if (rc == FD_OK && type >= 0)
			rc = rhttp_query(&path, "type", type_paths[type]);
		for (size_t i = 0; rc == FD_OK && i < 4; i++)
			rc = rhttp_query(&path, filters[i][1], parse_bool(ropt_get(opts, n, filters[i][0])));
		if (c.json)
			view_array_begin(&c.arr, stdout);
		long long total = -1;
		int more = 0;
		status = rc == FD_OK ? session_list(&s, path.data, ropt_get(opts, n, "all") != NULL, list_row, &c,
		                                    &total, &more, "cannot list the devices")
		                     : 1;
		if (c.json)
			view_array_end(&c.arr);
		else if (!status && more)
			session_say(&s, "showing %zu of %lld devices; --all lists every page", c.n, total);
	}
	if (c.t)
		table_flush(c.t);
out:
	table_free(c.t);
	buf_release(&path);
	session_close(&s);
	return status;
}

/* ------------------------------------------------------------------ one device */

/* Shows a diagnosis readably. */
static void show_diagnosis(json_t *d)
{
	printf("device        %s (%s)\n", view_str(d, "device_id"), view_str(d, "device_type"));
	printf("checked at    %s\n", view_str(d, "checked_at"));
	json_t *conn = json_object_get(d, "connection");
	const char *issue = json_string_value(json_object_get(conn, "issue"));
	fputs("connection    ", stdout);
	table_put_clean(stdout, issue ? issue : view_str(conn, "status"), 300);
	putchar('\n');
	const char *key;
	json_t *v;
	json_object_foreach(conn, key, v)
	{
		if (strcmp(key, "issue") == 0 || strcmp(key, "status") == 0)
			continue;
		char cell[1024];
		view_cell(v, cell, sizeof cell);
		printf("  %-12s ", key);
		table_put_clean(stdout, json_is_null(v) ? "null" : cell, sizeof cell);
		putchar('\n');
	}
	json_t *opt = json_object_get(d, "optimization");
	printf("optimization  %s\n", json_is_true(json_object_get(opt, "ok")) ? "ok" : "NOT OK");
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(opt, "checks"), i, c)
	{
		int passed = json_is_true(json_object_get(c, "passed"));
		printf("  [%s] %-20s ", passed ? "ok" : "!!", view_str(c, "check"));
		table_put_clean(stdout, view_str(c, "detail")[0] ? view_str(c, "detail") : view_str(c, "title"), 600);
		putchar('\n');
		if (!passed && view_str(c, "resolution")[0]) {
			fputs("       -> ", stdout);
			table_put_clean(stdout, view_str(c, "resolution"), 600);
			putchar('\n');
		}
	}
	json_t *actions = json_object_get(d, "actions");
	if (json_array_size(actions) == 0)
		puts("actions       none");
	json_array_foreach(actions, i, c)
	{
		printf("action        %s", view_str(c, "code"));
		const char *link = json_string_value(json_object_get(c, "resolution_link"));
		if (link) {
			fputs(": ", stdout);
			table_put_clean(stdout, link, 2100);
		}
		putchar('\n');
	}
}

enum dev_op { DEV_GET, DEV_DIAGNOSE, DEV_RESET };

static int device_one(int argc, char **argv, enum dev_op op)
{
	static const char *const cmds[] = {"devices get", "devices diagnose", "devices reset"};
	static const char *const helps[] = {get_help, diagnose_help, reset_help};
	static const char *const whats[] = {"cannot get the device", "cannot diagnose the device",
	                                    "cannot reset the device's optimization"};
	const char *cmd = cmds[op];
	struct ropt opts[] = {SESSION_OPTS,
	                      {.name = "user", .has_arg = 1},
	                      {.name = "type", .has_arg = 1},
	                      {.name = "json"},
	                      {.name = "if-match", .has_arg = 1}};
	size_t n = NOPTS(opts) - (op == DEV_RESET ? 0 : 1);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 1, cmd);
	if (prc < 0)
		return help(helps[op]);
	if (prc)
		return prc;
	const char *user = ropt_get(opts, n, "user");
	int type;
	if ((prc = check_type(cmd, ropt_get(opts, n, "type"), &type)) ||
	    (prc = remote_check_etag(cmd, ropt_get(opts, n, "if-match"))))
		return prc;
	if (!user || !util_is_uuid(user))
		return args_usage_error(cmd, "--user must be given: the device's user id (a UUID)");
	if (type < 0)
		return args_usage_error(cmd, "--type must be given: heat-pump, electric-vehicle or inverter");
	if (pos.n == 0 || !util_is_uuid(pos.v[0]))
		return args_usage_error(cmd, pos.n ? "the device id must be a UUID" : "the device id is missing");
	struct session s;
	int status = session_open(&s, cmd, opts, n, 1);
	struct buf path;
	buf_init(&path, 1024);
	if (status)
		goto out;
	enum fd_err rc = session_org_path(&s, &path, "/users/");
	const char *parts[] = {
	    user, "/",      type_paths[type],
	    "/",  pos.v[0], op == DEV_DIAGNOSE ? "/diagnosis" : op == DEV_RESET ? "/reset-optimization" : ""};
	for (size_t i = 0; rc == FD_OK && i < 6; i++)
		rc = buf_puts(&path, parts[i]);
	struct rhttp_request rq = {
	    .method = op == DEV_RESET ? "POST" : "GET", .path = path.data, .if_match = ropt_get(opts, n, "if-match")};
	struct rhttp_response resp;
	rc = rc == FD_OK ? session_send(&s, &rq, &resp) : rc;
	if (rc != FD_OK || resp.status != 200) {
		status = session_fail(&s, rc, &resp, whats[op]);
	} else if (ropt_get(opts, n, "json")) {
		view_raw(&resp, stdout);
	} else {
		json_t *j = rhttp_json(&resp);
		if (op == DEV_DIAGNOSE)
			show_diagnosis(j);
		else if (view_object(j, stdout) != FD_OK)
			status = 1;
		json_decref(j);
	}
	rhttp_response_release(&resp);
out:
	buf_release(&path);
	session_close(&s);
	return status;
}

int cmd_devices(int argc, char **argv)
{
	if (argc < 1)
		return args_usage_error("devices", "a subcommand is needed: list, get, diagnose or reset");
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(devices_help, stdout);
		return 0;
	}
	const char *sub = argv[0];
	if (strcmp(sub, "list") == 0)
		return devices_list(argc - 1, argv + 1);
	if (strcmp(sub, "get") == 0)
		return device_one(argc - 1, argv + 1, DEV_GET);
	if (strcmp(sub, "diagnose") == 0)
		return device_one(argc - 1, argv + 1, DEV_DIAGNOSE);
	if (strcmp(sub, "reset") == 0)
		return device_one(argc - 1, argv + 1, DEV_RESET);
	return args_usage_error("devices", "the subcommand must be list, get, diagnose or reset");
}
