/*
 * test_password.c - auth/password.h: the rule a new password meets, and
 * Argon2id hashing and verification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/password.h"
#include "core/util.h"

static int group_setup(void **state)
{
	(void)state;
	return util_init() == FD_OK ? 0 : -1;
}

static void test_a_password_needs_12_characters_counted_as_code_points(void **state)
{
	(void)state;
	assert_non_null(password_weak(NULL));
	assert_non_null(password_weak(""));
	assert_non_null(password_weak("elevenchars"));
	assert_null(password_weak("twelve chars"));
	/* 11 characters in 22 bytes: still too short; 12 of them suffice */
	assert_non_null(
	    password_weak("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"));
	assert_null(password_weak(
	    "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"));
}

static void test_control_characters_and_over_1024_bytes_are_refused(void **state)
{
	(void)state;
	assert_non_null(password_weak("twelve chars\t"));
	assert_non_null(password_weak("twelve chars\x7f"));
	char big[PASSWORD_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_non_null(password_weak(big));
	big[PASSWORD_MAX] = '\0';
	assert_null(password_weak(big));
}

static void test_the_hash_is_argon2id_salted_and_verifies_only_the_password(void **state)
{
	(void)state;
	char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash("correct horse battery", a), FD_OK);
	assert_int_equal(password_hash("correct horse battery", b), FD_OK);
	assert_int_equal(strncmp(a, "$argon2id$", 10), 0);
	assert_string_not_equal(a, b); /* a salt of its own */
	assert_null(strstr(a, "correct horse"));
	assert_true(password_verify(a, "correct horse battery"));
	assert_true(password_verify(b, "correct horse battery"));
	assert_false(password_verify(a, "correct horse batterY"));
	assert_false(password_verify(a, ""));
	assert_false(password_verify(NULL, "correct horse battery"));
	assert_false(password_verify("not a hash", "correct horse battery"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_password_needs_12_characters_counted_as_code_points),
	    cmocka_unit_test(test_control_characters_and_over_1024_bytes_are_refused),
	    cmocka_unit_test(test_the_hash_is_argon2id_salted_and_verifies_only_the_password),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
