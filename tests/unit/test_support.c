/*
 * test_support.c - api/support.h: the product document's support scripts
 * answered by the server (troubleshoot_device_connection, the "Optimization
 * Not Working" checklist, generate_user_summary, the consumption
 * comparison) and the Python behaviours they copy (isoformat, round).
 *
 * Devices and users are written as the JSON the API shows, so each test
 * reads like the document's script run on an API response.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/support.h"
#include "core/util.h"
#include "store/store.h"

/* 2026-11-27T07:20:00.000Z, the README's example instant */
#define NOW_MS         INT64_C(1795764000000)
#define HOUR_MS        INT64_C(3600000)
#define BUILDING       "5b0c7d3e-2f1a-4c8b-9d6e-0a1b2c3d4e5f"
#define OTHER_BUILDING "9e8d7c6b-5a49-4382-b716-05f4e3d2c1b0"
#define URL            "https://connect.example.com/reauth/abc"

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ helpers */

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("bad test JSON: %s: %s", err.text, text);
	return j;
}

/* The string at key, asserting it is one. */
static const char *sget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	return json_string_value(v);
}

/* Asserts o has exactly the keys listed (NULL-terminated). */
static void assert_keys(json_t *o, const char *const *keys)
{
	assert_true(json_is_object(o));
	size_t n = 0;
	for (; keys[n]; n++) {
		if (!json_object_get(o, keys[n]))
			fail_msg("missing key \"%s\"", keys[n]);
	}
	if (json_object_size(o) != n) {
		char *s = json_dumps(o, JSON_COMPACT);
		print_error("object %s\n", s);
		free(s);
		fail_msg("object has %zu keys, want %zu", json_object_size(o), n);
	}
}

/* ------------------------------------------------------------------ isoformat */

static void check_iso(const char *in, const char *want)
{
	char out[40];
	memset(out, 'X', sizeof out);
	if (support_isoformat(in, out) != 0)
		fail_msg("support_isoformat(\"%s\") failed", in);
	if (strcmp(out, want) != 0)
		fail_msg("support_isoformat(\"%s\"): got \"%s\", want \"%s\"", in, out, want);
}

static void test_isoformat_of_whole_seconds_has_no_fraction(void **state)
{
	/* Python: datetime.fromisoformat("2026-11-27T07:20:00.000Z").isoformat() */
	check_iso("2026-11-27T07:20:00.000Z", "2026-11-27T07:20:00+00:00");
	check_iso("2026-11-27T07:20:00Z", "2026-11-27T07:20:00+00:00");
}

static void test_isoformat_of_milliseconds_has_microseconds(void **state)
{
	check_iso("2026-11-27T07:20:00.250Z", "2026-11-27T07:20:00.250000+00:00");
	check_iso("2026-11-27T07:20:00.001Z", "2026-11-27T07:20:00.001000+00:00");
	check_iso("2026-11-27T07:20:00.999Z", "2026-11-27T07:20:00.999000+00:00");
	check_iso("2026-11-27T07:20:00.5Z", "2026-11-27T07:20:00.500000+00:00");
}

static void test_isoformat_normalises_offsets_to_utc(void **state)
{
	check_iso("2026-11-27T09:20:00+02:00", "2026-11-27T07:20:00+00:00");
	check_iso("2026-11-27T09:20:00.250+02:00", "2026-11-27T07:20:00.250000+00:00");
	check_iso("2026-11-27T00:30:00-01:00", "2026-11-27T01:30:00+00:00");
	check_iso("2026-11-28T01:00:00+05:30", "2026-11-27T19:30:00+00:00");
}

static void test_isoformat_before_1970(void **state)
{
	check_iso("1969-12-31T23:59:59.500Z", "1969-12-31T23:59:59.500000+00:00");
}

static void test_isoformat_of_garbage_is_minus_one(void **state)
{
	static const char *const bad[] = {"",
	                                  "garbage",
	                                  "2026-11-27",
	                                  "2026-11-27T07:20",
	                                  "2026-11-27T07:20:00",
	                                  "2026-13-01T00:00:00Z",
	                                  "2026-11-27T25:00:00Z",
	                                  "2026-11-27T07:20:00.Z",
	                                  "2026-11-27T07:20:00+2:00",
	                                  "2026-11-27T07:20:00Zjunk"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char out[40];
		if (support_isoformat(bad[i], out) != -1)
			fail_msg("support_isoformat(\"%s\") should fail", bad[i]);
	}
	char out[40];
	assert_int_equal(support_isoformat(NULL, out), -1);
}

/* ------------------------------------------------------------------ round2 */

/* Expected values are Python 3.11's round(x, 2), computed with /usr/bin/python3 and hard-coded. */
static void check_round(double x, double want)
{
	double got = support_round2(x);
	if (memcmp(&got, &want, sizeof got) != 0) /* bit for bit: the sign of a zero counts */
		fail_msg("support_round2(%.17g): got %.17g, want %.17g", x, got, want);
}

static void test_round2_near_ties_round_the_binary_value(void **state)
{
	/* Python: round(2.675, 2) == 2.67 (2.675 is 2.67499999... in binary) */
	check_round(2.675, 2.67);
	check_round(1.005, 1.0);
	check_round(-2.675, -2.67);
	check_round(0.285, 0.28);
	check_round(1.115, 1.11);
	check_round(2.345, 2.35);
	check_round(123456.785, 123456.79);
	check_round(0.015, 0.01);
	check_round(0.045, 0.04);
	check_round(0.005, 0.01);
	check_round(0.995, 0.99);
	check_round(9.995, 9.99);
	check_round(40.004999999999995, 40.0); /* 30.005 + 10.0 */
}

static void test_round2_exact_ties_go_to_even(void **state)
{
	/* Python: round(0.125, 2) == 0.12, round(0.375, 2) == 0.38 */
	check_round(0.125, 0.12);
	check_round(0.375, 0.38);
	check_round(0.625, 0.62);
	check_round(0.875, 0.88);
	check_round(-0.125, -0.12);
}

static void test_round2_leaves_what_needs_no_rounding(void **state)
{
	check_round(0.0, 0.0);
	check_round(-0.0, -0.0);
	check_round(2.5, 2.5);
	check_round(1e16, 1e16);
	check_round(1e300, 1e300);
	check_round(1.7976931348623157e308, 1.7976931348623157e308);
	check_round(4503599627370495.5, 4503599627370495.5);
	check_round(1234.5678, 1234.57);
}

static void test_round2_of_tiny_values_is_a_signed_zero(void **state)
{
	/* Python: round(-1e-09, 2) == -0.0, round(5e-324, 2) == 0.0 */
	check_round(-1e-9, -0.0);
	check_round(5e-324, 0.0);
}

static void test_round2_of_non_finite_is_unchanged(void **state)
{
	assert_true(isnan(support_round2(NAN)));
	assert_true(support_round2(INFINITY) == INFINITY);
	assert_true(support_round2(-INFINITY) == -INFINITY);
}

/* ------------------------------------------------------------------ connection */

static json_t *connection_of(const char *device_text, int64_t now_ms)
{
	json_t *dev = parse(device_text);
	json_t *out = support_connection(dev, now_ms);
	assert_non_null(out);
	json_decref(dev);
	return out;
}

static void test_connection_not_authenticated_with_url_sends_the_url(void **state)
{
	json_t *c = connection_of("{\"is_authenticated\": false, \"authorization_url\": \"" URL "\","
	                          " \"current_state_last_updated_at\": \"2026-11-27T07:19:00.000Z\"}",
	                          NOW_MS);
	static const char *const keys[] = {"issue", "resolution", "action_url", "instructions", NULL};
	assert_keys(c, keys);
	assert_string_equal(sget(c, "issue"), "Device requires re-authentication");
	assert_string_equal(sget(c, "resolution"), "User needs to reconnect device");
	assert_string_equal(sget(c, "action_url"), URL);
	assert_string_equal(sget(c, "instructions"),
	                    "Send the authorization_url to the user to reconnect their device");
	json_decref(c);
}

static void check_not_authenticated_without_url(const char *device_text)
{
	json_t *c = connection_of(device_text, NOW_MS);
	static const char *const keys[] = {"issue", "resolution", "action", NULL};
	assert_keys(c, keys);
	assert_string_equal(sget(c, "issue"), "Device not authenticated");
	assert_string_equal(sget(c, "resolution"), "Device may need to be re-added");
	assert_string_equal(sget(c, "action"), "Consider creating a new device onboarding session");
	json_decref(c);
}

static void test_connection_not_authenticated_without_url_suggests_onboarding(void **state)
{
	check_not_authenticated_without_url("{\"is_authenticated\": false, \"authorization_url\": null}");
	check_not_authenticated_without_url("{\"is_authenticated\": false}");
	/* Python: device.get('authorization_url') of "" is falsy */
	check_not_authenticated_without_url("{\"is_authenticated\": false, \"authorization_url\": \"\"}");
}

static void test_connection_not_authenticated_wins_over_staleness(void **state)
{
	check_not_authenticated_without_url(
	    "{\"is_authenticated\": false, \"current_state_last_updated_at\": \"2020-01-01T00:00:00.000Z\"}");
}

static void check_stale(const char *ts_json, int64_t now_ms, const char *want_last_update)
{
	char text[256];
	snprintf(text, sizeof text, "{\"is_authenticated\": true, \"current_state_last_updated_at\": %s}", ts_json);
	json_t *c = connection_of(text, now_ms);
	static const char *const keys[] = {"issue", "last_update", "resolution", NULL};
	assert_keys(c, keys);
	assert_string_equal(sget(c, "issue"), "Data appears stale");
	assert_string_equal(sget(c, "resolution"), "Monitor for updates or contact manufacturer API support");
	json_t *lu = json_object_get(c, "last_update");
	if (want_last_update)
		assert_string_equal(json_string_value(lu), want_last_update);
	else
		assert_true(json_is_null(lu));
	json_decref(c);
}

static void check_healthy(const char *ts_json, int64_t now_ms)
{
	char text[256];
	snprintf(text, sizeof text, "{\"is_authenticated\": true, \"current_state_last_updated_at\": %s}", ts_json);
	json_t *c = connection_of(text, now_ms);
	static const char *const keys[] = {"status", NULL};
	assert_keys(c, keys);
	assert_string_equal(sget(c, "status"), "healthy");
	json_decref(c);
}

static void test_connection_stale_after_more_than_two_hours(void **state)
{
	check_stale("\"2026-11-27T04:20:00.000Z\"", NOW_MS, "2026-11-27T04:20:00+00:00");
	check_stale("\"2026-11-27T04:20:00.250Z\"", NOW_MS, "2026-11-27T04:20:00.250000+00:00");
}

static void test_connection_exactly_two_hours_old_is_healthy(void **state)
{
	/* the script's test is hours_since_update > 2 */
	check_healthy("\"2026-11-27T05:20:00.000Z\"", NOW_MS);
	check_stale("\"2026-11-27T05:19:59.999Z\"", NOW_MS, "2026-11-27T05:19:59.999000+00:00");
}

static void test_connection_fresh_or_future_report_is_healthy(void **state)
{
	check_healthy("\"2026-11-27T07:20:00.000Z\"", NOW_MS);
	check_healthy("\"2026-11-27T06:00:00.000Z\"", NOW_MS);
	check_healthy("\"2026-11-27T08:00:00.000Z\"", NOW_MS);
}

static void test_connection_last_update_is_shown_in_utc(void **state)
{
	check_stale("\"2026-11-27T06:00:00.000+02:00\"", NOW_MS, "2026-11-27T04:00:00+00:00");
	/* 08:00+02:00 is 06:00Z: not stale at 07:20Z */
	check_healthy("\"2026-11-27T08:00:00.000+02:00\"", NOW_MS);
}

static void test_connection_never_reported_is_stale_with_null_last_update(void **state)
{
	check_stale("null", NOW_MS, NULL);
	json_t *c = connection_of("{\"is_authenticated\": true}", NOW_MS);
	assert_string_equal(sget(c, "issue"), "Data appears stale");
	assert_true(json_is_null(json_object_get(c, "last_update")));
	assert_int_equal(json_object_size(c), 3);
	json_decref(c);
}

static void test_connection_unparsable_timestamp_is_stale_with_null_last_update(void **state)
{
	check_stale("\"yesterday\"", NOW_MS, NULL);
}

/* ------------------------------------------------------------------ optimization */

#define GOOD_HP                                                                                                        \
	"{\"building_id\": \"" BUILDING "\", \"is_smart_optimization_active\": true,"                                  \
	" \"is_pause_power_active\": false, \"pause_power_until\": null, \"is_authenticated\": true,"                  \
	" \"authorization_url\": null, \"minimum_temperature_limit\": 18.0, \"maximum_temperature_limit\": 24.0,"      \
	" \"indoor_target_temperature\": 21.0}"
#define GOOD_EV                                                                                                        \
	"{\"building_id\": \"" BUILDING "\", \"is_smart_optimization_active\": true,"                                  \
	" \"is_pause_power_active\": false, \"is_authenticated\": true, \"minimum_charge_limit\": 20.0,"               \
	" \"charge_target_min\": 50.0, \"charge_target_max\": 80.0, \"charge_deadline_at\": \"07:00\","                \
	" \"is_charge_policy_enabled\": true}"
#define GOOD_IV                                                                                                        \
	"{\"building_id\": \"" BUILDING "\", \"is_smart_optimization_active\": true,"                                  \
	" \"is_pause_power_active\": false, \"is_authenticated\": true, \"is_battery_connected\": true,"               \
	" \"min_battery_charge\": 10.0, \"max_battery_charge\": 100.0}"
#define CONTRACT(building, from, to)                                                                                   \
	"{\"id\": \"c0ffee00-0000-4000-8000-000000000001\", \"energy_contract_type\": \"spot_hourly\","                \
	" \"building_id\": " building ", \"valid_from\": " from ", \"valid_to\": " to "}"
#define CURRENT_CONTRACTS                                                                                              \
	"[" CONTRACT("\"" BUILDING "\"", "\"2026-01-01T00:00:00.000Z\"", "\"2027-01-01T00:00:00.000Z\"") "]"

static const char *const check_ids[] = {"optimization_active", "authenticated", "limits", "energy_contract"};

/* Runs the checklist; asserts its shape and that the listed checks failed and the rest passed. */
static json_t *run_checks(int type, const char *dev_text, const char *contracts_text, const char *const *failing)
{
	json_t *dev = parse(dev_text);
	json_t *contracts = parse(contracts_text);
	json_t *out = support_optimization(type, dev, contracts, NOW_MS);
	assert_non_null(out);
	static const char *const keys[] = {"ok", "checks", NULL};
	assert_keys(out, keys);
	json_t *checks = json_object_get(out, "checks");
	assert_int_equal(json_array_size(checks), 4);
	int any_failed = 0;
	for (size_t i = 0; i < 4; i++) {
		json_t *c = json_array_get(checks, i);
		static const char *const ckeys[] = {"check", "title", "passed", "detail", "resolution", NULL};
		assert_keys(c, ckeys);
		assert_string_equal(sget(c, "check"), check_ids[i]);
		assert_true(strlen(sget(c, "title")) > 0);
		assert_true(strlen(sget(c, "detail")) > 0);
		int want_fail = 0;
		for (const char *const *f = failing; f && *f; f++)
			want_fail |= strcmp(*f, check_ids[i]) == 0;
		json_t *passed = json_object_get(c, "passed");
		assert_true(json_is_boolean(passed));
		if (json_is_true(passed) == want_fail)
			fail_msg("check %s: passed is %s, want %s (detail: %s)", check_ids[i],
			         json_is_true(passed) ? "true" : "false", want_fail ? "false" : "true",
			         sget(c, "detail"));
		/* a passed check needs no resolution; a failed one says what to do */
		if (want_fail)
			assert_true(strlen(sget(c, "resolution")) > 0);
		else
			assert_string_equal(sget(c, "resolution"), "");
		any_failed |= want_fail;
	}
	assert_true(json_is_boolean(json_object_get(out, "ok")));
	assert_int_equal(json_is_true(json_object_get(out, "ok")), !any_failed);
	json_decref(contracts);
	json_decref(dev);
	return out;
}

static json_t *check_of(json_t *out, const char *id)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(out, "checks"), i, c)
	{
		if (strcmp(sget(c, "check"), id) == 0)
			return c;
	}
	fail_msg("no check %s", id);
	return NULL;
}

/* dev_text with one key's JSON value replaced (or added). The caller frees. */
static char *with(const char *dev_text, const char *key, const char *value_json)
{
	json_t *d = parse(dev_text);
	json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
	assert_non_null(v);
	json_object_set_new(d, key, v);
	char *s = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	return s;
}

static void checks_with(int type, const char *base, const char *key, const char *value, const char *failing)
{
	char *t = with(base, key, value);
	const char *const f[] = {failing, NULL};
	json_decref(run_checks(type, t, CURRENT_CONTRACTS, failing ? f : NULL));
	free(t);
}

static void test_optimization_all_checks_pass_for_each_type(void **state)
{
	json_t *out = run_checks(DEV_HEAT_PUMP, GOOD_HP, CURRENT_CONTRACTS, NULL);
	assert_true(json_is_true(json_object_get(out, "ok")));
	json_decref(out);
	json_decref(run_checks(DEV_EV, GOOD_EV, CURRENT_CONTRACTS, NULL));
	json_decref(run_checks(DEV_INVERTER, GOOD_IV, CURRENT_CONTRACTS, NULL));
}

static void test_optimization_off_fails_the_active_check(void **state)
{
	checks_with(DEV_HEAT_PUMP, GOOD_HP, "is_smart_optimization_active", "false", "optimization_active");
	checks_with(DEV_EV, GOOD_EV, "is_smart_optimization_active", "false", "optimization_active");
	checks_with(DEV_INVERTER, GOOD_IV, "is_smart_optimization_active", "false", "optimization_active");
}

static void test_optimization_paused_fails_the_active_check(void **state)
{
	char *t = with(GOOD_HP, "pause_power_until", "\"2026-11-27T09:00:00.000Z\"");
	char *t2 = with(t, "is_pause_power_active", "true");
	const char *const f[] = {"optimization_active", NULL};
	json_t *out = run_checks(DEV_HEAT_PUMP, t2, CURRENT_CONTRACTS, f);
	assert_non_null(strstr(sget(check_of(out, "optimization_active"), "detail"), "2026-11-27T09:00:00.000Z"));
	json_decref(out);
	free(t2);
	free(t);
}

static void test_optimization_not_authenticated_fails_with_the_right_resolution(void **state)
{
	const char *const f[] = {"authenticated", NULL};
	char *t = with(GOOD_EV, "is_authenticated", "false");
	char *t2 = with(t, "authorization_url", "\"" URL "\"");
	json_t *out = run_checks(DEV_EV, t2, CURRENT_CONTRACTS, f);
	assert_string_equal(sget(check_of(out, "authenticated"), "resolution"),
	                    "Send the authorization_url to the user to reconnect their device");
	json_decref(out);
	/* no URL: a new onboarding session */
	out = run_checks(DEV_EV, t, CURRENT_CONTRACTS, f);
	assert_non_null(strstr(sget(check_of(out, "authenticated"), "resolution"), "onboarding"));
	json_decref(out);
	free(t2);
	free(t);
}

static void test_optimization_heat_pump_limits(void **state)
{
	/* narrower than 1 degree */
	char *t = with(GOOD_HP, "minimum_temperature_limit", "20.5");
	char *t2 = with(t, "maximum_temperature_limit", "21.4");
	const char *const f[] = {"limits", NULL};
	json_decref(run_checks(DEV_HEAT_PUMP, t2, CURRENT_CONTRACTS, f));
	free(t2);
	free(t);
	/* exactly 1 degree apart, target inside: passes */
	t = with(GOOD_HP, "minimum_temperature_limit", "20.0");
	t2 = with(t, "maximum_temperature_limit", "21.0");
	json_decref(run_checks(DEV_HEAT_PUMP, t2, CURRENT_CONTRACTS, NULL));
	free(t2);
	free(t);
	/* target outside the limits */
	checks_with(DEV_HEAT_PUMP, GOOD_HP, "indoor_target_temperature", "25.0", "limits");
	checks_with(DEV_HEAT_PUMP, GOOD_HP, "indoor_target_temperature", "17.5", "limits");
	/* target on a limit is inside */
	checks_with(DEV_HEAT_PUMP, GOOD_HP, "indoor_target_temperature", "24.0", NULL);
	checks_with(DEV_HEAT_PUMP, GOOD_HP, "indoor_target_temperature", "18.0", NULL);
}

static void test_optimization_ev_charge_policy(void **state)
{
	checks_with(DEV_EV, GOOD_EV, "is_charge_policy_enabled", "false", "limits");
	checks_with(DEV_EV, GOOD_EV, "charge_deadline_at", "null", "limits");
	checks_with(DEV_EV, GOOD_EV, "minimum_charge_limit", "80.0", "limits"); /* == charge_target_max */
	checks_with(DEV_EV, GOOD_EV, "minimum_charge_limit", "79.0", NULL);
}

static void test_optimization_inverter_battery(void **state)
{
	char *t = with(GOOD_IV, "min_battery_charge", "50.0");
	char *t2 = with(t, "max_battery_charge", "50.0");
	const char *const f[] = {"limits", NULL};
	json_decref(run_checks(DEV_INVERTER, t2, CURRENT_CONTRACTS, f));
	/* the same limits without a battery: no battery limits apply */
	char *t3 = with(t2, "is_battery_connected", "false");
	json_t *out = run_checks(DEV_INVERTER, t3, CURRENT_CONTRACTS, NULL);
	assert_non_null(strstr(sget(check_of(out, "limits"), "detail"), "no battery"));
	json_decref(out);
	free(t3);
	free(t2);
	free(t);
	checks_with(DEV_INVERTER, GOOD_IV, "min_battery_charge", "99.5", NULL);
}

static void test_optimization_energy_contract(void **state)
{
	const char *const f[] = {"energy_contract", NULL};
	/* missing */
	json_t *out = run_checks(DEV_HEAT_PUMP, GOOD_HP, "[]", f);
	assert_string_equal(sget(check_of(out, "energy_contract"), "detail"), "the user has no energy contract");
	json_decref(out);
	/* expired: valid_to before now, and valid_to exactly now */
	json_decref(run_checks(
	    DEV_HEAT_PUMP, GOOD_HP,
	    "[" CONTRACT("\"" BUILDING "\"", "\"2025-01-01T00:00:00.000Z\"", "\"2026-01-01T00:00:00.000Z\"") "]", f));
	json_decref(run_checks(
	    DEV_HEAT_PUMP, GOOD_HP,
	    "[" CONTRACT("\"" BUILDING "\"", "\"2025-01-01T00:00:00.000Z\"", "\"2026-11-27T07:20:00.000Z\"") "]", f));
	/* not yet valid */
	json_decref(run_checks(DEV_HEAT_PUMP, GOOD_HP,
	                       "[" CONTRACT("\"" BUILDING "\"", "\"2026-12-01T00:00:00.000Z\"", "null") "]", f));
	/* for another building */
	out = run_checks(DEV_HEAT_PUMP, GOOD_HP,
	                 "[" CONTRACT("\"" OTHER_BUILDING "\"", "\"2026-01-01T00:00:00.000Z\"", "null") "]", f);
	assert_non_null(strstr(sget(check_of(out, "energy_contract"), "detail"), "1 energy contracts"));
	json_decref(out);
	/* current: open-ended, or valid_from exactly now, or with no building */
	json_decref(run_checks(DEV_HEAT_PUMP, GOOD_HP,
	                       "[" CONTRACT("\"" BUILDING "\"", "\"2026-01-01T00:00:00.000Z\"", "null") "]", NULL));
	json_decref(run_checks(DEV_HEAT_PUMP, GOOD_HP,
	                       "[" CONTRACT("\"" BUILDING "\"", "\"2026-11-27T07:20:00.000Z\"", "null") "]", NULL));
	json_decref(run_checks(DEV_HEAT_PUMP, GOOD_HP, "[" CONTRACT("null", "null", "null") "]", NULL));
	/* one current among others */
	out = run_checks(DEV_HEAT_PUMP, GOOD_HP,
	                 "[" CONTRACT("\"" OTHER_BUILDING "\"", "null", "null") ", " CONTRACT(
	                     "\"" BUILDING "\"", "\"2026-01-01T00:00:00.000Z\"", "\"2027-01-01T00:00:00.000Z\"") "]",
	                 NULL);
	assert_non_null(strstr(sget(check_of(out, "energy_contract"), "detail"), "spot_hourly"));
	json_decref(out);
}

static void test_optimization_every_check_failing_at_once(void **state)
{
	const char *const f[] = {"optimization_active", "authenticated", "limits", "energy_contract", NULL};
	json_decref(run_checks(DEV_EV,
	                       "{\"is_smart_optimization_active\": false, \"is_authenticated\": false,"
	                       " \"is_charge_policy_enabled\": false}",
	                       "[]", f));
}

/* ------------------------------------------------------------------ summary */

static json_t *summary_of(const char *user_text, const char *hp, const char *ev, const char *iv, size_t nbuildings)
{
	json_t *user = parse(user_text);
	json_t *d[3] = {parse(hp), parse(ev), parse(iv)};
	json_t *out = support_summary(user, d, nbuildings);
	assert_non_null(out);
	for (int i = 0; i < 3; i++)
		json_decref(d[i]);
	json_decref(user);
	return out;
}

#define USER_ID "0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11"

/* The summary's user.name and user.location for the given JSON values of the four fields. */
static void check_name_location(const char *first, const char *last, const char *town, const char *country,
                                const char *want_name, const char *want_location)
{
	char text[512];
	snprintf(text, sizeof text,
	         "{\"id\": \"" USER_ID "\", \"email\": \"a@example.com\", \"first_name\": %s, \"last_name\": %s,"
	         " \"town\": %s, \"country_iso2\": %s, \"external_user_id\": null}",
	         first, last, town, country);
	json_t *out = summary_of(text, "[]", "[]", "[]", 0);
	json_t *u = json_object_get(out, "user");
	if (strcmp(sget(u, "name"), want_name) != 0)
		fail_msg("name of %s + %s: got \"%s\", want \"%s\"", first, last, sget(u, "name"), want_name);
	if (strcmp(sget(u, "location"), want_location) != 0)
		fail_msg("location of %s + %s: got \"%s\", want \"%s\"", town, country, sget(u, "location"),
		         want_location);
	json_decref(out);
}

static void test_summary_shape_and_keys_are_exact(void **state)
{
	json_t *out =
	    summary_of("{\"id\": \"" USER_ID "\", \"email\": \"john.doe@example.com\", \"first_name\": \"John\","
	               " \"last_name\": \"Doe\", \"external_user_id\": \"customer_12345\", \"town\": \"Berlin\","
	               " \"country_iso2\": \"DE\", \"role\": \"user\"}",
	               "[{\"consumption_last_day_kwh\": 1.5, \"consumption_last_month_kwh\": 40.25,"
	               " \"is_smart_optimization_active\": true}]",
	               "[]", "[]", 2);
	static const char *const top[] = {"user", "devices", "buildings", "consumption", NULL};
	static const char *const user[] = {"id", "email", "name", "external_id", "location", NULL};
	static const char *const devices[] = {"total", "optimized", "by_type", NULL};
	static const char *const by_type[] = {"heat_pumps", "electric_vehicles", "inverters", NULL};
	static const char *const consumption[] = {"today", "this_month", NULL};
	assert_keys(out, top);
	json_t *u = json_object_get(out, "user");
	assert_keys(u, user);
	assert_keys(json_object_get(out, "devices"), devices);
	assert_keys(json_object_get(json_object_get(out, "devices"), "by_type"), by_type);
	assert_keys(json_object_get(out, "consumption"), consumption);
	assert_string_equal(sget(u, "id"), USER_ID);
	assert_string_equal(sget(u, "email"), "john.doe@example.com");
	assert_string_equal(sget(u, "name"), "John Doe");
	assert_string_equal(sget(u, "external_id"), "customer_12345");
	assert_string_equal(sget(u, "location"), "Berlin, DE");
	assert_int_equal(json_integer_value(json_object_get(out, "buildings")), 2);
	json_decref(out);
}

static void test_summary_name_is_python_strip_of_first_and_last(void **state)
{
	/* Expected values: Python 3.11 f"{first} {last}".strip(), computed with /usr/bin/python3 */
	check_name_location("\"John\"", "\"Doe\"", "null", "null", "John Doe", "");
	check_name_location("\"\"", "\"Doe\"", "null", "null", "Doe", "");
	check_name_location("\"John\"", "\"\"", "null", "null", "John", "");
	check_name_location("\"\"", "\"\"", "null", "null", "", "");
	check_name_location("\"  John  \"", "\"\"", "null", "null", "John", "");
	/* U+00A0 NO-BREAK SPACE, U+2003 EM SPACE, U+3000, U+2028, U+0085 are str.isspace() */
	check_name_location("\"\\u00a0John\"", "\"Doe\\u00a0\"", "null", "null", "John Doe", "");
	check_name_location("\" \"", "\"\\u2003\"", "null", "null", "", "");
	check_name_location("\"\\u3000John\"", "\"Doe\\u2028\"", "null", "null", "John Doe", "");
	check_name_location("\"\\u0085John\"", "\"Doe\"", "null", "null", "John Doe", "");
	/* inside the name a no-break space stays; U+200B ZERO WIDTH SPACE is not whitespace */
	check_name_location("\"Anne\\u00a0Marie\"", "\"Doe\"", "null", "null", "Anne\xc2\xa0Marie Doe", "");
	check_name_location("\"John\\u200b\"", "\"\"", "null", "null", "John\xe2\x80\x8b", "");
}

static void test_summary_null_first_name_counts_as_empty(void **state)
{
	check_name_location("null", "\"Doe\"", "null", "null", "Doe", "");
	check_name_location("\"John\"", "null", "null", "null", "John", "");
	check_name_location("null", "null", "null", "null", "", "");
	/* absent fields too */
	json_t *out = summary_of("{\"id\": \"" USER_ID "\", \"email\": \"a@example.com\"}", "[]", "[]", "[]", 0);
	json_t *u = json_object_get(out, "user");
	assert_string_equal(sget(u, "name"), "");
	assert_string_equal(sget(u, "location"), "");
	assert_true(json_is_null(json_object_get(u, "external_id")));
	json_decref(out);
}

static void test_summary_location_is_python_strip_comma_space(void **state)
{
	/* Expected values: Python 3.11 f"{town}, {country}".strip(', '), computed with /usr/bin/python3 */
	check_name_location("null", "null", "\"Berlin\"", "\"DE\"", "", "Berlin, DE");
	check_name_location("null", "null", "\"Berlin\"", "null", "", "Berlin");
	check_name_location("null", "null", "null", "\"DE\"", "", "DE");
	check_name_location("null", "null", "null", "null", "", "");
	check_name_location("null", "null", "\"Berlin\"", "\"\"", "", "Berlin");
	check_name_location("null", "null", "\" Berlin \"", "\"DE\"", "", "Berlin , DE");
	check_name_location("null", "null", "\"Berlin,\"", "null", "", "Berlin");
	check_name_location("null", "null", "\", ,\"", "\", ,\"", "", "");
	/* strip(', ') strips only commas and spaces: a no-break space stays */
	check_name_location("null", "null", "\"\\u00a0Berlin\"", "\"DE\"", "",
	                    "\xc2\xa0"
	                    "Berlin, DE");
	check_name_location("null", "null", "\"K\\u00f6ln\"", "\"DE\"", "", "K\xc3\xb6ln, DE");
}

static void test_summary_without_devices_has_integer_zero_consumption(void **state)
{
	json_t *out = summary_of("{\"id\": \"" USER_ID "\", \"email\": \"a@example.com\"}", "[]", "[]", "[]", 0);
	json_t *c = json_object_get(out, "consumption");
	assert_true(json_is_integer(json_object_get(c, "today")));
	assert_int_equal(json_integer_value(json_object_get(c, "today")), 0);
	assert_true(json_is_integer(json_object_get(c, "this_month")));
	assert_int_equal(json_integer_value(json_object_get(c, "this_month")), 0);
	json_t *d = json_object_get(out, "devices");
	assert_int_equal(json_integer_value(json_object_get(d, "total")), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "optimized")), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "buildings")), 0);
	json_decref(out);
}

static void test_summary_sums_are_rounded_like_python(void **state)
{
	/*
	 * Python: round(0 + 1.115 + 1.0, 2) == 2.12 (the sum is 2.115, above the
	 * tie in binary) while round(1.115, 2) == 1.11; round(0 + 30.005 + 10.0, 2)
	 * == 40.0 (the sum is 40.004999999999995). Computed with /usr/bin/python3.
	 */
	json_t *out =
	    summary_of("{\"id\": \"" USER_ID "\", \"email\": \"a@example.com\"}",
	               "[{\"consumption_last_day_kwh\": 1.115, \"consumption_last_month_kwh\": 30.005}]",
	               "[{\"consumption_last_day_kwh\": 1.0, \"consumption_last_month_kwh\": 10.0}]", "[]", 1);
	json_t *c = json_object_get(out, "consumption");
	assert_true(json_is_real(json_object_get(c, "today")));
	assert_true(json_real_value(json_object_get(c, "today")) == 2.12);
	assert_true(json_is_real(json_object_get(c, "this_month")));
	assert_true(json_real_value(json_object_get(c, "this_month")) == 40.0);
	json_decref(out);

	out =
	    summary_of("{\"id\": \"" USER_ID "\", \"email\": \"a@example.com\"}",
	               "[{\"consumption_last_day_kwh\": 1.115, \"consumption_last_month_kwh\": 0.125}]", "[]", "[]", 0);
	c = json_object_get(out, "consumption");
	assert_true(json_real_value(json_object_get(c, "today")) == 1.11);
	assert_true(json_real_value(json_object_get(c, "this_month")) == 0.12);
	json_decref(out);
}

static void test_summary_null_or_missing_consumption_counts_as_zero(void **state)
{
	json_t *out = summary_of("{\"id\": \"" USER_ID "\", \"email\": \"a@example.com\"}",
	                         "[{\"consumption_last_day_kwh\": null, \"consumption_last_month_kwh\": null}]", "[{}]",
	                         "[{\"consumption_last_day_kwh\": 0.5, \"consumption_last_month_kwh\": 2.675}]", 0);
	json_t *c = json_object_get(out, "consumption");
	assert_true(json_is_real(json_object_get(c, "today")));
	assert_true(json_real_value(json_object_get(c, "today")) == 0.5);
	assert_true(json_real_value(json_object_get(c, "this_month")) == 2.67); /* Python: round(0 + 2.675, 2) */
	json_decref(out);
}

static void test_summary_counts_devices_by_type_and_optimized(void **state)
{
	json_t *out = summary_of("{\"id\": \"" USER_ID "\", \"email\": \"a@example.com\"}",
	                         "[{\"is_smart_optimization_active\": true}, {\"is_smart_optimization_active\": false},"
	                         " {\"is_smart_optimization_active\": true}]",
	                         "[{\"is_smart_optimization_active\": null}]",
	                         "[{\"is_smart_optimization_active\": true}, {}]", 3);
	json_t *d = json_object_get(out, "devices");
	assert_int_equal(json_integer_value(json_object_get(d, "total")), 6);
	assert_int_equal(json_integer_value(json_object_get(d, "optimized")), 3);
	json_t *bt = json_object_get(d, "by_type");
	assert_int_equal(json_integer_value(json_object_get(bt, "heat_pumps")), 3);
	assert_int_equal(json_integer_value(json_object_get(bt, "electric_vehicles")), 1);
	assert_int_equal(json_integer_value(json_object_get(bt, "inverters")), 2);
	assert_int_equal(json_integer_value(json_object_get(out, "buildings")), 3);
	/* devices without consumption fields add nothing */
	json_t *c = json_object_get(out, "consumption");
	assert_true(json_is_number(json_object_get(c, "today")));
	assert_true(json_number_value(json_object_get(c, "today")) == 0.0);
	json_decref(out);
}

/* ------------------------------------------------------------------ distribution */

#define EPS 1e-9

static void check_dist(const double *v, size_t n, double x, double median, double p90, double rank)
{
	struct support_dist d;
	memset(&d, 0, sizeof d);
	assert_int_equal(support_distribution(v, n, x, &d), 1);
	if (fabs(d.median - median) > EPS || fabs(d.p90 - p90) > EPS || fabs(d.rank - rank) > EPS)
		fail_msg("n=%zu x=%g: got median %.17g p90 %.17g rank %.17g, want %g %g %g", n, x, d.median, d.p90,
		         d.rank, median, p90, rank);
}

/* Expected medians and p90s: numpy.percentile's default (linear) method, computed exactly in Python. */
static void test_distribution_odd_n(void **state)
{
	const double v[] = {1, 2, 3, 4, 10};
	check_dist(v, 5, 3, 3.0, 7.6, 50.0);
	const double w[] = {0.5, 1.5, 2.5};
	check_dist(w, 3, 2.5, 1.5, 2.3, 100.0 * 2.5 / 3.0);
}

static void test_distribution_even_n(void **state)
{
	const double v[] = {1, 2, 4, 8};
	check_dist(v, 4, 5, 3.0, 6.8, 75.0);
	const double w[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	check_dist(w, 10, 11, 5.5, 9.1, 100.0);
	const double two[] = {10, 20};
	check_dist(two, 2, 15, 15.0, 19.0, 50.0);
}

static void test_distribution_single_value(void **state)
{
	const double v[] = {5};
	check_dist(v, 1, 5, 5.0, 5.0, 50.0);
	check_dist(v, 1, 4, 5.0, 5.0, 0.0);
	check_dist(v, 1, 6, 5.0, 5.0, 100.0);
}

static void test_distribution_rank_counts_ties_as_half(void **state)
{
	const double v[] = {1, 2, 2, 2, 3};
	check_dist(v, 5, 2, 2.0, 2.6, 50.0); /* 1 below, 3 equal: (1 + 1.5) / 5 */
	check_dist(v, 5, 1, 2.0, 2.6, 10.0); /* (0 + 0.5) / 5 */
	check_dist(v, 5, 3, 2.0, 2.6, 90.0); /* (4 + 0.5) / 5 */
	check_dist(v, 5, 0, 2.0, 2.6, 0.0);
	check_dist(v, 5, 4, 2.0, 2.6, 100.0);
	check_dist(v, 5, 2.5, 2.0, 2.6, 80.0);
	const double same[] = {7, 7, 7, 7};
	check_dist(same, 4, 7, 7.0, 7.0, 50.0);
}

static void test_distribution_of_no_values_returns_zero(void **state)
{
	struct support_dist d = {.median = -1, .p90 = -1, .rank = -1};
	assert_int_equal(support_distribution(NULL, 0, 3.0, &d), 0);
	const double v[] = {1};
	assert_int_equal(support_distribution(v, 0, 3.0, &d), 0);
	/* out is left alone */
	assert_true(d.median == -1 && d.p90 == -1 && d.rank == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_isoformat_of_whole_seconds_has_no_fraction),
	    cmocka_unit_test(test_isoformat_of_milliseconds_has_microseconds),
	    cmocka_unit_test(test_isoformat_normalises_offsets_to_utc),
	    cmocka_unit_test(test_isoformat_before_1970),
	    cmocka_unit_test(test_isoformat_of_garbage_is_minus_one),
	    cmocka_unit_test(test_round2_near_ties_round_the_binary_value),
	    cmocka_unit_test(test_round2_exact_ties_go_to_even),
	    cmocka_unit_test(test_round2_leaves_what_needs_no_rounding),
	    cmocka_unit_test(test_round2_of_tiny_values_is_a_signed_zero),
	    cmocka_unit_test(test_round2_of_non_finite_is_unchanged),
	    cmocka_unit_test(test_connection_not_authenticated_with_url_sends_the_url),
	    cmocka_unit_test(test_connection_not_authenticated_without_url_suggests_onboarding),
	    cmocka_unit_test(test_connection_not_authenticated_wins_over_staleness),
	    cmocka_unit_test(test_connection_stale_after_more_than_two_hours),
	    cmocka_unit_test(test_connection_exactly_two_hours_old_is_healthy),
	    cmocka_unit_test(test_connection_fresh_or_future_report_is_healthy),
	    cmocka_unit_test(test_connection_last_update_is_shown_in_utc),
	    cmocka_unit_test(test_connection_never_reported_is_stale_with_null_last_update),
	    cmocka_unit_test(test_connection_unparsable_timestamp_is_stale_with_null_last_update),
	    cmocka_unit_test(test_optimization_all_checks_pass_for_each_type),
	    cmocka_unit_test(test_optimization_off_fails_the_active_check),
	    cmocka_unit_test(test_optimization_paused_fails_the_active_check),
	    cmocka_unit_test(test_optimization_not_authenticated_fails_with_the_right_resolution),
	    cmocka_unit_test(test_optimization_heat_pump_limits),
	    cmocka_unit_test(test_optimization_ev_charge_policy),
	    cmocka_unit_test(test_optimization_inverter_battery),
	    cmocka_unit_test(test_optimization_energy_contract),
	    cmocka_unit_test(test_optimization_every_check_failing_at_once),
	    cmocka_unit_test(test_summary_shape_and_keys_are_exact),
	    cmocka_unit_test(test_summary_name_is_python_strip_of_first_and_last),
	    cmocka_unit_test(test_summary_null_first_name_counts_as_empty),
	    cmocka_unit_test(test_summary_location_is_python_strip_comma_space),
	    cmocka_unit_test(test_summary_without_devices_has_integer_zero_consumption),
	    cmocka_unit_test(test_summary_sums_are_rounded_like_python),
	    cmocka_unit_test(test_summary_null_or_missing_consumption_counts_as_zero),
	    cmocka_unit_test(test_summary_counts_devices_by_type_and_optimized),
	    cmocka_unit_test(test_distribution_odd_n),
	    cmocka_unit_test(test_distribution_even_n),
	    cmocka_unit_test(test_distribution_single_value),
	    cmocka_unit_test(test_distribution_rank_counts_ties_as_half),
	    cmocka_unit_test(test_distribution_of_no_values_returns_zero),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
