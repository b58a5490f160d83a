/* remote.c - small helpers the client's commands share: see remote.h. */
#include "remote/remote.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"

int remote_check_role(const char *cmd, const char *role)
{
	static const char *const roles[] = {"user", "viewer", "staff", "admin", NULL};
	if (!role)
		return 0;
	for (int i = 0; roles[i]; i++) {
		if (strcmp(role, roles[i]) == 0)
			return 0;
	}
	return args_usage_error(cmd, "--role must be user, viewer, staff or admin");
}

int remote_check_etag(const char *cmd, const char *etag)
{
	if (!etag)
		return 0;
	size_t n = strlen(etag);
	for (size_t i = 0; i < n; i++) {
		if (etag[i] < ' ' || etag[i] > '~')
			n = 0;
	}
	if (n == 0 || n > 200)
		return args_usage_error(cmd, "--if-match must be an ETag (1 to 200 visible ASCII characters)");
	return 0;
}

int remote_check_output(const char *cmd, const char *input, const char *out)
{
	struct stat a, b;
	if (strcmp(input, out) == 0 ||
	    (stat(input, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
		return args_usage_error(cmd, "--failed-rows must not be the input file");
	return 0;
}

FILE *remote_temp_beside(const char *path, char *tmp, size_t n)
{
	int w = snprintf(tmp, n, "%s.tmp-XXXXXX", path);
	if (w < 0 || (size_t)w >= n) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	int fd = mkstemp(tmp);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "wb");
	if (!f) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
	}
	return f;
}
