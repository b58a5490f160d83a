/*
 * reply.c - building replies, and the one mapping from errors to RFC 9457
 * problems.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jsonw.h"
#include "http/request.h"

static const struct {
	unsigned status;
	const char *title;
} problems[FD_ERR_COUNT] = {
    [FD_OK] = {200, "OK"},
    [FD_ENOMEM] = {500, "Internal server error"},
    [FD_EBADREQ] = {400, "Bad request"},
    [FD_EUNAUTH] = {401, "Unauthorized"},
    [FD_EFORBIDDEN] = {403, "Forbidden"},
    [FD_ENOTFOUND] = {404, "Not found"},
    [FD_EMETHOD] = {405, "Method not allowed"},
    [FD_ECONFLICT] = {409, "Conflict"},
    [FD_EPRECOND] = {412, "Precondition failed"},
    [FD_ETOOLARGE] = {413, "Content too large"},
    [FD_EMEDIA] = {415, "Unsupported media type"},
    [FD_EINVALID] = {422, "Validation failed"},
    [FD_ETOOMANY] = {429, "Too many requests"},
    [FD_EBUSY] = {503, "Service unavailable"},
    [FD_EIO] = {500, "Internal server error"},
};

unsigned problem_status(enum fd_err rc)
{
	if ((unsigned)rc >= FD_ERR_COUNT)
		return 500;
	return problems[rc].status;
}

json_t *problem_field(const char *field, const char *detail)
{
	size_t n = strlen(field);
	char *ptr = malloc(2 * n + 2);
	if (!ptr)
		return NULL;
	size_t o = 0;
	ptr[o++] = '/';
	for (size_t i = 0; i < n; i++) {
		if (field[i] == '~' || field[i] == '/') {
			ptr[o++] = '~';
			ptr[o++] = field[i] == '~' ? '0' : '1';
		} else {
			ptr[o++] = field[i];
		}
	}
	ptr[o] = '\0';
	json_t *o2 = json_pack("{ssssss}", "field", field, "pointer", ptr, "detail", detail);
	free(ptr);
	return o2;
}

json_t *problem_prefix(json_t *e, const char *seg)
{
	const char *f = json_string_value(json_object_get(e, "field"));
	const char *p = json_string_value(json_object_get(e, "pointer"));
	json_t *head = problem_field(seg, "");
	const char *hp = json_string_value(json_object_get(head, "pointer"));
	if (!f || !p || !hp) {
		json_decref(head);
		return e;
	}
	size_t fl = strlen(seg) + strlen(f) + 2, pl = strlen(hp) + strlen(p) + 1;
	char *nf = malloc(fl), *np = malloc(pl);
	if (nf && np) {
		snprintf(nf, fl, "%s%s%s", seg, *f ? "/" : "", f);
		snprintf(np, pl, "%s%s", hp, strcmp(p, "/") == 0 && !*f ? "" : p);
		json_object_set_new(e, "field", json_string(nf));
		json_object_set_new(e, "pointer", json_string(np));
	}
	free(nf);
	free(np);
	json_decref(head);
	return e;
}

void reply_header(struct req *r, const char *name, const char *value)
{
	if (r->nhdr == REQ_MAX_HEADERS)
		return;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return;
	}
	r->hdr_name[r->nhdr] = n;
	r->hdr_value[r->nhdr] = v;
	r->nhdr++;
}

int reply_has_header(const struct req *r, const char *name)
{
	for (int i = 0; i < r->nhdr; i++)
		if (strcasecmp(r->hdr_name[i], name) == 0)
			return 1;
	return 0;
}

enum fd_err reply_raw(struct req *r, unsigned status, const char *content_type, const char *body, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return FD_ENOMEM;
	memcpy(copy, body, len);
	copy[len] = '\0';
	return reply_take(r, status, content_type, copy, len);
}

enum fd_err reply_take(struct req *r, unsigned status, const char *content_type, char *body, size_t len)
{
	free(r->resp_body);
	r->resp_body = body;
	r->resp_len = len;
	r->status = status;
	r->content_type = content_type;
	r->replied = 1;
	return FD_OK;
}

#define REPLY_MAX (256u * 1024 * 1024) /* a reply larger than this is a bug */

static enum fd_err reply_json_type(struct req *r, unsigned status, json_t *body, const char *type)
{
	struct buf b;
	buf_init(&b, REPLY_MAX);
	enum fd_err rc = jsonw_value(&b, body);
	json_decref(body);
	if (rc == FD_OK && !b.data)
		rc = buf_puts(&b, "null");
	if (rc != FD_OK) {
		buf_release(&b);
		return rc;
	}
	size_t len = 0;
	char *s = buf_detach(&b, &len);
	return reply_take(r, status, type, s, len);
}

enum fd_err reply_json(struct req *r, unsigned status, json_t *body)
{
	if (!body)
		return FD_ENOMEM;
	return reply_json_type(r, status, body, "application/json");
}

enum fd_err reply_empty(struct req *r, unsigned status)
{
	free(r->resp_body);
	r->resp_body = NULL;
	r->resp_len = 0;
	r->status = status;
	r->content_type = NULL;
	r->replied = 1;
	return FD_OK;
}

json_t *problem_new(enum fd_err rc, const char *detail, json_t *errors)
{
	if ((unsigned)rc >= FD_ERR_COUNT || rc == FD_OK)
		rc = FD_EIO;
	char type[64];
	snprintf(type, sizeof type, "urn:fleetdesk:problem:%s", fd_err_name(rc));
	json_t *p = json_object();
	if (!p) {
		json_decref(errors);
		return NULL;
	}
	json_object_set_new(p, "type", json_string(type));
	json_object_set_new(p, "title", json_string(problems[rc].title));
	json_object_set_new(p, "status", json_integer(problems[rc].status));
	if (detail)
		json_object_set_new(p, "detail", json_string(detail));
	if (errors)
		json_object_set_new(p, "errors", errors);
	return p;
}

enum fd_err reply_problem_with(struct req *r, enum fd_err rc, const char *detail, json_t *errors, json_t *extra)
{
	if ((unsigned)rc >= FD_ERR_COUNT || rc == FD_OK)
		rc = FD_EIO;
	json_t *p = problem_new(rc, detail, errors);
	if (!p) {
		json_decref(extra);
		return rc;
	}
	json_object_set_new(p, "instance", json_string(r->path));
	json_object_set_new(p, "request_id", json_string(r->request_id));
	if (extra)
		json_object_update_missing(p, extra);
	json_decref(extra);
	reply_json_type(r, problems[rc].status, p, "application/problem+json");
	return rc;
}

enum fd_err reply_problem(struct req *r, enum fd_err rc, const char *detail, json_t *errors)
{
	return reply_problem_with(r, rc, detail, errors, NULL);
}

/* ------------------------------------------------------------------ chunked streams */

struct chunks {
	const struct chunk_ops *ops;
	void *ctx;
	struct buf out;
	size_t pos;
	int done;
};

static long chunks_produce(void *cls, char *dst, size_t max, int closing)
{
	struct chunks *c = cls;
	for (;;) {
		if (c->pos < c->out.len) {
			size_t n = c->out.len - c->pos;
			if (n > max)
				n = max;
			memcpy(dst, c->out.data + c->pos, n);
			c->pos += n;
			return (long)n;
		}
		if (c->done)
			return STREAM_END;
		c->out.len = 0;
		c->pos = 0;
		enum chunk_state state = CHUNK_MORE;
		if (c->ops->next(c->ctx, &c->out, closing, &state) != FD_OK)
			return STREAM_FAIL;
		if (state == CHUNK_DONE)
			c->done = 1;
		else if (state == CHUNK_WAIT && !c->out.len)
			return STREAM_WAIT;
	}
}

static void chunks_release(void *cls)
{
	struct chunks *c = cls;
	if (c->ops->release)
		c->ops->release(c->ctx);
	buf_release(&c->out);
	free(c);
}

static const struct stream_ops chunk_stream = {chunks_produce, chunks_release};

static enum fd_err chunks_start(struct req *r, unsigned status, const char *content_type, const struct chunk_ops *ops,
                                void *ctx, int waits, const struct buf *first, int done)
{
	struct chunks *c = calloc(1, sizeof *c);
	if (c) {
		c->ops = ops;
		c->ctx = ctx;
		buf_init(&c->out, REPLY_MAX); /* a bound, not a size: a part is a page, however long its rows */
		c->done = done;
	}
	if (!c || (first && first->len && buf_append(&c->out, first->data, first->len) != FD_OK)) {
		if (c)
			buf_release(&c->out);
		free(c);
		if (ops->release)
			ops->release(ctx);
		return FD_ENOMEM;
	}
	return reply_stream(r, status, content_type, &chunk_stream, c, waits);
}

enum fd_err reply_chunks(struct req *r, unsigned status, const char *content_type, const struct chunk_ops *ops,
                         void *ctx, int waits)
{
	return chunks_start(r, status, content_type, ops, ctx, waits, NULL, 0);
}

enum fd_err reply_chunks_first(struct req *r, unsigned status, const char *content_type, const struct chunk_ops *ops,
                               void *ctx, const struct buf *first, int done)
{
	return chunks_start(r, status, content_type, ops, ctx, 0, first, done);
}
