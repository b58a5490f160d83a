/*
 * test_user_fields.c - the user field rules of README "Users":
 * user_email_problem, user_country_known and user_fields_validate.
 *
 * Bodies are written as JSON text and parsed the way the server does
 * (JSON_REJECT_DUPLICATES), so each test reads like the request it models.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/user_fields.h"
#include "core/util.h"

/* ------------------------------------------------------------------ helpers */

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

/* An ASCII address of exactly total bytes with a local part of local bytes. */
static char *email_of_length(size_t local, size_t total)
{
	/* local "@" domain, domain = labels of 'd' joined by dots, ending ".com" */
	assert_true(total >= local + 1 + 5);
	char *s = malloc(total + 1);
	assert_non_null(s);
	memset(s, 'a', local);
	s[local] = '@';
	size_t dlen = total - local - 1 - 4; /* bytes before ".com" */
	char *d = s + local + 1;
	for (size_t i = 0; i < dlen; i++)
		d[i] = (i % 50 == 49) ? '.' : 'd'; /* labels of 49 characters */
	if (d[dlen - 1] == '.')
		d[dlen - 1] = 'd';
	memcpy(d + dlen, ".com", 5);
	assert_int_equal(strlen(s), total);
	return s;
}

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("bad test JSON: %s: %s", err.text, text);
	return j;
}

/* Runs the validator on body text; the caller decrefs *clean and *errors. */
static enum fd_err validate(const char *body_text, json_t *current, json_t **clean, json_t **errors)
{
	json_t *body = parse(body_text);
	*clean = NULL;
	*errors = NULL;
	enum fd_err rc = user_fields_validate(body, current, clean, errors);
	json_decref(body);
	return rc;
}

/* The detail of the error naming field, or NULL. Also checks the entry's shape. */
static const char *error_for(json_t *errors, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach(errors, i, e)
	{
		const char *f = json_string_value(json_object_get(e, "field"));
		assert_non_null(f);
		if (strcmp(f, field) != 0)
			continue;
		const char *ptr = json_string_value(json_object_get(e, "pointer"));
		assert_non_null(ptr);
		assert_int_equal(ptr[0], '/');
		assert_string_equal(ptr + 1, field);
		const char *detail = json_string_value(json_object_get(e, "detail"));
		assert_non_null(detail);
		return detail;
	}
	return NULL;
}

/* Asserts body_text is valid for create and returns the clean object. */
static json_t *valid_create(const char *body_text)
{
	json_t *clean, *errors;
	enum fd_err rc = validate(body_text, NULL, &clean, &errors);
	if (rc != FD_OK) {
		char *s = errors ? json_dumps(errors, JSON_COMPACT) : NULL;
		fail_msg("expected valid, got %d: %s", rc, s ? s : "(no errors)");
	}
	assert_non_null(clean);
	assert_null(errors);
	return clean;
}

/* Asserts body_text is invalid for create and returns the errors array. */
static json_t *invalid_create(const char *body_text)
{
	json_t *clean, *errors;
	assert_int_equal(validate(body_text, NULL, &clean, &errors), FD_EINVALID);
	assert_null(clean);
	assert_true(json_is_array(errors));
	assert_true(json_array_size(errors) > 0);
	return errors;
}

/* A stored user, as the store hands it to an update. */
static json_t *current_user(void)
{
	return parse("{\"id\": \"0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11\","
	             " \"org_id\": \"7d3f0c8e-5a4b-4f7e-8b2a-1c9d8e7f6a50\","
	             " \"role\": \"user\", \"external_user_id\": \"customer_12345\","
	             " \"email\": \"john.doe@example.com\", \"first_name\": \"John\", \"last_name\": \"Doe\","
	             " \"street_and_number\": null, \"street_add_info\": null, \"zip_code\": null,"
	             " \"town\": null, \"country_iso2\": null,"
	             " \"created_at\": \"2026-11-27T07:20:00.000Z\", \"updated_at\": \"2026-11-27T07:21:00.000Z\","
	             " \"deleted_at\": null}");
}

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ email: valid */

static void test_email_plain_address_is_accepted(void **state)
{
	assert_null(user_email_problem("john.doe@example.com"));
	assert_null(user_email_problem("a@b.co"));
}

static void test_email_with_plus_addressing_is_accepted(void **state)
{
	assert_null(user_email_problem("john.doe+newsletter@example.com"));
	assert_null(user_email_problem("ops+a+b@example.com"));
}

static void test_email_with_subdomains_is_accepted(void **state)
{
	assert_null(user_email_problem("ops@mail.eu.example.co.uk"));
	assert_null(user_email_problem("x@a-b.c-d.example.museum"));
}

static void test_email_with_utf8_local_part_and_domain_is_accepted(void **state)
{
	assert_null(user_email_problem("j\xc3\xbcrgen@m\xc3\xbcller.de")); /* jürgen@müller.de */
	assert_null(user_email_problem(
	    "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a")); /* 用户@例子.广告 */
	assert_null(user_email_problem("user@example.xn--p1ai"));
}

static void test_email_with_allowed_special_characters_in_local_part_is_accepted(void **state)
{
	assert_null(user_email_problem("o'brien_x-y!#$%&*/=?^`{|}~@example.com"));
}

static void test_email_with_64_character_local_part_is_accepted(void **state)
{
	char *s = email_of_length(64, 64 + 1 + 11);
	assert_null(user_email_problem(s));
	free(s);
}

static void test_email_of_exactly_254_characters_is_accepted(void **state)
{
	char *s = email_of_length(20, 254);
	assert_null(user_email_problem(s));
	free(s);
}

/* ------------------------------------------------------------------ email: invalid */

static void test_email_literal_from_product_doc_is_rejected(void **state)
{
	/* What a copy from the product document's curl example actually contains. */
	assert_non_null(user_email_problem("[email protected] "));
	assert_non_null(user_email_problem("[email protected]"));
}

static void test_email_with_trailing_space_is_rejected(void **state)
{
	assert_string_equal(user_email_problem("john.doe@example.com "), "must not start or end with whitespace");
}

static void test_email_with_leading_space_is_rejected(void **state)
{
	assert_string_equal(user_email_problem(" john.doe@example.com"), "must not start or end with whitespace");
}

static void test_email_with_trailing_tab_or_newline_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john.doe@example.com\t"));
	assert_non_null(user_email_problem("john.doe@example.com\n"));
	assert_non_null(user_email_problem("john.doe@example.com\r\n"));
	assert_non_null(user_email_problem("\tjohn.doe@example.com"));
}

static void test_email_with_surrounding_unicode_whitespace_is_rejected(void **state)
{
	/* README: "no surrounding whitespace". A no-break space is what a copy
	 * from a web page or word processor typically leaves behind. */
	assert_non_null(user_email_problem("john.doe@example.com\xc2\xa0")); /* U+00A0 NO-BREAK SPACE */
	assert_non_null(user_email_problem("\xc2\xa0john.doe@example.com"));
	assert_non_null(user_email_problem("john.doe@example.com\xe2\x80\x83")); /* U+2003 EM SPACE */
	assert_non_null(user_email_problem("\xe3\x80\x80john.doe@example.com")); /* U+3000 IDEOGRAPHIC SPACE */
}

static void test_email_with_space_inside_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john doe@example.com"));
	assert_non_null(user_email_problem("john@exa mple.com"));
}

static void test_email_with_control_character_is_rejected(void **state)
{
	assert_non_null(user_email_problem("jo\x01hn@example.com"));
	assert_non_null(user_email_problem("john@example\x7f.com"));
}

static void test_email_empty_is_rejected(void **state)
{
	assert_string_equal(user_email_problem(""), "must not be empty");
}

static void test_email_without_at_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john.doe.example.com"));
}

static void test_email_with_two_ats_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@doe@example.com"));
	assert_non_null(user_email_problem("john@@example.com"));
}

static void test_email_with_empty_local_part_is_rejected(void **state)
{
	assert_non_null(user_email_problem("@example.com"));
}

static void test_email_with_local_part_over_64_characters_is_rejected(void **state)
{
	char *s = email_of_length(65, 65 + 1 + 11);
	assert_non_null(user_email_problem(s));
	free(s);
}

static void test_email_with_leading_dot_in_local_part_is_rejected(void **state)
{
	assert_non_null(user_email_problem(".john@example.com"));
}

static void test_email_with_trailing_dot_in_local_part_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john.@example.com"));
}

static void test_email_with_double_dot_in_local_part_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john..doe@example.com"));
}

static void test_email_with_disallowed_character_in_local_part_is_rejected(void **state)
{
	assert_non_null(user_email_problem("jo(hn)@example.com"));
	assert_non_null(user_email_problem("jo\"hn@example.com"));
	assert_non_null(user_email_problem("jo,hn@example.com"));
}

static void test_email_without_domain_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@"));
}

static void test_email_without_dot_in_domain_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@localhost"));
}

static void test_email_with_empty_domain_label_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@example..com"));
	assert_non_null(user_email_problem("john@.example.com"));
	assert_non_null(user_email_problem("john@example.com."));
}

static void test_email_with_domain_label_starting_with_hyphen_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@-example.com"));
	assert_non_null(user_email_problem("john@mail.-example.com"));
}

static void test_email_with_domain_label_ending_with_hyphen_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@example-.com"));
}

static void test_email_with_domain_label_over_63_characters_is_rejected(void **state)
{
	char *label = repeat("d", 64);
	char s[128];
	snprintf(s, sizeof s, "john@%s.com", label);
	assert_non_null(user_email_problem(s));
	free(label);
}

static void test_email_with_disallowed_character_in_domain_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@exa_mple.com"));
	assert_non_null(user_email_problem("john@[127.0.0.1]"));
}

static void test_email_with_numeric_tld_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@example.123"));
	assert_non_null(user_email_problem("john@127.0.0.1"));
}

static void test_email_with_one_letter_tld_is_rejected(void **state)
{
	assert_non_null(user_email_problem("john@example.c"));
}

static void test_email_over_254_bytes_is_rejected(void **state)
{
	char *s = email_of_length(20, 255);
	assert_string_equal(user_email_problem(s), "must be at most 254 bytes");
	free(s);
}

/* ------------------------------------------------------------------ country */

static void test_country_assigned_codes_are_known(void **state)
{
	assert_true(user_country_known("DE"));
	assert_true(user_country_known("AT"));
	assert_true(user_country_known("US"));
	assert_true(user_country_known("AD")); /* first in the list */
	assert_true(user_country_known("ZW")); /* last in the list */
	assert_true(user_country_known("GB"));
}

static void test_country_unassigned_codes_are_unknown(void **state)
{
	assert_false(user_country_known("XX"));
	assert_false(user_country_known("UK")); /* reserved, GB is assigned */
	assert_false(user_country_known("EU"));
	assert_false(user_country_known("ZZ"));
}

static void test_country_lower_case_is_unknown(void **state)
{
	assert_false(user_country_known("de"));
	assert_false(user_country_known("De"));
}

static void test_country_wrong_length_is_unknown(void **state)
{
	assert_false(user_country_known("DEU"));
	assert_false(user_country_known("D"));
	assert_false(user_country_known(""));
	assert_false(user_country_known(NULL));
}

/* ------------------------------------------------------------------ validate: create */

static void test_create_without_email_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"first_name\": \"John\"}");
	assert_string_equal(error_for(errors, "email"), "is required");
	assert_int_equal(json_array_size(errors), 1);
	json_decref(errors);
}

static void test_create_empty_body_is_rejected_for_missing_email(void **state)
{
	json_t *errors = invalid_create("{}");
	assert_non_null(error_for(errors, "email"));
	json_decref(errors);
}

static void test_create_without_role_defaults_to_user(void **state)
{
	json_t *clean = valid_create("{\"email\": \"john.doe@example.com\"}");
	assert_string_equal(json_string_value(json_object_get(clean, "role")), "user");
	assert_string_equal(json_string_value(json_object_get(clean, "email")), "john.doe@example.com");
	assert_int_equal(json_object_size(clean), 2);
	json_decref(clean);
}

static void test_create_keeps_a_given_role(void **state)
{
	json_t *clean = valid_create("{\"email\": \"a@example.com\", \"role\": \"staff\"}");
	assert_string_equal(json_string_value(json_object_get(clean, "role")), "staff");
	json_decref(clean);
}

static void test_create_with_product_doc_body_is_rejected_for_email_only(void **state)
{
	json_t *errors = invalid_create("{\"role\": \"user\", \"email\": \"[email protected] \","
	                                " \"external_user_id\": \"customer_12345\", \"first_name\": \"John\","
	                                " \"last_name\": \"Doe\"}");
	assert_non_null(error_for(errors, "email"));
	assert_int_equal(json_array_size(errors), 1);
	json_decref(errors);
}

static void test_create_with_every_writable_field_is_accepted(void **state)
{
	json_t *clean = valid_create("{\"role\": \"viewer\", \"email\": \"john.doe@example.com\","
	                             " \"external_user_id\": \"customer_12345\", \"first_name\": \"John\","
	                             " \"last_name\": \"Doe\", \"street_and_number\": \"Main Street 123\","
	                             " \"street_add_info\": \"3rd floor\", \"zip_code\": \"10115\","
	                             " \"town\": \"Berlin\", \"country_iso2\": \"DE\"}");
	assert_int_equal(json_object_size(clean), 10);
	assert_string_equal(json_string_value(json_object_get(clean, "town")), "Berlin");
	json_decref(clean);
}

static void test_unknown_field_is_rejected_naming_it(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"nickname\": \"jd\"}");
	assert_string_equal(error_for(errors, "nickname"), "is not a known field");
	assert_int_equal(json_array_size(errors), 1);
	json_decref(errors);
}

static void test_unknown_role_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"role\": \"root\"}");
	assert_non_null(error_for(errors, "role"));
	json_decref(errors);
	errors = invalid_create("{\"email\": \"a@example.com\", \"role\": \"Admin\"}");
	assert_non_null(error_for(errors, "role"));
	json_decref(errors);
}

static void test_string_field_with_wrong_type_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"first_name\": 42, \"zip_code\": [\"1\"],"
	                                " \"town\": {\"name\": \"Berlin\"}, \"role\": true, \"country_iso2\": 4.5}");
	assert_string_equal(error_for(errors, "first_name"), "must be a string or null");
	assert_non_null(error_for(errors, "zip_code"));
	assert_non_null(error_for(errors, "town"));
	assert_string_equal(error_for(errors, "role"), "must be a string");
	assert_non_null(error_for(errors, "country_iso2"));
	assert_int_equal(json_array_size(errors), 5);
	json_decref(errors);
}

static void test_email_with_wrong_type_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"email\": 17}");
	assert_string_equal(error_for(errors, "email"), "must be a string");
	json_decref(errors);
}

static void test_null_email_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"email\": null}");
	assert_string_equal(error_for(errors, "email"), "must not be null");
	json_decref(errors);
}

static void test_null_role_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"role\": null}");
	assert_string_equal(error_for(errors, "role"), "must not be null");
	json_decref(errors);
}

static void test_null_clears_an_optional_field(void **state)
{
	json_t *clean = valid_create("{\"email\": \"a@example.com\", \"first_name\": null, \"country_iso2\": null}");
	assert_true(json_is_null(json_object_get(clean, "first_name")));
	assert_true(json_is_null(json_object_get(clean, "country_iso2")));
	json_decref(clean);
}

static void test_invalid_email_is_rejected_with_its_reason(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"john.doe@example.com \"}");
	assert_string_equal(error_for(errors, "email"), "must not start or end with whitespace");
	json_decref(errors);
}

static void test_country_is_normalised_to_upper_case(void **state)
{
	json_t *clean = valid_create("{\"email\": \"a@example.com\", \"country_iso2\": \"de\"}");
	assert_string_equal(json_string_value(json_object_get(clean, "country_iso2")), "DE");
	json_decref(clean);
	clean = valid_create("{\"email\": \"a@example.com\", \"country_iso2\": \"aT\"}");
	assert_string_equal(json_string_value(json_object_get(clean, "country_iso2")), "AT");
	json_decref(clean);
}

static void test_unknown_country_is_rejected(void **state)
{
	static const char *const bad[] = {"XX", "DEU", "D", "", "D\xc3\xa9", "1A"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[128];
		snprintf(text, sizeof text, "{\"email\": \"a@example.com\", \"country_iso2\": \"%s\"}", bad[i]);
		json_t *errors = invalid_create(text);
		assert_non_null(error_for(errors, "country_iso2"));
		json_decref(errors);
	}
}

static void test_empty_external_user_id_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"external_user_id\": \"\"}");
	assert_non_null(error_for(errors, "external_user_id"));
	json_decref(errors);
}

static void test_field_with_control_character_is_rejected(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"first_name\": \"Jo\\nhn\"}");
	assert_non_null(error_for(errors, "first_name"));
	json_decref(errors);
}

static void test_field_with_c1_control_character_is_rejected(void **state)
{
	/* U+0085 NEXT LINE, a C1 control */
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"town\": \"Ber\\u0085lin\"}");
	assert_non_null(error_for(errors, "town"));
	json_decref(errors);
}

static void test_field_with_letters_just_above_c1_is_accepted(void **state)
{
	/* U+00A0..U+00FF are not controls: "Müller" (u-umlaut is C3 BC) and a no-break space */
	json_t *body = json_loads("{\"email\": \"a@example.com\", \"last_name\": \"M\\u00fcller\\u00a0X\"}", 0, NULL);
	assert_non_null(body);
	json_t *clean = NULL, *errors = NULL;
	assert_int_equal(user_fields_validate(body, NULL, &clean, &errors), FD_OK);
	json_decref(clean);
	json_decref(body);
}

static void test_field_with_nul_character_is_rejected(void **state)
{
	json_t *body = json_pack("{s:s, s:s%}", "email", "a@example.com", "last_name", "Do\0e", (size_t)4);
	assert_non_null(body);
	json_t *clean = NULL, *errors = NULL;
	assert_int_equal(user_fields_validate(body, NULL, &clean, &errors), FD_EINVALID);
	assert_non_null(error_for(errors, "last_name"));
	json_decref(errors);
	json_decref(body);
}

static void test_read_only_fields_are_refused_on_create(void **state)
{
	static const char *const ro[] = {"id", "org_id", "created_at", "updated_at", "deleted_at"};
	for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
		char text[160];
		snprintf(text, sizeof text, "{\"email\": \"a@example.com\", \"%s\": \"2026-11-27T07:20:00.000Z\"}",
		         ro[i]);
		json_t *errors = invalid_create(text);
		assert_string_equal(error_for(errors, ro[i]), "is read-only");
		assert_int_equal(json_array_size(errors), 1);
		json_decref(errors);
	}
	/* null is a value too: deleted_at: null is still a read-only field on create */
	json_t *errors = invalid_create("{\"email\": \"a@example.com\", \"deleted_at\": null}");
	assert_string_equal(error_for(errors, "deleted_at"), "is read-only");
	json_decref(errors);
}

static void test_multiple_errors_are_all_reported(void **state)
{
	json_t *errors = invalid_create("{\"email\": \"not-an-address\", \"first_name\": 5, \"nickname\": \"x\","
	                                " \"id\": \"0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11\", \"country_iso2\": \"XX\","
	                                " \"role\": \"boss\"}");
	assert_int_equal(json_array_size(errors), 6);
	assert_non_null(error_for(errors, "email"));
	assert_non_null(error_for(errors, "first_name"));
	assert_non_null(error_for(errors, "nickname"));
	assert_non_null(error_for(errors, "id"));
	assert_non_null(error_for(errors, "country_iso2"));
	assert_non_null(error_for(errors, "role"));
	json_decref(errors);
}

static void test_missing_email_is_reported_alongside_other_errors(void **state)
{
	json_t *errors = invalid_create("{\"first_name\": 5}");
	assert_int_equal(json_array_size(errors), 2);
	assert_string_equal(error_for(errors, "email"), "is required");
	assert_non_null(error_for(errors, "first_name"));
	json_decref(errors);
}

/* ------------------------------------------------------------------ validate: lengths */

/* Asserts that {"email": ..., field: n copies of unit} is accepted (ok) or rejected naming field. */
static void check_length(const char *field, const char *unit, size_t n, int ok)
{
	char *value = repeat(unit, n);
	json_t *body = json_pack("{s:s, s:s}", "email", "a@example.com", field, value);
	assert_non_null(body);
	json_t *clean = NULL, *errors = NULL;
	enum fd_err rc = user_fields_validate(body, NULL, &clean, &errors);
	if (ok) {
		if (rc != FD_OK)
			fail_msg("%s of %zu x '%s' should be accepted", field, n, unit);
		assert_string_equal(json_string_value(json_object_get(clean, field)), value);
		json_decref(clean);
	} else {
		if (rc != FD_EINVALID)
			fail_msg("%s of %zu x '%s' should be rejected", field, n, unit);
		assert_non_null(error_for(errors, field));
		json_decref(errors);
	}
	json_decref(body);
	free(value);
}

static void test_first_name_of_100_characters_is_accepted_and_101_rejected(void **state)
{
	check_length("first_name", "J", 100, 1);
	check_length("first_name", "J", 101, 0);
}

static void test_first_name_max_length_counts_characters_not_bytes(void **state)
{
	check_length("first_name", "\xc3\xbc", 100, 1); /* 100 x ü = 200 bytes */
	check_length("first_name", "\xc3\xbc", 101, 0);
	check_length("last_name", "\xe2\x82\xac", 100, 1); /* 100 x € = 300 bytes */
	check_length("town", "\xf0\x9f\x8f\xa0", 100, 1);  /* 100 x U+1F3E0 = 400 bytes */
	check_length("town", "\xf0\x9f\x8f\xa0", 101, 0);
}

static void test_field_max_lengths_follow_the_readme(void **state)
{
	check_length("last_name", "x", 100, 1);
	check_length("last_name", "x", 101, 0);
	check_length("town", "x", 100, 1);
	check_length("town", "x", 101, 0);
	check_length("street_and_number", "x", 200, 1);
	check_length("street_and_number", "x", 201, 0);
	check_length("street_add_info", "\xc3\xa4", 200, 1);
	check_length("street_add_info", "\xc3\xa4", 201, 0);
	check_length("zip_code", "1", 20, 1);
	check_length("zip_code", "1", 21, 0);
	check_length("external_user_id", "e", 255, 1);
	check_length("external_user_id", "e", 256, 0);
	check_length("external_user_id", "\xc3\xa9", 255, 1);
}

/* ------------------------------------------------------------------ validate: update */

static void test_update_does_not_require_email_nor_default_role(void **state)
{
	json_t *cur = current_user(), *clean, *errors;
	assert_int_equal(validate("{\"first_name\": \"Peter\"}", cur, &clean, &errors), FD_OK);
	assert_int_equal(json_object_size(clean), 1);
	assert_string_equal(json_string_value(json_object_get(clean, "first_name")), "Peter");
	json_decref(clean);
	json_decref(cur);
}

static void test_update_with_empty_body_is_accepted_and_changes_nothing(void **state)
{
	json_t *cur = current_user(), *clean, *errors;
	assert_int_equal(validate("{}", cur, &clean, &errors), FD_OK);
	assert_int_equal(json_object_size(clean), 0);
	json_decref(clean);
	json_decref(cur);
}

static void test_read_only_fields_equal_to_current_are_accepted_on_update(void **state)
{
	json_t *cur = current_user(), *clean, *errors;
	assert_int_equal(validate("{\"id\": \"0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11\","
	                          " \"org_id\": \"7d3f0c8e-5a4b-4f7e-8b2a-1c9d8e7f6a50\","
	                          " \"created_at\": \"2026-11-27T07:20:00.000Z\","
	                          " \"updated_at\": \"2026-11-27T07:21:00.000Z\", \"deleted_at\": null,"
	                          " \"town\": \"Berlin\"}",
	                          cur, &clean, &errors),
	                 FD_OK);
	/* the read-only fields are accepted but never become part of the change */
	assert_int_equal(json_object_size(clean), 1);
	assert_string_equal(json_string_value(json_object_get(clean, "town")), "Berlin");
	json_decref(clean);
	json_decref(cur);
}

static void test_full_get_modify_put_round_trip_is_accepted(void **state)
{
	json_t *cur = current_user(), *clean = NULL, *errors = NULL;
	json_t *body = json_deep_copy(cur);
	json_object_set_new(body, "first_name", json_string("Peter"));
	assert_int_equal(user_fields_validate(body, cur, &clean, &errors), FD_OK);
	assert_string_equal(json_string_value(json_object_get(clean, "first_name")), "Peter");
	assert_null(json_object_get(clean, "id"));
	assert_null(json_object_get(clean, "created_at"));
	json_decref(clean);
	json_decref(body);
	json_decref(cur);
}

static void test_read_only_field_differing_from_current_is_refused_on_update(void **state)
{
	json_t *cur = current_user(), *clean, *errors;
	assert_int_equal(validate("{\"id\": \"11111111-1d2e-4c61-9a3c-6f0b0f3c2e11\", \"first_name\": \"Peter\"}", cur,
	                          &clean, &errors),
	                 FD_EINVALID);
	assert_string_equal(error_for(errors, "id"), "is read-only");
	assert_int_equal(json_array_size(errors), 1);
	assert_null(clean);
	json_decref(errors);

	assert_int_equal(validate("{\"deleted_at\": \"2026-11-27T08:00:00.000Z\"}", cur, &clean, &errors), FD_EINVALID);
	assert_string_equal(error_for(errors, "deleted_at"), "is read-only");
	json_decref(errors);

	/* same instant, different spelling: not equal to the stored value */
	assert_int_equal(validate("{\"created_at\": \"2026-11-27T07:20:00Z\"}", cur, &clean, &errors), FD_EINVALID);
	assert_string_equal(error_for(errors, "created_at"), "is read-only");
	json_decref(errors);
	json_decref(cur);
}

static void test_update_setting_email_to_null_is_rejected(void **state)
{
	json_t *cur = current_user(), *clean, *errors;
	assert_int_equal(validate("{\"email\": null}", cur, &clean, &errors), FD_EINVALID);
	assert_string_equal(error_for(errors, "email"), "must not be null");
	json_decref(errors);
	json_decref(cur);
}

static void test_update_with_unknown_field_is_rejected(void **state)
{
	json_t *cur = current_user(), *clean, *errors;
	assert_int_equal(validate("{\"password\": \"hunter2\"}", cur, &clean, &errors), FD_EINVALID);
	assert_string_equal(error_for(errors, "password"), "is not a known field");
	json_decref(errors);
	json_decref(cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_email_plain_address_is_accepted),
	    cmocka_unit_test(test_email_with_plus_addressing_is_accepted),
	    cmocka_unit_test(test_email_with_subdomains_is_accepted),
	    cmocka_unit_test(test_email_with_utf8_local_part_and_domain_is_accepted),
	    cmocka_unit_test(test_email_with_allowed_special_characters_in_local_part_is_accepted),
	    cmocka_unit_test(test_email_with_64_character_local_part_is_accepted),
	    cmocka_unit_test(test_email_of_exactly_254_characters_is_accepted),
	    cmocka_unit_test(test_email_literal_from_product_doc_is_rejected),
	    cmocka_unit_test(test_email_with_trailing_space_is_rejected),
	    cmocka_unit_test(test_email_with_leading_space_is_rejected),
	    cmocka_unit_test(test_email_with_trailing_tab_or_newline_is_rejected),
	    cmocka_unit_test(test_email_with_surrounding_unicode_whitespace_is_rejected),
	    cmocka_unit_test(test_email_with_space_inside_is_rejected),
	    cmocka_unit_test(test_email_with_control_character_is_rejected),
	    cmocka_unit_test(test_email_empty_is_rejected),
	    cmocka_unit_test(test_email_without_at_is_rejected),
	    cmocka_unit_test(test_email_with_two_ats_is_rejected),
	    cmocka_unit_test(test_email_with_empty_local_part_is_rejected),
	    cmocka_unit_test(test_email_with_local_part_over_64_characters_is_rejected),
	    cmocka_unit_test(test_email_with_leading_dot_in_local_part_is_rejected),
	    cmocka_unit_test(test_email_with_trailing_dot_in_local_part_is_rejected),
	    cmocka_unit_test(test_email_with_double_dot_in_local_part_is_rejected),
	    cmocka_unit_test(test_email_with_disallowed_character_in_local_part_is_rejected),
	    cmocka_unit_test(test_email_without_domain_is_rejected),
	    cmocka_unit_test(test_email_without_dot_in_domain_is_rejected),
	    cmocka_unit_test(test_email_with_empty_domain_label_is_rejected),
	    cmocka_unit_test(test_email_with_domain_label_starting_with_hyphen_is_rejected),
	    cmocka_unit_test(test_email_with_domain_label_ending_with_hyphen_is_rejected),
	    cmocka_unit_test(test_email_with_domain_label_over_63_characters_is_rejected),
	    cmocka_unit_test(test_email_with_disallowed_character_in_domain_is_rejected),
	    cmocka_unit_test(test_email_with_numeric_tld_is_rejected),
	    cmocka_unit_test(test_email_with_one_letter_tld_is_rejected),
	    cmocka_unit_test(test_email_over_254_bytes_is_rejected),
	    cmocka_unit_test(test_country_assigned_codes_are_known),
	    cmocka_unit_test(test_country_unassigned_codes_are_unknown),
	    cmocka_unit_test(test_country_lower_case_is_unknown),
	    cmocka_unit_test(test_country_wrong_length_is_unknown),
	    cmocka_unit_test(test_create_without_email_is_rejected),
	    cmocka_unit_test(test_create_empty_body_is_rejected_for_missing_email),
	    cmocka_unit_test(test_create_without_role_defaults_to_user),
	    cmocka_unit_test(test_create_keeps_a_given_role),
	    cmocka_unit_test(test_create_with_product_doc_body_is_rejected_for_email_only),
	    cmocka_unit_test(test_create_with_every_writable_field_is_accepted),
	    cmocka_unit_test(test_unknown_field_is_rejected_naming_it),
	    cmocka_unit_test(test_unknown_role_is_rejected),
	    cmocka_unit_test(test_string_field_with_wrong_type_is_rejected),
	    cmocka_unit_test(test_email_with_wrong_type_is_rejected),
	    cmocka_unit_test(test_null_email_is_rejected),
	    cmocka_unit_test(test_null_role_is_rejected),
	    cmocka_unit_test(test_null_clears_an_optional_field),
	    cmocka_unit_test(test_invalid_email_is_rejected_with_its_reason),
	    cmocka_unit_test(test_country_is_normalised_to_upper_case),
	    cmocka_unit_test(test_unknown_country_is_rejected),
	    cmocka_unit_test(test_empty_external_user_id_is_rejected),
	    cmocka_unit_test(test_field_with_control_character_is_rejected),
	    cmocka_unit_test(test_field_with_c1_control_character_is_rejected),
	    cmocka_unit_test(test_field_with_letters_just_above_c1_is_accepted),
	    cmocka_unit_test(test_field_with_nul_character_is_rejected),
	    cmocka_unit_test(test_read_only_fields_are_refused_on_create),
	    cmocka_unit_test(test_multiple_errors_are_all_reported),
	    cmocka_unit_test(test_missing_email_is_reported_alongside_other_errors),
	    cmocka_unit_test(test_first_name_of_100_characters_is_accepted_and_101_rejected),
	    cmocka_unit_test(test_first_name_max_length_counts_characters_not_bytes),
	    cmocka_unit_test(test_field_max_lengths_follow_the_readme),
	    cmocka_unit_test(test_update_does_not_require_email_nor_default_role),
	    cmocka_unit_test(test_update_with_empty_body_is_accepted_and_changes_nothing),
	    cmocka_unit_test(test_read_only_fields_equal_to_current_are_accepted_on_update),
	    cmocka_unit_test(test_full_get_modify_put_round_trip_is_accepted),
	    cmocka_unit_test(test_read_only_field_differing_from_current_is_refused_on_update),
	    cmocka_unit_test(test_update_setting_email_to_null_is_rejected),
	    cmocka_unit_test(test_update_with_unknown_field_is_rejected),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
