/*
 * device_fields.h - the three device types: their paths, their field rules
 * (fields.h) in Podero's names, the checks across fields, and the public
 * view of a stored device.
 */
#ifndef FD_DEVICE_FIELDS_H
#define FD_DEVICE_FIELDS_H

#include <stdint.h>

#include <jansson.h>

#include "api/fields.h"
#include "store/store.h"

struct device_type {
	const char *path;        /* "heat-pumps" */
	const char *key;         /* "heat_pumps", as in the document's get_user_devices */
	const char *model_type;  /* device_model.device_type default: "heat_pump" */
	const struct field_rule *rules;
};

extern const struct device_type device_types[DEV_TYPES];

/*
 * Validates a create (current NULL), update or state body for type.
 * On create the result is the full device: defaults overlaid with the body.
 * On update and state it holds the fields sent; checks across fields (a
 * minimum above its maximum, a target outside its limits) run on current
 * overlaid with them. FD_EINVALID: *errors names each field.
 */
enum fd_err device_fields_validate(int type, enum field_mode mode, json_t *body, json_t *current,
                                   json_t **clean /* OUT */, json_t **errors /* OUT */);

/*
 * The device as the API shows it: the type's fields in order, with
 * building (= building_id), is_pause_power_active and actions[] computed
 * at now_ms. New reference; dev is borrowed.
 */
json_t *device_view(int type, json_t *dev, int64_t now_ms);

#define DEVICE_ETAG_LEN 48

/*
 * The entity tag of a device view: its version, and a digest of the parts
 * that change with time alone (is_pause_power_active, the consumption and
 * production figures), so If-None-Match never keeps a client on a view that
 * the clock has changed. "\"42-1a2b3c4d\"".
 */
void device_etag(json_t *view, int64_t version, char tag[DEVICE_ETAG_LEN]);

/* A device of the fleet view as the API shows it: its type's view, plus
 * "device_type" (the path name) and "attention" (new reference; NULL on no
 * memory). d is a store fleet row, with "device_type" the type's key. */
json_t *device_fleet_view(json_t *d, int64_t now_ms);

#endif
