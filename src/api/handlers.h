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

/* audit.c */
enum fd_err audit_list(struct req *r);

/* oauth.c */
enum fd_err oauth_token(struct req *r);

/* ops.c */
enum fd_err ops_healthz(struct req *r);
enum fd_err ops_metrics(struct req *r);
enum fd_err ops_openapi(struct req *r);

#endif
