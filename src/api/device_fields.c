/*
 * device_fields.c - the field rules of heat pumps, electric vehicles and
 * inverters (see podero-api-notes.md and the README's "Devices").
 *
 * Who sets what:
 *   settings (PUT, and POST)      optimisation, pause, limits, targets, modes, building
 *   state (POST .../state, POST)  connection, status, live values, the model
 *   the server                    id, timestamps, consumption from readings, actions
 */
#include "api/device_fields.h"

#include <string.h>

#include "core/util.h"
#include "http/request.h"

static const char *const statuses[] = {"ok", "warning", "error", "unknown", NULL};
static const char *const lifecycle[] = {"active", "inactive", "decommissioned", NULL};
static const char *const levels[] = {"Low", "Mid", "Max", NULL};
static const char *const boost[] = {"available", "requested", "ongoing", "unavailable", NULL};

#define SET     (FF_CREATE | FF_UPDATE)
#define STATE   (FF_CREATE | FF_STATE)
#define DERIVED "is derived from the device's readings (POST .../state with readings), not set by hand"

/* The fields every type has, before its own. */
#define COMMON_HEAD                                                                                                    \
	{"id", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL}, {"user_id", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL},           \
	    {"external_device_id", FT_STR, SET | FF_NULL, 0, 255, NULL, NULL, NULL},                                   \
	    {"building", FT_ANY, FF_OUT, 0, 0, NULL, NULL, "is the building's id; send building_id to change it"},     \
	    {"building_id", FT_UUID, SET | FF_NULL, 0, 0, NULL, NULL, NULL},                                           \
	    {"lifecycle_state", FT_ENUM, SET, 0, 0, lifecycle, "\"active\"", NULL},                                    \
	    {"comment", FT_STR, SET | FF_NULL, 0, 1000, NULL, NULL, NULL},                                             \
	    {"device_model", FT_MODEL, STATE, 0, 0, NULL, NULL, NULL},                                                 \
	    {"is_authenticated", FT_BOOL, STATE, 0, 0, NULL, "false", NULL},                                           \
	    {"authorization_url", FT_URL, STATE | FF_NULL, 0, 0, NULL, NULL, NULL},                                    \
	    {"connection_status", FT_ENUM, STATE, 0, 0, statuses, "\"unknown\"", NULL},                                \
	    {"monitoring_status", FT_ENUM, STATE, 0, 0, statuses, "\"unknown\"", NULL},                                \
	    {"steering_status", FT_ENUM, STATE, 0, 0, statuses, "\"unknown\"", NULL},                                  \
	    {"is_smart_optimization_active", FT_BOOL, SET, 0, 0, NULL, "true", NULL},                                  \
	    {"pause_power_until", FT_TIME, SET | FF_NULL, 0, 0, NULL, NULL, NULL},                                     \
	    {"is_pause_power_active", FT_ANY, FF_OUT, 0, 0, NULL, NULL, "follows pause_power_until"},                  \
	    {"optimization_score", FT_NUM, STATE | FF_NULL, 0, 100, NULL, NULL, NULL},                                 \
	    {"current_mode", FT_STR, STATE | FF_NULL, 0, 64, NULL, NULL, NULL},                                        \
	    {"operational_mode", FT_STR, SET | FF_NULL, 0, 64, NULL, NULL, NULL},                                      \
	    {"current_state_last_updated_at", FT_TIME, STATE | FF_NULL, 0, 0, NULL, NULL, NULL},                       \
	    {"consumption_last_day_kwh", FT_ANY, FF_OUT, 0, 0, NULL, NULL, DERIVED},                                   \
	    {"consumption_last_week_kwh", FT_ANY, FF_OUT, 0, 0, NULL, NULL, DERIVED},                                  \
	{                                                                                                              \
		"consumption_last_month_kwh", FT_ANY, FF_OUT, 0, 0, NULL, NULL, DERIVED                                \
	}

#define COMMON_TAIL                                                                                                    \
	{"actions", FT_ANY, FF_OUT, 0, 0, NULL, NULL, "lists what the device needs; it follows is_authenticated"},     \
	    {"created_at", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL},                                                    \
	    {"updated_at", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL},                                                    \
	    {"deleted_at", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL},                                                    \
	{                                                                                                              \
		NULL, FT_ANY, 0, 0, 0, NULL, NULL, NULL                                                                \
	}

static const struct field_rule heat_pump[] = {
    COMMON_HEAD,
    {"minimum_temperature_limit", FT_NUM, SET, 5, 30, NULL, "18.0", NULL},
    {"maximum_temperature_limit", FT_NUM, SET, 10, 35, NULL, "24.0", NULL},
    {"minimum_dhw_temperature_limit", FT_NUM, SET, 20, 65, NULL, "40.0", NULL},
    {"indoor_target_temperature", FT_NUM, SET, 5, 35, NULL, "21.0", NULL},
    {"dhw_standard_temperature", FT_NUM, SET, 20, 75, NULL, "50.0", NULL},
    {"indoor_actual_temperature", FT_NUM, STATE | FF_NULL, -30, 60, NULL, NULL, NULL},
    {"outdoor_temperature", FT_NUM, STATE | FF_NULL, -60, 60, NULL, NULL, NULL},
    {"current_power_consumption_w", FT_NUM, STATE | FF_NULL, 0, 100000, NULL, NULL, NULL},
    {"is_hot_water_enabled", FT_BOOL, SET, 0, 0, NULL, "true", NULL},
    {"is_space_heating_enabled", FT_BOOL, SET, 0, 0, NULL, "true", NULL},
    {"is_space_cooling_enabled", FT_BOOL, SET, 0, 0, NULL, "false", NULL},
    {"optimization_level", FT_ENUM, SET, 0, 0, levels, "\"Mid\"", NULL},
    {"is_away_mode_enabled", FT_BOOL, SET, 0, 0, NULL, "false", NULL},
    {"away_mode_start", FT_TIME, SET | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"away_mode_end", FT_TIME, SET | FF_NULL, 0, 0, NULL, NULL, NULL},
    COMMON_TAIL,
};

static const struct field_rule electric_vehicle[] = {
    COMMON_HEAD,
    {"battery_level", FT_NUM, STATE | FF_NULL, 0, 100, NULL, NULL, NULL},
    {"battery_capacity_kwh", FT_NUM, STATE | FF_NULL, 0, 500, NULL, NULL, NULL},
    {"driving_range", FT_NUM, STATE | FF_NULL, 0, 3000, NULL, NULL, NULL},
    {"minimum_charge_limit", FT_NUM, SET, 0, 100, NULL, "20.0", NULL},
    {"charge_target_min", FT_NUM, SET, 0, 100, NULL, "50.0", NULL},
    {"charge_target_max", FT_NUM, SET, 0, 100, NULL, "80.0", NULL},
    {"charge_deadline_at", FT_HHMM, SET, 0, 0, NULL, "\"07:00\"", NULL},
    {"is_charge_policy_enabled", FT_BOOL, SET, 0, 0, NULL, "true", NULL},
    {"is_plugged_in", FT_BOOL, STATE, 0, 0, NULL, "false", NULL},
    {"is_charging", FT_BOOL, STATE, 0, 0, NULL, "false", NULL},
    {"is_fully_charged", FT_BOOL, STATE, 0, 0, NULL, "false", NULL},
    {"charge_rate_w", FT_NUM, STATE | FF_NULL, 0, 400000, NULL, NULL, NULL},
    {"charge_time_remaining", FT_INT, STATE | FF_NULL, 0, 100000, NULL, NULL, NULL},
    {"charge_state_last_updated_at", FT_TIME, STATE | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"boost_state", FT_ENUM, STATE, 0, 0, boost, "\"unavailable\"", NULL},
    COMMON_TAIL,
};

static const struct field_rule inverter[] = {
    COMMON_HEAD,
    {"current_solar_production_w", FT_NUM, STATE | FF_NULL, 0, 10000000, NULL, NULL, NULL},
    {"solar_surplus_w", FT_NUM, STATE | FF_NULL, -10000000, 10000000, NULL, NULL, NULL},
    {"household_consumption_w", FT_NUM, STATE | FF_NULL, 0, 10000000, NULL, NULL, NULL},
    {"current_power_to_grid_w", FT_NUM, STATE | FF_NULL, -10000000, 10000000, NULL, NULL, NULL},
    {"production_last_day_kwh", FT_ANY, FF_OUT, 0, 0, NULL, NULL, DERIVED},
    {"production_last_week_kwh", FT_ANY, FF_OUT, 0, 0, NULL, NULL, DERIVED},
    {"production_last_month_kwh", FT_ANY, FF_OUT, 0, 0, NULL, NULL, DERIVED},
    {"solar_power_rating_kw", FT_NUM, SET | FF_NULL, 0, 100000, NULL, NULL, NULL},
    {"is_battery_connected", FT_BOOL, STATE, 0, 0, NULL, "false", NULL},
    {"battery_capacity_kwh", FT_NUM, STATE | FF_NULL, 0, 10000, NULL, NULL, NULL},
    {"battery_charge_level_percent", FT_NUM, STATE | FF_NULL, 0, 100, NULL, NULL, NULL},
    {"min_battery_charge", FT_NUM, SET, 0, 100, NULL, "10.0", NULL},
    {"max_battery_charge", FT_NUM, SET, 0, 100, NULL, "100.0", NULL},
    COMMON_TAIL,
};

const struct device_type device_types[DEV_TYPES] = {
    [DEV_HEAT_PUMP] = {"heat-pumps", "heat_pumps", "heat_pump", heat_pump},
    [DEV_EV] = {"electric-vehicles", "electric_vehicles", "electric_vehicle", electric_vehicle},
    [DEV_INVERTER] = {"inverters", "inverters", "inverter", inverter},
};

/* Pairs that must be in order (lo <= hi), per type. */
static const char *const order_hp[][2] = {
    {"minimum_temperature_limit", "maximum_temperature_limit"},
    {"minimum_temperature_limit", "indoor_target_temperature"},
    {"indoor_target_temperature", "maximum_temperature_limit"},
    {"minimum_dhw_temperature_limit", "dhw_standard_temperature"},
    {"away_mode_start", "away_mode_end"},
    {NULL, NULL},
};
static const char *const order_ev[][2] = {
    {"minimum_charge_limit", "charge_target_min"},
    {"charge_target_min", "charge_target_max"},
    {NULL, NULL},
};
static const char *const order_iv[][2] = {
    {"min_battery_charge", "max_battery_charge"},
    {NULL, NULL},
};
static const char *const (*const orders[DEV_TYPES])[2] = {order_hp, order_ev, order_iv};

enum fd_err device_fields_validate(int type, enum field_mode mode, json_t *body, json_t *current, json_t **clean,
                                   json_t **errors)
{
	const struct device_type *t = &device_types[type];
	json_t *sent = NULL;
	enum fd_err rc = fields_validate(t->rules, mode, body, current, &sent, errors);
	if (rc != FD_OK)
		return rc;
	if (mode != FM_CREATE && !current) { /* a state report: no settings, so nothing to cross-check */
		*clean = sent;
		return FD_OK;
	}
	json_t *full = current ? json_deep_copy(current) : fields_defaults(t->rules);
	if (!full) {
		json_decref(sent);
		return FD_ENOMEM;
	}
	if (!current) { /* a new device: its model says what it is, unless the client said so */
		json_t *m = json_object_get(full, "device_model");
		if (!json_is_object(m))
			json_object_set_new(
			    full, "device_model",
			    json_pack("{snsnsnss}", "manufacturer", "model", "year", "device_type", t->model_type));
	}
	json_t *model = json_object_get(sent, "device_model");
	if (model && current) { /* a model report completes the stored model */
		json_t *m = json_deep_copy(json_object_get(current, "device_model"));
		if (json_is_object(m)) {
			json_object_update(m, model);
			json_object_set_new(sent, "device_model", m);
		} else {
			json_decref(m);
		}
	} else if (model) {
		json_t *m = json_object_get(full, "device_model");
		json_object_update(m, model);
		json_object_set(sent, "device_model", m);
	}
	json_object_update(full, sent);
	json_t *errs = json_array();
	for (const char *const(*p)[2] = orders[type]; (*p)[0]; p++)
		fields_check_order(full, (*p)[0], (*p)[1], sent, errs);
	if (json_array_size(errs) > 0) {
		json_decref(full);
		json_decref(sent);
		*errors = errs;
		return FD_EINVALID;
	}
	json_decref(errs);
	if (current) {
		json_decref(full);
		*clean = sent;
	} else {
		json_decref(sent);
		*clean = full;
	}
	return FD_OK;
}

json_t *device_view(int type, json_t *dev, int64_t now_ms)
{
	json_t *v = fields_ordered(device_types[type].rules, dev);
	if (!v)
		return NULL;
	json_object_set(v, "building", json_object_get(v, "building_id"));
	const char *pause = json_string_value(json_object_get(dev, "pause_power_until"));
	int64_t until = 0;
	int paused = pause && util_parse_rfc3339(pause, &until) == FD_OK && until > now_ms;
	json_object_set_new(v, "is_pause_power_active", json_boolean(paused));
	json_t *actions = json_array();
	if (!json_is_true(json_object_get(dev, "is_authenticated"))) {
		json_t *url = json_object_get(dev, "authorization_url");
		json_array_append_new(actions, json_pack("{sssO}", "code", "reauthenticate", "resolution_link",
		                                         json_is_string(url) ? url : json_null()));
	}
	json_object_set_new(v, "actions", actions);
	return v;
}

static const char *const timely[] = {
    "is_pause_power_active",   "consumption_last_day_kwh", "consumption_last_week_kwh", "consumption_last_month_kwh",
    "production_last_day_kwh", "production_last_week_kwh", "production_last_month_kwh", NULL};

void device_etag(json_t *view, int64_t version, char tag[DEVICE_ETAG_LEN])
{
	uint32_t h = 2166136261u; /* FNV-1a over the time-dependent values */
	for (const char *const *k = timely; *k; k++) {
		json_t *v = json_object_get(view, *k);
		char t[40];
		if (json_is_number(v))
			snprintf(t, sizeof t, "%.17g;", json_number_value(v));
		else
			snprintf(t, sizeof t, "%s;", json_is_true(v) ? "t" : json_is_false(v) ? "f" : "-");
		for (const char *c = t; *c; c++) {
			h ^= (unsigned char)*c;
			h *= 16777619u;
		}
	}
	snprintf(tag, DEVICE_ETAG_LEN, "\"%lld-%08x\"", (long long)version, (unsigned)h);
}

/* A device of the fleet as the API shows it (new reference, NULL on no memory). */
json_t *device_fleet_view(json_t *d, int64_t now)
{
	int type = 0;
	for (int k = 0; k < DEV_TYPES; k++) {
		if (strcmp(json_string_value(json_object_get(d, "device_type")), device_types[k].key) == 0)
			type = k;
	}
	json_t *v = device_view(type, d, now);
	if (v) {
		json_object_set_new(v, "device_type", json_string(device_types[type].path));
		json_object_set(v, "attention", json_object_get(d, "attention"));
		if (json_object_get(d, "user"))
			json_object_set(v, "user", json_object_get(d, "user"));
	}
	return v;
}
