/*
 * test_jsonw.c - core/jsonw.h: reals written as the shortest decimal that
 * reads back as the same double (Python's repr), and whole jansson trees
 * written compactly by jsonw_value.
 *
 * Expected reals are Python 3.11's repr() of the same double
 * (computed with /usr/bin/python3 and hard-coded here).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/jsonw.h"
#include "core/util.h"

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ helpers */

/* Asserts jsonw_real(x) appends exactly want (and reads back as x when finite). */
static void check_real(double x, const char *want)
{
	struct buf b;
	buf_init(&b, 1024);
	enum fd_err rc = jsonw_real(&b, x);
	char got[64];
	snprintf(got, sizeof got, "%s", b.data ? b.data : "");
	buf_release(&b); /* before any assertion, so a failure leaks nothing */
	if (rc != FD_OK)
		fail_msg("jsonw_real(%.17g): %s", x, fd_err_name(rc));
	if (strcmp(got, want) != 0)
		fail_msg("jsonw_real(%.17g): got \"%s\", want \"%s\"", x, got, want);
	if (isfinite(x)) {
		/* what was written is JSON a parser takes back as the very same double */
		json_t *j = json_loads(got, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		int same = json_is_real(j) && json_real_value(j) == x;
		json_decref(j);
		assert_true(same);
	}
}

/* The text jsonw_value writes for v; the caller frees it. */
static char *value_text(json_t *v)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	enum fd_err rc = jsonw_value(&b, v);
	if (rc != FD_OK)
		fail_msg("jsonw_value: %s", fd_err_name(rc));
	return buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------ jsonw_real */

static void test_real_is_the_shortest_round_trip_not_more_digits(void **state)
{
	check_real(12.35, "12.35"); /* %.17g would write 12.349999999999999 */
	check_real(0.1, "0.1");
	check_real(2.675, "2.675");
}

static void test_real_that_needs_17_digits_keeps_them(void **state)
{
	check_real(0.1 + 0.2, "0.30000000000000004");
	check_real(1.0 / 3.0, "0.3333333333333333"); /* Python: 16 digits */
}

static void test_integral_real_keeps_a_decimal_point(void **state)
{
	check_real(21.0, "21.0");
	check_real(0.0, "0.0");
	check_real(-0.0, "-0.0"); /* Python: repr(-0.0) == '-0.0' */
	check_real(123456789.0, "123456789.0");
}

static void test_negative_real(void **state)
{
	check_real(-0.5, "-0.5");
	check_real(-2.675, "-2.675");
}

static void test_large_and_small_reals_use_an_exponent(void **state)
{
	check_real(1e300, "1e+300");
	check_real(1e16, "1e+16");
	check_real(1e-7, "1e-07");
	check_real(1.7976931348623157e308, "1.7976931348623157e+308");
	check_real(2.2250738585072014e-308, "2.2250738585072014e-308"); /* the smallest normal */
}

static void test_non_finite_real_is_null(void **state)
{
	check_real(NAN, "null");
	check_real(INFINITY, "null");
	check_real(-INFINITY, "null");
}

static void test_real_power_of_two_with_a_shorter_16_digit_form(void **state)
{
	/*
	 * 2^-24 is exactly 5.9604644775390625e-08. Python: repr(2**-24) ==
	 * '5.960464477539063e-08' (16 digits, reads back as 2^-24). At a power
	 * of two the interval that rounds to x is narrower below it, so the
	 * nearest 16-digit decimal (5.960464477539062e-08) fails to read back,
	 * while the one above (…063e-08) does. Same for 2^-44, 2^89, 2^122 …
	 */
	check_real(ldexp(1.0, -24), "5.960464477539063e-08");
}

static void test_real_subnormal_is_shortest(void **state)
{
	/*
	 * Python: repr(5e-324) == '5e-324', repr(1e-323) == '1e-323'. A
	 * subnormal has fewer than 15 significant digits of precision, so 15
	 * digits read back too; the shortest form is shorter still.
	 */
	check_real(5e-324, "5e-324");
	check_real(1e-323, "1e-323");
}

static void test_real_past_the_buffer_maximum_is_too_large(void **state)
{
	struct buf b;
	buf_init(&b, 3);
	assert_int_equal(jsonw_real(&b, 12.35), FD_ETOOLARGE);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

/* ------------------------------------------------------------------ jsonw_str */

static void test_str_escapes_quotes_backslashes_and_controls(void **state)
{
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(jsonw_str(&b, "a\"b\\c\nd\x01"
	                               "e/\xc3\xa9"),
	                 FD_OK);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000ad\\u0001e/\xc3\xa9\"");
	buf_release(&b);
	buf_init(&b, 1024);
	assert_int_equal(jsonw_str(&b, NULL), FD_OK);
	assert_string_equal(b.data, "null");
	buf_release(&b);
}

static void test_key_writes_a_comma_only_after_the_first(void **state)
{
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(buf_puts(&b, "{"), FD_OK);
	assert_int_equal(jsonw_key(&b, "a", 1), FD_OK);
	assert_int_equal(buf_puts(&b, "1"), FD_OK);
	assert_int_equal(jsonw_key(&b, "b", 0), FD_OK);
	assert_int_equal(buf_puts(&b, "2}"), FD_OK);
	assert_string_equal(b.data, "{\"a\":1,\"b\":2}");
	buf_release(&b);
}

/* ------------------------------------------------------------------ jsonw_value */

static void test_value_writes_nested_objects_compactly_in_order(void **state)
{
	json_t *v = json_pack("{s{s[ifn{sn}]ss}sbsbs{}s[]sf}", "a", "b", 1, 2.5, "c", "d", "x\"y", "e", 1, "f", 0, "g",
	                      "h", "i", 21.0);
	assert_non_null(v);
	char *t = value_text(v);
	assert_string_equal(t, "{\"a\":{\"b\":[1,2.5,null,{\"c\":null}],\"d\":\"x\\\"y\"},\"e\":true,\"f\":false,"
	                       "\"g\":{},\"h\":[],\"i\":21.0}");
	free(t);
	json_decref(v);
}

static void test_value_writes_reals_as_jsonw_real_does(void **state)
{
	json_t *v =
	    json_pack("{s{s{sfsfsf}}}", "device", "consumption", "today", 12.35, "sum", 0.1 + 0.2, "max", 1e300);
	assert_non_null(v);
	char *t = value_text(v);
	assert_string_equal(t, "{\"device\":{\"consumption\":{\"today\":12.35,\"sum\":0.30000000000000004,"
	                       "\"max\":1e+300}}}");
	free(t);
	json_decref(v);
}

static void test_value_writes_integers_exactly(void **state)
{
	json_t *v = json_pack("[III]", (json_int_t)0, (json_int_t)INT64_MAX, (json_int_t)INT64_MIN);
	char *t = value_text(v);
	assert_string_equal(t, "[0,9223372036854775807,-9223372036854775808]");
	free(t);
	json_decref(v);
}

static void test_value_matches_jansson_compact_for_a_tree_without_reals(void **state)
{
	const char *text = "{\"users\":[{\"id\":\"0b6b3a59\",\"tags\":[\"a\",\"b\"],\"n\":3,\"ok\":true,\"x\":null},"
	                   "{\"id\":\"\xc3\xbc\\u20ac\",\"deep\":{\"deeper\":{\"deepest\":[[],[{}]]}}}],\"total\":2}";
	json_t *v = json_loads(text, 0, NULL);
	assert_non_null(v);
	char *mine = value_text(v);
	char *theirs = json_dumps(v, JSON_COMPACT);
	assert_string_equal(mine, theirs);
	free(theirs);
	free(mine);
	json_decref(v);
}

static void test_value_scalars_at_the_top_level(void **state)
{
	json_t *v = json_string("top");
	char *t = value_text(v);
	assert_string_equal(t, "\"top\"");
	free(t);
	json_decref(v);
	v = json_null();
	t = value_text(v);
	assert_string_equal(t, "null");
	free(t);
}

static void test_value_too_deep_is_refused_without_crashing(void **state)
{
	json_t *root = json_array(), *cur = root;
	for (int i = 0; i < 1000; i++) {
		json_t *inner = json_array();
		json_array_append_new(cur, inner);
		cur = inner;
	}
	struct buf b;
	buf_init(&b, 1 << 20);
	assert_int_not_equal(jsonw_value(&b, root), FD_OK);
	buf_release(&b);
	json_decref(root);
}

static void test_value_past_the_buffer_maximum_is_too_large(void **state)
{
	json_t *v = json_pack("{ss}", "key", "a value longer than the buffer");
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(jsonw_value(&b, v), FD_ETOOLARGE);
	buf_release(&b);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_is_the_shortest_round_trip_not_more_digits),
	    cmocka_unit_test(test_real_that_needs_17_digits_keeps_them),
	    cmocka_unit_test(test_integral_real_keeps_a_decimal_point),
	    cmocka_unit_test(test_negative_real),
	    cmocka_unit_test(test_large_and_small_reals_use_an_exponent),
	    cmocka_unit_test(test_non_finite_real_is_null),
	    cmocka_unit_test(test_real_power_of_two_with_a_shorter_16_digit_form),
	    cmocka_unit_test(test_real_subnormal_is_shortest),
	    cmocka_unit_test(test_real_past_the_buffer_maximum_is_too_large),
	    cmocka_unit_test(test_str_escapes_quotes_backslashes_and_controls),
	    cmocka_unit_test(test_key_writes_a_comma_only_after_the_first),
	    cmocka_unit_test(test_value_writes_nested_objects_compactly_in_order),
	    cmocka_unit_test(test_value_writes_reals_as_jsonw_real_does),
	    cmocka_unit_test(test_value_writes_integers_exactly),
	    cmocka_unit_test(test_value_matches_jansson_compact_for_a_tree_without_reals),
	    cmocka_unit_test(test_value_scalars_at_the_top_level),
	    cmocka_unit_test(test_value_too_deep_is_refused_without_crashing),
	    cmocka_unit_test(test_value_past_the_buffer_maximum_is_too_large),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
