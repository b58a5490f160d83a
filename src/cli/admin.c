/*
 * admin.c - the local administration commands: org, token, client and staff.
 *
 * They open the database directly (no server needed) and act as the
 * actor {"type":"cli","id":"local"} in the audit log. Secrets are printed
 * once, on stdout, and never stored or logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"
#include "auth/policy.h"
#include "auth/token.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/util.h"
#include "store/store.h"

#define NOPTS(a) (sizeof(a) / sizeof((a)[0]))

static const struct store_actor cli_actor = {.type = "cli", .id = "local", .name = "fleetdesk cli"};

static int fail(const char *cmd, enum fd_err rc, const char *what)
{
	fprintf(stderr, "fleetdesk: %s: %s (%s)\n", cmd, what, fd_err_name(rc));
	return 1;
}

static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	if (!s)
		return 1;
	puts(s);
	free(s);
	return 0;
}

static struct store *open_store(const char *cmd, const char *db)
{
	struct store *st = NULL;
	enum fd_err rc = store_open(db, &st);
	if (rc != FD_OK) {
		fail(cmd, rc, "cannot open the database");
		return NULL;
	}
	return st;
}

/* Checks --org: a UUID of an existing org. Returns 0, or the exit status. */
static int check_org(const char *cmd, struct store *st, const char *org)
{
	if (!org)
		return args_usage_error(cmd, "--org is required");
	if (!util_is_uuid(org))
		return args_usage_error(cmd, "--org must be an org id (a UUID)");
	if (store_org_exists(st, org) != FD_OK) {
		fprintf(stderr, "fleetdesk: %s: no org with id %s\n", cmd, org);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ org */

static const char org_help[] = "usage: fleetdesk [--db PATH] org create --name NAME\n"
                               "       fleetdesk [--db PATH] org list\n"
                               "Creates an organisation (printed as JSON with its id), or lists them.\n";

int cmd_org(int argc, char **argv, const char *db)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(org_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : 0;
	}
	struct cli_opt opts[] = {{"name", 1, NULL}};
	const char *sub = argv[0];
	if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0)
		return args_usage_error("org", "the subcommand must be create or list");
	int prc = args_parse(argc - 1, argv + 1, opts, strcmp(sub, "create") == 0 ? 1 : 0, "org");
	if (prc < 0) {
		fputs(org_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	const char *name = args_get(opts, 1, "name");
	if (strcmp(sub, "create") == 0 && (!name || !*name || strlen(name) > 200))
		return args_usage_error("org", "--name is required (1 to 200 characters)");
	struct store *st = open_store("org", db);
	if (!st)
		return 1;
	json_t *out = NULL;
	enum fd_err rc =
	    strcmp(sub, "create") == 0 ? store_org_create(st, &cli_actor, name, &out) : store_org_list(st, &out);
	store_close(st);
	if (rc != FD_OK)
		return fail("org", rc, "failed");
	return print_json(out);
}

/* ------------------------------------------------------------------ token */

static const char token_help[] =
    "usage: fleetdesk [--db PATH] token create --org ORG_ID --role ROLE [--name LABEL]\n"
    "       fleetdesk [--db PATH] token list --org ORG_ID\n"
    "       fleetdesk [--db PATH] token revoke --org ORG_ID --id TOKEN_ID\n"
    "create prints only the new bearer token; it is shown once and stored as a hash.\n"
    "ROLE is one of user, viewer, staff, admin, integration (devices and their state only).\n";

int cmd_token(int argc, char **argv, const char *db)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(token_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : 0;
	}
	const char *sub = argv[0];
	struct cli_opt opts[] = {{"org", 1, NULL}, {"role", 1, NULL}, {"name", 1, NULL}, {"id", 1, NULL}};
	size_t n;
	if (strcmp(sub, "create") == 0)
		n = 3;
	else if (strcmp(sub, "list") == 0)
		n = 1;
	else if (strcmp(sub, "revoke") == 0)
		n = 4;
	else
		return args_usage_error("token", "the subcommand must be create, list or revoke");
	struct cli_opt *o = opts;
	struct cli_opt revoke_opts[] = {{"org", 1, NULL}, {"id", 1, NULL}};
	if (strcmp(sub, "revoke") == 0) {
		o = revoke_opts;
		n = 2;
	}
	int prc = args_parse(argc - 1, argv + 1, o, n, "token");
	if (prc < 0) {
		fputs(token_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	const char *org = args_get(o, n, "org");
	const char *role = args_get(o, n, "role");
	const char *name = args_get(o, n, "name");
	const char *id = args_get(o, n, "id");
	if (strcmp(sub, "create") == 0) {
		if (!role)
			return args_usage_error("token", "--role is required");
		if (role_parse(role) == ROLE_NONE)
			return args_usage_error("token",
			                        "--role must be one of user, viewer, staff, admin, integration");
		if (name && (strlen(name) == 0 || strlen(name) > 100))
			return args_usage_error("token", "--name must be 1 to 100 characters");
	}
	if (strcmp(sub, "revoke") == 0 && (!id || !util_is_uuid(id)))
		return args_usage_error("token", "--id must be a token id (a UUID, see token list)");
	if (!org)
		return args_usage_error("token", "--org is required");
	struct store *st = open_store("token", db);
	if (!st)
		return 1;
	int status = check_org("token", st, org);
	if (status)
		goto out;
	enum fd_err rc;
	if (strcmp(sub, "create") == 0) {
		char tok[TOKEN_MAX], hash[65];
		token_generate("fdt_", tok);
		token_hash(tok, hash);
		rc = store_token_create(st, &cli_actor, org, role, name ? name : "cli", "api", NULL, hash, 0, NULL);
		if (rc == FD_OK)
			puts(tok);
		sodium_memzero(tok, sizeof tok);
	} else if (strcmp(sub, "list") == 0) {
		json_t *list = NULL;
		rc = store_token_list(st, org, &list);
		if (rc == FD_OK)
			print_json(list);
	} else {
		rc = store_token_revoke(st, &cli_actor, org, id);
		if (rc == FD_ENOTFOUND) {
			fprintf(stderr, "fleetdesk: token: no live token %s in org %s\n", id, org);
			status = 1;
			goto out;
		}
	}
	if (rc != FD_OK)
		status = fail("token", rc, "failed");
out:
	store_close(st);
	return status;
}

/* ------------------------------------------------------------------ client */

static const char client_help[] =
    "usage: fleetdesk [--db PATH] client create --org ORG_ID [--name LABEL]\n"
    "       fleetdesk [--db PATH] client list --org ORG_ID\n"
    "       fleetdesk [--db PATH] client revoke --org ORG_ID --id CLIENT_ID\n"
    "create prints {client_id, client_secret} for POST /oauth2/token/; the secret is shown once.\n";

int cmd_client(int argc, char **argv, const char *db)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(client_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : 0;
	}
	const char *sub = argv[0];
	struct cli_opt opts[] = {{"org", 1, NULL}, {"name", 1, NULL}, {"id", 1, NULL}};
	struct cli_opt *o = opts;
	size_t n;
	struct cli_opt revoke_opts[] = {{"org", 1, NULL}, {"id", 1, NULL}};
	if (strcmp(sub, "create") == 0) {
		n = 2;
	} else if (strcmp(sub, "list") == 0) {
		n = 1;
	} else if (strcmp(sub, "revoke") == 0) {
		o = revoke_opts;
		n = 2;
	} else {
		return args_usage_error("client", "the subcommand must be create, list or revoke");
	}
	int prc = args_parse(argc - 1, argv + 1, o, n, "client");
	if (prc < 0) {
		fputs(client_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	const char *org = args_get(o, n, "org");
	const char *name = args_get(o, n, "name");
	const char *id = args_get(o, n, "id");
	if (!org)
		return args_usage_error("client", "--org is required");
	if (name && (strlen(name) == 0 || strlen(name) > 100))
		return args_usage_error("client", "--name must be 1 to 100 characters");
	if (strcmp(sub, "revoke") == 0 && (!id || !util_is_uuid(id)))
		return args_usage_error("client", "--id must be a client id (a UUID)");
	struct store *st = open_store("client", db);
	if (!st)
		return 1;
	int status = check_org("client", st, org);
	if (status)
		goto out;
	enum fd_err rc;
	if (strcmp(sub, "create") == 0) {
		char cid[FD_UUID_LEN + 1], secret[TOKEN_MAX], hash[65];
		util_uuid(cid);
		token_generate("fds_", secret);
		token_hash(secret, hash);
		json_t *meta = NULL;
		rc = store_client_create(st, &cli_actor, org, cid, name ? name : "cli", hash, &meta);
		if (rc == FD_OK) {
			json_object_set_new(meta, "client_secret", json_string(secret));
			print_json(meta);
		}
		sodium_memzero(secret, sizeof secret);
	} else if (strcmp(sub, "list") == 0) {
		json_t *list = NULL;
		rc = store_client_list(st, org, &list);
		if (rc == FD_OK)
			print_json(list);
	} else {
		rc = store_client_revoke(st, &cli_actor, org, id);
		if (rc == FD_ENOTFOUND) {
			fprintf(stderr, "fleetdesk: client: no live client %s in org %s\n", id, org);
			status = 1;
			goto out;
		}
	}
	if (rc != FD_OK)
		status = fail("client", rc, "failed");
out:
	store_close(st);
	return status;
}

/* ------------------------------------------------------------------ staff */

static const char staff_help[] =
    "usage: fleetdesk [--db PATH] staff create --org ORG_ID --email EMAIL --role admin|staff|viewer\n"
    "       fleetdesk [--db PATH] staff list --org ORG_ID\n"
    "The team's accounts for the web app. create reads the password from the first line of stdin (at\n"
    "least 12 characters; it is stored only as an Argon2id hash) and prints the account as JSON.\n"
    "An email has one account across all orgs.\n";

/* The first line of stdin, without its line break, into buf (len bytes).
 * NULL when read, else why not. */
static const char *read_password(char *buf, size_t len)
{
	if (!fgets(buf, (int)len, stdin))
		return "give the password on stdin, one line";
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == len - 1)
		return "the password is longer than 1024 bytes"; /* refused, not cut */
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return NULL;
}

int cmd_staff(int argc, char **argv, const char *db)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(staff_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : 0;
	}
	const char *sub = argv[0];
	struct cli_opt opts[] = {{"org", 1, NULL}, {"email", 1, NULL}, {"role", 1, NULL}};
	size_t n;
	if (strcmp(sub, "create") == 0)
		n = 3;
	else if (strcmp(sub, "list") == 0)
		n = 1;
	else
		return args_usage_error("staff", "the subcommand must be create or list");
	int prc = args_parse(argc - 1, argv + 1, opts, n, "staff");
	if (prc < 0) {
		fputs(staff_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	const char *org = args_get(opts, n, "org"), *email = args_get(opts, n, "email"),
	           *role = args_get(opts, n, "role");
	if (!org)
		return args_usage_error("staff", "--org is required");
	char password[PASSWORD_MAX + 2], hash[PASSWORD_HASH_MAX];
	if (n == 3) {
		const char *at = email ? strchr(email, '@') : NULL;
		if (!email || !at || at == email || !at[1] || strlen(email) > 254 || strchr(email, ' '))
			return args_usage_error("staff", "--email must be an email address");
		enum role r = role_parse(role);
		if (r != ROLE_ADMIN && r != ROLE_STAFF && r != ROLE_VIEWER)
			return args_usage_error("staff", "--role must be admin, staff or viewer");
		const char *why = read_password(password, sizeof password);
		if (!why)
			why = password_weak(password);
		if (why) {
			sodium_memzero(password, sizeof password);
			return args_usage_error("staff", why);
		}
	}
	struct store *st = open_store("staff", db);
	if (!st) {
		sodium_memzero(password, sizeof password);
		return 1;
	}
	int status = check_org("staff", st, org);
	enum fd_err rc = FD_OK;
	if (!status && n == 3) {
		rc = password_hash(password, hash);
		json_t *staff = NULL;
		if (rc == FD_OK)
			rc = store_staff_create(st, &cli_actor, org, email, role, hash, &staff);
		if (rc == FD_ECONFLICT) {
			fprintf(stderr, "fleetdesk: staff: %s already has an account\n", email);
			status = 1;
		} else if (rc == FD_OK) {
			print_json(staff);
		}
	} else if (!status) {
		json_t *list = NULL;
		rc = store_staff_list(st, org, &list);
		if (rc == FD_OK)
			print_json(list);
	}
	sodium_memzero(password, sizeof password);
	sodium_memzero(hash, sizeof hash);
	if (!status && rc != FD_OK)
		status = fail("staff", rc, "failed");
	store_close(st);
	return status;
}
