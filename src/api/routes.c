/*
 * routes.c - the explicit route table. A newcomer looking for an endpoint
 * starts here and is one hop from its handler.
 */
#include "api/routes.h"

#include "api/common.h"
#include "api/handlers.h"

#define ORG API_PREFIX "/org/{org_id}"

const struct route api_routes[] = {
    {"GET", "/healthz", ops_healthz, "healthz", 0},
    {"GET", "/metrics", ops_metrics, "metrics", 0},
    {"GET", API_PREFIX "/openapi.json", ops_openapi, "openapi", 0},
    {"POST", "/oauth2/token", oauth_token, "oauth2.token", 0},
    {"POST", API_PREFIX "/oauth2/token", oauth_token, "oauth2.token", 0},

    {"GET", ORG "/users", users_list, "users.list", ROUTE_AUTH},
    {"POST", ORG "/users", users_create, "users.create", ROUTE_AUTH | ROUTE_JSON_BODY},
    {"GET", ORG "/users/{user_id}", users_get, "users.get", ROUTE_AUTH},
    {"PUT", ORG "/users/{user_id}", users_update, "users.update", ROUTE_AUTH | ROUTE_JSON_BODY},
    {"DELETE", ORG "/users/{user_id}", users_delete, "users.delete", ROUTE_AUTH},
    {"POST", ORG "/users/{user_id}/restore", users_restore, "users.restore", ROUTE_AUTH},
    {"POST", ORG "/users/{user_id}/erase", users_erase, "users.erase", ROUTE_AUTH},

    {"GET", ORG "/audit-log", audit_list, "audit.list", ROUTE_AUTH},
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
