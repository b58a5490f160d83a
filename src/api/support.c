/*
 * support.c - the support scripts of the product document as pure
 * functions (see support.h). Texts are the document's, word for word.
 */
#include "api/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store.h"

int support_isoformat(const char *s, char out[40])
{
	int64_t ms;
	if (!s || util_parse_rfc3339(s, &ms) != FD_OK)
		return -1;
	char t[FD_TIME_LEN + 1];
	util_format_rfc3339(ms, t); /* 2026-11-27T07:20:00.500Z */
	int frac = (int)(((ms % 1000) + 1000) % 1000);
	if (frac)
		snprintf(out, 40, "%.19s.%03d000+00:00", t, frac);
	else
		snprintf(out, 40, "%.19s+00:00", t);
	return 0;
}

double support_round2(double x)
{
	if (!isfinite(x))
		return x;
	char t[400];
	snprintf(t, sizeof t, "%.2f", x);
	return strtod(t, NULL);
}

static int is_true(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

json_t *support_connection(json_t *dev, int64_t now_ms)
{
	if (!is_true(dev, "is_authenticated")) {
		const char *url = str(dev, "authorization_url");
		if (url && *url)
			return json_pack("{ssssssss}", "issue", "Device requires re-authentication", "resolution",
			                 "User needs to reconnect device", "action_url", url, "instructions",
			                 "Send the authorization_url to the user to reconnect their device");
		return json_pack("{ssssss}", "issue", "Device not authenticated", "resolution",
		                 "Device may need to be re-added", "action",
		                 "Consider creating a new device onboarding session");
	}
	const char *at = str(dev, "current_state_last_updated_at");
	char iso[40];
	int64_t ms = 0;
	if (!at || support_isoformat(at, iso) != 0 || util_parse_rfc3339(at, &ms) != FD_OK)
		return json_pack("{sssnss}", "issue", "Data appears stale", "last_update", "resolution",
		                 "Monitor for updates or contact manufacturer API support");
	double hours = (double)(now_ms - ms) / 3600000.0;
	if (hours > 2)
		return json_pack("{ssssss}", "issue", "Data appears stale", "last_update", iso, "resolution",
		                 "Monitor for updates or contact manufacturer API support");
	return json_pack("{ss}", "status", "healthy");
}

static const char *text_or(const char *s, const char *fallback)
{
	return s ? s : fallback;
}

static json_t *check(const char *id, const char *title, int passed, const char *detail, const char *resolution)
{
	return json_pack("{sssssbssss}", "check", id, "title", title, "passed", passed, "detail", detail, "resolution",
	                 passed ? "" : resolution);
}

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* The limits check for each type: {passed, detail, resolution}. */
static json_t *limits_check(int type, json_t *dev)
{
	char d[200];
	const char *title = "Temperature and charge limits are set correctly";
	if (type == DEV_HEAT_PUMP) {
		double lo = num(dev, "minimum_temperature_limit"), hi = num(dev, "maximum_temperature_limit");
		double target = num(dev, "indoor_target_temperature");
		int ok = hi - lo >= 1.0 && target >= lo && target <= hi;
		snprintf(d, sizeof d, "indoor limits %g to %g °C, target %g °C", lo, hi, target);
		return check("limits", title, ok, d,
		             "Widen minimum_temperature_limit and maximum_temperature_limit to at least 1 °C apart, with "
		             "indoor_target_temperature between them, so the heat pump has room to shift");
	}
	if (type == DEV_EV) {
		double min = num(dev, "minimum_charge_limit"), max = num(dev, "charge_target_max");
		const char *deadline = str(dev, "charge_deadline_at");
		int ok = max > min && deadline && is_true(dev, "is_charge_policy_enabled");
		snprintf(d, sizeof d, "minimum_charge_limit %g %%, charge_target_max %g %%, deadline %s, charge policy %s",
		         min, max, deadline ? deadline : "none", is_true(dev, "is_charge_policy_enabled") ? "on" : "off");
		return check("limits", title, ok, d,
		             "Enable the charge policy and set minimum_charge_limit below charge_target_max with a "
		             "charge_deadline_at, so charging can move to cheaper hours");
	}
	if (!is_true(dev, "is_battery_connected"))
		return check("limits", title, 1, "no battery connected: no battery limits apply", "");
	double lo = num(dev, "min_battery_charge"), hi = num(dev, "max_battery_charge");
	snprintf(d, sizeof d, "battery charge kept between %g %% and %g %%", lo, hi);
	return check("limits", title, hi > lo, d,
	             "Set min_battery_charge below max_battery_charge so the battery has room to store surplus");
}

/* 1 if the contract applies to the device and is valid at now_ms. */
static int contract_current(json_t *k, json_t *dev, int64_t now_ms)
{
	const char *kb = str(k, "building_id"), *db = str(dev, "building_id");
	if (kb && db && strcmp(kb, db) != 0)
		return 0;
	int64_t t;
	const char *from = str(k, "valid_from"), *to = str(k, "valid_to");
	if (from && util_parse_rfc3339(from, &t) == FD_OK && t > now_ms)
		return 0;
	if (to && util_parse_rfc3339(to, &t) == FD_OK && t <= now_ms)
		return 0;
	return 1;
}

json_t *support_optimization(int type, json_t *dev, json_t *contracts, int64_t now_ms)
{
	json_t *checks = json_array();
	int active = is_true(dev, "is_smart_optimization_active"), paused = is_true(dev, "is_pause_power_active");
	char d[200];
	if (!active)
		snprintf(d, sizeof d, "is_smart_optimization_active is false");
	else if (paused)
		snprintf(d, sizeof d, "optimization is paused until %s", text_or(str(dev, "pause_power_until"), "later"));
	else
		snprintf(d, sizeof d, "is_smart_optimization_active is true and nothing is paused");
	json_array_append_new(checks, check("optimization_active", "Smart optimization is active", active && !paused, d,
	                                    "Reset the device's optimization (POST .../reset-optimization): "
	                                    "is_smart_optimization_active true and pause_power_until null"));
	int auth = is_true(dev, "is_authenticated");
	const char *url = str(dev, "authorization_url");
	json_array_append_new(
	    checks, check("authenticated", "The device is authenticated", auth,
	                  auth ? "is_authenticated is true" : "is_authenticated is false",
	                  url && *url ? "Send the authorization_url to the user to reconnect their device"
	                              : "Create a new device onboarding session (POST .../device-onboarding)"));
	json_array_append_new(checks, limits_check(type, dev));
	size_t i, n = json_array_size(contracts);
	json_t *k, *current = NULL;
	json_array_foreach(contracts, i, k)
	{
		if (contract_current(k, dev, now_ms)) {
			current = k;
			break;
		}
	}
	if (current)
		snprintf(d, sizeof d, "energy contract %s (%s) is current", text_or(str(current, "id"), "-"),
		         text_or(str(current, "energy_contract_type"), "-"));
	else if (n)
		snprintf(d, sizeof d, "none of the user's %zu energy contracts covers today for this device's building", n);
	else
		snprintf(d, sizeof d, "the user has no energy contract");
	json_array_append_new(checks, check("energy_contract", "The energy contract is present and current",
	                                    current != NULL, d,
	                                    "Add or update the user's energy contract (.../energy-contracts) with a "
	                                    "validity that covers today and the device's building"));
	int ok = 1;
	json_array_foreach(checks, i, k) ok &= is_true(k, "passed");
	return json_pack("{sbso}", "ok", ok, "checks", checks);
}

/* ---------------------------------------------------------------- the summary */

/* Length of the Python-whitespace code point at p (str.isspace), or 0. */
static size_t py_space(const unsigned char *p)
{
	if (*p == ' ' || (*p >= 0x09 && *p <= 0x0d) || (*p >= 0x1c && *p <= 0x1f))
		return 1;
	if (p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
		return 3;
	if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	return 0;
}

/* Start of the last code point of s[0..n). */
static size_t last_cp(const char *s, size_t n)
{
	size_t i = n - 1;
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

/* Python's s.strip() (chars NULL) or s.strip(chars) (ASCII chars), in place. */
static char *py_strip(char *s, const char *chars)
{
	size_t n = strlen(s), start = 0;
	for (;;) {
		if (start >= n)
			break;
		size_t k = chars ? (strchr(chars, s[start]) && s[start] ? 1 : 0) : py_space((unsigned char *)s + start);
		if (!k)
			break;
		start += k;
	}
	while (n > start) {
		size_t i = last_cp(s, n);
		size_t k = chars ? (strchr(chars, s[i]) && s[i] ? 1 : 0) : py_space((unsigned char *)s + i);
		if (!k || i + k != n)
			break;
		n = i;
	}
	memmove(s, s + start, n - start);
	s[n - start] = '\0';
	return s;
}

/* user.get(k, '') as text; a null counts as absent (see README). */
static const char *field_text(json_t *user, const char *k)
{
	const char *v = str(user, k);
	return v ? v : "";
}

json_t *support_summary(json_t *user, json_t *const devices[3], size_t nbuildings)
{
	double day = 0, month = 0;
	int any = 0;
	size_t optimized = 0, total = 0;
	for (int t = 0; t < 3; t++) {
		size_t i;
		json_t *d;
		json_array_foreach(devices[t], i, d)
		{
			json_t *x = json_object_get(d, "consumption_last_day_kwh"), *y = json_object_get(d, "consumption_last_month_kwh");
			day += json_is_number(x) ? json_number_value(x) : 0;
			month += json_is_number(y) ? json_number_value(y) : 0;
			any = 1;
			if (is_true(d, "is_smart_optimization_active"))
				optimized++;
		}
		total += json_array_size(devices[t]);
	}
	size_t ln = strlen(field_text(user, "first_name")) + strlen(field_text(user, "last_name")) + 2;
	size_t ll = strlen(field_text(user, "town")) + strlen(field_text(user, "country_iso2")) + 3;
	char *name = malloc(ln), *loc = malloc(ll);
	if (!name || !loc) {
		free(name);
		free(loc);
		return NULL;
	}
	snprintf(name, ln, "%s %s", field_text(user, "first_name"), field_text(user, "last_name"));
	snprintf(loc, ll, "%s, %s", field_text(user, "town"), field_text(user, "country_iso2"));
	py_strip(name, NULL);
	py_strip(loc, ", ");
	json_t *ext = json_object_get(user, "external_user_id");
	/* with no devices the totals stay Python's integer 0 */
	json_t *today = any ? json_real(support_round2(day)) : json_integer(0);
	json_t *this_month = any ? json_real(support_round2(month)) : json_integer(0);
	json_t *out = json_pack("{s{sOsOsssOss}s{sIsIs{sIsIsI}}sIs{soso}}", "user", "id", json_object_get(user, "id"),
	                        "email", json_object_get(user, "email"), "name", name, "external_id",
	                        ext ? ext : json_null(), "location", loc, "devices", "total", (json_int_t)total,
	                        "optimized", (json_int_t)optimized, "by_type", "heat_pumps",
	                        (json_int_t)json_array_size(devices[0]), "electric_vehicles",
	                        (json_int_t)json_array_size(devices[1]), "inverters",
	                        (json_int_t)json_array_size(devices[2]), "buildings", (json_int_t)nbuildings,
	                        "consumption", "today", today, "this_month", this_month);
	free(name);
	free(loc);
	return out;
}

/* ---------------------------------------------------------------- distribution */

static double quantile(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
	return v[lo] + (v[hi] - v[lo]) * (pos - (double)lo);
}

int support_distribution(const double *v, size_t n, double x, struct support_dist *out)
{
	if (n == 0)
		return 0;
	out->median = quantile(v, n, 0.5);
	out->p90 = quantile(v, n, 0.9);
	size_t lo = 0, hi = n; /* first index with v >= x */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t below = lo;
	hi = n; /* first index with v > x */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	out->rank = 100.0 * ((double)below + 0.5 * (double)(lo - below)) / (double)n;
	return 1;
}
