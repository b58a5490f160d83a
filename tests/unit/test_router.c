/*
 * test_router.c - router_match() on a small table of its own and on the real
 * api_routes table.
 *
 * router_match hands malloc'd path parameters to the caller; every test frees
 * them, so the ASan build (make unit-asan) catches a leak or a double free.
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
#include "api/routes.h"
#include "core/util.h"
#include "http/router.h"

#define ORG_ID  "7d3f0c8e-5a4b-4f7e-8b2a-1c9d8e7f6a50"
#define USER_ID "0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11"
#define USERS   API_PREFIX "/org/" ORG_ID "/users"

static const struct route table[] = {
    {"GET", "/healthz", NULL, "healthz", 0, 0},
    {"GET", "/things", NULL, "things.list", 0, 0},
    {"POST", "/things", NULL, "things.create", 0, 0},
    {"GET", "/things/{id}", NULL, "things.get", 0, 0},
    {"PUT", "/things/{id}", NULL, "things.put", 0, 0},
    {"DELETE", "/things/{id}", NULL, "things.delete", 0, 0},
    {"GET", "/things/special", NULL, "things.special", 0, 0}, /* shadowed by {id} for GET */
    {"POST", "/things/{id}/parts/{part}", NULL, "parts.create", 0, 0},
    {"GET", "/a/{p1}/{p2}/{p3}/{p4}", NULL, "four", 0, 0},
    {"GET", "/b/{p1}/{p2}/{p3}/{p4}/{p5}", NULL, "five", 0, 0},
};
#define NTABLE (sizeof table / sizeof table[0])

/* The result of one match; release() frees the parameters. */
struct match {
	enum fd_err rc;
	const struct route *route;
	char *params[REQ_MAX_PARAMS];
	int nparams;
	char allow[64];
};

static struct match match_in(const struct route *t, size_t n, const char *method, const char *path)
{
	struct match m;
	memset(&m, 0, sizeof m);
	m.nparams = -1;
	memset(m.allow, 'X', sizeof m.allow - 1); /* the router must terminate it */
	m.allow[sizeof m.allow - 1] = '\0';
	m.rc = router_match(t, n, method, path, &m.route, m.params, &m.nparams, m.allow, sizeof m.allow);
	return m;
}

static struct match match(const char *method, const char *path)
{
	return match_in(table, NTABLE, method, path);
}

static void release(struct match *m)
{
	for (int i = 0; i < REQ_MAX_PARAMS; i++) {
		free(m->params[i]);
		m->params[i] = NULL;
	}
}

/* Asserts that no parameter was handed out (nothing to free). */
static void assert_no_params(const struct match *m)
{
	for (int i = 0; i < REQ_MAX_PARAMS; i++)
		assert_null(m->params[i]);
}

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ matching */

static void test_literal_path_matches_its_route(void **state)
{
	struct match m = match("GET", "/healthz");
	assert_int_equal(m.rc, FD_OK);
	assert_ptr_equal(m.route, &table[0]);
	assert_int_equal(m.nparams, 0);
	assert_no_params(&m);
}

static void test_method_selects_among_routes_of_one_path(void **state)
{
	struct match m = match("POST", "/things");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "things.create");
	m = match("GET", "/things");
	assert_string_equal(m.route->name, "things.list");
}

static void test_placeholder_is_captured(void **state)
{
	struct match m = match("PUT", "/things/42");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "things.put");
	assert_int_equal(m.nparams, 1);
	assert_string_equal(m.params[0], "42");
	assert_null(m.params[1]);
	release(&m);
}

static void test_placeholders_are_captured_in_order(void **state)
{
	struct match m = match("POST", "/things/t-1/parts/p.2");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "parts.create");
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.params[0], "t-1");
	assert_string_equal(m.params[1], "p.2");
	release(&m);
}

static void test_placeholder_takes_any_characters_but_slash(void **state)
{
	struct match m = match("GET", "/things/%7Bid%7D@:;,=~");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.params[0], "%7Bid%7D@:;,=~");
	release(&m);
}

static void test_first_matching_route_wins(void **state)
{
	struct match m = match("GET", "/things/special");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "things.get");
	assert_string_equal(m.params[0], "special");
	release(&m);
}

static void test_four_placeholders_are_captured(void **state)
{
	struct match m = match("GET", "/a/1/2/3/4");
	assert_int_equal(m.rc, FD_OK);
	assert_int_equal(m.nparams, 4);
	assert_string_equal(m.params[3], "4");
	release(&m);
}

static void test_pattern_with_more_placeholders_than_allowed_never_matches(void **state)
{
	struct match m = match("GET", "/b/1/2/3/4/5");
	assert_int_equal(m.rc, FD_ENOTFOUND);
	assert_no_params(&m);
}

/* ------------------------------------------------------------------ trailing slash */

static void test_trailing_slash_is_ignored(void **state)
{
	struct match m = match("GET", "/healthz/");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "healthz");

	m = match("DELETE", "/things/42/");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "things.delete");
	assert_string_equal(m.params[0], "42"); /* the slash is not part of the parameter */
	release(&m);
}

static void test_two_trailing_slashes_are_not_matched(void **state)
{
	struct match m = match("GET", "/healthz//");
	assert_int_equal(m.rc, FD_ENOTFOUND);
	assert_no_params(&m);
}

/* ------------------------------------------------------------------ 404 */

static void test_unknown_path_is_not_found(void **state)
{
	static const char *const paths[] = {"/nope",       "/",          "",          "/health",
	                                    "/healthzz",   "/healthz/x", "//healthz", "/things/1/parts",
	                                    "/things/1/2", "/HEALTHZ"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct match m = match("GET", paths[i]);
		if (m.rc != FD_ENOTFOUND)
			fail_msg("GET '%s': got %s, want not_found", paths[i], fd_err_name(m.rc));
		assert_no_params(&m);
	}
}

static void test_empty_segment_is_not_matched_by_a_placeholder(void **state)
{
	struct match m = match("GET", "/things//");
	assert_int_equal(m.rc, FD_ENOTFOUND);
	assert_no_params(&m);
	m = match("POST", "/things//parts/1");
	assert_int_equal(m.rc, FD_ENOTFOUND);
	assert_no_params(&m);
	m = match("POST", "/things/1/parts/");
	assert_int_equal(m.rc, FD_ENOTFOUND);
	assert_no_params(&m);
}

static void test_empty_table_finds_nothing(void **state)
{
	struct match m = match_in(table, 0, "GET", "/healthz");
	assert_int_equal(m.rc, FD_ENOTFOUND);
}

/* ------------------------------------------------------------------ 405 */

static void test_wrong_method_gives_method_not_allowed_with_allow_list(void **state)
{
	struct match m = match("PATCH", "/things/42");
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "GET, PUT, DELETE");
	assert_no_params(&m);

	m = match("DELETE", "/things");
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "GET, POST");
}

static void test_allow_list_names_each_method_once(void **state)
{
	/* GET /things/{id} and GET /things/special both match /things/special */
	struct match m = match("PUT", "/things/special");
	assert_int_equal(m.rc, FD_OK);
	release(&m);
	m = match("POST", "/things/special");
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "GET, PUT, DELETE");
}

static void test_method_is_case_sensitive(void **state)
{
	struct match m = match("get", "/healthz");
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "GET");
}

static void test_allow_list_is_truncated_to_its_buffer(void **state)
{
	const struct route *out = NULL;
	char *params[REQ_MAX_PARAMS] = {0};
	int np = 0;
	char allow[9]; /* "GET, PUT" and its NUL; ", DELETE" does not fit */
	memset(allow, 'X', sizeof allow);
	assert_int_equal(router_match(table, NTABLE, "PATCH", "/things/1", &out, params, &np, allow, sizeof allow),
	                 FD_EMETHOD);
	assert_string_equal(allow, "GET, PUT");
	/* with no buffer at all the answer is still 405 */
	assert_int_equal(router_match(table, NTABLE, "PATCH", "/things/1", &out, params, &np, NULL, 0), FD_EMETHOD);
	for (int i = 0; i < REQ_MAX_PARAMS; i++)
		assert_null(params[i]);
}

/* ------------------------------------------------------------------ the real table */

static void test_api_user_routes_match_with_org_and_user_parameters(void **state)
{
	struct match m = match_in(api_routes, api_routes_count, "GET", USERS "/" USER_ID);
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "users.get");
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.params[0], ORG_ID);
	assert_string_equal(m.params[1], USER_ID);
	release(&m);

	m = match_in(api_routes, api_routes_count, "POST", USERS "/" USER_ID "/restore/");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "users.restore");
	release(&m);

	m = match_in(api_routes, api_routes_count, "POST", USERS);
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "users.create");
	assert_true(m.route->flags & ROUTE_JSON_BODY);
	assert_true(m.route->flags & ROUTE_AUTH);
	assert_int_equal(m.nparams, 1);
	release(&m);
}

static void test_api_oauth_token_is_served_with_and_without_trailing_slash(void **state)
{
	struct match m = match_in(api_routes, api_routes_count, "POST", "/oauth2/token/");
	assert_int_equal(m.rc, FD_OK);
	assert_string_equal(m.route->name, "oauth2.token");
	assert_false(m.route->flags & ROUTE_AUTH);
	m = match_in(api_routes, api_routes_count, "POST", "/oauth2/token");
	assert_int_equal(m.rc, FD_OK);
	m = match_in(api_routes, api_routes_count, "GET", "/oauth2/token");
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "POST");
}

static void test_api_user_path_allows_get_put_delete(void **state)
{
	struct match m = match_in(api_routes, api_routes_count, "PATCH", USERS "/" USER_ID);
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "GET, PUT, DELETE");
	m = match_in(api_routes, api_routes_count, "GET", USERS "/" USER_ID "/erase");
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "POST");
	m = match_in(api_routes, api_routes_count, "DELETE", USERS);
	assert_int_equal(m.rc, FD_EMETHOD);
	assert_string_equal(m.allow, "GET, POST");
}

static void test_api_paths_with_empty_or_extra_segments_are_not_found(void **state)
{
	static const char *const paths[] = {
	    API_PREFIX "/org//users",
	    API_PREFIX "/org/" ORG_ID "/users//restore",
	    API_PREFIX "/org/" ORG_ID "/users/" USER_ID "/restore/x",
	    API_PREFIX "/org/" ORG_ID,
	    API_PREFIX "/org/" ORG_ID "/gadgets",
	    "/api/partners/v2.1/org/" ORG_ID "/users",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct match m = match_in(api_routes, api_routes_count, "GET", paths[i]);
		if (m.rc != FD_ENOTFOUND)
			fail_msg("GET '%s': got %s, want not_found", paths[i], fd_err_name(m.rc));
		assert_no_params(&m);
	}
}

static void test_every_api_route_matches_its_own_pattern(void **state)
{
	for (size_t i = 0; i < api_routes_count; i++) {
		/* the pattern with each placeholder replaced by a value */
		char path[512];
		size_t o = 0;
		int want_params = 0;
		for (const char *p = api_routes[i].pattern; *p; p++) {
			assert_true(o + 8 < sizeof path);
			if (*p == '{') {
				p = strchr(p, '}');
				assert_non_null(p);
				o += (size_t)snprintf(path + o, sizeof path - o, "v%d", want_params);
				want_params++;
			} else {
				path[o++] = *p;
			}
		}
		path[o] = '\0';
		struct match m = match_in(api_routes, api_routes_count, api_routes[i].method, path);
		if (m.rc != FD_OK || m.route != &api_routes[i])
			fail_msg("%s %s did not match route %s", api_routes[i].method, path, api_routes[i].name);
		assert_int_equal(m.nparams, want_params);
		for (int k = 0; k < want_params; k++) {
			char want[16];
			snprintf(want, sizeof want, "v%d", k);
			assert_string_equal(m.params[k], want);
		}
		release(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_literal_path_matches_its_route),
	    cmocka_unit_test(test_method_selects_among_routes_of_one_path),
	    cmocka_unit_test(test_placeholder_is_captured),
	    cmocka_unit_test(test_placeholders_are_captured_in_order),
	    cmocka_unit_test(test_placeholder_takes_any_characters_but_slash),
	    cmocka_unit_test(test_first_matching_route_wins),
	    cmocka_unit_test(test_four_placeholders_are_captured),
	    cmocka_unit_test(test_pattern_with_more_placeholders_than_allowed_never_matches),
	    cmocka_unit_test(test_trailing_slash_is_ignored),
	    cmocka_unit_test(test_two_trailing_slashes_are_not_matched),
	    cmocka_unit_test(test_unknown_path_is_not_found),
	    cmocka_unit_test(test_empty_segment_is_not_matched_by_a_placeholder),
	    cmocka_unit_test(test_empty_table_finds_nothing),
	    cmocka_unit_test(test_wrong_method_gives_method_not_allowed_with_allow_list),
	    cmocka_unit_test(test_allow_list_names_each_method_once),
	    cmocka_unit_test(test_method_is_case_sensitive),
	    cmocka_unit_test(test_allow_list_is_truncated_to_its_buffer),
	    cmocka_unit_test(test_api_user_routes_match_with_org_and_user_parameters),
	    cmocka_unit_test(test_api_oauth_token_is_served_with_and_without_trailing_slash),
	    cmocka_unit_test(test_api_user_path_allows_get_put_delete),
	    cmocka_unit_test(test_api_paths_with_empty_or_extra_segments_are_not_found),
	    cmocka_unit_test(test_every_api_route_matches_its_own_pattern),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
