/*
 * device_bulk.h - one settings change applied to many devices: the bulk
 * endpoint (POST /devices/bulk, a list of ids, answered item by item) and
 * the "devices.update" job (a fleet filter, worked through in batches).
 *
 * An action is "reset_optimization" (optimisation on, any pause lifted, as
 * POST …/reset-optimization does) or "update" with settings (as a device's
 * PUT takes them: pause_power_until pauses, null resumes). Settings are
 * checked against each device's type and current state inside the store's
 * transaction, so every device is checked as its own PUT would check it.
 */
#ifndef FD_API_DEVICE_BULK_H
#define FD_API_DEVICE_BULK_H

#include <jansson.h>

#include "store/store.h"

#define DEVICE_BULK_MAX 1000 /* ids in one request */

struct device_action {
	int reset;        /* reset_optimization; else update with settings */
	json_t *settings; /* owned */
	json_t *patch;    /* owned: reset's fixed patch */
};

/*
 * Reads {"action", "settings"} of obj. type (-1: any) is the device type
 * the settings must suit when known in advance (a filter's). FD_EINVALID
 * with *errors (field errors, pointers from the object's root).
 */
enum fd_err device_action_parse(json_t *obj, int type, struct device_action *act, json_t **errors /* OUT */);
void device_action_release(struct device_action *act);

/* Makes op the action's write of device_id (borrowed, as is act). */
void device_action_op(const struct device_action *act, const char *device_id, struct store_device_op *op);

/* The problem object of a failed op (new reference). */
json_t *device_op_problem(const struct store_device_op *op);

/*
 * Reads a fleet filter object {"type", "authenticated", "stale",
 * "optimization_active", "needs_attention", "zip_code"} into q (strings
 * borrowed from filter). FD_EINVALID with *errors (pointers under /filter).
 */
enum fd_err device_filter_parse(json_t *filter, struct store_fleet_query *q, json_t **errors /* OUT */);

#endif
