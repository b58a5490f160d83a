/*
 * test_policy.c - the role matrix of README "Roles", through policy_check(),
 * and the role names.
 *
 * The matrix is written out as a table of expected answers, so a change to
 * who may do what shows up here as one changed cell.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/policy.h"
#include "core/util.h"

#define ORG       "7d3f0c8e-5a4b-4f7e-8b2a-1c9d8e7f6a50"
#define OTHER_ORG "0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11"

static const enum role roles[] = {ROLE_USER, ROLE_VIEWER, ROLE_STAFF, ROLE_ADMIN};
#define NROLES (sizeof roles / sizeof roles[0])

static const enum policy_action actions[] = {ACT_USER_READ,    ACT_USER_CREATE, ACT_USER_UPDATE, ACT_USER_DELETE,
                                             ACT_USER_RESTORE, ACT_USER_ERASE,  ACT_AUDIT_READ};
#define NACTIONS (sizeof actions / sizeof actions[0])

static const char *const action_names[ACT_COUNT] = {
    [ACT_USER_READ] = "read",     [ACT_USER_CREATE] = "create",   [ACT_USER_UPDATE] = "update",
    [ACT_USER_DELETE] = "delete", [ACT_USER_RESTORE] = "restore", [ACT_USER_ERASE] = "erase",
    [ACT_AUDIT_READ] = "audit",
};

static struct principal principal_of(enum role role, const char *org)
{
	struct principal p;
	memset(&p, 0, sizeof p);
	snprintf(p.org_id, sizeof p.org_id, "%s", org);
	p.role = role;
	snprintf(p.actor_type, sizeof p.actor_type, "token");
	snprintf(p.actor_id, sizeof p.actor_id, "%s", "3c4d5e6f-0000-4000-8000-000000000001");
	snprintf(p.actor_name, sizeof p.actor_name, "ops");
	return p;
}

/*
 * The request an action makes on an ordinary end user: create has no target
 * yet; the others act on a user whose role is "user". No role change.
 */
static struct policy_request request_for(enum policy_action a)
{
	struct policy_request r = {
	    .action = a,
	    .org_id = ORG,
	    .target_role = (a == ACT_USER_READ || a == ACT_USER_CREATE || a == ACT_AUDIT_READ) ? ROLE_NONE : ROLE_USER,
	    .new_role = ROLE_NONE,
	};
	return r;
}

static enum fd_err check(enum role role, enum policy_action a, enum role target, enum role new_role)
{
	struct principal p = principal_of(role, ORG);
	struct policy_request r = request_for(a);
	r.target_role = target;
	r.new_role = new_role;
	return policy_check(&p, &r);
}

static int group_setup(void **state)
{
	return util_init() == FD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ the matrix */

static void test_role_matrix_matches_the_readme(void **state)
{
	/* OK = may, F = 403 */
	const enum fd_err OK = FD_OK, F = FD_EFORBIDDEN;
	const struct {
		enum role role;
		enum fd_err want[ACT_COUNT];
	} matrix[] = {
	    /* columns: read, create, update, delete, restore, erase, audit */
	    {ROLE_USER, {F, F, F, F, F, F, F}},
	    {ROLE_VIEWER, {OK, F, F, F, F, F, F}},
	    {ROLE_STAFF, {OK, OK, OK, OK, OK, F, OK}},
	    {ROLE_ADMIN, {OK, OK, OK, OK, OK, OK, OK}},
	};
	for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++) {
		for (size_t k = 0; k < NACTIONS; k++) {
			enum policy_action a = actions[k];
			struct principal p = principal_of(matrix[i].role, ORG);
			struct policy_request r = request_for(a);
			enum fd_err got = policy_check(&p, &r);
			if (got != matrix[i].want[a])
				fail_msg("%s %s: got %s, want %s", role_name(matrix[i].role), action_names[a],
				         fd_err_name(got), fd_err_name(matrix[i].want[a]));
		}
	}
}

static void test_user_role_may_do_nothing(void **state)
{
	for (size_t k = 0; k < NACTIONS; k++)
		assert_int_equal(check(ROLE_USER, actions[k], ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

static void test_viewer_may_only_read_users(void **state)
{
	assert_int_equal(check(ROLE_VIEWER, ACT_USER_READ, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_VIEWER, ACT_USER_READ, ROLE_ADMIN, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_VIEWER, ACT_USER_CREATE, ROLE_NONE, ROLE_USER), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_USER_UPDATE, ROLE_USER, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_AUDIT_READ, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

static void test_principal_with_no_valid_role_may_do_nothing(void **state)
{
	for (size_t k = 0; k < NACTIONS; k++) {
		assert_int_equal(check(ROLE_NONE, actions[k], ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
		assert_int_equal(check(ROLE_COUNT, actions[k], ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	}
}

static void test_unknown_action_is_denied_even_to_admin(void **state)
{
	assert_int_equal(check(ROLE_ADMIN, ACT_COUNT, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

/* ------------------------------------------------------------------ staff limits */

static void test_staff_may_write_users_whose_role_is_user(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_USER_CREATE, ROLE_NONE, ROLE_USER), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_CREATE, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_UPDATE, ROLE_USER, ROLE_USER), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_DELETE, ROLE_USER, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_RESTORE, ROLE_USER, ROLE_NONE), FD_OK);
}

static void test_staff_cannot_write_a_team_member(void **state)
{
	static const enum role team[] = {ROLE_VIEWER, ROLE_STAFF, ROLE_ADMIN};
	static const enum policy_action writes[] = {ACT_USER_UPDATE, ACT_USER_DELETE, ACT_USER_RESTORE};
	for (size_t t = 0; t < 3; t++) {
		for (size_t w = 0; w < 3; w++) {
			enum fd_err got = check(ROLE_STAFF, writes[w], team[t], ROLE_NONE);
			if (got != FD_EFORBIDDEN)
				fail_msg("staff %s of a %s: got %s", action_names[writes[w]], role_name(team[t]),
				         fd_err_name(got));
		}
	}
}

static void test_staff_cannot_create_a_team_member(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_USER_CREATE, ROLE_NONE, ROLE_VIEWER), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_CREATE, ROLE_NONE, ROLE_STAFF), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_CREATE, ROLE_NONE, ROLE_ADMIN), FD_EFORBIDDEN);
}

static void test_staff_cannot_give_a_user_a_team_role(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_USER_UPDATE, ROLE_USER, ROLE_VIEWER), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_UPDATE, ROLE_USER, ROLE_STAFF), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_UPDATE, ROLE_USER, ROLE_ADMIN), FD_EFORBIDDEN);
}

static void test_staff_cannot_demote_a_team_member_to_user(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_USER_UPDATE, ROLE_ADMIN, ROLE_USER), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_UPDATE, ROLE_STAFF, ROLE_USER), FD_EFORBIDDEN);
}

static void test_staff_cannot_erase_nor_manage_the_team_but_reads_the_audit_log(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_USER_ERASE, ROLE_USER, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_AUDIT_READ, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_VIEWER, ACT_AUDIT_READ, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_ADMIN, ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE), FD_OK);
}

/* ------------------------------------------------------------------ admin */

static void test_admin_may_write_any_role_and_set_any_role(void **state)
{
	static const enum policy_action writes[] = {ACT_USER_UPDATE, ACT_USER_DELETE, ACT_USER_RESTORE, ACT_USER_ERASE};
	for (size_t t = 0; t < NROLES; t++) {
		assert_int_equal(check(ROLE_ADMIN, ACT_USER_CREATE, ROLE_NONE, roles[t]), FD_OK);
		for (size_t w = 0; w < 4; w++)
			assert_int_equal(check(ROLE_ADMIN, writes[w], roles[t], ROLE_NONE), FD_OK);
		for (size_t n = 0; n < NROLES; n++)
			assert_int_equal(check(ROLE_ADMIN, ACT_USER_UPDATE, roles[t], roles[n]), FD_OK);
	}
}

static void test_erase_and_the_team_are_admin_only_the_audit_staff_and_up(void **state)
{
	for (size_t i = 0; i < NROLES; i++) {
		enum fd_err want = roles[i] == ROLE_ADMIN ? FD_OK : FD_EFORBIDDEN;
		assert_int_equal(check(roles[i], ACT_USER_ERASE, ROLE_USER, ROLE_NONE), want);
		assert_int_equal(check(roles[i], ACT_TEAM_MANAGE, ROLE_NONE, ROLE_NONE), want);
		want = roles[i] >= ROLE_STAFF && roles[i] != ROLE_INTEGRATION ? FD_OK : FD_EFORBIDDEN;
		assert_int_equal(check(roles[i], ACT_AUDIT_READ, ROLE_NONE, ROLE_NONE), want);
	}
}

/* ------------------------------------------------------------------ orgs and principals */

static void test_other_org_is_not_found_for_every_role_and_action(void **state)
{
	for (size_t i = 0; i < NROLES; i++) {
		struct principal p = principal_of(roles[i], OTHER_ORG);
		for (size_t k = 0; k < NACTIONS; k++) {
			struct policy_request r = request_for(actions[k]);
			enum fd_err got = policy_check(&p, &r);
			if (got != FD_ENOTFOUND)
				fail_msg("%s %s in another org: got %s", role_name(roles[i]), action_names[actions[k]],
				         fd_err_name(got));
		}
	}
}

static void test_org_differing_only_in_a_prefix_is_not_found(void **state)
{
	struct principal p = principal_of(ROLE_ADMIN, ORG);
	struct policy_request r = request_for(ACT_USER_READ);
	r.org_id = "7d3f0c8e";
	assert_int_equal(policy_check(&p, &r), FD_ENOTFOUND);
	r.org_id = ORG "0";
	assert_int_equal(policy_check(&p, &r), FD_ENOTFOUND);
	r.org_id = "";
	assert_int_equal(policy_check(&p, &r), FD_ENOTFOUND);
}

static void test_missing_path_org_is_not_found(void **state)
{
	struct principal p = principal_of(ROLE_ADMIN, ORG);
	struct policy_request r = request_for(ACT_USER_READ);
	r.org_id = NULL;
	assert_int_equal(policy_check(&p, &r), FD_ENOTFOUND);
}

static void test_null_principal_is_unauthenticated(void **state)
{
	for (size_t k = 0; k < NACTIONS; k++) {
		struct policy_request r = request_for(actions[k]);
		assert_int_equal(policy_check(NULL, &r), FD_EUNAUTH);
		r.org_id = NULL;
		assert_int_equal(policy_check(NULL, &r), FD_EUNAUTH);
	}
}

/* ------------------------------------------------------------------ role names */

static void test_role_parse_and_role_name_round_trip(void **state)
{
	for (int r = 0; r < ROLE_COUNT; r++)
		assert_int_equal(role_parse(role_name((enum role)r)), r);
	assert_string_equal(role_name(ROLE_USER), "user");
	assert_string_equal(role_name(ROLE_VIEWER), "viewer");
	assert_string_equal(role_name(ROLE_STAFF), "staff");
	assert_string_equal(role_name(ROLE_ADMIN), "admin");
}

static void test_role_parse_rejects_anything_else(void **state)
{
	assert_int_equal(role_parse(NULL), ROLE_NONE);
	assert_int_equal(role_parse(""), ROLE_NONE);
	assert_int_equal(role_parse("Admin"), ROLE_NONE);
	assert_int_equal(role_parse("ADMIN"), ROLE_NONE);
	assert_int_equal(role_parse("admin "), ROLE_NONE);
	assert_int_equal(role_parse("adm"), ROLE_NONE);
	assert_int_equal(role_parse("none"), ROLE_NONE);
	assert_int_equal(role_parse("root"), ROLE_NONE);
}

static void test_role_name_of_no_role_is_none(void **state)
{
	assert_string_equal(role_name(ROLE_NONE), "none");
	assert_string_equal(role_name(ROLE_COUNT), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_role_matrix_matches_the_readme),
	    cmocka_unit_test(test_user_role_may_do_nothing),
	    cmocka_unit_test(test_viewer_may_only_read_users),
	    cmocka_unit_test(test_principal_with_no_valid_role_may_do_nothing),
	    cmocka_unit_test(test_unknown_action_is_denied_even_to_admin),
	    cmocka_unit_test(test_staff_may_write_users_whose_role_is_user),
	    cmocka_unit_test(test_staff_cannot_write_a_team_member),
	    cmocka_unit_test(test_staff_cannot_create_a_team_member),
	    cmocka_unit_test(test_staff_cannot_give_a_user_a_team_role),
	    cmocka_unit_test(test_staff_cannot_demote_a_team_member_to_user),
	    cmocka_unit_test(test_staff_cannot_erase_nor_manage_the_team_but_reads_the_audit_log),
	    cmocka_unit_test(test_admin_may_write_any_role_and_set_any_role),
	    cmocka_unit_test(test_erase_and_the_team_are_admin_only_the_audit_staff_and_up),
	    cmocka_unit_test(test_other_org_is_not_found_for_every_role_and_action),
	    cmocka_unit_test(test_org_differing_only_in_a_prefix_is_not_found),
	    cmocka_unit_test(test_missing_path_org_is_not_found),
	    cmocka_unit_test(test_null_principal_is_unauthenticated),
	    cmocka_unit_test(test_role_parse_and_role_name_round_trip),
	    cmocka_unit_test(test_role_parse_rejects_anything_else),
	    cmocka_unit_test(test_role_name_of_no_role_is_none),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
