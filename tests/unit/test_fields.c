/*
 * test_fields.c - the typed field rules of api/fields.h (each field type,
 * null, who may set a field in which mode, defaults, order) and the device
 * rules of api/device_fields.h (checks across fields, the merged device on
 * create, the public view).
 *
 * The field types are tested through a small rule table of our own, one
 * field per type, so a failure names the type; the device tests go through
 * the real tables. Bodies are JSON text parsed the way the server does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/device_fields.h"
#include "api/fields.h"
#include "core/util.h"

/* 2026-11-27T07:20:00.000Z, the README's example instant */
#define NOW_MS   INT64_C(1795764000000)
#define BUILDING "5b0c7d3e-2f1a-4c8b-9d6e-0a1b2c3d4e5f"
#define URL      "https://connect.example.com/reauth/abc"

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ a table with one field per type */

static const char *const colours[] = {"red", "green", "blue", NULL};

#define CU (FF_CREATE | FF_UPDATE)

static const struct field_rule rules[] = {
    {"id", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL},
    {"enabled", FT_BOOL, CU, 0, 0, NULL, "true", NULL},
    {"level", FT_NUM, CU, 0, 100, NULL, "50.0", NULL},
    {"count", FT_INT, CU, 1, 10, NULL, "1", NULL},
    {"label", FT_STR, CU | FF_NULL, 0, 100, NULL, NULL, NULL},
    {"colour", FT_ENUM, CU, 0, 0, colours, "\"red\"", NULL},
    {"at", FT_TIME, CU | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"deadline", FT_HHMM, CU, 0, 0, NULL, "\"07:00\"", NULL},
    {"ref", FT_UUID, CU | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"link", FT_URL, CU | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"country", FT_COUNTRY, CU | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"device_model", FT_MODEL, FF_CREATE | FF_STATE, 0, 0, NULL, NULL, NULL},
    {"energy_prices", FT_PRICES, CU, 0, 0, NULL, "[]", NULL},
    {"reading", FT_NUM, FF_CREATE | FF_STATE | FF_NULL, -50, 50, NULL, NULL, NULL},
    {"score", FT_ANY, FF_OUT, 0, 0, NULL, NULL, "is computed by the server"},
    {"created_at", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL},
    {NULL, FT_ANY, 0, 0, 0, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------ helpers */

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!j)
		fail_msg("bad test JSON: %s: %s", err.text, text);
	return j;
}

static char *dump(json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

/*
 * The error entry naming field, or NULL. Checks every entry's shape: field,
 * pointer and detail are strings; for a top-level field the pointer is
 * "/" + field.
 */
static json_t *entry_for(json_t *errors, const char *field)
{
	size_t i;
	json_t *e, *found = NULL;
	assert_true(json_is_array(errors));
	json_array_foreach(errors, i, e)
	{
		const char *f = json_string_value(json_object_get(e, "field"));
		const char *ptr = json_string_value(json_object_get(e, "pointer"));
		const char *detail = json_string_value(json_object_get(e, "detail"));
		assert_non_null(f);
		assert_non_null(ptr);
		assert_non_null(detail);
		assert_true(strlen(detail) > 0);
		if (!strchr(f, '/') && !strchr(f, '~')) {
			assert_int_equal(ptr[0], '/');
			assert_string_equal(ptr + 1, f);
		}
		if (strcmp(f, field) == 0 && !found)
			found = e;
	}
	return found;
}

static const char *error_for(json_t *errors, const char *field)
{
	json_t *e = entry_for(errors, field);
	return e ? json_string_value(json_object_get(e, "detail")) : NULL;
}

static enum fd_err run(const struct field_rule *r, enum field_mode mode, json_t *body, json_t *current, json_t **clean,
                       json_t **errors)
{
	*clean = NULL;
	*errors = NULL;
	enum fd_err rc = fields_validate(r, mode, body, current, clean, errors);
	if (rc == FD_OK) {
		assert_non_null(*clean);
		assert_null(*errors);
	} else {
		assert_int_equal(rc, FD_EINVALID);
		assert_null(*clean);
		assert_non_null(*errors);
		assert_true(json_array_size(*errors) > 0);
	}
	return rc;
}

/* Asserts {field: value_json} is accepted on create with clean[field] == want_json (type included). */
static void accepts_as(const char *field, const char *value_json, const char *want_json)
{
	json_t *body = json_object(), *clean, *errors;
	json_object_set_new(body, field, parse(value_json));
	if (run(rules, FM_CREATE, body, NULL, &clean, &errors) != FD_OK) {
		char *s = dump(errors);
		fail_msg("%s = %s should be accepted: %s", field, value_json, s);
	}
	json_t *want = parse(want_json);
	json_t *got = json_object_get(clean, field);
	if (!json_equal(got, want)) {
		char *s = dump(got);
		fail_msg("%s = %s: clean value %s, want %s", field, value_json, s, want_json);
	}
	assert_int_equal(json_typeof(got), json_typeof(want));
	assert_int_equal(json_object_size(clean), 1);
	json_decref(want);
	json_decref(clean);
	json_decref(body);
}

static void accepts(const char *field, const char *value_json)
{
	accepts_as(field, value_json, value_json);
}

/*
 * Asserts {field: value} is rejected on create with exactly one error, naming
 * want_field (field itself when NULL); its detail must equal want_detail when
 * given. value is stolen.
 */
static void rejects_value_named(const char *field, json_t *value, const char *want_field, const char *want_detail)
{
	json_t *body = json_object(), *clean, *errors;
	assert_non_null(value);
	json_object_set_new(body, field, value);
	char *shown = dump(value);
	if (run(rules, FM_CREATE, body, NULL, &clean, &errors) != FD_EINVALID)
		fail_msg("%s = %.200s should be rejected", field, shown);
	const char *name = want_field ? want_field : field;
	const char *detail = error_for(errors, name);
	if (!detail) {
		char *s = dump(errors);
		fail_msg("%s = %.200s: no error naming %s in %s", field, shown, name, s);
	}
	if (want_detail && strcmp(detail, want_detail) != 0)
		fail_msg("%s = %.200s: detail \"%s\", want \"%s\"", field, shown, detail, want_detail);
	if (json_array_size(errors) != 1) {
		char *s = dump(errors);
		fail_msg("%s = %.200s: want one error, got %s", field, shown, s);
	}
	free(shown);
	json_decref(errors);
	json_decref(body);
}

static void rejects(const char *field, const char *value_json, const char *want_detail)
{
	rejects_value_named(field, parse(value_json), NULL, want_detail);
}

/* A string of n copies of the UTF-8 sequence unit. The caller frees it. */
static char *repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit);
	char *s = malloc(ul * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	return s;
}

/* Asserts the C string s is accepted for field on create, unchanged. */
static void accepts_string(const char *field, const char *s)
{
	json_t *v = json_string(s);
	assert_non_null(v);
	char *text = dump(v);
	accepts(field, text);
	free(text);
	json_decref(v);
}

/* ------------------------------------------------------------------ bool */

static void test_bool_accepts_true_and_false_only(void **state)
{
	accepts("enabled", "true");
	accepts("enabled", "false");
	rejects("enabled", "1", "must be true or false");
	rejects("enabled", "\"true\"", "must be true or false");
	rejects("enabled", "0", "must be true or false");
	rejects("enabled", "null", "must not be null");
}

/* ------------------------------------------------------------------ num */

static void test_num_range_edges_are_inclusive(void **state)
{
	accepts("level", "0.0");
	accepts("level", "100.0");
	accepts("level", "0.5");
	accepts("level", "99.999");
	rejects("level", "-0.001", "must be between 0 and 100");
	rejects("level", "100.001", "must be between 0 and 100");
	rejects("level", "-1e300", "must be between 0 and 100");
	rejects("level", "1e300", "must be between 0 and 100");
	accepts("reading", "-50.0");
	accepts("reading", "50.0");
	rejects("reading", "-50.5", "must be between -50 and 50");
}

static void test_num_integer_is_stored_as_a_real(void **state)
{
	accepts_as("level", "0", "0.0");
	accepts_as("level", "100", "100.0");
	accepts_as("level", "21", "21.0");
	rejects("level", "101", "must be between 0 and 100");
}

static void test_num_rejects_other_types(void **state)
{
	rejects("level", "\"5\"", "must be a number");
	rejects("level", "true", "must be a number");
	rejects("level", "[5]", "must be a number");
	rejects("level", "{}", "must be a number");
	rejects("level", "null", "must not be null");
}

/* ------------------------------------------------------------------ int */

static void test_int_range_edges_are_inclusive(void **state)
{
	accepts("count", "1");
	accepts("count", "10");
	rejects("count", "0", "must be between 1 and 10");
	rejects("count", "11", "must be between 1 and 10");
	rejects("count", "-9223372036854775808", "must be between 1 and 10");
}

static void test_int_rejects_a_fraction_and_other_types(void **state)
{
	rejects("count", "1.5", "must be an integer");
	rejects("count", "\"3\"", "must be an integer");
	rejects("count", "false", "must be an integer");
}

/* ------------------------------------------------------------------ str */

static void test_str_length_counts_characters_not_bytes(void **state)
{
	static const char *const units[] = {"x", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8f\xa0"}; /* 1 to 4 bytes */
	for (size_t u = 0; u < 4; u++) {
		char *s = repeat(units[u], 100);
		accepts_string("label", s);
		free(s);
		s = repeat(units[u], 101);
		rejects_value_named("label", json_string(s), NULL, "must be at most 100 characters");
		free(s);
	}
}

static void test_str_with_control_characters_is_rejected(void **state)
{
	static const char *const bad[] = {"a\nb",
	                                  "a\tb",
	                                  "\x01",
	                                  "a\x1f",
	                                  "a\x7f",
	                                  "a\xc2\x85"
	                                  "b",
	                                  "\xc2\x9f"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects_value_named("label", json_string(bad[i]), NULL, "must not contain control characters");
	/* just above the C1 controls: U+00A0 NO-BREAK SPACE and U+00FC are text */
	accepts_string("label", "M\xc3\xbcller\xc2\xa0X");
}

static void test_str_with_nul_or_of_another_type_is_rejected(void **state)
{
	rejects_value_named("label", json_stringn("a\0b", 3), NULL, "must be a string");
	rejects("label", "5", "must be a string");
	rejects("label", "[\"a\"]", "must be a string");
}

static void test_str_null_clears_an_ff_null_field(void **state)
{
	accepts("label", "null");
	accepts("label", "\"\"");
}

/* ------------------------------------------------------------------ enum */

static void test_enum_accepts_its_choices_exactly(void **state)
{
	accepts("colour", "\"red\"");
	accepts("colour", "\"green\"");
	accepts("colour", "\"blue\"");
}

static void test_enum_error_lists_the_choices(void **state)
{
	static const char *const bad[] = {"\"Red\"", "\"\"", "\"purple\"", "\"red \"", "5", "true"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects("colour", bad[i], "must be one of red, green, blue");
	rejects("colour", "null", "must not be null");
}

/* ------------------------------------------------------------------ time */

static void test_time_is_normalised_to_utc_with_milliseconds(void **state)
{
	accepts_as("at", "\"2026-11-27T07:20:00Z\"", "\"2026-11-27T07:20:00.000Z\"");
	accepts_as("at", "\"2026-11-27T07:20:00.000Z\"", "\"2026-11-27T07:20:00.000Z\"");
	accepts_as("at", "\"2026-11-27T07:20:00.5Z\"", "\"2026-11-27T07:20:00.500Z\"");
	accepts_as("at", "\"2026-11-27T09:20:00+02:00\"", "\"2026-11-27T07:20:00.000Z\"");
	accepts_as("at", "\"2026-11-27T00:30:00.250-01:00\"", "\"2026-11-27T01:30:00.250Z\"");
	accepts_as("at", "\"2026-11-27t07:20:00z\"", "\"2026-11-27T07:20:00.000Z\"");
	accepts("at", "null");
}

static void test_time_that_does_not_parse_is_rejected(void **state)
{
	static const char *const bad[] = {"\"\"",
	                                  "\"now\"",
	                                  "\"2026-11-27\"",
	                                  "\"2026-11-27T07:20:00\"",
	                                  "\"2026-02-30T00:00:00Z\"",
	                                  "\"2026-11-27T24:00:00Z\"",
	                                  "\"2026-11-27T07:20:00+25:00\"",
	                                  "1795764000000"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects("at", bad[i], "must be an RFC 3339 date-time, like 2026-11-27T08:00:00Z");
}

/* ------------------------------------------------------------------ HH:MM */

static void test_hhmm_edges(void **state)
{
	accepts("deadline", "\"00:00\"");
	accepts("deadline", "\"23:59\"");
	accepts("deadline", "\"07:00\"");
	accepts("deadline", "\"19:30\"");
	accepts("deadline", "\"20:00\"");
	static const char *const bad[] = {"\"24:00\"", "\"7:00\"",  "\"12:60\"",    "\"29:00\"",  "\"23:5\"",
	                                  "\"ab:cd\"", "\"12-00\"", "\"12:00:00\"", "\" 12:00\"", "\"\"",
	                                  "\"-1:00\"", "700",       "\"1200\""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects("deadline", bad[i], "must be a time of day as HH:MM, from 00:00 to 23:59");
}

/* ------------------------------------------------------------------ uuid */

static void test_uuid(void **state)
{
	accepts("ref", "\"" BUILDING "\"");
	accepts("ref", "\"5B0C7D3E-2F1A-4C8B-9D6E-0A1B2C3D4E5F\"");
	accepts("ref", "null");
	static const char *const bad[] = {"\"\"",
	                                  "\"not-a-uuid\"",
	                                  "\"5b0c7d3e2f1a4c8b9d6e0a1b2c3d4e5f\"",
	                                  "\"" BUILDING "0\"",
	                                  "\"5b0c7d3e-2f1a-4c8b-9d6e-0a1b2c3d4e5g\"",
	                                  "5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects("ref", bad[i], "must be the id (a UUID) of a record of this user");
}

/* ------------------------------------------------------------------ url */

#define URL_DETAIL "must be an absolute http or https URL of at most 2048 bytes"

static void test_url_accepts_http_and_https(void **state)
{
	accepts("link", "\"" URL "\"");
	accepts("link", "\"http://localhost:8080/x?y=1#z\"");
	accepts("link", "\"https://a\"");
	accepts("link", "null");
}

static void test_url_rejects_other_schemes_spaces_and_controls(void **state)
{
	static const char *const bad[] = {"\"ftp://example.com\"",
	                                  "\"https://\"",
	                                  "\"http://\"",
	                                  "\"example.com\"",
	                                  "\"//example.com/x\"",
	                                  "\"javascript:alert(1)\"",
	                                  "\"https://exa mple.com\"",
	                                  "\"https://example.com/a b\"",
	                                  "\" https://example.com\"",
	                                  "\"https://example.com\\t\"",
	                                  "\"https://example.com\\n\"",
	                                  "\"https://example.com\\u0085\"",
	                                  "\"\"",
	                                  "5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects("link", bad[i], URL_DETAIL);
}

static void test_url_of_2048_bytes_is_accepted_and_2049_rejected(void **state)
{
	char *s = malloc(2050);
	assert_non_null(s);
	memcpy(s, "https://example.com/", 20);
	memset(s + 20, 'a', 2048 - 20);
	s[2048] = '\0';
	accepts_string("link", s);
	s[2048] = 'a';
	s[2049] = '\0';
	rejects_value_named("link", json_string(s), NULL, URL_DETAIL);
	free(s);
}

/* ------------------------------------------------------------------ country */

static void test_country_is_upper_cased(void **state)
{
	accepts_as("country", "\"de\"", "\"DE\"");
	accepts_as("country", "\"De\"", "\"DE\"");
	accepts_as("country", "\"dE\"", "\"DE\"");
	accepts_as("country", "\"DE\"", "\"DE\"");
	accepts_as("country", "\"ch\"", "\"CH\"");
	accepts("country", "null");
}

static void test_country_unknown_or_malformed_is_rejected(void **state)
{
	static const char *const bad[] = {"\"XX\"", "\"DEU\"",      "\"D\"",   "\"\"",
	                                  "\"1A\"", "\"d\\u00e9\"", "\"de \"", "49"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects("country", bad[i], "must be an ISO 3166-1 alpha-2 country code, like DE");
}

/* ------------------------------------------------------------------ device_model */

static void test_model_accepts_its_four_fields_and_nulls(void **state)
{
	accepts("device_model", "{\"manufacturer\": \"Vaillant\", \"model\": \"aroTHERM plus\", \"year\": 2021,"
	                        " \"device_type\": \"heat_pump\"}");
	accepts("device_model", "{\"manufacturer\": null, \"model\": null, \"year\": null, \"device_type\": null}");
	accepts("device_model", "{\"manufacturer\": \"Tesla\"}");
	accepts("device_model", "{}");
	accepts("device_model", "{\"year\": 1950}");
	accepts("device_model", "{\"year\": 2100}");
}

static void test_model_sub_field_errors_name_the_sub_field(void **state)
{
	rejects_value_named("device_model", parse("{\"year\": 1949}"), "device_model/year",
	                    "must be between 1950 and 2100");
	rejects_value_named("device_model", parse("{\"year\": 2101}"), "device_model/year",
	                    "must be between 1950 and 2100");
	rejects_value_named("device_model", parse("{\"year\": 2021.5}"), "device_model/year", "must be an integer");
	rejects_value_named("device_model", parse("{\"year\": \"2021\"}"), "device_model/year", "must be an integer");
	rejects_value_named("device_model", parse("{\"model\": 5}"), "device_model/model", "must be a string");
	rejects_value_named("device_model", parse("{\"device_type\": \"heat\\npump\"}"), "device_model/device_type",
	                    "must not contain control characters");
	char *s = repeat("\xc3\xa9", 101);
	json_t *m = json_object();
	json_object_set_new(m, "manufacturer", json_string(s));
	rejects_value_named("device_model", m, "device_model/manufacturer", "must be at most 100 characters");
	free(s);
	rejects_value_named("device_model", parse("{\"colour\": \"red\"}"), "device_model/colour",
	                    "is not a field of device_model (manufacturer, model, year, device_type)");
}

static void test_model_that_is_not_an_object_is_rejected(void **state)
{
	static const char *const bad[] = {"\"Vaillant\"", "5", "[]", "true"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejects("device_model", bad[i], "must be an object with manufacturer, model, year and device_type");
	rejects("device_model", "null", "must not be null");
}

static void check_pointer(const char *body_text, const char *field, const char *want_pointer)
{
	json_t *body = parse(body_text), *clean, *errors;
	assert_int_equal(run(rules, FM_CREATE, body, NULL, &clean, &errors), FD_EINVALID);
	json_t *e = entry_for(errors, field);
	if (!e) {
		char *s = dump(errors);
		fail_msg("%s: no error naming %s in %s", body_text, field, s);
	}
	assert_string_equal(json_string_value(json_object_get(e, "pointer")), want_pointer);
	json_decref(errors);
	json_decref(body);
}

static void test_nested_error_pointer_is_a_json_pointer_into_the_body(void **state)
{
	/*
	 * RFC 6901: the pointer to body.device_model.year is "/device_model/year".
	 * At commit 54fc98f this was a bug: check_model() and check_prices()
	 * (src/api/fields.c) passed the path "device_model/year" to problem_field()
	 * as one member name, whose "/" was escaped, giving "/device_model~1year".
	 */
	check_pointer("{\"device_model\": {\"year\": 1800}}", "device_model/year", "/device_model/year");
	check_pointer("{\"device_model\": {\"colour\": 1}}", "device_model/colour", "/device_model/colour");
	check_pointer("{\"energy_prices\": [{\"price\": 1, \"timestamp\": \"2026-11-27T07:00:00Z\"},"
	              " {\"price\": \"x\", \"timestamp\": \"2026-11-27T08:00:00Z\"}]}",
	              "energy_prices/1/price", "/energy_prices/1/price");
	check_pointer("{\"energy_prices\": [5]}", "energy_prices/0", "/energy_prices/0");
	/* a member name holding "/" or "~" is escaped inside the pointer */
	check_pointer("{\"device_model\": {\"a/b~c\": 1}}", "device_model/a/b~c", "/device_model/a~1b~0c");
}

/* ------------------------------------------------------------------ energy_prices */

static void test_prices_are_normalised(void **state)
{
	accepts_as("energy_prices",
	           "[{\"price\": 0.25, \"timestamp\": \"2026-11-27T07:00:00+01:00\"},"
	           " {\"timestamp\": \"2026-11-27T07:00:00Z\", \"price\": 1}]",
	           "[{\"price\": 0.25, \"timestamp\": \"2026-11-27T06:00:00.000Z\"},"
	           " {\"price\": 1.0, \"timestamp\": \"2026-11-27T07:00:00.000Z\"}]");
	accepts("energy_prices", "[]");
	accepts("energy_prices", "[{\"price\": -100000.0, \"timestamp\": \"2026-11-27T07:00:00.000Z\"}]");
}

static void test_prices_of_the_wrong_shape_are_rejected(void **state)
{
	static const char *const whole[] = {"{}", "\"0.25\"", "5"};
	for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
		rejects("energy_prices", whole[i], "must be an array of at most 10000 {price, timestamp} objects");
	rejects("energy_prices", "null", "must not be null");
	static const char *const items[] = {
	    "[5]",
	    "[{\"price\": 1}]",
	    "[{\"timestamp\": \"2026-11-27T07:00:00Z\"}]",
	    "[{\"price\": 1, \"timestamp\": \"2026-11-27T07:00:00Z\", \"unit\": \"kWh\"}]",
	    "[{\"price\": 1, \"time\": \"2026-11-27T07:00:00Z\"}]",
	    "[[1, \"2026-11-27T07:00:00Z\"]]"};
	for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
		rejects_value_named("energy_prices", parse(items[i]), "energy_prices/0",
		                    "must be an object with exactly price and timestamp");
}

static void test_prices_item_errors_name_the_item_and_its_field(void **state)
{
	rejects_value_named("energy_prices",
	                    parse("[{\"price\": 1, \"timestamp\": \"2026-11-27T07:00:00Z\"},"
	                          " {\"price\": \"x\", \"timestamp\": \"2026-11-27T08:00:00Z\"}]"),
	                    "energy_prices/1/price", "must be a number");
	rejects_value_named("energy_prices", parse("[{\"price\": 100001, \"timestamp\": \"2026-11-27T07:00:00Z\"}]"),
	                    "energy_prices/0/price", "must be between -100000 and 100000");
	rejects_value_named("energy_prices", parse("[{\"price\": 1, \"timestamp\": \"tomorrow\"}]"),
	                    "energy_prices/0/timestamp", "must be an RFC 3339 date-time, like 2026-11-27T08:00:00Z");
}

static void test_prices_at_most_10000(void **state)
{
	json_t *a = json_array();
	for (int i = 0; i < 10000; i++)
		json_array_append_new(a, json_pack("{sfss}", "price", 0.25, "timestamp", "2026-11-27T07:00:00.000Z"));
	json_t *body = json_pack("{sO}", "energy_prices", a), *clean, *errors;
	assert_int_equal(run(rules, FM_CREATE, body, NULL, &clean, &errors), FD_OK);
	assert_int_equal(json_array_size(json_object_get(clean, "energy_prices")), 10000);
	json_decref(clean);
	json_decref(body);
	json_array_append_new(a, json_pack("{sfss}", "price", 0.25, "timestamp", "2026-11-27T07:00:00.000Z"));
	rejects_value_named("energy_prices", a, NULL, "must be an array of at most 10000 {price, timestamp} objects");
}

/* ------------------------------------------------------------------ modes */

static json_t *current_record(void)
{
	return parse("{\"id\": \"0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11\", \"enabled\": true, \"level\": 50.0,"
	             " \"reading\": 20.5, \"score\": 7, \"created_at\": \"2026-11-27T07:20:00.000Z\","
	             " \"device_model\": {\"manufacturer\": \"Vaillant\", \"model\": null, \"year\": null,"
	             " \"device_type\": \"heat_pump\"}}");
}

/* Runs body_text in mode against current; asserts one error naming field with detail. */
static void refused(enum field_mode mode, const char *body_text, json_t *current, const char *field,
                    const char *want_detail)
{
	json_t *body = parse(body_text), *clean, *errors;
	if (run(rules, mode, body, current, &clean, &errors) != FD_EINVALID)
		fail_msg("%s should be refused in mode %d", body_text, mode);
	const char *d = error_for(errors, field);
	if (!d)
		fail_msg("%s: no error naming %s", body_text, field);
	assert_string_equal(d, want_detail);
	assert_int_equal(json_array_size(errors), 1);
	json_decref(errors);
	json_decref(body);
}

static void test_state_field_in_update_is_refused_unless_equal_to_current(void **state)
{
	json_t *cur = current_record(), *clean, *errors;
	refused(FM_UPDATE, "{\"reading\": 21.0}", cur, "reading",
	        "is reported by the device's integration (POST .../state), not set by PUT");
	refused(FM_UPDATE, "{\"reading\": 21.0}", NULL, "reading",
	        "is reported by the device's integration (POST .../state), not set by PUT");
	refused(FM_UPDATE, "{\"device_model\": {\"manufacturer\": \"Daikin\"}}", cur, "device_model",
	        "is reported by the device's integration (POST .../state), not set by PUT");
	/* equal to the stored value: accepted, and not part of the change */
	json_t *body = parse("{\"reading\": 20.5, \"level\": 60, \"device_model\": {\"manufacturer\": \"Vaillant\","
	                     " \"model\": null, \"year\": null, \"device_type\": \"heat_pump\"}}");
	assert_int_equal(run(rules, FM_UPDATE, body, cur, &clean, &errors), FD_OK);
	assert_int_equal(json_object_size(clean), 1);
	assert_true(json_real_value(json_object_get(clean, "level")) == 60.0);
	json_decref(clean);
	json_decref(body);
	json_decref(cur);
}

static void test_state_field_sent_as_an_integer_equal_to_the_stored_real_is_accepted(void **state)
{
	/* JSON does not tell 20 from 20.0: a client that re-serialises a GET body sends 20 */
	json_t *cur = parse("{\"reading\": 20.0, \"level\": 50.0}");
	json_t *body = parse("{\"reading\": 20, \"level\": 50}");
	json_t *clean = NULL, *errors = NULL;
	enum fd_err rc = fields_validate(rules, FM_UPDATE, body, cur, &clean, &errors);
	/* only the setting is part of the change */
	int only_level = rc == FD_OK && json_object_size(clean) == 1 && json_object_get(clean, "level");
	json_decref(clean);
	json_decref(errors);
	json_decref(body);
	json_decref(cur);
	/*
	 * At commit 54fc98f this was a bug: FD_EINVALID, "reading" refused ("is
	 * reported by the device's integration ..."), because fields_validate()
	 * (src/api/fields.c) compared by json_equal(), which holds integer 20 and
	 * real 20.0 unequal.
	 */
	assert_int_equal(rc, FD_OK);
	assert_true(only_level);
}

static void test_setting_in_a_state_report_is_refused(void **state)
{
	json_t *cur = current_record(), *clean, *errors;
	refused(FM_STATE, "{\"level\": 60}", cur, "level", "is a setting, not part of a state report (use PUT)");
	refused(FM_STATE, "{\"level\": 60}", NULL, "level", "is a setting, not part of a state report (use PUT)");
	json_t *body = parse("{\"reading\": -3.5, \"device_model\": {\"year\": 2020}}");
	assert_int_equal(run(rules, FM_STATE, body, NULL, &clean, &errors), FD_OK);
	assert_int_equal(json_object_size(clean), 2);
	assert_true(json_real_value(json_object_get(clean, "reading")) == -3.5);
	json_decref(clean);
	json_decref(body);
	json_decref(cur);
}

static void test_create_accepts_settings_and_state_fields(void **state)
{
	json_t *body = parse("{\"enabled\": false, \"reading\": 1, \"device_model\": {\"year\": 2020}}"), *clean,
	       *errors;
	assert_int_equal(run(rules, FM_CREATE, body, NULL, &clean, &errors), FD_OK);
	assert_int_equal(json_object_size(clean), 3);
	json_decref(clean);
	json_decref(body);
}

static void test_output_field_is_refused_in_every_mode(void **state)
{
	static const enum field_mode modes[] = {FM_CREATE, FM_UPDATE, FM_STATE};
	for (size_t m = 0; m < 3; m++) {
		refused(modes[m], "{\"id\": \"0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11\"}", NULL, "id", "is read-only");
		refused(modes[m], "{\"created_at\": null}", NULL, "created_at", "is read-only");
		refused(modes[m], "{\"score\": 7}", NULL, "score", "is computed by the server");
	}
	json_t *cur = current_record();
	refused(FM_UPDATE, "{\"id\": \"11111111-1d2e-4c61-9a3c-6f0b0f3c2e11\"}", cur, "id", "is read-only");
	refused(FM_UPDATE, "{\"score\": 8}", cur, "score", "is computed by the server");
	json_decref(cur);
}

static void test_output_field_equal_to_current_is_accepted_and_dropped(void **state)
{
	json_t *cur = current_record(), *clean, *errors;
	json_t *body = parse("{\"id\": \"0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11\", \"score\": 7,"
	                     " \"created_at\": \"2026-11-27T07:20:00.000Z\", \"enabled\": false}");
	assert_int_equal(run(rules, FM_UPDATE, body, cur, &clean, &errors), FD_OK);
	assert_int_equal(json_object_size(clean), 1);
	assert_true(json_is_false(json_object_get(clean, "enabled")));
	json_decref(clean);
	json_decref(body);
	json_decref(cur);
}

static void test_unknown_field_is_refused_naming_it(void **state)
{
	refused(FM_CREATE, "{\"colour_name\": \"red\"}", NULL, "colour_name", "is not a known field");
	json_t *cur = current_record();
	refused(FM_UPDATE, "{\"password\": \"hunter2\"}", cur, "password", "is not a known field");
	refused(FM_STATE, "{\"Level\": 1}", cur, "Level", "is not a known field");
	json_decref(cur);
}

static void test_every_error_is_reported_and_names_its_field(void **state)
{
	json_t *body =
	           parse("{\"enabled\": 1, \"level\": 101, \"count\": 1.5, \"label\": \"a\\nb\", \"colour\": \"pink\","
	                 " \"at\": \"now\", \"deadline\": \"24:00\", \"ref\": \"x\", \"link\": \"ftp://x\","
	                 " \"country\": \"XX\", \"device_model\": 5, \"energy_prices\": {}, \"reading\": 99,"
	                 " \"id\": \"x\", \"score\": 1, \"nickname\": \"x\"}"),
	       *clean, *errors;
	assert_int_equal(run(rules, FM_CREATE, body, NULL, &clean, &errors), FD_EINVALID);
	static const char *const named[] = {"enabled",  "level", "count", "label",   "colour",       "at",
	                                    "deadline", "ref",   "link",  "country", "device_model", "energy_prices",
	                                    "reading",  "id",    "score", "nickname"};
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		if (!error_for(errors, named[i]))
			fail_msg("no error names %s", named[i]);
	}
	assert_int_equal(json_array_size(errors), sizeof named / sizeof named[0]);
	json_decref(errors);
	json_decref(body);
}

static void test_empty_body_is_valid_in_every_mode(void **state)
{
	static const enum field_mode modes[] = {FM_CREATE, FM_UPDATE, FM_STATE};
	for (size_t m = 0; m < 3; m++) {
		json_t *body = json_object(), *clean, *errors;
		assert_int_equal(run(rules, modes[m], body, NULL, &clean, &errors), FD_OK);
		assert_int_equal(json_object_size(clean), 0);
		json_decref(clean);
		json_decref(body);
	}
}

/* ------------------------------------------------------------------ defaults, order, find */

static void test_defaults_hold_every_settable_field_and_nothing_else(void **state)
{
	json_t *d = fields_defaults(rules);
	json_t *want = parse("{\"enabled\": true, \"level\": 50.0, \"count\": 1, \"label\": null, \"colour\": \"red\","
	                     " \"at\": null, \"deadline\": \"07:00\", \"ref\": null, \"link\": null, \"country\": null,"
	                     " \"device_model\": null, \"energy_prices\": [], \"reading\": null}");
	if (!json_equal(d, want)) {
		char *s = dump(d);
		fail_msg("defaults: %s", s);
	}
	assert_true(json_is_real(json_object_get(d, "level")));
	assert_true(json_is_integer(json_object_get(d, "count")));
	/* in the table's order */
	const char *key;
	json_t *v;
	const struct field_rule *r = rules;
	json_object_foreach(d, key, v)
	{
		while (r->name && strcmp(r->name, key) != 0)
			r++;
		if (!r->name)
			fail_msg("default %s out of order", key);
	}
	json_decref(want);
	json_decref(d);
}

static void test_ordered_follows_the_table_fills_nulls_and_drops_the_rest(void **state)
{
	json_t *rec = parse("{\"secret\": \"x\", \"reading\": 1.5, \"created_at\": \"2026-11-27T07:20:00.000Z\","
	                    " \"id\": \"i\", \"colour\": \"blue\"}");
	json_t *o = fields_ordered(rules, rec);
	assert_null(json_object_get(o, "secret"));
	size_t n = 0;
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		assert_non_null(rules[n].name);
		assert_string_equal(key, rules[n].name);
		n++;
	}
	assert_null(rules[n].name);
	assert_string_equal(json_string_value(json_object_get(o, "id")), "i");
	assert_string_equal(json_string_value(json_object_get(o, "colour")), "blue");
	assert_true(json_real_value(json_object_get(o, "reading")) == 1.5);
	assert_true(json_is_null(json_object_get(o, "label")));
	assert_true(json_is_null(json_object_get(o, "score")));
	json_decref(o);
	json_decref(rec);
}

static void test_find_and_text_helpers(void **state)
{
	assert_ptr_equal(fields_find(rules, "level"), &rules[2]);
	assert_null(fields_find(rules, "lev"));
	assert_null(fields_find(rules, ""));
	assert_int_equal(fields_utf8_chars(""), 0);
	assert_int_equal(fields_utf8_chars("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x8f\xa0"), 4);
	assert_false(fields_has_control("M\xc3\xbcller\xc2\xa0"));
	assert_true(fields_has_control("a\x7f"));
	assert_true(fields_has_control("\xc2\x80"));
}

/* ------------------------------------------------------------------ devices: create */

static json_t *device_create(int type, const char *body_text)
{
	json_t *body = parse(body_text), *clean = NULL, *errors = NULL;
	enum fd_err rc = device_fields_validate(type, FM_CREATE, body, NULL, &clean, &errors);
	if (rc != FD_OK) {
		char *s = errors ? dump(errors) : NULL;
		fail_msg("create %s: %s %s", body_text, fd_err_name(rc), s ? s : "");
	}
	json_decref(body);
	return clean;
}

/* device_fields_validate expecting FD_EINVALID; returns the errors. */
static json_t *device_invalid(int type, enum field_mode mode, const char *body_text, json_t *current)
{
	json_t *body = parse(body_text), *clean = NULL, *errors = NULL;
	enum fd_err rc = device_fields_validate(type, mode, body, current, &clean, &errors);
	if (rc != FD_EINVALID) {
		char *s = clean ? dump(clean) : NULL;
		fail_msg("%s should be invalid: %s %s", body_text, fd_err_name(rc), s ? s : "");
	}
	assert_null(clean);
	json_decref(body);
	return errors;
}

static json_t *device_valid(int type, enum field_mode mode, const char *body_text, json_t *current)
{
	json_t *body = parse(body_text), *clean = NULL, *errors = NULL;
	enum fd_err rc = device_fields_validate(type, mode, body, current, &clean, &errors);
	if (rc != FD_OK) {
		char *s = errors ? dump(errors) : NULL;
		fail_msg("%s should be valid: %s %s", body_text, fd_err_name(rc), s ? s : "");
	}
	json_decref(body);
	return clean;
}

/* Asserts errors holds exactly one entry, naming field with detail. */
static void only_error(json_t *errors, const char *field, const char *detail)
{
	const char *d = error_for(errors, field);
	if (!d) {
		char *s = dump(errors);
		fail_msg("no error naming %s in %s", field, s);
	}
	assert_string_equal(d, detail);
	assert_int_equal(json_array_size(errors), 1);
}

static void test_create_heat_pump_returns_the_defaults_merged(void **state)
{
	json_t *d = device_create(DEV_HEAT_PUMP, "{\"comment\": \"cellar\"}");
	assert_true(json_is_real(json_object_get(d, "maximum_temperature_limit")));
	assert_true(json_real_value(json_object_get(d, "maximum_temperature_limit")) == 24.0);
	assert_true(json_real_value(json_object_get(d, "minimum_temperature_limit")) == 18.0);
	assert_true(json_real_value(json_object_get(d, "indoor_target_temperature")) == 21.0);
	assert_true(json_real_value(json_object_get(d, "minimum_dhw_temperature_limit")) == 40.0);
	assert_true(json_real_value(json_object_get(d, "dhw_standard_temperature")) == 50.0);
	assert_string_equal(json_string_value(json_object_get(d, "optimization_level")), "Mid");
	assert_string_equal(json_string_value(json_object_get(d, "comment")), "cellar");
	assert_string_equal(json_string_value(json_object_get(d, "lifecycle_state")), "active");
	assert_string_equal(json_string_value(json_object_get(d, "connection_status")), "unknown");
	assert_true(json_is_false(json_object_get(d, "is_authenticated")));
	assert_true(json_is_true(json_object_get(d, "is_smart_optimization_active")));
	assert_true(json_is_null(json_object_get(d, "pause_power_until")));
	json_t *want_model =
	    parse("{\"manufacturer\": null, \"model\": null, \"year\": null, \"device_type\": \"heat_pump\"}");
	assert_true(json_equal(json_object_get(d, "device_model"), want_model));
	json_decref(want_model);
	/* nothing the server computes */
	static const char *const out[] = {
	    "id",         "user_id",   "building", "is_pause_power_active", "actions", "consumption_last_day_kwh",
	    "created_at", "deleted_at"};
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		if (json_object_get(d, out[i]))
			fail_msg("create returned output field %s", out[i]);
	json_decref(d);
}

static void test_create_ev_and_inverter_defaults(void **state)
{
	json_t *d = device_create(DEV_EV, "{}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "device_model"), "device_type")),
	                    "electric_vehicle");
	assert_string_equal(json_string_value(json_object_get(d, "charge_deadline_at")), "07:00");
	assert_true(json_real_value(json_object_get(d, "minimum_charge_limit")) == 20.0);
	assert_true(json_real_value(json_object_get(d, "charge_target_min")) == 50.0);
	assert_true(json_real_value(json_object_get(d, "charge_target_max")) == 80.0);
	assert_string_equal(json_string_value(json_object_get(d, "boost_state")), "unavailable");
	json_decref(d);
	d = device_create(DEV_INVERTER, "{}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "device_model"), "device_type")),
	                    "inverter");
	assert_true(json_real_value(json_object_get(d, "min_battery_charge")) == 10.0);
	assert_true(json_real_value(json_object_get(d, "max_battery_charge")) == 100.0);
	assert_true(json_is_false(json_object_get(d, "is_battery_connected")));
	json_decref(d);
}

static void test_create_merges_a_partial_model_into_the_default(void **state)
{
	json_t *d = device_create(DEV_EV, "{\"device_model\": {\"manufacturer\": \"Tesla\", \"year\": 2023}}");
	json_t *want = parse("{\"manufacturer\": \"Tesla\", \"model\": null, \"year\": 2023,"
	                     " \"device_type\": \"electric_vehicle\"}");
	assert_true(json_equal(json_object_get(d, "device_model"), want));
	json_decref(want);
	json_decref(d);
	/* a device type the client names is kept (a wallbox is an electric-vehicles device) */
	d = device_create(DEV_EV, "{\"device_model\": {\"device_type\": \"wallbox\"}}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "device_model"), "device_type")),
	                    "wallbox");
	json_decref(d);
}

static void test_create_accepts_state_fields_and_normalises_them(void **state)
{
	json_t *d =
	    device_create(DEV_HEAT_PUMP, "{\"is_authenticated\": true, \"authorization_url\": \"" URL "\","
	                                 " \"current_state_last_updated_at\": \"2026-11-27T09:20:00+02:00\","
	                                 " \"indoor_actual_temperature\": 20, \"building_id\": \"" BUILDING "\"}");
	assert_true(json_is_true(json_object_get(d, "is_authenticated")));
	assert_string_equal(json_string_value(json_object_get(d, "current_state_last_updated_at")),
	                    "2026-11-27T07:20:00.000Z");
	assert_true(json_is_real(json_object_get(d, "indoor_actual_temperature")));
	assert_string_equal(json_string_value(json_object_get(d, "building_id")), BUILDING);
	json_decref(d);
}

static void test_create_refuses_output_fields_with_their_reason(void **state)
{
	json_t *e = device_invalid(DEV_HEAT_PUMP, FM_CREATE, "{\"consumption_last_day_kwh\": 1.0}", NULL);
	only_error(e, "consumption_last_day_kwh",
	           "is derived from the device's readings (POST .../state with readings), not set by hand");
	json_decref(e);
	e = device_invalid(DEV_HEAT_PUMP, FM_CREATE, "{\"building\": \"" BUILDING "\"}", NULL);
	only_error(e, "building", "is the building's id; send building_id to change it");
	json_decref(e);
	e = device_invalid(DEV_INVERTER, FM_CREATE, "{\"production_last_week_kwh\": 0.0}", NULL);
	assert_non_null(error_for(e, "production_last_week_kwh"));
	json_decref(e);
	e = device_invalid(DEV_EV, FM_CREATE, "{\"actions\": []}", NULL);
	only_error(e, "actions", "lists what the device needs; it follows is_authenticated");
	json_decref(e);
	e = device_invalid(DEV_EV, FM_CREATE, "{\"id\": \"" BUILDING "\"}", NULL);
	only_error(e, "id", "is read-only");
	json_decref(e);
}

/* ------------------------------------------------------------------ devices: checks across fields */

static void test_heat_pump_minimum_above_maximum(void **state)
{
	json_t *e = device_invalid(DEV_HEAT_PUMP, FM_CREATE,
	                           "{\"minimum_temperature_limit\": 25, \"maximum_temperature_limit\": 20,"
	                           " \"indoor_target_temperature\": 22}",
	                           NULL);
	/* both sent: under the minimum */
	assert_string_equal(error_for(e, "minimum_temperature_limit"),
	                    "must not be greater than maximum_temperature_limit");
	json_decref(e);
	json_t *cur = device_create(DEV_HEAT_PUMP, "{}");
	/* only the minimum sent, above the stored target and maximum */
	e = device_invalid(DEV_HEAT_PUMP, FM_UPDATE, "{\"minimum_temperature_limit\": 30}", cur);
	assert_non_null(error_for(e, "minimum_temperature_limit"));
	assert_null(error_for(e, "maximum_temperature_limit"));
	assert_null(error_for(e, "indoor_target_temperature"));
	json_decref(e);
	json_decref(cur);
}

static void test_heat_pump_target_outside_the_limits(void **state)
{
	json_t *e = device_invalid(DEV_HEAT_PUMP, FM_CREATE, "{\"indoor_target_temperature\": 30}", NULL);
	only_error(e, "indoor_target_temperature", "must not be greater than maximum_temperature_limit");
	json_decref(e);
	e = device_invalid(DEV_HEAT_PUMP, FM_CREATE, "{\"indoor_target_temperature\": 10}", NULL);
	only_error(e, "indoor_target_temperature", "must not be less than minimum_temperature_limit");
	json_decref(e);
	json_t *cur = device_create(DEV_HEAT_PUMP, "{}"); /* 18 <= 21 <= 24 */
	e = device_invalid(DEV_HEAT_PUMP, FM_UPDATE, "{\"maximum_temperature_limit\": 20}", cur);
	only_error(e, "maximum_temperature_limit", "must not be less than indoor_target_temperature");
	json_decref(e);
	e = device_invalid(DEV_HEAT_PUMP, FM_UPDATE, "{\"minimum_temperature_limit\": 22}", cur);
	only_error(e, "minimum_temperature_limit", "must not be greater than indoor_target_temperature");
	json_decref(e);
	/* on the limits is inside */
	json_decref(device_valid(DEV_HEAT_PUMP, FM_UPDATE, "{\"indoor_target_temperature\": 24}", cur));
	json_decref(device_valid(DEV_HEAT_PUMP, FM_UPDATE,
	                         "{\"minimum_temperature_limit\": 20, \"maximum_temperature_limit\": 20,"
	                         " \"indoor_target_temperature\": 20}",
	                         cur));
	json_decref(cur);
}

static void test_heat_pump_dhw_minimum_above_standard(void **state)
{
	json_t *e = device_invalid(DEV_HEAT_PUMP, FM_CREATE, "{\"minimum_dhw_temperature_limit\": 55}", NULL);
	only_error(e, "minimum_dhw_temperature_limit", "must not be greater than dhw_standard_temperature");
	json_decref(e);
	e = device_invalid(DEV_HEAT_PUMP, FM_CREATE, "{\"dhw_standard_temperature\": 35}", NULL);
	only_error(e, "dhw_standard_temperature", "must not be less than minimum_dhw_temperature_limit");
	json_decref(e);
}

static void test_heat_pump_away_start_after_end(void **state)
{
	json_t *e = device_invalid(DEV_HEAT_PUMP, FM_CREATE,
	                           "{\"away_mode_start\": \"2026-12-02T00:00:00Z\","
	                           " \"away_mode_end\": \"2026-12-01T00:00:00Z\"}",
	                           NULL);
	only_error(e, "away_mode_start", "must not be greater than away_mode_end");
	json_decref(e);
	/* compared as instants: 01:00+02:00 on the 1st is 23:00Z on the 30th, before the end */
	json_t *cur = device_create(DEV_HEAT_PUMP, "{\"away_mode_start\": \"2026-12-01T01:00:00+02:00\","
	                                           " \"away_mode_end\": \"2026-12-01T00:00:00Z\"}");
	assert_string_equal(json_string_value(json_object_get(cur, "away_mode_start")), "2026-11-30T23:00:00.000Z");
	/* only the end sent, before the stored start: under the end */
	e = device_invalid(DEV_HEAT_PUMP, FM_UPDATE, "{\"away_mode_end\": \"2026-11-30T22:00:00Z\"}", cur);
	only_error(e, "away_mode_end", "must not be less than away_mode_start");
	json_decref(e);
	/* equal is fine, and a null end means no check */
	json_decref(device_valid(DEV_HEAT_PUMP, FM_UPDATE, "{\"away_mode_end\": \"2026-11-30T23:00:00Z\"}", cur));
	json_decref(device_valid(DEV_HEAT_PUMP, FM_UPDATE, "{\"away_mode_end\": null}", cur));
	json_decref(cur);
}

static void test_ev_charge_limits_in_order(void **state)
{
	json_t *e = device_invalid(DEV_EV, FM_CREATE, "{\"minimum_charge_limit\": 60}", NULL);
	only_error(e, "minimum_charge_limit", "must not be greater than charge_target_min");
	json_decref(e);
	json_t *cur = device_create(DEV_EV, "{}"); /* 20 <= 50 <= 80 */
	e = device_invalid(DEV_EV, FM_UPDATE, "{\"charge_target_min\": 10}", cur);
	only_error(e, "charge_target_min", "must not be less than minimum_charge_limit");
	json_decref(e);
	e = device_invalid(DEV_EV, FM_UPDATE, "{\"charge_target_min\": 90}", cur);
	only_error(e, "charge_target_min", "must not be greater than charge_target_max");
	json_decref(e);
	e = device_invalid(DEV_EV, FM_UPDATE, "{\"charge_target_max\": 40}", cur);
	only_error(e, "charge_target_max", "must not be less than charge_target_min");
	json_decref(e);
	json_decref(device_valid(DEV_EV, FM_UPDATE,
	                         "{\"minimum_charge_limit\": 50, \"charge_target_min\": 50, \"charge_target_max\": 50}",
	                         cur));
	json_decref(cur);
}

static void test_inverter_min_battery_above_max(void **state)
{
	json_t *e =
	    device_invalid(DEV_INVERTER, FM_CREATE, "{\"min_battery_charge\": 50, \"max_battery_charge\": 40}", NULL);
	only_error(e, "min_battery_charge", "must not be greater than max_battery_charge");
	json_decref(e);
	json_t *cur = device_create(DEV_INVERTER, "{}"); /* 10 <= 100 */
	e = device_invalid(DEV_INVERTER, FM_UPDATE, "{\"max_battery_charge\": 5}", cur);
	only_error(e, "max_battery_charge", "must not be less than min_battery_charge");
	json_decref(e);
	json_decref(device_valid(DEV_INVERTER, FM_UPDATE, "{\"max_battery_charge\": 10}", cur));
	json_decref(cur);
}

static void test_range_error_comes_before_the_cross_check(void **state)
{
	/* 40 is outside 5..30: reported as a range error, with no cross-check on a value never accepted */
	json_t *e = device_invalid(DEV_HEAT_PUMP, FM_CREATE, "{\"minimum_temperature_limit\": 40}", NULL);
	only_error(e, "minimum_temperature_limit", "must be between 5 and 30");
	json_decref(e);
}

/* ------------------------------------------------------------------ devices: update and state */

static void test_update_returns_only_the_fields_sent(void **state)
{
	json_t *cur = device_create(DEV_HEAT_PUMP, "{}");
	json_t *c = device_valid(DEV_HEAT_PUMP, FM_UPDATE,
	                         "{\"is_smart_optimization_active\": true, \"pause_power_until\": null}", cur);
	assert_int_equal(json_object_size(c), 2);
	json_decref(c);
	json_t *e = device_invalid(DEV_HEAT_PUMP, FM_UPDATE, "{\"is_authenticated\": true}", cur);
	only_error(e, "is_authenticated", "is reported by the device's integration (POST .../state), not set by PUT");
	json_decref(e);
	json_decref(cur);
}

static void test_get_body_sent_back_as_put_is_accepted(void **state)
{
	json_t *dev = device_create(DEV_HEAT_PUMP, "{\"building_id\": \"" BUILDING "\"}");
	json_object_set_new(dev, "id", json_string("0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11"));
	json_t *view = device_view(DEV_HEAT_PUMP, dev, NOW_MS);
	json_t *body = json_deep_copy(view);
	json_object_set_new(body, "comment", json_string("moved"));
	json_t *clean = NULL, *errors = NULL;
	assert_int_equal(device_fields_validate(DEV_HEAT_PUMP, FM_UPDATE, body, view, &clean, &errors), FD_OK);
	assert_string_equal(json_string_value(json_object_get(clean, "comment")), "moved");
	assert_null(json_object_get(clean, "id"));
	assert_null(json_object_get(clean, "building"));
	assert_null(json_object_get(clean, "is_authenticated"));
	assert_null(json_object_get(clean, "actions"));
	json_decref(clean);
	json_decref(body);
	json_decref(view);
	json_decref(dev);
}

static void test_state_report_without_current_returns_the_fields_sent(void **state)
{
	json_t *c = device_valid(DEV_HEAT_PUMP, FM_STATE,
	                         "{\"is_authenticated\": false, \"authorization_url\": \"" URL "\","
	                         " \"device_model\": {\"model\": \"X\"}}",
	                         NULL);
	assert_int_equal(json_object_size(c), 3);
	/* no defaults and no merging: the store completes the stored model */
	json_t *want = parse("{\"model\": \"X\"}");
	assert_true(json_equal(json_object_get(c, "device_model"), want));
	json_decref(want);
	json_decref(c);
	json_t *e = device_invalid(DEV_EV, FM_STATE, "{\"charge_target_min\": 40}", NULL);
	only_error(e, "charge_target_min", "is a setting, not part of a state report (use PUT)");
	json_decref(e);
}

static void test_state_report_with_current_completes_the_stored_model(void **state)
{
	json_t *cur = device_create(DEV_HEAT_PUMP, "{\"device_model\": {\"manufacturer\": \"Vaillant\"}}");
	json_t *c = device_valid(DEV_HEAT_PUMP, FM_STATE, "{\"device_model\": {\"year\": 2021}}", cur);
	json_t *want =
	    parse("{\"manufacturer\": \"Vaillant\", \"model\": null, \"year\": 2021, \"device_type\": \"heat_pump\"}");
	assert_true(json_equal(json_object_get(c, "device_model"), want));
	json_decref(want);
	json_decref(c);
	/* the stored record is not changed by validation */
	assert_true(json_is_null(json_object_get(json_object_get(cur, "device_model"), "year")));
	json_decref(cur);
}

/* ------------------------------------------------------------------ devices: the view */

static json_t *view_of(int type, const char *dev_text, int64_t now_ms)
{
	json_t *dev = parse(dev_text);
	json_t *v = device_view(type, dev, now_ms);
	assert_non_null(v);
	json_decref(dev);
	return v;
}

static void test_view_building_mirrors_building_id(void **state)
{
	json_t *v = view_of(DEV_HEAT_PUMP, "{\"building_id\": \"" BUILDING "\", \"building\": \"stale\"}", NOW_MS);
	assert_string_equal(json_string_value(json_object_get(v, "building")), BUILDING);
	assert_string_equal(json_string_value(json_object_get(v, "building_id")), BUILDING);
	json_decref(v);
	v = view_of(DEV_EV, "{\"building_id\": null}", NOW_MS);
	assert_true(json_is_null(json_object_get(v, "building")));
	json_decref(v);
	v = view_of(DEV_INVERTER, "{}", NOW_MS);
	assert_non_null(json_object_get(v, "building"));
	assert_true(json_is_null(json_object_get(v, "building")));
	json_decref(v);
}

static void check_pause(const char *until_json, int want)
{
	char text[160];
	snprintf(text, sizeof text, "{\"pause_power_until\": %s, \"is_pause_power_active\": %s}", until_json,
	         want ? "false" : "true"); /* a stored flag is ignored */
	json_t *v = view_of(DEV_HEAT_PUMP, text, NOW_MS);
	json_t *p = json_object_get(v, "is_pause_power_active");
	assert_true(json_is_boolean(p));
	if (json_is_true(p) != want)
		fail_msg("pause_power_until %s at 07:20Z: is_pause_power_active %d, want %d", until_json,
		         json_is_true(p), want);
	json_decref(v);
}

static void test_view_pause_is_active_only_for_a_future_pause(void **state)
{
	check_pause("\"2026-11-27T07:20:00.001Z\"", 1);
	check_pause("\"2026-11-28T00:00:00.000Z\"", 1);
	check_pause("\"2026-11-27T07:20:00.000Z\"", 0); /* ends now */
	check_pause("\"2026-11-27T07:19:59.999Z\"", 0);
	check_pause("null", 0);
	check_pause("\"garbage\"", 0);
}

static void test_view_actions_follow_is_authenticated(void **state)
{
	json_t *v = view_of(DEV_HEAT_PUMP, "{\"is_authenticated\": false, \"authorization_url\": \"" URL "\"}", NOW_MS);
	json_t *want = parse("[{\"code\": \"reauthenticate\", \"resolution_link\": \"" URL "\"}]");
	assert_true(json_equal(json_object_get(v, "actions"), want));
	json_decref(want);
	json_decref(v);

	v = view_of(DEV_EV, "{\"is_authenticated\": false, \"authorization_url\": null}", NOW_MS);
	want = parse("[{\"code\": \"reauthenticate\", \"resolution_link\": null}]");
	assert_true(json_equal(json_object_get(v, "actions"), want));
	json_decref(v);
	v = view_of(DEV_EV, "{}", NOW_MS);
	assert_true(json_equal(json_object_get(v, "actions"), want));
	json_decref(want);
	json_decref(v);

	v = view_of(DEV_INVERTER,
	            "{\"is_authenticated\": true, \"authorization_url\": \"" URL "\","
	            " \"actions\": [{\"code\": \"old\"}]}",
	            NOW_MS);
	assert_true(json_is_array(json_object_get(v, "actions")));
	assert_int_equal(json_array_size(json_object_get(v, "actions")), 0);
	json_decref(v);
}

static void test_view_has_the_type_fields_in_order_and_nothing_else(void **state)
{
	for (int t = 0; t < DEV_TYPES; t++) {
		json_t *v = view_of(t, "{\"internal_secret\": \"x\", \"comment\": \"c\"}", NOW_MS);
		const struct field_rule *r = device_types[t].rules;
		size_t n = 0;
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x)
		{
			assert_non_null(r[n].name);
			assert_string_equal(key, r[n].name);
			n++;
		}
		assert_null(r[n].name);
		assert_null(json_object_get(v, "internal_secret"));
		assert_string_equal(json_string_value(json_object_get(v, "comment")), "c");
		json_decref(v);
	}
}

static void test_device_types_paths_and_keys(void **state)
{
	assert_string_equal(device_types[DEV_HEAT_PUMP].path, "heat-pumps");
	assert_string_equal(device_types[DEV_HEAT_PUMP].key, "heat_pumps");
	assert_string_equal(device_types[DEV_EV].path, "electric-vehicles");
	assert_string_equal(device_types[DEV_EV].key, "electric_vehicles");
	assert_string_equal(device_types[DEV_INVERTER].path, "inverters");
	assert_string_equal(device_types[DEV_INVERTER].key, "inverters");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bool_accepts_true_and_false_only),
	    cmocka_unit_test(test_num_range_edges_are_inclusive),
	    cmocka_unit_test(test_num_integer_is_stored_as_a_real),
	    cmocka_unit_test(test_num_rejects_other_types),
	    cmocka_unit_test(test_int_range_edges_are_inclusive),
	    cmocka_unit_test(test_int_rejects_a_fraction_and_other_types),
	    cmocka_unit_test(test_str_length_counts_characters_not_bytes),
	    cmocka_unit_test(test_str_with_control_characters_is_rejected),
	    cmocka_unit_test(test_str_with_nul_or_of_another_type_is_rejected),
	    cmocka_unit_test(test_str_null_clears_an_ff_null_field),
	    cmocka_unit_test(test_enum_accepts_its_choices_exactly),
	    cmocka_unit_test(test_enum_error_lists_the_choices),
	    cmocka_unit_test(test_time_is_normalised_to_utc_with_milliseconds),
	    cmocka_unit_test(test_time_that_does_not_parse_is_rejected),
	    cmocka_unit_test(test_hhmm_edges),
	    cmocka_unit_test(test_uuid),
	    cmocka_unit_test(test_url_accepts_http_and_https),
	    cmocka_unit_test(test_url_rejects_other_schemes_spaces_and_controls),
	    cmocka_unit_test(test_url_of_2048_bytes_is_accepted_and_2049_rejected),
	    cmocka_unit_test(test_country_is_upper_cased),
	    cmocka_unit_test(test_country_unknown_or_malformed_is_rejected),
	    cmocka_unit_test(test_model_accepts_its_four_fields_and_nulls),
	    cmocka_unit_test(test_model_sub_field_errors_name_the_sub_field),
	    cmocka_unit_test(test_model_that_is_not_an_object_is_rejected),
	    cmocka_unit_test(test_nested_error_pointer_is_a_json_pointer_into_the_body),
	    cmocka_unit_test(test_prices_are_normalised),
	    cmocka_unit_test(test_prices_of_the_wrong_shape_are_rejected),
	    cmocka_unit_test(test_prices_item_errors_name_the_item_and_its_field),
	    cmocka_unit_test(test_prices_at_most_10000),
	    cmocka_unit_test(test_state_field_in_update_is_refused_unless_equal_to_current),
	    cmocka_unit_test(test_state_field_sent_as_an_integer_equal_to_the_stored_real_is_accepted),
	    cmocka_unit_test(test_setting_in_a_state_report_is_refused),
	    cmocka_unit_test(test_create_accepts_settings_and_state_fields),
	    cmocka_unit_test(test_output_field_is_refused_in_every_mode),
	    cmocka_unit_test(test_output_field_equal_to_current_is_accepted_and_dropped),
	    cmocka_unit_test(test_unknown_field_is_refused_naming_it),
	    cmocka_unit_test(test_every_error_is_reported_and_names_its_field),
	    cmocka_unit_test(test_empty_body_is_valid_in_every_mode),
	    cmocka_unit_test(test_defaults_hold_every_settable_field_and_nothing_else),
	    cmocka_unit_test(test_ordered_follows_the_table_fills_nulls_and_drops_the_rest),
	    cmocka_unit_test(test_find_and_text_helpers),
	    cmocka_unit_test(test_create_heat_pump_returns_the_defaults_merged),
	    cmocka_unit_test(test_create_ev_and_inverter_defaults),
	    cmocka_unit_test(test_create_merges_a_partial_model_into_the_default),
	    cmocka_unit_test(test_create_accepts_state_fields_and_normalises_them),
	    cmocka_unit_test(test_create_refuses_output_fields_with_their_reason),
	    cmocka_unit_test(test_heat_pump_minimum_above_maximum),
	    cmocka_unit_test(test_heat_pump_target_outside_the_limits),
	    cmocka_unit_test(test_heat_pump_dhw_minimum_above_standard),
	    cmocka_unit_test(test_heat_pump_away_start_after_end),
	    cmocka_unit_test(test_ev_charge_limits_in_order),
	    cmocka_unit_test(test_inverter_min_battery_above_max),
	    cmocka_unit_test(test_range_error_comes_before_the_cross_check),
	    cmocka_unit_test(test_update_returns_only_the_fields_sent),
	    cmocka_unit_test(test_get_body_sent_back_as_put_is_accepted),
	    cmocka_unit_test(test_state_report_without_current_returns_the_fields_sent),
	    cmocka_unit_test(test_state_report_with_current_completes_the_stored_model),
	    cmocka_unit_test(test_view_building_mirrors_building_id),
	    cmocka_unit_test(test_view_pause_is_active_only_for_a_future_pause),
	    cmocka_unit_test(test_view_actions_follow_is_authenticated),
	    cmocka_unit_test(test_view_has_the_type_fields_in_order_and_nothing_else),
	    cmocka_unit_test(test_device_types_paths_and_keys),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
