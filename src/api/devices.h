/*
 * devices.h - what the device handlers share with the support handlers
 * (diagnosis, comparison, onboarding links), which live in their own files.
 */
#ifndef FD_API_DEVICES_H
#define FD_API_DEVICES_H

#include <stdint.h>

#include <jansson.h>

#include "http/request.h"

/* The device type the route names. */
int device_route_type(struct req *r);
/* Path parameter i when it is a UUID; otherwise replies 404 "no such {what}" and returns NULL. */
const char *device_path_id(struct req *r, int i, const char *what);
/* Reads the device in the path (params 0 org, 1 user, 2 device) as the API
 * shows it at now_ms (device_view); replies on failure. */
enum fd_err device_load(struct req *r, int64_t now_ms, json_t **view /* OUT */, int64_t *version /* OUT */);
/* Replies with the problem for a failed device lookup or write. */
enum fd_err device_reply_failed(struct req *r, enum fd_err rc);

#endif
