/*
 * server.c - libmicrohttpd glue: the request lifecycle.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth/session.h"
#include "auth/token.h"
#include "core/log.h"
#include "core/util.h"
#include "http/idem.h"
#include "http/metrics.h"
#include "http/ratelimit.h"
#include "http/request.h"

struct server {
	struct MHD_Daemon *d;
	struct store *st;
	const struct route *routes;
	size_t nroutes;
	struct metrics *metrics;
	_Atomic int inflight;
	char url[128];
	char public_url[256];                       /* "" unless configured */
	char boot[33];                              /* this process's id, for the idempotency keys it holds */
	struct ratelimit *rl;                       /* requests per credential; NULL: no limit */
	struct ratelimit *fail_account, *fail_addr; /* failed credential checks */
	char rl_policy[96];                         /* the RateLimit-Policy header */
	char spool[512];                            /* "" when no upload route may be used */
	struct jobs *jobs;
	int64_t session_idle_ms, session_max_ms;
	/* streamed replies: those parked until server_wake, and how many may park */
	pthread_mutex_t wait_mu;
	struct stream *parked;
	int closing;
	_Atomic int waiting; /* open replies that may park */
};

/* A streamed reply, shared by the request and libmicrohttpd's response:
 * whichever lets go last frees it. */
struct stream {
	struct server *srv;
	struct MHD_Connection *conn;
	const struct stream_ops *ops;
	void *ctx;
	int waits;
	_Atomic int refs;
	_Atomic uint64_t bytes;
	struct stream *next_parked;
};

static void stream_unref(struct stream *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->ops->release)
		s->ops->release(s->ctx);
	if (s->waits)
		atomic_fetch_sub(&s->srv->waiting, 1);
	free(s);
}

enum fd_err reply_stream(struct req *r, unsigned status, const char *content_type, const struct stream_ops *ops,
                         void *ctx, int waits)
{
	struct stream *s = calloc(1, sizeof *s);
	if (s && waits && atomic_fetch_add(&r->srv->waiting, 1) >= SERVER_MAX_WAITING) {
		atomic_fetch_sub(&r->srv->waiting, 1);
		free(s);
		if (ops->release)
			ops->release(ctx);
		return FD_EBUSY;
	}
	if (!s) {
		if (ops->release)
			ops->release(ctx);
		return FD_ENOMEM;
	}
	*s = (struct stream){.srv = r->srv, .conn = r->conn, .ops = ops, .ctx = ctx, .waits = waits};
	atomic_store(&s->refs, 1); /* the request's; send_reply adds the response's */
	if (r->stream)
		stream_unref(r->stream);
	free(r->resp_body);
	r->resp_body = NULL;
	r->resp_len = 0;
	r->stream = s;
	r->status = status;
	r->content_type = content_type;
	r->replied = 1;
	return FD_OK;
}

/* libmicrohttpd's content reader for a streamed reply. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct stream *s = cls;
	struct server *srv = s->srv;
	pthread_mutex_lock(&srv->wait_mu);
	int closing = srv->closing;
	pthread_mutex_unlock(&srv->wait_mu);
	long n = s->ops->produce(s->ctx, buf, max, closing);
	if (n > 0) {
		atomic_fetch_add(&s->bytes, (uint64_t)n);
		return (ssize_t)n;
	}
	if (n == STREAM_WAIT) {
		pthread_mutex_lock(&srv->wait_mu);
		if (!srv->closing) { /* parked and listed under one lock: no wake is missed */
			MHD_suspend_connection(s->conn);
			s->next_parked = srv->parked;
			srv->parked = s;
			pthread_mutex_unlock(&srv->wait_mu);
			return 0;
		}
		pthread_mutex_unlock(&srv->wait_mu);
		/* the server began to stop after produce looked: it gets its last word, told so */
		n = s->ops->produce(s->ctx, buf, max, 1);
		if (n > 0) {
			atomic_fetch_add(&s->bytes, (uint64_t)n);
			return (ssize_t)n;
		}
		return n == STREAM_FAIL ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	}
	return n == STREAM_END ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_done(void *cls)
{
	stream_unref(cls);
}

void server_wake(struct server *srv)
{
	if (!srv)
		return;
	pthread_mutex_lock(&srv->wait_mu);
	for (struct stream *s = srv->parked; s; s = s->next_parked)
		MHD_resume_connection(s->conn);
	srv->parked = NULL;
	pthread_mutex_unlock(&srv->wait_mu);
}

/* ---------------------------------------------------------------- req accessors */

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_param(struct req *r, int i)
{
	return i < r->nparams ? r->params[i] : NULL;
}

FILE *req_upload(struct req *r)
{
	if (!r->upload || fflush(r->upload) != 0 || fseeko(r->upload, 0, SEEK_SET) != 0)
		return NULL;
	return r->upload;
}

enum fd_err req_take_upload(struct req *r, const char *path)
{
	if (!r->upload_path || rename(r->upload_path, path) != 0)
		return FD_EIO;
	free(r->upload_path);
	r->upload_path = NULL;
	return FD_OK;
}

struct jobs *req_jobs(struct req *r)
{
	return r->srv->jobs;
}

struct store *req_store(struct req *r)
{
	return r->srv->st;
}

const char *req_cookie(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

void req_session_limits(struct req *r, int64_t *idle_ms, int64_t *max_ms)
{
	*idle_ms = r->srv->session_idle_ms;
	*max_ms = r->srv->session_max_ms;
}

int req_secure(struct req *r)
{
	return strncmp(r->srv->public_url, "https://", 8) == 0;
}

const char *req_base_url(struct req *r)
{
	static _Thread_local char base[300];
	if (r->srv->public_url[0])
		return r->srv->public_url;
	const char *host = req_header(r, "Host");
	int ok = host && *host && strlen(host) < 256;
	for (const char *p = host; ok && *p; p++) {
		/* host, port and IPv6 brackets only: nothing that could break a header */
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("-.:[]", *p)))
			ok = 0;
	}
	if (!ok)
		return r->srv->url;
	snprintf(base, sizeof base, "http://%s", host);
	return base;
}

static void reply_too_many(struct req *r, double retry_after, const char *detail)
{
	char ra[32];
	snprintf(ra, sizeof ra, "%.0f", retry_after < 1 ? 1 : retry_after + 0.999);
	reply_header(r, "Retry-After", ra);
	reply_problem(r, FD_ETOOMANY, detail, NULL);
}

enum fd_err req_charge(struct req *r, double cost)
{
	struct server *srv = r->srv;
	if (!srv->rl || !r->principal || cost <= 0)
		return FD_OK;
	struct rl_state st;
	const char *id = r->principal->actor_id;
	uint64_t now = util_mono_ns();
	double burst = ratelimit_burst(srv->rl);
	if (r->rl_charged + cost > burst) /* a request never weighs more than the burst: a full bucket admits it */
		cost = burst - r->rl_charged;
	int ok = cost <= 0 || ratelimit_take(srv->rl, id, cost, now, &st);
	if (!ok && r->rl_charged > 0) { /* a refused request costs nothing: try its whole weight at once */
		ratelimit_give(srv->rl, id, r->rl_charged, now);
		cost += r->rl_charged;
		r->rl_charged = 0;
		ok = ratelimit_take(srv->rl, id, cost, now, &st);
	}
	if (cost <= 0)
		ratelimit_peek(srv->rl, id, now, &st);
	if (ok)
		r->rl_charged += cost > 0 ? cost : 0;
	r->rl_set = 1;
	r->rl_remaining = st.remaining;
	r->rl_reset = st.reset;
	if (ok)
		return FD_OK;
	char d[200];
	snprintf(d, sizeof d,
	         "this credential's rate limit (%.0f requests a second, %.0f at once) is used up; this request weighs "
	         "%.0f; retry after the Retry-After seconds",
	         ratelimit_rate(srv->rl), burst, cost);
	reply_too_many(r, st.retry_after, d);
	return FD_ETOOMANY;
}

void req_client_addr(struct req *r, char out[64])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, 64, "unknown");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 64);
}

/* The throttle ids of an account (hashed: it may be long or personal) and of the client's address. */
static void throttle_ids(struct req *r, const char *account, char acc[RL_ID_MAX + 1], char addr[RL_ID_MAX + 1])
{
	char h[65], a[64];
	util_sha256_hex(account ? account : "", account ? strlen(account) : 0, h);
	snprintf(acc, RL_ID_MAX + 1, "a:%.40s", h);
	req_client_addr(r, a);
	snprintf(addr, RL_ID_MAX + 1, "i:%.60s", a);
}

enum fd_err req_throttle_check(struct req *r, const char *account)
{
	char acc[RL_ID_MAX + 1], addr[RL_ID_MAX + 1];
	throttle_ids(r, account, acc, addr);
	struct rl_state s1, s2;
	uint64_t now = util_mono_ns();
	int ok1 = ratelimit_peek(r->srv->fail_account, acc, now, &s1);
	int ok2 = ratelimit_peek(r->srv->fail_addr, addr, now, &s2);
	if (ok1 && ok2)
		return FD_OK;
	reply_too_many(r, s1.retry_after > s2.retry_after ? s1.retry_after : s2.retry_after,
	               ok1 ? "too many failed attempts from this address; retry after the Retry-After seconds"
	                   : "too many failed attempts for this account; retry after the Retry-After seconds");
	return FD_ETOOMANY;
}

void req_throttle_result(struct req *r, const char *account, int ok)
{
	char acc[RL_ID_MAX + 1], addr[RL_ID_MAX + 1];
	throttle_ids(r, account, acc, addr);
	if (ok) {
		ratelimit_reset(r->srv->fail_account, acc);
		return;
	}
	struct rl_state st;
	uint64_t now = util_mono_ns();
	ratelimit_take(r->srv->fail_account, acc, 1, now, &st);
	ratelimit_take(r->srv->fail_addr, addr, 1, now, &st);
}

enum fd_err req_json_body(struct req *r, json_t **obj)
{
	const char *ct = req_header(r, "Content-Type");
	size_t n = strlen("application/json");
	if (!ct || strncasecmp(ct, "application/json", n) != 0 || (ct[n] && ct[n] != ';' && ct[n] != ' '))
		return reply_problem(r, FD_EMEDIA, "the body must be application/json", NULL);
	json_error_t err;
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		char d[256];
		snprintf(d, sizeof d, "malformed JSON at line %d, column %d: %s", err.line, err.column, err.text);
		return reply_problem(r, FD_EBADREQ, d, NULL);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return reply_problem(r, FD_EINVALID, "the body must be a JSON object",
		                     json_pack("[o]", problem_field("", "must be an object")));
	}
	*obj = j;
	return FD_OK;
}

/* ---------------------------------------------------------------- lifecycle */

static int valid_request_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-'))
			return 0;
	}
	return 1;
}

/* A unique request id without a syscall: a random per-thread prefix and a counter. */
static void new_request_id(char out[65])
{
	static _Thread_local char prefix[17];
	static _Thread_local uint64_t counter;
	if (!prefix[0])
		util_random_hex(prefix, 8);
	snprintf(out, 65, "%s%016llx", prefix, (unsigned long long)++counter);
}

static struct req *req_new(struct server *srv, struct MHD_Connection *conn, const char *url, const char *method)
{
	struct req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->conn = conn;
	r->srv = srv;
	r->method = method;
	r->path = url;
	r->start_ns = util_mono_ns();
	buf_init(&r->body, REQ_BODY_MAX);
	const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (valid_request_id(rid))
		snprintf(r->request_id, sizeof r->request_id, "%s", rid);
	else
		new_request_id(r->request_id);
	r->idem = idem_start(r);
	return r;
}

static void req_free(struct req *r)
{
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	for (int i = 0; i < r->nhdr; i++) {
		free(r->hdr_name[i]);
		free(r->hdr_value[i]);
	}
	buf_release(&r->body);
	if (r->upload)
		fclose(r->upload);
	if (r->upload_path)
		unlink(r->upload_path);
	free(r->upload_path);
	idem_free(r->idem);
	free(r->resp_body);
	if (r->stream)
		stream_unref(r->stream);
	free(r);
}

static enum MHD_Result send_reply(struct req *r)
{
	struct MHD_Response *resp;
	if (r->stream) {
		atomic_fetch_add(&r->stream->refs, 1); /* the response's */
		resp =
		    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, r->stream, stream_done);
		if (!resp) {
			stream_unref(r->stream);
			return MHD_NO;
		}
	} else {
		resp = MHD_create_response_from_buffer(r->resp_len, r->resp_body ? r->resp_body : (void *)"",
		                                       r->resp_body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		r->resp_body = NULL; /* libmicrohttpd frees it now */
	}
	if (r->content_type)
		MHD_add_response_header(resp, "Content-Type", r->content_type);
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	/* a handler may set its own (the web app's pages and assets) */
	if (!reply_has_header(r, "Cache-Control"))
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (!reply_has_header(r, "Content-Security-Policy"))
		MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
	for (int i = 0; i < r->nhdr; i++)
		MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
	if (r->rl_set) {
		char v[96];
		long long left = r->rl_remaining > 0 ? (long long)r->rl_remaining : 0; /* whole requests left */
		long long reset = (long long)r->rl_reset + (r->rl_reset > (double)(long long)r->rl_reset); /* ceil */
		snprintf(v, sizeof v, "\"per-credential\";r=%lld;t=%lld", left, reset);
		MHD_add_response_header(resp, "RateLimit-Policy", r->srv->rl_policy);
		MHD_add_response_header(resp, "RateLimit", v);
	}
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* The caller, from a bearer token, else from a session cookie (which needs
 * the CSRF header on every change). Replies when there is none. */
static void authenticate(struct req *r)
{
	const char *h = req_header(r, "Authorization");
	const char *cookie = h ? NULL : req_cookie(r, SESSION_COOKIE);
	enum fd_err rc = FD_EUNAUTH;
	if (h && strncasecmp(h, "Bearer ", 7) == 0) {
		const char *tok = h + 7;
		while (*tok == ' ')
			tok++;
		rc = token_authenticate(r->srv->st, tok, &r->principal_storage);
	} else if (cookie) {
		rc = session_authenticate(r->srv->st, cookie, r->srv->session_idle_ms, &r->principal_storage, NULL);
		if (rc == FD_OK && !safe_method(r->method) && !session_csrf_ok(cookie, req_header(r, "X-CSRF-Token"))) {
			reply_problem(
			    r, FD_EFORBIDDEN,
			    "the X-CSRF-Token header is missing or wrong: a change made with the session cookie "
			    "must send the session's csrf_token",
			    NULL);
			return;
		}
	}
	if (rc == FD_OK) {
		r->principal = &r->principal_storage;
		return;
	}
	if (rc == FD_EUNAUTH) {
		reply_header(r, "WWW-Authenticate", "Bearer realm=\"fleetdesk\"");
		reply_problem(r, rc,
		              h        ? "the bearer token is invalid, revoked or expired"
		              : cookie ? "the session has ended or expired: sign in again"
		                       : "a bearer token or a session is required",
		              NULL);
		return;
	}
	reply_problem(r, rc, NULL, NULL);
}

static void dispatch(struct req *r)
{
	if (!r->route)
		return; /* the 404/405 was set when the request began */
	if ((r->route->flags & ROUTE_AUTH) && !r->principal) {
		authenticate(r);
		if (r->replied || req_charge(r, 1) != FD_OK)
			return;
	}
	if (r->body_too_large) {
		reply_problem(r, FD_ETOOLARGE,
		              r->upload ? "the upload is larger than 4 GiB, or could not be stored"
		                        : "the body is larger than 1 MiB",
		              NULL);
		return;
	}
	if (r->idem && idem_begin(r, r->srv->boot))
		return; /* replayed, or the key was refused */
	enum fd_err rc = r->route->handler(r);
	if (!r->replied)
		reply_problem(r, rc == FD_OK ? FD_EIO : rc, NULL, NULL);
	idem_end(r);
}

/* An upload route: authenticate before the body comes, then spool it to a
 * file. Replies (and the body is not read) when refused. */
static void start_upload(struct req *r, const char *content_length)
{
	long long len = 0;
	if (content_length && util_parse_int(content_length, 0, (long long)1 << 62, &len) == FD_OK &&
	    len > REQ_UPLOAD_MAX) {
		r->body_too_large = 1;
		reply_problem(r, FD_ETOOLARGE, "the upload is larger than 4 GiB", NULL);
		return;
	}
	authenticate(r);
	if (r->replied || req_charge(r, 1) != FD_OK)
		return;
	if (!r->srv->spool[0]) {
		reply_problem(r, FD_EBUSY, "this server takes no uploads (it runs no jobs)", NULL);
		return;
	}
	size_t n = strlen(r->srv->spool) + 32;
	r->upload_path = malloc(n);
	int fd = -1;
	if (r->upload_path) {
		snprintf(r->upload_path, n, "%s/upload-XXXXXX", r->srv->spool);
		fd = mkstemp(r->upload_path);
	}
	if (fd >= 0)
		r->upload = fdopen(fd, "w+b");
	if (!r->upload) {
		if (fd >= 0) {
			close(fd);
			unlink(r->upload_path);
		}
		free(r->upload_path);
		r->upload_path = NULL;
		reply_problem(r, FD_EIO, "the upload could not be stored", NULL);
	}
}

static void route_request(struct req *r)
{
	char allow[64];
	/* HEAD is GET without the body; libmicrohttpd drops the body itself */
	const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
	enum fd_err rc = router_match(r->srv->routes, r->srv->nroutes, method, r->path, &r->route, r->params,
	                              &r->nparams, allow, sizeof allow);
	if (rc == FD_EMETHOD) {
		reply_header(r, "Allow", allow);
		reply_problem(r, rc, "this path does not support the method", NULL);
	} else if (rc != FD_OK) {
		reply_problem(r, FD_ENOTFOUND, "no such resource", NULL);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	(void)version;
	struct server *srv = cls;
	struct req *r = *con_cls;
	if (!r) {
		r = req_new(srv, conn, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		atomic_fetch_add(&srv->inflight, 1);
		route_request(r);
		const char *cl = req_header(r, "Content-Length");
		long long len = 0;
		if (r->route && (r->route->flags & ROUTE_UPLOAD) && !r->replied) {
			start_upload(r, cl);
			if (r->replied)
				return send_reply(r); /* refused before the body: it is not read */
			return MHD_YES;
		}
		if (cl && util_parse_int(cl, 0, (long long)1 << 62, &len) == FD_OK && len > REQ_BODY_MAX) {
			/* answer now: libmicrohttpd then closes the connection unread */
			r->body_too_large = 1;
			if (!r->replied)
				reply_problem(r, FD_ETOOLARGE, "the body is larger than 1 MiB", NULL);
			return send_reply(r);
		}
		return MHD_YES;
	}
	if (*upload_data_size && r->upload) {
		size_t n = *upload_data_size;
		if (!r->body_too_large &&
		    (r->upload_len + (int64_t)n > REQ_UPLOAD_MAX || fwrite(upload_data, 1, n, r->upload) != n))
			r->body_too_large = 1;
		r->upload_len += (int64_t)n;
		for (const char *p = upload_data, *end = upload_data + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
			r->upload_lines++;
		idem_feed(r->idem, upload_data, n);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->body_too_large && !r->replied &&
		    buf_append(&r->body, upload_data, *upload_data_size) != FD_OK) {
			r->body_too_large = 1;
			buf_release(&r->body);
		}
		idem_feed(r->idem, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!r->replied)
		dispatch(r);
	return send_reply(r);
}

/*
 * The pattern to log instead of a path that carries a secret: the route's,
 * or for a path no route took (a wrong method or extra segment), that of the
 * secret route whose literal start it shares. NULL: log the path.
 */
static const char *secret_pattern(const struct server *srv, const struct req *r)
{
	if (r->route)
		return (r->route->flags & ROUTE_SECRET_PATH) ? r->route->pattern : NULL;
	for (size_t i = 0; i < srv->nroutes; i++) {
		const struct route *rt = &srv->routes[i];
		const char *brace = strchr(rt->pattern, '{');
		if ((rt->flags & ROUTE_SECRET_PATH) && brace &&
		    strncmp(r->path, rt->pattern, (size_t)(brace - rt->pattern)) == 0)
			return rt->pattern;
	}
	return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	struct server *srv = cls;
	struct req *r = *con_cls;
	if (!r)
		return;
	uint64_t dur = util_mono_ns() - r->start_ns;
	size_t idx = r->route ? (size_t)(r->route - srv->routes) : srv->nroutes;
	metrics_record(srv->metrics, idx, r->status, dur);
	json_t *line = json_object();
	if (line) {
		json_object_set_new(line, "request_id", json_string(r->request_id));
		json_object_set_new(line, "method", json_string(r->method));
		const char *secret = secret_pattern(srv, r);
		if (secret) /* the path holds a secret: log its pattern */
			json_object_set_new(line, "path", json_string(secret));
		else
			json_object_set_new(line, "path", json_stringn_nocheck(r->path, strnlen(r->path, 512)));
		json_object_set_new(line, "route", json_string(r->route ? r->route->name : "unmatched"));
		json_object_set_new(line, "status", json_integer(r->status));
		json_object_set_new(
		    line, "bytes",
		    json_integer((json_int_t)(r->stream ? atomic_load(&r->stream->bytes) : r->resp_len)));
		json_object_set_new(line, "dur_ms", json_real((double)dur / 1e6));
		if (r->principal)
			json_object_set_new(line, "actor", json_string(r->principal->actor_id));
		log_json(line);
		json_decref(line);
	}
	req_free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
}

/* ---------------------------------------------------------------- start/stop */

static enum fd_err parse_listen(const char *listen, struct sockaddr_storage *sa, socklen_t *salen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
		return FD_EBADREQ;
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	long long port;
	if (util_parse_int(colon + 1, 0, 65535, &port) != FD_OK)
		return FD_EBADREQ;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		return FD_EBADREQ;
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	return FD_OK;
}

static void server_free(struct server *s)
{
	pthread_mutex_destroy(&s->wait_mu);
	metrics_free(s->metrics);
	ratelimit_free(s->rl);
	ratelimit_free(s->fail_account);
	ratelimit_free(s->fail_addr);
	free(s);
}

enum fd_err server_start(const struct server_config *cfg, struct store *st, const struct route *routes, size_t n,
                         struct server **out)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	enum fd_err rc = parse_listen(cfg->listen, &sa, &salen);
	if (rc != FD_OK)
		return rc;
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		return FD_ENOMEM;
	s->st = st;
	s->jobs = cfg->jobs;
	pthread_mutex_init(&s->wait_mu, NULL);
	if (cfg->spool_dir)
		snprintf(s->spool, sizeof s->spool, "%s", cfg->spool_dir);
	util_random_hex(s->boot, 16);
	s->fail_account = ratelimit_new(1.0 / THROTTLE_ACCOUNT_EVERY, THROTTLE_ACCOUNT_BURST);
	s->fail_addr = ratelimit_new(1.0 / THROTTLE_ADDR_EVERY, THROTTLE_ADDR_BURST);
	if (cfg->rate > 0) {
		s->rl = ratelimit_new(cfg->rate, cfg->burst >= 1 ? cfg->burst : cfg->rate);
		/* the whole seconds a full burst takes to refill, rounded up: a client that paces itself
		 * at q/w a second stays within the limit */
		long long w = (long long)ceil(ratelimit_burst(s->rl) / cfg->rate - 1e-9);
		snprintf(s->rl_policy, sizeof s->rl_policy, "\"per-credential\";q=%.0f;w=%lld", ratelimit_burst(s->rl),
		         w > 0 ? w : 1);
	}
	if (!s->fail_account || !s->fail_addr || (cfg->rate > 0 && !s->rl)) {
		server_free(s);
		return FD_ENOMEM;
	}
	if (cfg->public_url)
		snprintf(s->public_url, sizeof s->public_url, "%s", cfg->public_url);
	s->session_idle_ms = cfg->session_idle_s > 0 ? (int64_t)cfg->session_idle_s * 1000 : SESSION_IDLE_DEFAULT_MS;
	s->session_max_ms = cfg->session_max_s > 0 ? (int64_t)cfg->session_max_s * 1000 : SESSION_MAX_DEFAULT_MS;
	s->routes = routes;
	s->nroutes = n;
	s->metrics = metrics_new(routes, n);
	if (!s->metrics) {
		server_free(s);
		return FD_ENOMEM;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d =
	    MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads > 0 ? cfg->threads : 1),
	                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                     (size_t)(64 * 1024), MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (!s->d) {
		server_free(s);
		return FD_EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : 0;
	char host[INET6_ADDRSTRLEN] = "127.0.0.1";
	if (sa.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof host);
		snprintf(s->url, sizeof s->url, "http://[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof host);
		snprintf(s->url, sizeof s->url, "http://%s:%u", host, port);
	}
	*out = s;
	return FD_OK;
}

const char *server_url(struct server *s)
{
	return s->url;
}

void server_stop(struct server *s, int grace_ms)
{
	if (!s)
		return;
	MHD_socket ls = MHD_quiesce_daemon(s->d);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	pthread_mutex_lock(&s->wait_mu);
	s->closing = 1; /* parked replies end, and none parks again */
	pthread_mutex_unlock(&s->wait_mu);
	server_wake(s);
	for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < grace_ms; waited += 10) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(s->d);
	server_free(s);
}

enum fd_err server_metrics_render(struct server *s, struct buf *out)
{
	return metrics_render(s->metrics, out);
}
