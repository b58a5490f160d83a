/*
 * main.c - the fleetdesk binary: global options and the subcommand switch.
 */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/util.h"
#include "remote/http.h"

static const char usage[] = "usage: fleetdesk [--db PATH] COMMAND [ARGS]\n"
                            "\n"
                            "commands:\n"
                            "  serve    serve the HTTP API (fleetdesk serve --help)\n"
                            "  org      create or list organisations\n"
                            "  token    create, list or revoke API tokens\n"
                            "  client   create, list or revoke OAuth2 clients\n"
                            "  staff    create or list the team's web app accounts\n"
                            "  demo     create a demo org with users and an admin token\n"
                            "\n"
                            "HTTP client commands (talk to a server: FLEETDESK_URL, FLEETDESK_TOKEN):\n"
                            "  users        list, get, create, update, delete, restore, import or export users\n"
                            "  devices      list devices (the fleet or a user's), get, diagnose or reset one\n"
                            "  bulk-update  update users from a CSV or JSON-lines file, in batches\n"
                            "\n"
                            "--db PATH  the SQLite database of the local commands (default ./fleetdesk.db)\n";

/* A client command, with libcurl ready around it. */
static int run_remote(const char *cmd, int argc, char **argv)
{
	if (rhttp_global_init() != FD_OK) {
		fprintf(stderr, "fleetdesk: %s: cannot initialise libcurl\n", cmd);
		return 1;
	}
	int status;
	if (strcmp(cmd, "users") == 0)
		status = cmd_users(argc, argv);
	else if (strcmp(cmd, "devices") == 0)
		status = cmd_devices(argc, argv);
	else
		status = cmd_bulk_update(argc, argv);
	rhttp_global_cleanup();
	return status;
}

int main(int argc, char **argv)
{
	const char *db = "./fleetdesk.db";
	int i = 1;
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--db=", 5) == 0) {
			db = argv[i] + 5;
			i++;
		} else {
			fprintf(stderr, "fleetdesk: unknown option '%.100s' (see 'fleetdesk --help')\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (!*db) {
		fprintf(stderr, "fleetdesk: --db must not be empty\n");
		return EXIT_USAGE;
	}
	if (util_init() != FD_OK) {
		fprintf(stderr, "fleetdesk: cannot initialise libsodium\n");
		return 1;
	}
	const char *cmd = argv[i];
	int sub_argc = argc - i - 1;
	char **sub_argv = argv + i + 1;
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(sub_argc, sub_argv, db);
	if (strcmp(cmd, "org") == 0)
		return cmd_org(sub_argc, sub_argv, db);
	if (strcmp(cmd, "token") == 0)
		return cmd_token(sub_argc, sub_argv, db);
	if (strcmp(cmd, "client") == 0)
		return cmd_client(sub_argc, sub_argv, db);
	if (strcmp(cmd, "staff") == 0)
		return cmd_staff(sub_argc, sub_argv, db);
	if (strcmp(cmd, "demo") == 0)
		return cmd_demo(sub_argc, sub_argv, db);
	if (strcmp(cmd, "users") == 0 || strcmp(cmd, "devices") == 0 || strcmp(cmd, "bulk-update") == 0)
		return run_remote(cmd, sub_argc, sub_argv);
	fprintf(stderr, "fleetdesk: unknown command '%.100s' (see 'fleetdesk --help')\n", cmd);
	return EXIT_USAGE;
}
