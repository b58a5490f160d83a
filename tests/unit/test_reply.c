/*
 * test_reply.c - RFC 9457 problems (http/request.h: reply_problem,
 * problem_field, problem_status), the reply helpers behind them, and the
 * query-string helpers of api/common.h (api_url_encode, api_cursor_encode).
 *
 * A struct req is built on the stack: the reply functions only touch the
 * path, the request id and the reply members, never the connection. There
 * is no public req_free, so each test frees what the reply allocated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/common.h"
#include "core/util.h"
#include "http/request.h"

#define PATH       "/api/partners/v2.0/org/7d3f0c8e-5a4b-4f7e-8b2a-1c9d8e7f6a50/users"
#define REQUEST_ID "req-0123456789"

static struct req new_req(void)
{
	struct req r;
	memset(&r, 0, sizeof r);
	r.method = "POST";
	r.path = PATH;
	snprintf(r.request_id, sizeof r.request_id, "%s", REQUEST_ID);
	return r;
}

/* Frees what the reply functions allocated. */
static void req_release(struct req *r)
{
	free(r->resp_body);
	r->resp_body = NULL;
	for (int i = 0; i < r->nhdr; i++) {
		free(r->hdr_name[i]);
		free(r->hdr_value[i]);
	}
	r->nhdr = 0;
}

/* The reply body parsed as JSON (new reference); fails the test if it is not. */
static json_t *body_of(const struct req *r)
{
	assert_non_null(r->resp_body);
	assert_int_equal(strlen(r->resp_body), r->resp_len);
	json_error_t err;
	json_t *j = json_loadb(r->resp_body, r->resp_len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("reply body is not JSON (%s): %s", err.text, r->resp_body);
	return j;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ reply_problem */

static void test_validation_problem_has_every_rfc9457_member(void **state)
{
	struct req r = new_req();
	json_t *errors = json_array();
	json_array_append_new(errors, problem_field("email", "must not start or end with whitespace"));
	assert_int_equal(reply_problem(&r, FD_EINVALID, "x", errors), FD_EINVALID);

	assert_true(r.replied);
	assert_int_equal(r.status, 422);
	assert_string_equal(r.content_type, "application/problem+json");
	json_t *p = body_of(&r);
	assert_string_equal(str(p, "type"), "urn:fleetdesk:problem:validation");
	assert_string_equal(str(p, "title"), "Validation failed");
	assert_int_equal(json_integer_value(json_object_get(p, "status")), 422);
	assert_true(json_is_integer(json_object_get(p, "status")));
	assert_string_equal(str(p, "detail"), "x");
	assert_string_equal(str(p, "instance"), PATH);
	assert_string_equal(str(p, "request_id"), REQUEST_ID);
	json_t *errs = json_object_get(p, "errors");
	assert_true(json_is_array(errs));
	assert_int_equal(json_array_size(errs), 1);
	json_t *e = json_array_get(errs, 0);
	assert_string_equal(str(e, "field"), "email");
	assert_string_equal(str(e, "pointer"), "/email");
	assert_string_equal(str(e, "detail"), "must not start or end with whitespace");
	assert_int_equal(json_object_size(p), 7);
	json_decref(p);
	req_release(&r);
}

static void test_problem_without_detail_or_errors_omits_them(void **state)
{
	struct req r = new_req();
	assert_int_equal(reply_problem(&r, FD_ENOTFOUND, NULL, NULL), FD_ENOTFOUND);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.content_type, "application/problem+json");
	json_t *p = body_of(&r);
	assert_string_equal(str(p, "type"), "urn:fleetdesk:problem:not_found");
	assert_string_equal(str(p, "title"), "Not found");
	assert_int_equal(json_integer_value(json_object_get(p, "status")), 404);
	assert_null(json_object_get(p, "detail"));
	assert_null(json_object_get(p, "errors"));
	assert_string_equal(str(p, "instance"), PATH);
	assert_string_equal(str(p, "request_id"), REQUEST_ID);
	json_decref(p);
	req_release(&r);
}

static void test_every_error_has_its_status_type_and_title(void **state)
{
	static const struct {
		enum fd_err rc;
		unsigned status;
		const char *type;
	} cases[] = {
	    {FD_ENOMEM, 500, "out_of_memory"}, {FD_EBADREQ, 400, "bad_request"},
	    {FD_EUNAUTH, 401, "unauthorized"}, {FD_EFORBIDDEN, 403, "forbidden"},
	    {FD_ENOTFOUND, 404, "not_found"},  {FD_EMETHOD, 405, "method_not_allowed"},
	    {FD_ECONFLICT, 409, "conflict"},   {FD_EPRECOND, 412, "precondition_failed"},
	    {FD_ETOOLARGE, 413, "too_large"},  {FD_EMEDIA, 415, "unsupported_media_type"},
	    {FD_EINVALID, 422, "validation"},  {FD_ETOOMANY, 429, "too_many_requests"},
	    {FD_EBUSY, 503, "unavailable"},
	    {FD_EIO, 500, "internal"},
	};
	assert_int_equal(sizeof cases / sizeof cases[0], FD_ERR_COUNT - 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(problem_status(cases[i].rc), cases[i].status);
		struct req r = new_req();
		assert_int_equal(reply_problem(&r, cases[i].rc, "d", NULL), cases[i].rc);
		assert_int_equal(r.status, cases[i].status);
		json_t *p = body_of(&r);
		char type[96];
		snprintf(type, sizeof type, "urn:fleetdesk:problem:%s", cases[i].type);
		assert_string_equal(str(p, "type"), type);
		assert_non_null(str(p, "title"));
		assert_true(strlen(str(p, "title")) > 0);
		assert_int_equal(json_integer_value(json_object_get(p, "status")), cases[i].status);
		json_decref(p);
		req_release(&r);
	}
}

static void test_problem_status_of_unknown_error_is_500(void **state)
{
	assert_int_equal(problem_status(FD_ERR_COUNT), 500);
	assert_int_equal(problem_status(FD_OK), 200);
}

static void test_problem_for_ok_or_unknown_error_is_an_internal_error(void **state)
{
	struct req r = new_req();
	assert_int_equal(reply_problem(&r, FD_OK, NULL, NULL), FD_EIO);
	assert_int_equal(r.status, 500);
	json_t *p = body_of(&r);
	assert_string_equal(str(p, "type"), "urn:fleetdesk:problem:internal");
	json_decref(p);
	req_release(&r);

	r = new_req();
	assert_int_equal(reply_problem(&r, FD_ERR_COUNT, NULL, NULL), FD_EIO);
	assert_int_equal(r.status, 500);
	req_release(&r);
}

static void test_problem_replaces_an_earlier_reply_without_leaking(void **state)
{
	struct req r = new_req();
	assert_int_equal(reply_json(&r, 200, json_pack("{s:s}", "ok", "yes")), FD_OK);
	assert_string_equal(r.content_type, "application/json");
	reply_problem(&r, FD_ECONFLICT, "taken", json_pack("[o]", problem_field("email", "is taken")));
	assert_int_equal(r.status, 409);
	assert_string_equal(r.content_type, "application/problem+json");
	json_t *p = body_of(&r);
	assert_null(json_object_get(p, "ok"));
	assert_string_equal(str(json_array_get(json_object_get(p, "errors"), 0), "field"), "email");
	json_decref(p);
	req_release(&r);
}

static void test_problem_body_escapes_the_instance_path(void **state)
{
	struct req r = new_req();
	r.path = "/x\"y\\z/\xc3\xbc";
	reply_problem(&r, FD_ENOTFOUND, "quote \" and newline \n", NULL);
	json_t *p = body_of(&r);
	assert_string_equal(str(p, "instance"), "/x\"y\\z/\xc3\xbc");
	assert_string_equal(str(p, "detail"), "quote \" and newline \n");
	json_decref(p);
	req_release(&r);
}

/* ------------------------------------------------------------------ problem_field */

static void test_problem_field_has_field_pointer_and_detail(void **state)
{
	json_t *e = problem_field("first_name", "must be at most 100 characters");
	assert_non_null(e);
	assert_int_equal(json_object_size(e), 3);
	assert_string_equal(str(e, "field"), "first_name");
	assert_string_equal(str(e, "pointer"), "/first_name");
	assert_string_equal(str(e, "detail"), "must be at most 100 characters");
	json_decref(e);
}

/* The pointer problem_field() gives field, copied (so a failed assertion leaks nothing). */
static void pointer_of(const char *field, char *out, size_t n)
{
	json_t *e = problem_field(field, "is not a known field");
	assert_non_null(e);
	snprintf(out, n, "%s", str(e, "pointer") ? str(e, "pointer") : "(none)");
	json_decref(e);
}

static void test_problem_field_pointer_is_an_escaped_json_pointer(void **state)
{
	/* Unknown field names come from the client; RFC 6901 escapes '~' as "~0"
	 * and '/' as "~1", so "/a/b" would point at member "b" of member "a". */
	char ptr[64];
	pointer_of("a/b", ptr, sizeof ptr);
	assert_string_equal(ptr, "/a~1b");
	pointer_of("x~y", ptr, sizeof ptr);
	assert_string_equal(ptr, "/x~0y");
	pointer_of("~1", ptr, sizeof ptr);
	assert_string_equal(ptr, "/~01");
}

static void test_problem_field_of_empty_name_points_at_the_empty_member(void **state)
{
	json_t *e = problem_field("", "is not a known field");
	assert_string_equal(str(e, "pointer"), "/");
	json_decref(e);
}

/* ------------------------------------------------------------------ reply helpers */

static void test_reply_header_copies_and_keeps_at_most_the_maximum(void **state)
{
	struct req r = new_req();
	char name[16], value[16];
	for (int i = 0; i < REQ_MAX_HEADERS + 3; i++) {
		snprintf(name, sizeof name, "X-H%d", i);
		snprintf(value, sizeof value, "v%d", i);
		reply_header(&r, name, value);
	}
	assert_int_equal(r.nhdr, REQ_MAX_HEADERS);
	assert_string_equal(r.hdr_name[0], "X-H0");
	snprintf(value, sizeof value, "v%d", REQ_MAX_HEADERS - 1);
	assert_string_equal(r.hdr_value[REQ_MAX_HEADERS - 1], value);
	req_release(&r);
}

static void test_reply_raw_copies_the_body(void **state)
{
	struct req r = new_req();
	char body[] = "a,b\n1,2\n";
	assert_int_equal(reply_raw(&r, 200, "text/csv", body, strlen(body)), FD_OK);
	body[0] = 'Z';
	assert_string_equal(r.resp_body, "a,b\n1,2\n");
	assert_int_equal(r.resp_len, 8);
	assert_string_equal(r.content_type, "text/csv");
	req_release(&r);
}

static void test_reply_empty_drops_an_earlier_body(void **state)
{
	struct req r = new_req();
	reply_json(&r, 200, json_object());
	assert_int_equal(reply_empty(&r, 204), FD_OK);
	assert_null(r.resp_body);
	assert_int_equal(r.resp_len, 0);
	assert_int_equal(r.status, 204);
	assert_null(r.content_type);
	req_release(&r);
}

/* ------------------------------------------------------------------ api helpers */

static void test_url_encode_keeps_unreserved_characters(void **state)
{
	char *s = api_url_encode("AZaz09-._~");
	assert_string_equal(s, "AZaz09-._~");
	free(s);
	s = api_url_encode("");
	assert_string_equal(s, "");
	free(s);
}

static void test_url_encode_escapes_everything_else_in_upper_case_hex(void **state)
{
	char *s = api_url_encode("john doe+x@example.com&sort=-email/#?%");
	assert_string_equal(s, "john%20doe%2Bx%40example.com%26sort%3D-email%2F%23%3F%25");
	free(s);
	s = api_url_encode("M\xc3\xbcller\n");
	assert_string_equal(s, "M%C3%BCller%0A");
	free(s);
	s = api_url_encode("\xff");
	assert_string_equal(s, "%FF");
	free(s);
}

static void test_cursor_encode_round_trips_through_b64url(void **state)
{
	json_t *c = json_pack("{s:s, s:I, s:s}", "k", "2026-11-27T07:20:00.000Z", "seq", (json_int_t)123456789012, "e",
	                      "M\xc3\xbcller \"quoted\"");
	char *enc = api_cursor_encode(c);
	assert_non_null(enc);
	assert_true(strlen(enc) > 0);
	/* opaque and safe in a query string as is */
	char *url = api_url_encode(enc);
	assert_string_equal(url, enc);
	free(url);
	char *raw = NULL;
	size_t len = 0;
	assert_int_equal(util_b64url_decode(enc, &raw, &len), FD_OK);
	json_t *back = json_loadb(raw, len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, c));
	json_decref(back);
	free(raw);
	free(enc);
	json_decref(c);
}

static void test_cursor_of_empty_object_round_trips(void **state)
{
	json_t *c = json_object();
	char *enc = api_cursor_encode(c);
	char *raw = NULL;
	size_t len = 0;
	assert_int_equal(util_b64url_decode(enc, &raw, &len), FD_OK);
	assert_string_equal(raw, "{}");
	free(raw);
	free(enc);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validation_problem_has_every_rfc9457_member),
	    cmocka_unit_test(test_problem_without_detail_or_errors_omits_them),
	    cmocka_unit_test(test_every_error_has_its_status_type_and_title),
	    cmocka_unit_test(test_problem_status_of_unknown_error_is_500),
	    cmocka_unit_test(test_problem_for_ok_or_unknown_error_is_an_internal_error),
	    cmocka_unit_test(test_problem_replaces_an_earlier_reply_without_leaking),
	    cmocka_unit_test(test_problem_body_escapes_the_instance_path),
	    cmocka_unit_test(test_problem_field_has_field_pointer_and_detail),
	    cmocka_unit_test(test_problem_field_pointer_is_an_escaped_json_pointer),
	    cmocka_unit_test(test_problem_field_of_empty_name_points_at_the_empty_member),
	    cmocka_unit_test(test_reply_header_copies_and_keeps_at_most_the_maximum),
	    cmocka_unit_test(test_reply_raw_copies_the_body),
	    cmocka_unit_test(test_reply_empty_drops_an_earlier_body),
	    cmocka_unit_test(test_url_encode_keeps_unreserved_characters),
	    cmocka_unit_test(test_url_encode_escapes_everything_else_in_upper_case_hex),
	    cmocka_unit_test(test_cursor_encode_round_trips_through_b64url),
	    cmocka_unit_test(test_cursor_of_empty_object_round_trips),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
