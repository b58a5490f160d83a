/*
 * handlers.h - every request handler, one line each. The route table in
 * routes.c maps paths to these; each lives in the file of its resource.
 */
#ifndef FD_HANDLERS_H
#define FD_HANDLERS_H

#include "core/err.h"
#include "http/request.h"

/* users.c */
enum fd_err users_list(struct req *r);
enum fd_err users_create(struct req *r);
enum fd_err users_get(struct req *r);
enum fd_err users_update(struct req *r);
enum fd_err users_delete(struct req *r);
enum fd_err users_restore(struct req *r);
enum fd_err users_erase(struct req *r);

/* bulk.c */
enum fd_err users_bulk(struct req *r);

/* jobs.c */
enum fd_err users_import(struct req *r);
enum fd_err jobs_list(struct req *r);
enum fd_err jobs_get(struct req *r);
enum fd_err users_export(struct req *r);
enum fd_err fleet_export(struct req *r);
enum fd_err users_export_job(struct req *r);
enum fd_err fleet_export_job(struct req *r);
enum fd_err jobs_result(struct req *r);
enum fd_err devices_bulk(struct req *r);
enum fd_err jobs_events(struct req *r);
enum fd_err jobs_cancel(struct req *r);
enum fd_err jobs_errors(struct req *r);
enum fd_err jobs_failed_rows(struct req *r);

/* devices.c (the route's arg is the device type) */
enum fd_err devices_list(struct req *r);
enum fd_err devices_create(struct req *r);
enum fd_err devices_get(struct req *r);
enum fd_err devices_update(struct req *r);
enum fd_err devices_delete(struct req *r);
enum fd_err devices_reset_optimization(struct req *r);
enum fd_err devices_report_state(struct req *r);
enum fd_err devices_report_batch(struct req *r);
enum fd_err devices_statistics(struct req *r);

/* workflows.c */
enum fd_err devices_diagnosis(struct req *r);
enum fd_err devices_consumption_comparison(struct req *r);
enum fd_err users_summary(struct req *r);
enum fd_err users_migrate(struct req *r);
enum fd_err fleet_list(struct req *r);
enum fd_err fleet_counts(struct req *r);

/* records.c (the route's arg is the record kind) */
enum fd_err records_list(struct req *r);
enum fd_err records_create(struct req *r);
enum fd_err records_get(struct req *r);
enum fd_err records_update(struct req *r);
enum fd_err records_delete(struct req *r);

/* onboarding.c */
enum fd_err onboarding_create(struct req *r);
enum fd_err devices_auth_session(struct req *r);
enum fd_err connect_page(struct req *r);
enum fd_err connect_submit(struct req *r);

/* audit.c */
enum fd_err audit_list(struct req *r);

/* oauth.c */
enum fd_err oauth_token(struct req *r);

/* ops.c */
enum fd_err ops_healthz(struct req *r);
enum fd_err ops_metrics(struct req *r);
enum fd_err ops_openapi(struct req *r);
enum fd_err ops_me(struct req *r);

/* session.c: sign-in, sessions, accepting invites */
enum fd_err session_create(struct req *r);
enum fd_err session_get(struct req *r);
enum fd_err session_delete(struct req *r);
enum fd_err invites_lookup(struct req *r);
enum fd_err invites_accept(struct req *r);

/* team.c: staff, invites, API tokens, OAuth clients (admin) */
enum fd_err team_staff_list(struct req *r);
enum fd_err team_staff_update(struct req *r);
enum fd_err team_invites_list(struct req *r);
enum fd_err team_invites_create(struct req *r);
enum fd_err team_invites_revoke(struct req *r);
enum fd_err team_tokens_list(struct req *r);
enum fd_err team_tokens_create(struct req *r);
enum fd_err team_tokens_revoke(struct req *r);
enum fd_err team_clients_list(struct req *r);
enum fd_err team_clients_create(struct req *r);
enum fd_err team_clients_revoke(struct req *r);

/* web.c: the web app's embedded files */
enum fd_err web_index(struct req *r);
enum fd_err web_asset(struct req *r);

#endif
