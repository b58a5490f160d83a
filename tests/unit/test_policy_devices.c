/*
 * test_policy_devices.c - the actions of issue 3 (devices, buildings and
 * contracts, onboarding, migration) and the integration role, through
 * policy_check().
 *
 * The expected answers are a table (issue 3 "Roles"): viewers read;
 * staff and admins also write; state reports are integration and admin
 * only; integration reads, registers and reports devices and nothing else.
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

static const enum role all_roles[] = {ROLE_USER, ROLE_VIEWER, ROLE_STAFF, ROLE_ADMIN, ROLE_INTEGRATION};
#define NROLES (sizeof all_roles / sizeof all_roles[0])

static const enum policy_action new_actions[] = {ACT_DEVICE_READ,  ACT_DEVICE_CREATE, ACT_DEVICE_UPDATE,
                                                 ACT_DEVICE_STATE, ACT_PROPERTY_READ, ACT_PROPERTY_WRITE,
                                                 ACT_ONBOARDING,   ACT_MIGRATE};
#define NNEW (sizeof new_actions / sizeof new_actions[0])

static const enum policy_action user_actions[] = {ACT_USER_READ,    ACT_USER_CREATE, ACT_USER_UPDATE, ACT_USER_DELETE,
                                                  ACT_USER_RESTORE, ACT_USER_ERASE,  ACT_AUDIT_READ};
#define NUSER (sizeof user_actions / sizeof user_actions[0])

static const char *const action_names[ACT_COUNT] = {
    [ACT_USER_READ] = "user.read",           [ACT_USER_CREATE] = "user.create",   [ACT_USER_UPDATE] = "user.update",
    [ACT_USER_DELETE] = "user.delete",       [ACT_USER_RESTORE] = "user.restore", [ACT_USER_ERASE] = "user.erase",
    [ACT_AUDIT_READ] = "audit.read",         [ACT_DEVICE_READ] = "device.read",   [ACT_DEVICE_CREATE] = "device.create",
    [ACT_DEVICE_UPDATE] = "device.update",   [ACT_DEVICE_STATE] = "device.state", [ACT_PROPERTY_READ] = "property.read",
    [ACT_PROPERTY_WRITE] = "property.write", [ACT_ONBOARDING] = "onboarding",     [ACT_MIGRATE] = "migrate",
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
 * The request each action makes as a handler builds it: device and
 * property actions name no user role; a migration acts on an end user
 * (target "user") and creates one (new role "user"); user writes act on
 * an end user.
 */
static struct policy_request request_for(enum policy_action a)
{
	struct policy_request r = {.action = a, .org_id = ORG, .target_role = ROLE_NONE, .new_role = ROLE_NONE};
	switch (a) {
	case ACT_MIGRATE:
		r.target_role = ROLE_USER;
		r.new_role = ROLE_USER;
		break;
	case ACT_USER_UPDATE:
	case ACT_USER_DELETE:
	case ACT_USER_RESTORE:
	case ACT_USER_ERASE:
		r.target_role = ROLE_USER;
		break;
	default:
		break;
	}
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

static void test_new_actions_matrix_for_every_role(void **state)
{
	/* OK = may, F = 403 */
	const enum fd_err OK = FD_OK, F = FD_EFORBIDDEN;
	const struct {
		enum role role;
		enum fd_err want[NNEW];
	} matrix[] = {
	    /* columns: device read, device create, device update, device state, property read, property write,
	     * onboarding, migrate (target user, new role user) */
	    {ROLE_USER, {F, F, F, F, F, F, F, F}},           {ROLE_VIEWER, {OK, F, F, F, OK, F, F, F}},
	    {ROLE_STAFF, {OK, OK, OK, F, OK, OK, OK, OK}},   {ROLE_ADMIN, {OK, OK, OK, OK, OK, OK, OK, OK}},
	    {ROLE_INTEGRATION, {OK, OK, F, OK, F, F, F, F}},
	};
	assert_int_equal(sizeof matrix / sizeof matrix[0], NROLES);
	int failures = 0;
	for (size_t i = 0; i < NROLES; i++) {
		for (size_t k = 0; k < NNEW; k++) {
			struct principal p = principal_of(matrix[i].role, ORG);
			struct policy_request r = request_for(new_actions[k]);
			enum fd_err got = policy_check(&p, &r);
			if (got != matrix[i].want[k]) {
				print_error("%s %s: got %s, want %s\n", role_name(matrix[i].role),
				            action_names[new_actions[k]], fd_err_name(got),
				            fd_err_name(matrix[i].want[k]));
				failures++;
			}
		}
	}
	assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------ per role */

static void test_user_role_may_do_none_of_the_new_actions(void **state)
{
	for (size_t k = 0; k < NNEW; k++)
		assert_int_equal(check(ROLE_USER, new_actions[k], ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

static void test_viewer_reads_devices_and_properties_only(void **state)
{
	assert_int_equal(check(ROLE_VIEWER, ACT_DEVICE_READ, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_VIEWER, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_VIEWER, ACT_DEVICE_CREATE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_DEVICE_UPDATE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_DEVICE_STATE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_PROPERTY_WRITE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_ONBOARDING, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_MIGRATE, ROLE_USER, ROLE_USER), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_MIGRATE, ROLE_USER, ROLE_NONE), FD_EFORBIDDEN);
}

static void test_state_reports_are_integration_and_admin_only(void **state)
{
	for (size_t i = 0; i < NROLES; i++) {
		enum role r = all_roles[i];
		enum fd_err want = (r == ROLE_ADMIN || r == ROLE_INTEGRATION) ? FD_OK : FD_EFORBIDDEN;
		enum fd_err got = check(r, ACT_DEVICE_STATE, ROLE_NONE, ROLE_NONE);
		if (got != want)
			fail_msg("%s device.state: got %s, want %s", role_name(r), fd_err_name(got), fd_err_name(want));
	}
}

static void test_staff_writes_devices_and_properties_and_creates_onboarding_links(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_DEVICE_CREATE, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_DEVICE_UPDATE, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_PROPERTY_WRITE, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_ONBOARDING, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_DEVICE_STATE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

/* ------------------------------------------------------------------ migration */

static void test_staff_migrates_an_end_user_into_an_end_user(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_MIGRATE, ROLE_USER, ROLE_USER), FD_OK);
	assert_int_equal(check(ROLE_STAFF, ACT_MIGRATE, ROLE_USER, ROLE_NONE), FD_OK);
}

static void test_staff_migrating_a_team_member_is_denied(void **state)
{
	static const enum role team[] = {ROLE_VIEWER, ROLE_STAFF, ROLE_ADMIN};
	for (size_t t = 0; t < 3; t++) {
		enum fd_err got = check(ROLE_STAFF, ACT_MIGRATE, team[t], ROLE_USER);
		if (got != FD_EFORBIDDEN)
			fail_msg("staff migrating a %s: got %s", role_name(team[t]), fd_err_name(got));
		got = check(ROLE_STAFF, ACT_MIGRATE, team[t], ROLE_NONE);
		if (got != FD_EFORBIDDEN)
			fail_msg("staff migrating a %s (no new role): got %s", role_name(team[t]), fd_err_name(got));
	}
}

static void test_staff_migrating_into_a_team_role_is_denied(void **state)
{
	assert_int_equal(check(ROLE_STAFF, ACT_MIGRATE, ROLE_USER, ROLE_VIEWER), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_MIGRATE, ROLE_USER, ROLE_STAFF), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_MIGRATE, ROLE_USER, ROLE_ADMIN), FD_EFORBIDDEN);
}

static void test_admin_migrates_any_role(void **state)
{
	static const enum role ladder[] = {ROLE_USER, ROLE_VIEWER, ROLE_STAFF, ROLE_ADMIN};
	for (size_t t = 0; t < 4; t++) {
		for (size_t n = 0; n < 4; n++)
			assert_int_equal(check(ROLE_ADMIN, ACT_MIGRATE, ladder[t], ladder[n]), FD_OK);
		assert_int_equal(check(ROLE_ADMIN, ACT_MIGRATE, ladder[t], ROLE_NONE), FD_OK);
	}
}

/* ------------------------------------------------------------------ integration */

static void test_integration_may_read_register_and_report_devices(void **state)
{
	assert_int_equal(check(ROLE_INTEGRATION, ACT_DEVICE_READ, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_INTEGRATION, ACT_DEVICE_CREATE, ROLE_NONE, ROLE_NONE), FD_OK);
	assert_int_equal(check(ROLE_INTEGRATION, ACT_DEVICE_STATE, ROLE_NONE, ROLE_NONE), FD_OK);
}

static void test_integration_may_not_change_settings_properties_onboarding_or_migrate(void **state)
{
	assert_int_equal(check(ROLE_INTEGRATION, ACT_DEVICE_UPDATE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_INTEGRATION, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_INTEGRATION, ACT_PROPERTY_WRITE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_INTEGRATION, ACT_ONBOARDING, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_INTEGRATION, ACT_MIGRATE, ROLE_USER, ROLE_USER), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_INTEGRATION, ACT_MIGRATE, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

static void test_integration_is_forbidden_every_user_action_and_the_audit_log(void **state)
{
	/* with and without a target or new role: no combination opens a user action to integration */
	static const enum role targets[] = {ROLE_NONE,  ROLE_USER,  ROLE_VIEWER,
	                                    ROLE_STAFF, ROLE_ADMIN, ROLE_INTEGRATION};
	for (size_t k = 0; k < NUSER; k++) {
		for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
			enum fd_err got = check(ROLE_INTEGRATION, user_actions[k], targets[t], ROLE_NONE);
			if (got != FD_EFORBIDDEN)
				fail_msg("integration %s on a %s: got %s", action_names[user_actions[k]],
				         role_name(targets[t]), fd_err_name(got));
			got = check(ROLE_INTEGRATION, user_actions[k], ROLE_NONE, targets[t]);
			if (got != FD_EFORBIDDEN)
				fail_msg("integration %s giving %s: got %s", action_names[user_actions[k]],
				         role_name(targets[t]), fd_err_name(got));
		}
	}
	assert_int_equal(check(ROLE_INTEGRATION, ACT_AUDIT_READ, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

static void test_staff_and_viewer_may_not_give_the_integration_role(void **state)
{
	/* integration sits outside the ladder, above admin in the enum: staff must not reach it */
	assert_int_equal(check(ROLE_STAFF, ACT_USER_CREATE, ROLE_NONE, ROLE_INTEGRATION), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_USER_UPDATE, ROLE_USER, ROLE_INTEGRATION), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_STAFF, ACT_MIGRATE, ROLE_USER, ROLE_INTEGRATION), FD_EFORBIDDEN);
	assert_int_equal(check(ROLE_VIEWER, ACT_USER_CREATE, ROLE_NONE, ROLE_INTEGRATION), FD_EFORBIDDEN);
}

static void test_unknown_action_is_denied_to_integration(void **state)
{
	assert_int_equal(check(ROLE_INTEGRATION, ACT_COUNT, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
}

/* ------------------------------------------------------------------ orgs */

static void test_other_org_is_not_found_for_every_role_and_new_action(void **state)
{
	for (size_t i = 0; i < NROLES; i++) {
		struct principal p = principal_of(all_roles[i], OTHER_ORG);
		for (size_t k = 0; k < NNEW; k++) {
			struct policy_request r = request_for(new_actions[k]);
			enum fd_err got = policy_check(&p, &r);
			if (got != FD_ENOTFOUND)
				fail_msg("%s %s in another org: got %s", role_name(all_roles[i]),
				         action_names[new_actions[k]], fd_err_name(got));
		}
	}
}

static void test_other_org_is_not_found_for_integration_on_user_actions_too(void **state)
{
	struct principal p = principal_of(ROLE_INTEGRATION, OTHER_ORG);
	for (size_t k = 0; k < NUSER; k++) {
		struct policy_request r = request_for(user_actions[k]);
		assert_int_equal(policy_check(&p, &r), FD_ENOTFOUND);
	}
	struct policy_request r = request_for(ACT_DEVICE_READ);
	r.org_id = NULL;
	assert_int_equal(policy_check(&p, &r), FD_ENOTFOUND);
}

static void test_no_principal_is_unauthenticated_for_the_new_actions(void **state)
{
	for (size_t k = 0; k < NNEW; k++) {
		struct policy_request r = request_for(new_actions[k]);
		assert_int_equal(policy_check(NULL, &r), FD_EUNAUTH);
	}
}

static void test_no_valid_role_may_do_any_new_action(void **state)
{
	for (size_t k = 0; k < NNEW; k++) {
		assert_int_equal(check(ROLE_NONE, new_actions[k], ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
		assert_int_equal(check(ROLE_COUNT, new_actions[k], ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	}
}

/* ------------------------------------------------------------------ role names */

static void test_role_parse_knows_integration(void **state)
{
	assert_int_equal(role_parse("integration"), ROLE_INTEGRATION);
	assert_string_equal(role_name(ROLE_INTEGRATION), "integration");
	assert_int_equal(role_parse(role_name(ROLE_INTEGRATION)), ROLE_INTEGRATION);
	assert_int_equal(role_parse("Integration"), ROLE_NONE);
	assert_int_equal(role_parse("integrations"), ROLE_NONE);
	assert_int_equal(role_parse("integ"), ROLE_NONE);
}

static void test_every_role_reads_its_own_credential_in_its_own_org_only(void **state)
{
	for (enum role r = ROLE_VIEWER; r < ROLE_COUNT; r++) {
		assert_int_equal(check(r, ACT_SELF_READ, ROLE_NONE, ROLE_NONE), FD_OK);
		struct principal p = principal_of(r, ORG);
		struct policy_request other = {ACT_SELF_READ, "00000000-0000-4000-8000-0000000000ff", ROLE_NONE, ROLE_NONE};
		assert_int_equal(policy_check(&p, &other), FD_ENOTFOUND);
	}
	assert_int_equal(check(ROLE_USER, ACT_SELF_READ, ROLE_NONE, ROLE_NONE), FD_EFORBIDDEN);
	struct policy_request r = request_for(ACT_SELF_READ);
	assert_int_equal(policy_check(NULL, &r), FD_EUNAUTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_actions_matrix_for_every_role),
	    cmocka_unit_test(test_user_role_may_do_none_of_the_new_actions),
	    cmocka_unit_test(test_viewer_reads_devices_and_properties_only),
	    cmocka_unit_test(test_state_reports_are_integration_and_admin_only),
	    cmocka_unit_test(test_staff_writes_devices_and_properties_and_creates_onboarding_links),
	    cmocka_unit_test(test_staff_migrates_an_end_user_into_an_end_user),
	    cmocka_unit_test(test_staff_migrating_a_team_member_is_denied),
	    cmocka_unit_test(test_staff_migrating_into_a_team_role_is_denied),
	    cmocka_unit_test(test_admin_migrates_any_role),
	    cmocka_unit_test(test_integration_may_read_register_and_report_devices),
	    cmocka_unit_test(test_integration_may_not_change_settings_properties_onboarding_or_migrate),
	    cmocka_unit_test(test_integration_is_forbidden_every_user_action_and_the_audit_log),
	    cmocka_unit_test(test_staff_and_viewer_may_not_give_the_integration_role),
	    cmocka_unit_test(test_unknown_action_is_denied_to_integration),
	    cmocka_unit_test(test_other_org_is_not_found_for_every_role_and_new_action),
	    cmocka_unit_test(test_other_org_is_not_found_for_integration_on_user_actions_too),
	    cmocka_unit_test(test_no_principal_is_unauthenticated_for_the_new_actions),
	    cmocka_unit_test(test_no_valid_role_may_do_any_new_action),
	    cmocka_unit_test(test_role_parse_knows_integration),
	    cmocka_unit_test(test_every_role_reads_its_own_credential_in_its_own_org_only),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
