/*
 * cmd_users.c - `fleetdesk users`: list, get, create, update, delete,
 * restore and export the org's users over the HTTP API (import is
 * cmd_import.c). Tables by default; --json prints the server's JSON.
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

#define NOPTS(a)  (sizeof(a) / sizeof((a)[0]))
#define DATA_MAX  (1024 * 1024)
#define PATH_MAX_ (RHTTP_URL_MAX / 2)

static const char users_help[] =
    "usage: fleetdesk users list [--search TEXT] [--role ROLE] [--include-deleted] [--sort KEY] [--limit N] [--all] "
    "[--json]\n"
    "       fleetdesk users get ID [--json]\n"
    "       fleetdesk users create --email EMAIL [FIELD OPTIONS] [--json]\n"
    "       fleetdesk users update ID [FIELD OPTIONS] [--if-match ETAG] [--json]\n"
    "       fleetdesk users delete ID [--if-match ETAG]\n"
    "       fleetdesk users restore ID [--json]\n"
    "       fleetdesk users import FILE [--dry-run] [--failed-rows OUT] [--format csv|jsonl] [--json]\n"
    "       fleetdesk users export [--format csv|jsonl] [--search TEXT] [--role ROLE] [--include-deleted] > FILE\n"
    "Manages the org's users through the HTTP API. 'fleetdesk users SUBCOMMAND --help' says more.\n";

static const char list_help[] =
    "usage: fleetdesk users list [--search TEXT] [--role ROLE] [--include-deleted] [--sort KEY] [--limit N] [--all] "
    "[--json]\n"
    "Lists the org's users, a page (--limit, 1-1000, default 100) or every page (--all).\n"
    "  --search TEXT      a case-insensitive part of the email, names or external_user_id\n"
    "  --role ROLE        user, viewer, staff or admin\n"
    "  --include-deleted  deleted users too\n"
    "  --sort KEY         created_at (default), email, last_name or updated_at; -KEY sorts descending\n"
    "  --json             the server's JSON (one array, also across pages) instead of a table\n";

static const char get_help[] = "usage: fleetdesk users get ID [--json]\n"
                               "Shows one user (deleted ones too).\n";

static const char fields_help[] =
    "field options (each sets one user field; later ones win):\n"
    "  --email E --role R --external-user-id X --first-name F --last-name L --street-and-number S\n"
    "  --street-add-info S --zip-code Z --town T --country-iso2 CC\n"
    "  --field KEY=VALUE  any field, as a string (repeatable)\n"
    "  --clear KEY        set a field to null (repeatable)\n"
    "  --data JSON        a JSON object of fields, or --data @FILE to read it from FILE (the options above override "
    "it)\n";

static const char create_help[] = "usage: fleetdesk users create --email EMAIL [FIELD OPTIONS] [--json]\n"
                                  "Creates a user (POST /users) and shows it.\n";

static const char update_help[] =
    "usage: fleetdesk users update ID [FIELD OPTIONS] [--if-match ETAG] [--json]\n"
    "Changes the fields given (a partial PUT) and shows the user. With --if-match, only if the\n"
    "user's ETag still is ETAG (else 412).\n";

static const char delete_help[] = "usage: fleetdesk users delete ID [--if-match ETAG]\n"
                                  "Deletes a user (a soft delete: it can be restored).\n";

static const char restore_help[] = "usage: fleetdesk users restore ID [--json]\n"
                                   "Restores a deleted user.\n";

static const char export_help[] =
    "usage: fleetdesk users export [--format csv|jsonl] [--search TEXT] [--role ROLE] [--include-deleted] > FILE\n"
    "Streams the org's users (GET /users/export) to stdout as they arrive, in CSV (default) or JSON lines;\n"
    "the filters are those of 'users list'.\n";

static const char *const field_flags[] = {
    "email",    "role", "external-user-id", "first-name", "last-name", "street-and-number", "street-add-info",
    "zip-code", "town", "country-iso2",     NULL};

/* Prints help (cmd's text, then the connection options) and returns 0. */
static int help(const char *text, const char *more)
{
	fputs(text, stdout);
	if (more)
		fputs(more, stdout);
	fputs(session_help, stdout);
	return 0;
}

/* 0 when id looks like a user id, else the usage error's status. */
static int check_id(const char *cmd, const char *what, const char *id)
{
	if (!id) {
		char msg[120];
		snprintf(msg, sizeof msg, "the %s id is missing", what);
		return args_usage_error(cmd, msg);
	}
	if (!util_is_uuid(id)) {
		char msg[160];
		snprintf(msg, sizeof msg, "'%.60s' is not a %s id (a UUID)", id, what);
		return args_usage_error(cmd, msg);
	}
	return 0;
}

/* ------------------------------------------------------------------ list */

struct list_ctx {
	int json;
	int deleted;
	struct table *t;
	struct view_array arr;
	size_t n;
};

static enum fd_err list_row(void *ctx, json_t *u)
{
	struct list_ctx *c = ctx;
	c->n++;
	if (c->json)
		return view_array_add(&c->arr, u);
	char name[256], created[24], deleted[24];
	snprintf(name, sizeof name, "%s%s%s", view_str(u, "first_name"), *view_str(u, "first_name") ? " " : "",
	         view_str(u, "last_name"));
	view_time(u, "created_at", created);
	view_time(u, "deleted_at", deleted);
	const char *row[] = {view_str(u, "id"),
	                     view_str(u, "email"),
	                     view_str(u, "role"),
	                     name,
	                     view_str(u, "external_user_id"),
	                     view_str(u, "town"),
	                     created,
	                     deleted};
	return table_add(c->t, row);
}

static int users_list(int argc, char **argv)
{
	const char *cmd = "users list";
	struct ropt opts[] = {SESSION_OPTS,
	                      {.name = "search", .has_arg = 1},
	                      {.name = "role", .has_arg = 1},
	                      {.name = "include-deleted"},
	                      {.name = "sort", .has_arg = 1},
	                      {.name = "limit", .has_arg = 1},
	                      {.name = "all"},
	                      {.name = "json"}};
	size_t n = NOPTS(opts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 0, cmd);
	if (prc < 0)
		return help(list_help, NULL);
	if (prc)
		return prc;
	long long limit = 100;
	if ((prc = ropt_int(opts, n, "limit", 1, 1000, &limit, cmd)) ||
	    (prc = remote_check_role(cmd, ropt_get(opts, n, "role"))))
		return prc;
	const char *sort = ropt_get(opts, n, "sort");
	if (sort) {
		const char *k = sort[0] == '-' ? sort + 1 : sort;
		if (strcmp(k, "created_at") && strcmp(k, "email") && strcmp(k, "last_name") && strcmp(k, "updated_at"))
			return args_usage_error(
			    cmd, "--sort must be created_at, email, last_name or updated_at (-KEY: descending)");
	}
	struct session s;
	int status = session_open(&s, cmd, opts, n, 1);
	struct list_ctx c = {.json = ropt_get(opts, n, "json") != NULL,
	                     .deleted = ropt_get(opts, n, "include-deleted") != NULL};
	struct buf path;
	buf_init(&path, PATH_MAX_);
	if (status)
		goto out;
	char lim[24];
	snprintf(lim, sizeof lim, "%lld", limit);
	enum fd_err rc = session_org_path(&s, &path, "/users");
	if (rc == FD_OK)
		rc = rhttp_query(&path, "limit", lim);
	if (rc == FD_OK)
		rc = rhttp_query(&path, "search", ropt_get(opts, n, "search"));
	if (rc == FD_OK)
		rc = rhttp_query(&path, "role", ropt_get(opts, n, "role"));
	if (rc == FD_OK)
		rc = rhttp_query(&path, "include_deleted", c.deleted ? "true" : NULL);
	if (rc == FD_OK)
		rc = rhttp_query(&path, "sort", sort);
	if (rc != FD_OK) {
		status = args_usage_error(cmd, "the search is too long");
		goto out;
	}
	static const char *const head[] = {"ID", "EMAIL", "ROLE", "NAME", "EXTERNAL ID", "TOWN", "CREATED", "DELETED"};
	if (c.json) {
		view_array_begin(&c.arr, stdout);
	} else {
		c.t = table_new(stdout, head, c.deleted ? 8 : 7);
		if (!c.t) {
			status = 1;
			goto out;
		}
	}
	long long total = -1;
	int more = 0;
	status = session_list(&s, path.data, ropt_get(opts, n, "all") != NULL, list_row, &c, &total, &more,
	                      "cannot list the users");
	if (c.json) {
		view_array_end(&c.arr);
	} else {
		table_flush(c.t);
		if (!status && more)
			session_say(&s, "showing %zu of %lld users; --all lists every page", c.n, total);
	}
out:
	table_free(c.t);
	buf_release(&path);
	session_close(&s);
	return status;
}

/* ------------------------------------------------------------------ one user */

/* Sends a request about one user and shows the reply (the user, or for
 * DELETE a line). expect is the status of success. */
static int one_user(struct session *s, const char *method, const char *id, const char *tail, const char *body,
                    const char *if_match, long expect, int json, const char *what)
{
	struct buf path;
	buf_init(&path, PATH_MAX_);
	enum fd_err rc = session_org_path(s, &path, "/users");
	if (rc == FD_OK && id) {
		rc = buf_puts(&path, "/");
		if (rc == FD_OK)
			rc = buf_puts(&path, id);
	}
	if (rc == FD_OK && tail)
		rc = buf_puts(&path, tail);
	struct rhttp_request rq = {.method = method,
	                           .path = path.data,
	                           .body = body,
	                           .body_len = body ? strlen(body) : 0,
	                           .content_type = body ? "application/json" : NULL,
	                           .if_match = if_match};
	struct rhttp_response resp;
	int status = 0;
	rc = rc == FD_OK ? session_send(s, &rq, &resp) : rc;
	if (rc != FD_OK || resp.status != expect) {
		status = session_fail(s, rc, &resp, what);
	} else if (expect == 204) {
		printf("deleted user %s\n", id);
	} else if (json) {
		view_raw(&resp, stdout);
	} else {
		json_t *u = rhttp_json(&resp);
		if (view_object(u, stdout) != FD_OK)
			status = 1;
		json_decref(u);
		if (resp.etag[0])
			printf("ETag: %s\n", resp.etag);
	}
	rhttp_response_release(&resp);
	buf_release(&path);
	return status;
}

static int users_get(int argc, char **argv, int restore)
{
	const char *cmd = restore ? "users restore" : "users get";
	struct ropt opts[] = {SESSION_OPTS, {.name = "json"}};
	size_t n = NOPTS(opts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 1, cmd);
	if (prc < 0)
		return help(restore ? restore_help : get_help, NULL);
	if (prc || (prc = check_id(cmd, "user", pos.n ? pos.v[0] : NULL)))
		return prc;
	struct session s;
	int status = session_open(&s, cmd, opts, n, 1);
	if (!status)
		status = one_user(&s, restore ? "POST" : "GET", pos.v[0], restore ? "/restore" : NULL, NULL, NULL, 200,
		                  ropt_get(opts, n, "json") != NULL,
		                  restore ? "cannot restore the user" : "cannot get the user");
	session_close(&s);
	return status;
}

/* Reads --data (JSON, or @FILE) into *out: an object. 0 or the usage status. */
static int read_data(const char *cmd, const char *data, json_t **out)
{
	json_error_t err;
	char msg[300];
	if (data[0] == '@') {
		FILE *f = fopen(data + 1, "rb");
		if (!f) {
			snprintf(msg, sizeof msg, "--data: cannot read %.200s", data + 1);
			return args_usage_error(cmd, msg);
		}
		char *text = malloc(DATA_MAX + 1);
		size_t len = text ? fread(text, 1, DATA_MAX + 1, f) : 0;
		fclose(f);
		if (!text || len > DATA_MAX) {
			free(text);
			return args_usage_error(cmd, "--data: the file is larger than 1 MiB");
		}
		*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
		free(text);
	} else {
		*out = json_loads(data, JSON_REJECT_DUPLICATES, &err);
	}
	if (!*out) {
		snprintf(msg, sizeof msg, "--data is not JSON: %.150s (line %d)", err.text, err.line);
		return args_usage_error(cmd, msg);
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return args_usage_error(cmd, "--data must be a JSON object of user fields");
	}
	return 0;
}

/* Builds the body of a create or update from the field options. 0 with
 * *body (a JSON text the caller frees), or the usage status. */
static int user_body(const char *cmd, struct ropt *opts, size_t n, char **body)
{
	*body = NULL;
	json_t *obj = NULL;
	const char *data = ropt_get(opts, n, "data");
	int status = data ? read_data(cmd, data, &obj) : 0;
	if (status)
		return status;
	if (!obj)
		obj = json_object();
	struct ropt *fo = ropt_find(opts, n, "field");
	for (size_t i = 0; obj && fo && i < fo->nvalues; i++) {
		const char *kv = fo->values[i];
		const char *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			json_decref(obj);
			return args_usage_error(cmd, "--field must be KEY=VALUE");
		}
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)(eq - kv > 127 ? 127 : eq - kv), kv);
		json_t *v = json_string(eq + 1);
		if (!v) {
			json_decref(obj);
			return args_usage_error(cmd, "--field: the value is not UTF-8 text");
		}
		json_object_set_new(obj, key, v);
	}
	for (int i = 0; obj && field_flags[i]; i++) {
		const char *v = ropt_get(opts, n, field_flags[i]);
		if (!v)
			continue;
		char key[64];
		snprintf(key, sizeof key, "%s", field_flags[i]);
		for (char *p = key; *p; p++) {
			if (*p == '-')
				*p = '_';
		}
		json_t *jv = json_string(v);
		if (!jv) {
			json_decref(obj);
			return args_usage_error(cmd, "a field value is not UTF-8 text");
		}
		json_object_set_new(obj, key, jv);
	}
	struct ropt *co = ropt_find(opts, n, "clear");
	for (size_t i = 0; obj && co && i < co->nvalues; i++)
		json_object_set_new(obj, co->values[i], json_null());
	if (!obj)
		return 1;
	if (json_object_size(obj) == 0) {
		json_decref(obj);
		return args_usage_error(cmd, "no field given (see --help for the field options)");
	}
	*body = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return *body ? 0 : 1;
}

#define FIELD_OPTS                                                                                                     \
	{.name = "email", .has_arg = 1}, {.name = "role", .has_arg = 1}, {.name = "external-user-id", .has_arg = 1},   \
	    {.name = "first-name", .has_arg = 1}, {.name = "last-name", .has_arg = 1},                                 \
	    {.name = "street-and-number", .has_arg = 1}, {.name = "street-add-info", .has_arg = 1},                    \
	    {.name = "zip-code", .has_arg = 1}, {.name = "town", .has_arg = 1},                                        \
	    {.name = "country-iso2", .has_arg = 1}, {.name = "field", .has_arg = 1, .repeat = 1},                      \
	    {.name = "clear", .has_arg = 1, .repeat = 1},                                                              \
	{                                                                                                              \
		.name = "data", .has_arg = 1                                                                           \
	}

static int users_write(int argc, char **argv, int update)
{
	const char *cmd = update ? "users update" : "users create";
	struct ropt copts[] = {SESSION_OPTS, FIELD_OPTS, {.name = "json"}};
	struct ropt uopts[] = {SESSION_OPTS, FIELD_OPTS, {.name = "if-match", .has_arg = 1}, {.name = "json"}};
	struct ropt *opts = update ? uopts : copts;
	size_t nn = update ? NOPTS(uopts) : NOPTS(copts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, nn, &pos, update ? 1 : 0, cmd);
	if (prc < 0)
		return help(update ? update_help : create_help, fields_help);
	if (prc || (update && (prc = check_id(cmd, "user", pos.n ? pos.v[0] : NULL))))
		return prc;
	if ((prc = remote_check_role(cmd, ropt_get(opts, nn, "role"))) ||
	    (prc = remote_check_etag(cmd, ropt_get(opts, nn, "if-match"))))
		return prc;
	if (!update && !ropt_get(opts, nn, "email") && !ropt_get(opts, nn, "data") && !ropt_get(opts, nn, "field"))
		return args_usage_error(cmd, "--email is required");
	char *body = NULL;
	if ((prc = user_body(cmd, opts, nn, &body)))
		return prc;
	struct session s;
	int status = session_open(&s, cmd, opts, nn, 1);
	if (!status)
		status =
		    one_user(&s, update ? "PUT" : "POST", update ? pos.v[0] : NULL, NULL, body,
		             ropt_get(opts, nn, "if-match"), update ? 200 : 201, ropt_get(opts, nn, "json") != NULL,
		             update ? "cannot update the user" : "cannot create the user");
	free(body);
	session_close(&s);
	return status;
}

static int users_delete(int argc, char **argv)
{
	const char *cmd = "users delete";
	struct ropt opts[] = {SESSION_OPTS, {.name = "if-match", .has_arg = 1}};
	size_t n = NOPTS(opts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 1, cmd);
	if (prc < 0)
		return help(delete_help, NULL);
	if (prc || (prc = check_id(cmd, "user", pos.n ? pos.v[0] : NULL)) ||
	    (prc = remote_check_etag(cmd, ropt_get(opts, n, "if-match"))))
		return prc;
	struct session s;
	int status = session_open(&s, cmd, opts, n, 1);
	if (!status)
		status = one_user(&s, "DELETE", pos.v[0], NULL, NULL, ropt_get(opts, n, "if-match"), 204, 0,
		                  "cannot delete the user");
	session_close(&s);
	return status;
}

/* ------------------------------------------------------------------ export */

static int users_export(int argc, char **argv)
{
	const char *cmd = "users export";
	struct ropt opts[] = {SESSION_OPTS,
	                      {.name = "format", .has_arg = 1},
	                      {.name = "search", .has_arg = 1},
	                      {.name = "role", .has_arg = 1},
	                      {.name = "include-deleted"}};
	size_t n = NOPTS(opts);
	struct ropt_pos pos;
	int prc = ropt_parse(argc, argv, opts, n, &pos, 0, cmd);
	if (prc < 0)
		return help(export_help, NULL);
	if (prc || (prc = remote_check_role(cmd, ropt_get(opts, n, "role"))))
		return prc;
	const char *format = ropt_get(opts, n, "format");
	if (format && strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0)
		return args_usage_error(cmd, "--format must be csv or jsonl");
	struct session s;
	int status = session_open(&s, cmd, opts, n, 1);
	struct buf path;
	buf_init(&path, PATH_MAX_);
	if (status)
		goto out;
	enum fd_err rc = session_org_path(&s, &path, "/users/export");
	if (rc == FD_OK)
		rc = rhttp_query(&path, "format", format ? format : "csv");
	if (rc == FD_OK)
		rc = rhttp_query(&path, "search", ropt_get(opts, n, "search"));
	if (rc == FD_OK)
		rc = rhttp_query(&path, "role", ropt_get(opts, n, "role"));
	if (rc == FD_OK && ropt_get(opts, n, "include-deleted"))
		rc = rhttp_query(&path, "include_deleted", "true");
	if (rc != FD_OK) {
		status = args_usage_error(cmd, "the search is too long");
		goto out;
	}
	struct rhttp_request rq = {.method = "GET", .path = path.data, .sink = stdout};
	struct rhttp_response resp;
	rc = session_send(&s, &rq, &resp);
	if (rc != FD_OK || resp.status < 200 || resp.status > 299)
		status = session_fail(&s, rc, &resp, "cannot export the users");
	else if (fflush(stdout) != 0)
		status = 1;
	rhttp_response_release(&resp);
out:
	buf_release(&path);
	session_close(&s);
	return status;
}

/* ------------------------------------------------------------------ the command */

int cmd_users(int argc, char **argv)
{
	if (argc < 1)
		return args_usage_error("users",
		                        "a subcommand is needed: list, get, create, update, delete, restore, import or "
		                        "export");
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(users_help, stdout);
		return 0;
	}
	const char *sub = argv[0];
	if (strcmp(sub, "list") == 0)
		return users_list(argc - 1, argv + 1);
	if (strcmp(sub, "get") == 0)
		return users_get(argc - 1, argv + 1, 0);
	if (strcmp(sub, "restore") == 0)
		return users_get(argc - 1, argv + 1, 1);
	if (strcmp(sub, "create") == 0)
		return users_write(argc - 1, argv + 1, 0);
	if (strcmp(sub, "update") == 0)
		return users_write(argc - 1, argv + 1, 1);
	if (strcmp(sub, "delete") == 0)
		return users_delete(argc - 1, argv + 1);
	if (strcmp(sub, "import") == 0)
		return remote_users_import(argc - 1, argv + 1);
	if (strcmp(sub, "export") == 0)
		return users_export(argc - 1, argv + 1);
	return args_usage_error("users",
	                        "the subcommand must be list, get, create, update, delete, restore, import or export");
}
