/*
 * remote.h - what the HTTP client's command files share among themselves.
 * The commands themselves are declared in cli/commands.h.
 */
#ifndef FD_REMOTE_REMOTE_H
#define FD_REMOTE_REMOTE_H

#include <stddef.h>
#include <stdio.h>

/* `fleetdesk users import` (cmd_import.c), called by cmd_users. */
int remote_users_import(int argc, char **argv);

/* 0 when role is NULL or a user role (user, viewer, staff, admin), else
 * the usage error's status after one line on stderr. */
int remote_check_role(const char *cmd, const char *role);

/* 0 when etag is NULL or 1 to 200 visible ASCII characters (it goes into
 * an If-Match header), else the usage error's status. */
int remote_check_etag(const char *cmd, const char *etag);

/*
 * Checks that the path out (the failed-rows file) is not the input file
 * itself. 0, or the usage error's status after one line on stderr.
 */
int remote_check_output(const char *cmd, const char *input, const char *out);

/* Creates a temporary file beside path ("PATH.tmp-XXXXXX", its name into
 * tmp[n]) and opens it for writing. NULL with errno set. */
FILE *remote_temp_beside(const char *path, char *tmp, size_t n);

#endif
