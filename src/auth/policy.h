/*
 * policy.h - who may do what. The one authorisation decision of fleetdesk.
 *
 * Every handler builds a struct policy_request and calls policy_check()
 * before it touches the store. The function is pure: no I/O, no globals, so
 * the whole role matrix is unit-tested directly.
 */
#ifndef FD_POLICY_H
#define FD_POLICY_H

#include "core/err.h"
#include "core/util.h"

/* user < viewer < staff < admin is the team's ladder. integration stands
 * apart: a machine role for device integrations, outside the ladder. */
enum role { ROLE_NONE = -1, ROLE_USER = 0, ROLE_VIEWER, ROLE_STAFF, ROLE_ADMIN, ROLE_INTEGRATION, ROLE_COUNT };

/* "user" -> ROLE_USER ...; ROLE_NONE for anything else (NULL included). */
enum role role_parse(const char *s);
/* The role's name; "none" for ROLE_NONE. */
const char *role_name(enum role r);

/* The authenticated caller. */
struct principal {
	char org_id[FD_UUID_LEN + 1];
	enum role role;
	char actor_type[8];             /* "token" or "client" */
	char actor_id[FD_UUID_LEN + 1]; /* token id, or client id for OAuth2 tokens */
	char actor_name[256];
};

enum policy_action {
	ACT_USER_READ,
	ACT_USER_CREATE,
	ACT_USER_UPDATE,
	ACT_USER_DELETE,
	ACT_USER_RESTORE,
	ACT_USER_ERASE,
	ACT_AUDIT_READ,
	ACT_DEVICE_READ,    /* devices and their statistics */
	ACT_DEVICE_CREATE,  /* register a device */
	ACT_DEVICE_UPDATE,  /* settings, reset, delete */
	ACT_DEVICE_STATE,   /* report state and readings */
	ACT_PROPERTY_READ,  /* buildings, contracts, summary, diagnosis, comparison, fleet view: the team's reads */
	ACT_PROPERTY_WRITE, /* buildings and energy contracts */
	ACT_ONBOARDING,     /* create a self-service connection link */
	ACT_MIGRATE,        /* move a user's records to a new user */
	ACT_JOB_READ,       /* background jobs, their failed rows and results */
	ACT_JOB_CANCEL,     /* cancel a background job */
	ACT_SELF_READ,      /* the caller's own credential: org, role, name (every role) */
	ACT_TEAM_MANAGE,    /* staff accounts, invites, API tokens and OAuth clients (admin) */
	ACT_COUNT
};

struct policy_request {
	enum policy_action action;
	const char *org_id;    /* the org in the path */
	enum role target_role; /* the target user's current role; ROLE_NONE if none (create, list) */
	enum role new_role;    /* the role being set; ROLE_NONE if unchanged */
};

/*
 * Decides whether p may do r.
 * Returns FD_OK, FD_EUNAUTH when p is NULL, FD_ENOTFOUND when the path's org
 * is not p's (so another org looks exactly like one that does not exist),
 * or FD_EFORBIDDEN when the role may not.
 */
enum fd_err policy_check(const struct principal *p, const struct policy_request *r);

#endif
