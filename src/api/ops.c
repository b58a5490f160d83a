/*
 * ops.c - operational endpoints: health, Prometheus metrics, the OpenAPI
 * document (embedded in the binary at build time from openapi.json).
 */
#include <string.h>

#include "api/handlers.h"
#include "api/common.h"
#include "auth/policy.h"
#include "core/buf.h"
#include "http/server.h"
#include "store/store.h"

/* openapi_blob.S */
extern const char openapi_json[];
extern const char openapi_json_end[];

enum fd_err ops_healthz(struct req *r)
{
	if (store_ping(req_store(r)) != FD_OK)
		return reply_problem(r, FD_EBUSY, "the database does not answer", NULL);
	return reply_json(r, 200, json_pack("{ss}", "status", "ok"));
}

enum fd_err ops_metrics(struct req *r)
{
	struct buf b;
	buf_init(&b, 4 * 1024 * 1024);
	enum fd_err rc = server_metrics_render(r->srv, &b);
	if (rc == FD_OK)
		rc = reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
	buf_release(&b);
	return rc;
}

enum fd_err ops_openapi(struct req *r)
{
	return reply_raw(r, 200, "application/json", openapi_json, (size_t)(openapi_json_end - openapi_json));
}

enum fd_err ops_me(struct req *r)
{
	const struct principal *p = r->principal;
	struct policy_request pr = {ACT_SELF_READ, p ? p->org_id : NULL, ROLE_NONE, ROLE_NONE};
	enum fd_err rc = policy_check(p, &pr);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	return reply_json(r, 200,
	                  json_pack("{ss ss ss ss ss}", "org_id", p->org_id, "role", role_name(p->role), "actor_type",
	                            p->actor_type, "actor_id", p->actor_id, "actor_name", p->actor_name));
}
