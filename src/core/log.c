/* log.c - one JSON line per event, written atomically. */
#include "core/log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

static int log_fd = 2;

int log_open(const char *where)
{
	if (!where || strcmp(where, "-") == 0) {
		log_fd = 2;
		return 0;
	}
	if (strcmp(where, "off") == 0) {
		log_fd = -1;
		return 0;
	}
	int fd = open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	log_fd = fd;
	return 0;
}

void log_close(void)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
}

void log_json(json_t *obj)
{
	if (log_fd < 0)
		return;
	char ts[FD_TIME_LEN + 1];
	util_now_rfc3339(ts);
	json_object_set_new(obj, "ts", json_string(ts));
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s)
		return;
	size_t n = strlen(s);
	s[n] = '\n'; /* replace the NUL: the line is written with its length */
	ssize_t w = write(log_fd, s, n + 1);
	(void)w;
	free(s);
}

void log_msg(const char *level, const char *msg)
{
	json_t *o = json_pack("{ss ss}", "level", level, "msg", msg);
	if (o) {
		log_json(o);
		json_decref(o);
	}
}
