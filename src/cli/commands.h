/*
 * commands.h - the fleetdesk subcommands. Each takes the arguments after
 * its own name (the local ones also the database path), and returns the
 * exit status (0 success, 1 failure, 2 usage).
 */
#ifndef FD_COMMANDS_H
#define FD_COMMANDS_H

int cmd_serve(int argc, char **argv, const char *db);
int cmd_org(int argc, char **argv, const char *db);
int cmd_token(int argc, char **argv, const char *db);
int cmd_client(int argc, char **argv, const char *db);
int cmd_staff(int argc, char **argv, const char *db);
int cmd_demo(int argc, char **argv, const char *db);

/* The HTTP client (src/remote/): they talk to a server, not to a database. */
int cmd_users(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_bulk_update(int argc, char **argv);

#endif
