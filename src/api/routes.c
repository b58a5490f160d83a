/*
 * routes.c - the explicit route table. A newcomer looking for an endpoint
 * starts here and is one hop from its handler. The fifth field is the
 * route's flags, the sixth its arg (the device type or record kind).
 */
#include "api/routes.h"

#include "api/common.h"
#include "api/handlers.h"
#include "store/store.h"

#define ORG  API_PREFIX "/org/{org_id}"
#define USER ORG "/users/{user_id}"
#define A    ROUTE_AUTH
#define J    (ROUTE_AUTH | ROUTE_JSON_BODY)

/* The device calls, once per type: {org_id}, {user_id}, {device_id}. */
#define DEVICE_ROUTES(seg, t)                                                                                          \
	{"GET", USER "/" seg, devices_list, "devices.list", A, t},                                                     \
	    {"POST", USER "/" seg, devices_create, "devices.create", J, t},                                            \
	    {"GET", USER "/" seg "/{device_id}", devices_get, "devices.get", A, t},                                    \
	    {"PUT", USER "/" seg "/{device_id}", devices_update, "devices.update", J, t},                              \
	    {"DELETE", USER "/" seg "/{device_id}", devices_delete, "devices.delete", A, t},                           \
	    {"POST", USER "/" seg "/{device_id}/state", devices_report_state, "devices.state", J, t},                  \
	    {"GET", USER "/" seg "/{device_id}/statistics", devices_statistics, "devices.statistics", A, t},           \
	    {"GET", USER "/" seg "/{device_id}/diagnosis", devices_diagnosis, "devices.diagnosis", A, t},              \
	    {"POST",                                                                                                   \
	     USER "/" seg "/{device_id}/reset-optimization",                                                           \
	     devices_reset_optimization,                                                                               \
	     "devices.reset_optimization",                                                                             \
	     A,                                                                                                        \
	     t},                                                                                                       \
	    {"GET",                                                                                                    \
	     USER "/" seg "/{device_id}/consumption-comparison",                                                       \
	     devices_consumption_comparison,                                                                           \
	     "devices.consumption_comparison",                                                                         \
	     A,                                                                                                        \
	     t},                                                                                                       \
	{                                                                                                              \
		"POST", USER "/" seg "/{device_id}/auth_session", devices_auth_session, "devices.auth_session", J, t   \
	}

#define RECORD_ROUTES(seg, k, name)                                                                                    \
	{"GET", USER "/" seg, records_list, name ".list", A, k},                                                       \
	    {"POST", USER "/" seg, records_create, name ".create", J, k},                                              \
	    {"GET", USER "/" seg "/{id}", records_get, name ".get", A, k},                                             \
	    {"PUT", USER "/" seg "/{id}", records_update, name ".update", J, k},                                       \
	{                                                                                                              \
		"DELETE", USER "/" seg "/{id}", records_delete, name ".delete", A, k                                   \
	}

const struct route api_routes[] = {
    {"GET", "/", web_index, "web.index", 0, 0},
    {"GET", "/assets/{path*}", web_asset, "web.asset", 0, 0},
    {"GET", "/healthz", ops_healthz, "healthz", 0, 0},
    {"GET", "/metrics", ops_metrics, "metrics", 0, 0},
    {"GET", API_PREFIX "/openapi.json", ops_openapi, "openapi", 0, 0},
    {"GET", API_PREFIX "/me", ops_me, "me", A, 0},
    {"POST", "/oauth2/token", oauth_token, "oauth2.token", 0, 0},
    {"POST", API_PREFIX "/oauth2/token", oauth_token, "oauth2.token", 0, 0},

    {"GET", ORG "/users", users_list, "users.list", A, 0},
    {"POST", ORG "/users", users_create, "users.create", J, 0},
    {"POST", ORG "/users/bulk", users_bulk, "users.bulk", J, 0},
    {"POST", ORG "/users/import", users_import, "users.import", A | ROUTE_UPLOAD, 0},
    {"GET", ORG "/users/export", users_export, "users.export", A, 0}, /* before {user_id} */
    {"POST", ORG "/users/export", users_export_job, "users.export_job", A, 0},
    {"GET", USER, users_get, "users.get", A, 0},
    {"PUT", USER, users_update, "users.update", J, 0},
    {"DELETE", USER, users_delete, "users.delete", A, 0},
    {"POST", USER "/restore", users_restore, "users.restore", A, 0},
    {"POST", USER "/erase", users_erase, "users.erase", A, 0},
    {"GET", USER "/summary", users_summary, "users.summary", A, 0},
    {"POST", USER "/migration", users_migrate, "users.migrate", J, 0},

    DEVICE_ROUTES("heat-pumps", DEV_HEAT_PUMP),
    DEVICE_ROUTES("electric-vehicles", DEV_EV),
    DEVICE_ROUTES("inverters", DEV_INVERTER),
    RECORD_ROUTES("buildings", REC_BUILDING, "buildings"),
    RECORD_ROUTES("energy-contracts", REC_CONTRACT, "energy_contracts"),

    {"GET", ORG "/devices", fleet_list, "fleet.list", A, 0},
    {"GET", ORG "/devices/counts", fleet_counts, "fleet.counts", A, 0},
    {"GET", ORG "/devices/export", fleet_export, "fleet.export", A, 0},
    {"POST", ORG "/devices/export", fleet_export_job, "fleet.export_job", A, 0},
    {"POST", ORG "/devices/bulk", devices_bulk, "devices.bulk", J, 0},
    {"POST", ORG "/device-states", devices_report_batch, "devices.state_batch", J, 0},
    {"POST", ORG "/device-onboarding", onboarding_create, "onboarding.create", J, 0},
    {"GET", "/connect/{secret}", connect_page, "connect.page", ROUTE_SECRET_PATH, 0},
    {"POST", "/connect/{secret}", connect_submit, "connect.submit", ROUTE_SECRET_PATH, 0},

    {"GET", ORG "/jobs", jobs_list, "jobs.list", A, 0},
    {"GET", ORG "/jobs/{job_id}", jobs_get, "jobs.get", A, 0},
    {"GET", ORG "/jobs/{job_id}/events", jobs_events, "jobs.events", A, 0},
    {"POST", ORG "/jobs/{job_id}/cancel", jobs_cancel, "jobs.cancel", A, 0},
    {"GET", ORG "/jobs/{job_id}/errors", jobs_errors, "jobs.errors", A, 0},
    {"GET", ORG "/jobs/{job_id}/failed-rows", jobs_failed_rows, "jobs.failed_rows", A, 0},
    {"GET", ORG "/jobs/{job_id}/result", jobs_result, "jobs.result", A, 0},

    {"GET", ORG "/audit-log", audit_list, "audit.list", A, 0},

    {"POST", API_PREFIX "/session", session_create, "session.create", ROUTE_JSON_BODY, 0},
    {"GET", API_PREFIX "/session", session_get, "session.get", 0, 0},
    {"DELETE", API_PREFIX "/session", session_delete, "session.delete", 0, 0},
    {"POST", API_PREFIX "/invites/lookup", invites_lookup, "invites.lookup", ROUTE_JSON_BODY, 0},
    {"POST", API_PREFIX "/invites/accept", invites_accept, "invites.accept", ROUTE_JSON_BODY, 0},
    {"GET", ORG "/staff", team_staff_list, "staff.list", A, 0},
    {"PATCH", ORG "/staff/{staff_id}", team_staff_update, "staff.update", J, 0},
    {"GET", ORG "/staff/invites", team_invites_list, "invites.list", A, 0},
    {"POST", ORG "/staff/invites", team_invites_create, "invites.create", J, 0},
    {"DELETE", ORG "/staff/invites/{invite_id}", team_invites_revoke, "invites.revoke", A, 0},
    {"GET", ORG "/api-tokens", team_tokens_list, "tokens.list", A, 0},
    {"POST", ORG "/api-tokens", team_tokens_create, "tokens.create", J, 0},
    {"DELETE", ORG "/api-tokens/{token_id}", team_tokens_revoke, "tokens.revoke", A, 0},
    {"GET", ORG "/oauth-clients", team_clients_list, "clients.list", A, 0},
    {"POST", ORG "/oauth-clients", team_clients_create, "clients.create", J, 0},
    {"DELETE", ORG "/oauth-clients/{client_id}", team_clients_revoke, "clients.revoke", A, 0},
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
