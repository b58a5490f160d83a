/*
 * log.h - structured logging. One JSON object per line.
 *
 * The access log and the server's own messages go through here. Callers pass
 * a jansson object; this module adds "ts" and writes it with one write(2), so
 * lines from different threads never interleave.
 */
#ifndef FD_LOG_H
#define FD_LOG_H

#include <jansson.h>

/* Sets where lines go: a path, "-" for stderr, or "off". 0 on success. */
int log_open(const char *where);
void log_close(void);

/* Writes obj (borrowed) as one line, with "ts" added. A no-op when off. */
void log_json(json_t *obj);

/* Convenience for the server's own messages: {"level","msg"}. */
void log_msg(const char *level, const char *msg);

#endif
