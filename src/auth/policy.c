/*
 * policy.c - the role matrix.
 *
 *   user    no back-office access at all
 *   viewer  read users
 *   staff   read, and the audit log; write users whose role is "user", and
 *           only set "user"
 *   admin   everything, including erase, the team, API tokens and clients
 *
 *   integration  (a machine, outside the ladder) reads devices, registers
 *                them and reports their state and readings; nothing else
 *
 * Staff can never create, change, delete or promote a team member (viewer,
 * staff, admin), so no one can raise a role above what they may manage.
 */
#include "auth/policy.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {"user", "viewer", "staff", "admin", "integration"};

enum role role_parse(const char *s)
{
	if (!s)
		return ROLE_NONE;
	for (int i = 0; i < ROLE_COUNT; i++) {
		if (strcmp(s, role_names[i]) == 0)
			return (enum role)i;
	}
	return ROLE_NONE;
}

const char *role_name(enum role r)
{
	if (r < 0 || r >= ROLE_COUNT)
		return "none";
	return role_names[r];
}

/* The highest role this role may create, touch or assign; ROLE_NONE for none. */
static enum role manageable(enum role r)
{
	switch (r) {
	case ROLE_ADMIN:
		return ROLE_ADMIN;
	case ROLE_STAFF:
		return ROLE_USER;
	default:
		return ROLE_NONE;
	}
}

enum fd_err policy_check(const struct principal *p, const struct policy_request *r)
{
	if (!p)
		return FD_EUNAUTH;
	if (!r->org_id || strcmp(p->org_id, r->org_id) != 0)
		return FD_ENOTFOUND;
	if (p->role <= ROLE_USER || p->role >= ROLE_COUNT)
		return FD_EFORBIDDEN;
	if (r->action == ACT_SELF_READ)
		return FD_OK;
	if (p->role == ROLE_INTEGRATION) {
		switch (r->action) {
		case ACT_DEVICE_READ:
		case ACT_DEVICE_CREATE:
		case ACT_DEVICE_STATE:
			return FD_OK;
		default:
			return FD_EFORBIDDEN;
		}
	}
	switch (r->action) {
	case ACT_USER_READ:
		return FD_OK; /* viewer and up */
	case ACT_USER_CREATE:
	case ACT_USER_UPDATE:
	case ACT_USER_DELETE:
	case ACT_USER_RESTORE: {
		enum role top = manageable(p->role);
		if (top == ROLE_NONE)
			return FD_EFORBIDDEN;
		if (r->target_role != ROLE_NONE && r->target_role > top)
			return FD_EFORBIDDEN;
		if (r->new_role != ROLE_NONE && r->new_role > top)
			return FD_EFORBIDDEN;
		return FD_OK;
	}
	case ACT_USER_ERASE:
	case ACT_DEVICE_STATE:
	case ACT_TEAM_MANAGE:
		return p->role == ROLE_ADMIN ? FD_OK : FD_EFORBIDDEN;
	case ACT_DEVICE_READ:
	case ACT_PROPERTY_READ:
	case ACT_JOB_READ:
		return FD_OK; /* viewer and up */
	case ACT_DEVICE_CREATE:
	case ACT_DEVICE_UPDATE:
	case ACT_PROPERTY_WRITE:
	case ACT_ONBOARDING:
	case ACT_JOB_CANCEL:
	case ACT_AUDIT_READ: /* support agents see who changed what */
		return p->role >= ROLE_STAFF ? FD_OK : FD_EFORBIDDEN;
	case ACT_MIGRATE: {
		/* creates a user of new_role and archives one of target_role */
		enum role top = manageable(p->role);
		if (top == ROLE_NONE || r->target_role > top || r->new_role > top)
			return FD_EFORBIDDEN;
		return FD_OK;
	}
	default:
		return FD_EFORBIDDEN;
	}
}
