/*
 * test_util.c - core/util.h (uuids, RFC 3339 time, base64url, integers,
 * hashing) and core/buf.h (bounded buffers).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/util.h"

/* 2026-11-27T07:20:00.000Z, the README's example instant */
#define EXAMPLE_MS INT64_C(1795764000000)

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ uuid */

static void test_uuid_is_lower_case_version_7_in_canonical_form(void **state)
{
	for (int n = 0; n < 100; n++) {
		char u[FD_UUID_LEN + 1];
		memset(u, 'X', sizeof u);
		int64_t before = util_now_ms();
		util_uuid(u);
		int64_t after = util_now_ms();
		char ts[13];
		memcpy(ts, u, 8);
		memcpy(ts + 8, u + 9, 4);
		ts[12] = '\0';
		int64_t ms = (int64_t)strtoll(ts, NULL, 16); /* the first 48 bits: Unix time in ms */
		assert_true(ms >= before && ms <= after);
		assert_int_equal(strlen(u), FD_UUID_LEN);
		for (int i = 0; i < FD_UUID_LEN; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(u[i], '-');
			else
				assert_non_null(strchr("0123456789abcdef", u[i]));
		}
		assert_int_equal(u[14], '7');           /* version */
		assert_non_null(strchr("89ab", u[19])); /* RFC 4122 variant */
		assert_true(util_is_uuid(u));
	}
}

static void test_uuids_differ(void **state)
{
	char a[FD_UUID_LEN + 1], b[FD_UUID_LEN + 1];
	util_uuid(a);
	util_uuid(b);
	assert_string_not_equal(a, b);
}

static void test_is_uuid_accepts_lower_and_upper_case(void **state)
{
	assert_true(util_is_uuid("0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11"));
	assert_true(util_is_uuid("0B6B3A59-1D2E-4C61-9A3C-6F0B0F3C2E11"));
	assert_true(util_is_uuid("00000000-0000-0000-0000-000000000000"));
}

static void test_is_uuid_rejects_malformed_strings(void **state)
{
	static const char *const bad[] = {
	    "",
	    "0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e1",   /* too short */
	    "0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e111", /* too long */
	    "0b6b3a591d2e4c619a3c6f0b0f3c2e11",      /* no hyphens */
	    "0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e1g",  /* not hex */
	    "0b6b3a5-91d2e-4c61-9a3c-6f0b0f3c2e11",  /* hyphen misplaced */
	    "{b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e1}",  /* braces */
	    "0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e1\n", /* newline */
	    " 0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e1",  /* space */
	    "0b6b3a59-1d2e-4c61-9a3c+6f0b0f3c2e11",  /* plus */
	    "../../../../../../../../../etc/passwd", /* 36 characters of something else */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (util_is_uuid(bad[i]))
			fail_msg("'%s' taken for a uuid", bad[i]);
	}
	assert_false(util_is_uuid(NULL));
}

/* ------------------------------------------------------------------ rfc 3339 */

static int64_t parse_ok(const char *s)
{
	int64_t ms = -42;
	enum fd_err rc = util_parse_rfc3339(s, &ms);
	if (rc != FD_OK)
		fail_msg("'%s' should parse, got %s", s, fd_err_name(rc));
	return ms;
}

static void test_rfc3339_utc_with_z_parses(void **state)
{
	assert_int_equal(parse_ok("2026-11-27T07:20:00.000Z"), EXAMPLE_MS);
	assert_int_equal(parse_ok("2026-11-27T07:20:00Z"), EXAMPLE_MS);
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("2000-03-01T00:00:00Z"), INT64_C(951868800000));
	assert_int_equal(parse_ok("2024-02-29T12:00:00Z"), INT64_C(1709208000000)); /* leap day */
}

static void test_rfc3339_lower_case_t_and_z_and_space_separator_parse(void **state)
{
	assert_int_equal(parse_ok("2026-11-27t07:20:00z"), EXAMPLE_MS);
	assert_int_equal(parse_ok("2026-11-27 07:20:00Z"), EXAMPLE_MS);
}

static void test_rfc3339_offsets_are_converted_to_utc(void **state)
{
	assert_int_equal(parse_ok("2026-11-27T08:20:00+01:00"), EXAMPLE_MS);
	assert_int_equal(parse_ok("2026-11-27T01:50:00-05:30"), EXAMPLE_MS);
	assert_int_equal(parse_ok("2026-11-27T07:20:00+00:00"), EXAMPLE_MS);
	assert_int_equal(parse_ok("2026-11-27T07:20:00-00:00"), EXAMPLE_MS);
	assert_int_equal(parse_ok("2026-11-28T06:20:00+23:00"), EXAMPLE_MS);
	/* an offset that crosses midnight and the year */
	assert_int_equal(parse_ok("2027-01-01T01:00:00+02:00"), parse_ok("2026-12-31T23:00:00Z"));
}

static void test_rfc3339_fractions_are_read_as_milliseconds(void **state)
{
	assert_int_equal(parse_ok("2026-11-27T07:20:00.123Z"), EXAMPLE_MS + 123);
	assert_int_equal(parse_ok("2026-11-27T07:20:00.5Z"), EXAMPLE_MS + 500);
	assert_int_equal(parse_ok("2026-11-27T07:20:00.05Z"), EXAMPLE_MS + 50);
	assert_int_equal(parse_ok("2026-11-27T07:20:00.999999999Z"), EXAMPLE_MS + 999); /* truncated */
	assert_int_equal(parse_ok("2026-11-27T08:20:00.250+01:00"), EXAMPLE_MS + 250);
}

static void test_rfc3339_before_the_epoch_is_negative(void **state)
{
	assert_int_equal(parse_ok("1969-12-31T23:59:59.999Z"), -1);
	assert_int_equal(parse_ok("1900-01-01T00:00:00Z"), INT64_C(-2208988800000));
}

static void test_rfc3339_malformed_inputs_are_rejected(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026-11-27",
	    "2026-11-27T07:20:00",      /* no offset */
	    "2026-11-27T07:20Z",        /* no seconds */
	    "2026-11-27T07:20:00.Z",    /* a dot with no digits */
	    "2026-11-27T07:20:00,123Z", /* comma */
	    "2026-11-27T07:20:00+0100", /* offset without colon */
	    "2026-11-27T07:20:00+01",   /* offset without minutes */
	    "2026-11-27T07:20:00+1:00",
	    "2026-11-27T07:20:00+24:00",
	    "2026-11-27T07:20:00+01:60",
	    "2026-11-27T07:20:00ZZ",
	    "2026-11-27T07:20:00Z ",
	    "2026-11-27T07:20:00.000Zjunk",
	    "2026-11-27X07:20:00Z",
	    "2026/11/27T07:20:00Z",
	    "26-11-27T07:20:00.000Z",
	    "+2026-11-27T07:20:00Z",
	    " 2026-11-27T07:20:00Z",
	    "2026-1-27T07:20:00.000Z",
	    "2026-11-27T7:20:00.000Z",
	    "2026-11-27T07:20:00 UTC",
	    "two thousand twenty-six",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ms = 7;
		if (util_parse_rfc3339(bad[i], &ms) != FD_EBADREQ)
			fail_msg("'%s' should be rejected", bad[i]);
		assert_int_equal(ms, 7); /* untouched */
	}
}

static void test_rfc3339_out_of_range_fields_are_rejected(void **state)
{
	static const char *const bad[] = {
	    "2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-32T00:00:00Z",
	    "2026-11-27T24:00:00Z", "2026-11-27T07:60:00Z", "2026-11-27T07:20:61Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ms;
		if (util_parse_rfc3339(bad[i], &ms) != FD_EBADREQ)
			fail_msg("'%s' should be rejected", bad[i]);
	}
}

static void test_rfc3339_day_past_the_end_of_its_month_is_rejected(void **state)
{
	/* RFC 3339 section 5.7: the day must exist in that month and year. */
	static const char *const bad[] = {
	    "2026-02-29T00:00:00Z", /* 2026 is not a leap year */
	    "2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z",
	    "2026-09-31T00:00:00Z", "2026-11-31T00:00:00Z", "1900-02-29T00:00:00Z", /* divisible by 100, not by 400 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ms;
		if (util_parse_rfc3339(bad[i], &ms) != FD_EBADREQ)
			fail_msg("'%s' should be rejected", bad[i]);
	}
	parse_ok("2000-02-29T00:00:00Z"); /* divisible by 400: a leap year */
	parse_ok("2026-12-31T00:00:00Z");
}

static void test_rfc3339_format_writes_utc_with_milliseconds(void **state)
{
	char t[FD_TIME_LEN + 1];
	util_format_rfc3339(EXAMPLE_MS, t);
	assert_string_equal(t, "2026-11-27T07:20:00.000Z");
	util_format_rfc3339(EXAMPLE_MS + 7, t);
	assert_string_equal(t, "2026-11-27T07:20:00.007Z");
	util_format_rfc3339(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	util_format_rfc3339(-1, t);
	assert_string_equal(t, "1969-12-31T23:59:59.999Z");
	util_format_rfc3339(INT64_C(253402300799999), t);
	assert_string_equal(t, "9999-12-31T23:59:59.999Z");
}

static void test_rfc3339_format_then_parse_round_trips(void **state)
{
	static const int64_t values[] = {0,
	                                 1,
	                                 -1,
	                                 999,
	                                 -1000,
	                                 EXAMPLE_MS,
	                                 EXAMPLE_MS + 123,
	                                 INT64_C(951782400000), /* 2000-02-29 */
	                                 INT64_C(1709251199999),
	                                 INT64_C(-2208988800000),
	                                 INT64_C(253402300799999)};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		char t[FD_TIME_LEN + 1];
		util_format_rfc3339(values[i], t);
		assert_int_equal(strlen(t), FD_TIME_LEN);
		assert_int_equal(parse_ok(t), values[i]);
	}
	/* and every millisecond-aligned day boundary of a leap year */
	for (int64_t day = 0; day < 366; day++) {
		int64_t ms = INT64_C(1704067200000) + day * 86400000 + 86399999; /* 2024 */
		char t[FD_TIME_LEN + 1];
		util_format_rfc3339(ms, t);
		assert_int_equal(parse_ok(t), ms);
	}
}

static void test_rfc3339_parse_then_format_gives_the_canonical_form(void **state)
{
	char t[FD_TIME_LEN + 1];
	util_format_rfc3339(parse_ok("2026-11-27T08:20:00.5+01:00"), t);
	assert_string_equal(t, "2026-11-27T07:20:00.500Z");
	util_format_rfc3339(parse_ok("2026-11-27T07:20:00.000Z"), t);
	assert_string_equal(t, "2026-11-27T07:20:00.000Z");
}

static void test_rfc3339_every_accepted_timestamp_survives_normalisation(void **state)
{
	/* audit.c normalises the from/to filters with parse then format; an
	 * accepted bound must keep its instant, not wrap to another year. */
	static const char *const edges[] = {
	    "9999-12-31T23:59:59.999Z", "9999-12-31T23:00:00-23:00", /* year 10000 in UTC */
	    "0000-01-01T00:00:00Z", "0000-01-01T00:00:00+00:01",     /* year -1 in UTC */
	};
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		int64_t ms = 0, again = 0;
		if (util_parse_rfc3339(edges[i], &ms) != FD_OK)
			continue; /* rejecting it is fine too */
		char t[FD_TIME_LEN + 1];
		util_format_rfc3339(ms, t);
		if (util_parse_rfc3339(t, &again) != FD_OK || again != ms)
			fail_msg("'%s' was normalised to '%s', another instant", edges[i], t);
	}
}

static void test_now_is_formatted_like_every_timestamp(void **state)
{
	char t[FD_TIME_LEN + 1];
	int64_t before = util_now_ms();
	util_now_rfc3339(t);
	int64_t after = util_now_ms();
	assert_int_equal(strlen(t), FD_TIME_LEN);
	assert_int_equal(t[FD_TIME_LEN - 1], 'Z');
	int64_t ms = parse_ok(t);
	assert_true(ms >= before && ms <= after);
}

/* ------------------------------------------------------------------ base64url */

static void test_b64url_round_trips_every_byte_and_length(void **state)
{
	unsigned char data[260];
	for (int i = 0; i < 260; i++)
		data[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= sizeof data; len++) {
		char *enc = util_b64url_encode(data, len);
		assert_non_null(enc);
		assert_null(strpbrk(enc, "+/= \n"));
		assert_int_equal(strlen(enc), (len * 4 + 2) / 3);
		char *dec = NULL;
		size_t dlen = 99999;
		assert_int_equal(util_b64url_decode(enc, &dec, &dlen), FD_OK);
		assert_int_equal(dlen, len);
		assert_memory_equal(dec, data, len);
		assert_int_equal(dec[len], '\0');
		free(dec);
		free(enc);
	}
}

static void test_b64url_encodes_known_values(void **state)
{
	char *e = util_b64url_encode("foob", 4);
	assert_string_equal(e, "Zm9vYg");
	free(e);
	e = util_b64url_encode("\xfb\xff", 2);
	assert_string_equal(e, "-_8");
	free(e);
	e = util_b64url_encode("", 0);
	assert_string_equal(e, "");
	free(e);
}

static void test_b64url_decode_rejects_bad_input(void **state)
{
	static const char *const bad[] = {
	    "a",                     /* a single character cannot encode a byte */
	    "abcde",                 /* nor can a group of one */
	    "Zm9v=",                 /* padding */
	    "Zg==",  "a+b/",         /* the standard alphabet */
	    "Zm 9v", "Zm9v\n", "Zh", /* non-zero leftover bits */
	    "====",  "Zm9v!",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *out = (char *)"untouched";
		size_t len = 3;
		if (util_b64url_decode(bad[i], &out, &len) != FD_EBADREQ)
			fail_msg("'%s' should be rejected", bad[i]);
		assert_string_equal(out, "untouched");
	}
}

static void test_b64url_decode_rejects_non_ascii_bytes(void **state)
{
	/* Four bytes, none of them in the base64url alphabet. */
	static const char *const bad[] = {"\xc3\xa4\xc3\xa4", "Zm9v\xff\xff", "\x80\x80", "Zm9v\xc3\xa4Zm9v"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *out = (char *)"untouched";
		size_t len = 3;
		if (util_b64url_decode(bad[i], &out, &len) != FD_EBADREQ) {
			if (out != NULL && strcmp(out, "untouched") != 0)
				free(out);
			fail_msg("input %zu (non-ASCII) should be rejected", i);
		}
		assert_string_equal(out, "untouched");
	}
}

static void test_b64url_decode_of_empty_string_is_empty(void **state)
{
	char *out = NULL;
	size_t len = 5;
	assert_int_equal(util_b64url_decode("", &out, &len), FD_OK);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
}

/* ------------------------------------------------------------------ parse_int */

static void test_parse_int_accepts_values_within_bounds_inclusive(void **state)
{
	long long v = 0;
	assert_int_equal(util_parse_int("1", 1, 1000, &v), FD_OK);
	assert_int_equal(v, 1);
	assert_int_equal(util_parse_int("1000", 1, 1000, &v), FD_OK);
	assert_int_equal(v, 1000);
	assert_int_equal(util_parse_int("-5", -10, 10, &v), FD_OK);
	assert_int_equal(v, -5);
	assert_int_equal(util_parse_int("0", 0, 0, &v), FD_OK);
	assert_int_equal(v, 0);
	assert_int_equal(util_parse_int("9223372036854775807", 0, LLONG_MAX, &v), FD_OK);
	assert_true(v == LLONG_MAX);
	assert_int_equal(util_parse_int("-9223372036854775808", LLONG_MIN, 0, &v), FD_OK);
	assert_true(v == LLONG_MIN);
}

static void test_parse_int_rejects_values_out_of_bounds(void **state)
{
	long long v = 77;
	assert_int_equal(util_parse_int("0", 1, 1000, &v), FD_EBADREQ);
	assert_int_equal(util_parse_int("1001", 1, 1000, &v), FD_EBADREQ);
	assert_int_equal(util_parse_int("-1", 0, 10, &v), FD_EBADREQ);
	assert_int_equal(util_parse_int("9223372036854775808", 0, LLONG_MAX, &v), FD_EBADREQ); /* overflow */
	assert_int_equal(util_parse_int("-9223372036854775809", LLONG_MIN, 0, &v), FD_EBADREQ);
	assert_int_equal(util_parse_int("99999999999999999999999", 1, 1000, &v), FD_EBADREQ);
	assert_int_equal(v, 77); /* untouched on failure */
}

static void test_parse_int_rejects_anything_but_a_plain_decimal(void **state)
{
	static const char *const bad[] = {"", "-", "+1", " 1", "1 ", "1x", "0x10", "1e3", "1.0", "--1", "1-", "١"};
	long long v = 77;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (util_parse_int(bad[i], -1000, 1000, &v) != FD_EBADREQ)
			fail_msg("'%s' should be rejected", bad[i]);
	}
	assert_int_equal(util_parse_int(NULL, 0, 10, &v), FD_EBADREQ);
	assert_int_equal(v, 77);
}

/* ------------------------------------------------------------------ hashing, secrets */

static void test_sha256_hex_matches_the_fips_vector(void **state)
{
	char h[65];
	util_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	util_sha256_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_random_hex_has_twice_the_bytes_in_lower_case_hex(void **state)
{
	char a[2 * 100 + 1], b[2 * 100 + 1];
	util_random_hex(a, 100);
	util_random_hex(b, 100);
	assert_int_equal(strlen(a), 200);
	assert_int_equal(strspn(a, "0123456789abcdef"), 200);
	assert_string_not_equal(a, b);
}

static void test_secret_eq_compares_whole_strings(void **state)
{
	assert_true(util_secret_eq("s3cret", "s3cret"));
	assert_true(util_secret_eq("", ""));
	assert_false(util_secret_eq("s3cret", "s3cres"));
	assert_false(util_secret_eq("s3cret", "s3cre"));
	assert_false(util_secret_eq("s3cre", "s3cret"));
	assert_false(util_secret_eq("", "x"));
}

/* ------------------------------------------------------------------ buf */

static void test_buf_appends_up_to_its_maximum(void **state)
{
	struct buf b;
	buf_init(&b, 10);
	assert_null(b.data);
	assert_int_equal(buf_puts(&b, "hello"), FD_OK);
	assert_int_equal(buf_append(&b, "world", 5), FD_OK);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	assert_int_equal(buf_append(&b, "", 0), FD_OK); /* nothing more fits, but nothing is fine */
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 10);
}

static void test_buf_append_past_maximum_is_too_large_and_leaves_buffer_unchanged(void **state)
{
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "12345678"), FD_OK);
	char *data_before = b.data;
	size_t cap_before = b.cap;
	assert_int_equal(buf_puts(&b, "abc"), FD_ETOOLARGE);
	assert_int_equal(b.len, 8);
	assert_ptr_equal(b.data, data_before);
	assert_int_equal(b.cap, cap_before);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_append(&b, "abc", SIZE_MAX), FD_ETOOLARGE); /* no overflow in the check */
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_puts(&b, "ab"), FD_OK); /* what still fits, fits */
	assert_string_equal(b.data, "12345678ab");
	buf_release(&b);
}

static void test_buf_with_zero_maximum_refuses_any_byte(void **state)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_puts(&b, "x"), FD_ETOOLARGE);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void test_buf_grows_past_its_first_allocation(void **state)
{
	struct buf b;
	buf_init(&b, 100000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_append(&b, "0123456789", 10), FD_OK);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data + 99990, "0123456789", 10);
	assert_int_equal(buf_puts(&b, "x"), FD_ETOOLARGE);
	buf_release(&b);
}

static void test_buf_detach_hands_over_the_data_and_resets(void **state)
{
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(buf_puts(&b, "abc"), FD_OK);
	size_t len = 0;
	char *d = buf_detach(&b, &len);
	assert_string_equal(d, "abc");
	assert_int_equal(len, 3);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(d);
	/* an empty buffer detaches as an empty string */
	d = buf_detach(&b, NULL);
	assert_non_null(d);
	assert_string_equal(d, "");
	free(d);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uuid_is_lower_case_version_7_in_canonical_form),
	    cmocka_unit_test(test_uuids_differ),
	    cmocka_unit_test(test_is_uuid_accepts_lower_and_upper_case),
	    cmocka_unit_test(test_is_uuid_rejects_malformed_strings),
	    cmocka_unit_test(test_rfc3339_utc_with_z_parses),
	    cmocka_unit_test(test_rfc3339_lower_case_t_and_z_and_space_separator_parse),
	    cmocka_unit_test(test_rfc3339_offsets_are_converted_to_utc),
	    cmocka_unit_test(test_rfc3339_fractions_are_read_as_milliseconds),
	    cmocka_unit_test(test_rfc3339_before_the_epoch_is_negative),
	    cmocka_unit_test(test_rfc3339_malformed_inputs_are_rejected),
	    cmocka_unit_test(test_rfc3339_out_of_range_fields_are_rejected),
	    cmocka_unit_test(test_rfc3339_day_past_the_end_of_its_month_is_rejected),
	    cmocka_unit_test(test_rfc3339_format_writes_utc_with_milliseconds),
	    cmocka_unit_test(test_rfc3339_format_then_parse_round_trips),
	    cmocka_unit_test(test_rfc3339_parse_then_format_gives_the_canonical_form),
	    cmocka_unit_test(test_rfc3339_every_accepted_timestamp_survives_normalisation),
	    cmocka_unit_test(test_now_is_formatted_like_every_timestamp),
	    cmocka_unit_test(test_b64url_round_trips_every_byte_and_length),
	    cmocka_unit_test(test_b64url_encodes_known_values),
	    cmocka_unit_test(test_b64url_decode_rejects_bad_input),
	    cmocka_unit_test(test_b64url_decode_rejects_non_ascii_bytes),
	    cmocka_unit_test(test_b64url_decode_of_empty_string_is_empty),
	    cmocka_unit_test(test_parse_int_accepts_values_within_bounds_inclusive),
	    cmocka_unit_test(test_parse_int_rejects_values_out_of_bounds),
	    cmocka_unit_test(test_parse_int_rejects_anything_but_a_plain_decimal),
	    cmocka_unit_test(test_sha256_hex_matches_the_fips_vector),
	    cmocka_unit_test(test_random_hex_has_twice_the_bytes_in_lower_case_hex),
	    cmocka_unit_test(test_secret_eq_compares_whole_strings),
	    cmocka_unit_test(test_buf_appends_up_to_its_maximum),
	    cmocka_unit_test(test_buf_append_past_maximum_is_too_large_and_leaves_buffer_unchanged),
	    cmocka_unit_test(test_buf_with_zero_maximum_refuses_any_byte),
	    cmocka_unit_test(test_buf_grows_past_its_first_allocation),
	    cmocka_unit_test(test_buf_detach_hands_over_the_data_and_resets),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
