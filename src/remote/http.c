/* http.c - the client's HTTP session over libcurl: see http.h. */
#include "remote/http.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "core/util.h"

#define BACKOFF_BASE_S    0.5
#define BACKOFF_CAP_S     30.0
#define RETRY_AFTER_MAX_S 600.0 /* a longer Retry-After is waited this long */
#define IDEM_KEY_BYTES    16

struct rhttp {
	CURL *curl;
	char *base;  /* the root URL without a trailing slash */
	char *shown; /* the same without user:password@, for messages */
	char *auth;  /* "Authorization: Bearer TOKEN", wiped on free */
	size_t auth_len;
	double rate;   /* the session's bucket: requests a second (0: off) */
	double tokens; /* what it holds */
	uint64_t tokens_at;
	int retries;
	long timeout_s;
	int verbose;
	volatile sig_atomic_t *interrupt;
	/* the server's bucket as its last RateLimit headers described it */
	int srv_known;
	double srv_r, srv_t, srv_q, srv_w;
	uint64_t srv_at;
	char errbuf[CURL_ERROR_SIZE];
};

/* One attempt's state, shared with the curl callbacks. */
struct xfer {
	struct rhttp *h;
	const struct rhttp_request *rq;
	struct rhttp_response *resp;
	long status; /* from the status line */
	int too_large;
	int sink_failed;
	double retry_after; /* seconds, or -1 */
	int rl_seen, pol_seen;
	double rl_r, rl_t, pol_q, pol_w;
};

static double now_s(void)
{
	return (double)util_mono_ns() / 1e9;
}

static double mono_since(uint64_t at)
{
	return (double)(util_mono_ns() - at) / 1e9;
}

enum fd_err rhttp_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? FD_OK : FD_EIO;
}

void rhttp_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ------------------------------------------------------------------ the session */

enum fd_err rhttp_new(const struct rhttp_config *cfg, struct rhttp **out)
{
	*out = NULL;
	const char *u = cfg->base_url;
	if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) || strlen(u) > 2048 ||
	    strlen(u) <= (size_t)(u[4] == 's' ? 8 : 7))
		return FD_EINVALID;
	struct rhttp *h = calloc(1, sizeof *h);
	if (!h)
		return FD_ENOMEM;
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		n--;
	h->base = strndup(u, n);
	h->shown = strndup(u, n);
	const char *tok = cfg->token ? cfg->token : "";
	h->auth_len = strlen(tok) + 32;
	h->auth = malloc(h->auth_len);
	h->curl = curl_easy_init();
	if (!h->base || !h->shown || !h->auth || !h->curl) {
		enum fd_err rc = h->curl ? FD_ENOMEM : FD_EIO;
		rhttp_free(h);
		return rc;
	}
	snprintf(h->auth, h->auth_len, "Authorization: Bearer %s", tok);
	/* user:password@ in the URL stays out of messages */
	char *host = strstr(h->shown, "://") + 3;
	char *slash = strchr(host, '/');
	char *at = strchr(host, '@');
	if (at && (!slash || at < slash))
		memmove(host, at + 1, strlen(at + 1) + 1);
	h->rate = cfg->rate > 0 ? cfg->rate : 0;
	h->tokens = h->rate > 1 ? h->rate : 1;
	h->tokens_at = util_mono_ns();
	h->retries = cfg->retries < 0 ? 0 : cfg->retries;
	h->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 60;
	h->verbose = cfg->verbose;
	h->interrupt = cfg->interrupt;
	*out = h;
	return FD_OK;
}

void rhttp_free(struct rhttp *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	if (h->auth) {
		sodium_memzero(h->auth, h->auth_len);
		free(h->auth);
	}
	free(h->base);
	free(h->shown);
	free(h);
}

static int interrupted(const struct rhttp *h, int interruptible)
{
	return interruptible && h->interrupt && *h->interrupt;
}

/* Sleeps in slices so that an interrupt cuts it short (returns 1). */
static int nap(struct rhttp *h, double seconds, int interruptible)
{
	double end = now_s() + seconds;
	for (;;) {
		if (interrupted(h, interruptible))
			return 1;
		double left = end - now_s();
		if (left <= 0)
			return 0;
		double slice = left < 0.05 ? left : 0.05;
		struct timespec ts = {(time_t)slice, (long)((slice - (double)(time_t)slice) * 1e9)};
		nanosleep(&ts, NULL);
	}
}

int rhttp_sleep(struct rhttp *h, double seconds)
{
	return nap(h, seconds, 1);
}

/* A uniform random number in [0, 1). */
static double uniform(void)
{
	return (double)randombytes_uniform(1000000) / 1e6;
}

/* Waits for the session's own bucket, then for the server's to hold weight. */
static int pace(struct rhttp *h, int weight, int interruptible)
{
	if (h->rate > 0) {
		double burst = h->rate > 1 ? h->rate : 1;
		h->tokens += mono_since(h->tokens_at) * h->rate;
		if (h->tokens > burst)
			h->tokens = burst;
		h->tokens_at = util_mono_ns();
		if (h->tokens < 1) {
			if (nap(h, (1 - h->tokens) / h->rate, interruptible))
				return 1;
			h->tokens = 1;
			h->tokens_at = util_mono_ns();
		}
		h->tokens -= 1;
	}
	if (!h->srv_known)
		return 0;
	double elapsed = mono_since(h->srv_at), wait = 0;
	if (h->srv_q > 0 && h->srv_w > 0) {
		double refill = h->srv_q / h->srv_w;
		double need = weight < h->srv_q ? weight : h->srv_q;
		double have = h->srv_r + elapsed * refill;
		if (have < need)
			wait = (need - have) / refill + 0.02;
	} else if (h->srv_r < weight) {
		wait = h->srv_t - elapsed;
	}
	if (wait <= 0)
		return 0;
	if (wait > RETRY_AFTER_MAX_S)
		wait = RETRY_AFTER_MAX_S;
	if (h->verbose)
		fprintf(stderr, "fleetdesk: waiting %.1f s for the server's rate limit (this request weighs %d)\n",
		        wait, weight);
	return nap(h, wait, interruptible);
}

/* ------------------------------------------------------------------ responses */

void rhttp_response_init(struct rhttp_response *resp)
{
	memset(resp, 0, sizeof *resp);
	buf_init(&resp->body, RHTTP_BODY_MAX);
	resp->total_count = -1;
}

void rhttp_response_release(struct rhttp_response *resp)
{
	buf_release(&resp->body);
}

json_t *rhttp_json(const struct rhttp_response *resp)
{
	if (!resp->body.data || resp->body.len == 0)
		return NULL;
	return json_loadb(resp->body.data, resp->body.len, 0, NULL);
}

/* Copies the value (without surrounding blanks) of at most n bytes into out. */
static void copy_value(char *out, size_t outn, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n >= outn)
		n = outn - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* The number after ";key=" in a RateLimit header, or -1. */
static double rl_param(const char *v, const char *key)
{
	char pat[8];
	snprintf(pat, sizeof pat, ";%s=", key);
	const char *p = strstr(v, pat);
	if (!p)
		return -1;
	char *end = NULL;
	double x = strtod(p + strlen(pat), &end);
	return end == p + strlen(pat) || x < 0 || !isfinite(x) ? -1 : x;
}

/* The target of rel="next" in a Link header value, into out. */
static void link_next(const char *v, char *out, size_t outn)
{
	const char *p = v;
	while ((p = strchr(p, '<'))) {
		const char *gt = strchr(p, '>');
		if (!gt)
			return;
		const char *comma = strchr(gt, ',');
		const char *params = gt + 1;
		size_t plen = comma ? (size_t)(comma - params) : strlen(params);
		char tmp[256];
		copy_value(tmp, sizeof tmp, params, plen);
		if (strstr(tmp, "rel=\"next\"") || strstr(tmp, "rel=next")) {
			copy_value(out, outn, p + 1, (size_t)(gt - p - 1));
			return;
		}
		p = gt;
	}
}

/* Retry-After: delay-seconds or an HTTP date; -1 when neither. */
static double parse_retry_after(const char *v)
{
	long long secs;
	if (util_parse_int(v, 0, 1LL << 40, &secs) == FD_OK)
		return (double)secs;
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	double d = difftime(t, time(NULL));
	return d < 0 ? 0 : d;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nitems;
	struct rhttp_response *resp = x->resp;
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a status line: a new reply (after a 100 Continue, too) */
		const char *sp = memchr(data, ' ', n);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		resp->content_type[0] = resp->location[0] = resp->link_next[0] = resp->etag[0] = '\0';
		resp->request_id[0] = '\0';
		resp->total_count = -1;
		resp->replayed = 0;
		x->retry_after = -1;
		x->rl_seen = x->pol_seen = 0;
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	size_t nl = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vl = n - nl - 1;
	char val[RHTTP_URL_MAX];
	copy_value(val, sizeof val, v, vl);
#define IS(name) (nl == strlen(name) && strncasecmp(data, name, nl) == 0)
	if (IS("Content-Type")) {
		copy_value(resp->content_type, sizeof resp->content_type, v, vl);
	} else if (IS("Location")) {
		copy_value(resp->location, sizeof resp->location, v, vl);
	} else if (IS("ETag")) {
		copy_value(resp->etag, sizeof resp->etag, v, vl);
	} else if (IS("X-Request-Id")) {
		copy_value(resp->request_id, sizeof resp->request_id, v, vl);
	} else if (IS("Link")) {
		link_next(val, resp->link_next, sizeof resp->link_next);
	} else if (IS("X-Total-Count")) {
		long long t;
		if (util_parse_int(val, 0, INT64_MAX, &t) == FD_OK)
			resp->total_count = t;
	} else if (IS("Idempotent-Replayed")) {
		resp->replayed = strcasecmp(val, "true") == 0;
	} else if (IS("Retry-After")) {
		x->retry_after = parse_retry_after(val);
	} else if (IS("RateLimit")) {
		x->rl_r = rl_param(val, "r");
		x->rl_t = rl_param(val, "t");
		x->rl_seen = x->rl_r >= 0;
	} else if (IS("RateLimit-Policy")) {
		x->pol_q = rl_param(val, "q");
		x->pol_w = rl_param(val, "w");
		x->pol_seen = x->pol_q > 0 && x->pol_w > 0;
	}
#undef IS
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	if (x->rq->sink && x->status >= 200 && x->status < 300) {
		if (fwrite(data, 1, n, x->rq->sink) != n) {
			x->sink_failed = 1;
			return 0;
		}
		x->resp->sink_bytes += (int64_t)n;
		return n;
	}
	enum fd_err rc = buf_append(&x->resp->body, data, n);
	if (rc != FD_OK) {
		x->too_large = rc == FD_ETOOLARGE;
		return 0;
	}
	return n;
}

static size_t on_read(char *data, size_t size, size_t nitems, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = fread(data, 1, size * nitems, x->rq->upload);
	if (n == 0 && ferror(x->rq->upload))
		return CURL_READFUNC_ABORT;
	return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = userdata;
	if (interrupted(x->h, !x->rq->uninterruptible))
		return 1;
	if (x->rq->on_upload && x->rq->upload && ultotal > 0)
		x->rq->on_upload(x->rq->ctx, (int64_t)ulnow, (int64_t)ultotal);
	return 0;
}

/* ------------------------------------------------------------------ requests */

enum fd_err rhttp_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum fd_err rc = FD_OK;
	for (const unsigned char *p = (const unsigned char *)s; rc == FD_OK && *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~') {
			rc = buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

enum fd_err rhttp_query(struct buf *b, const char *name, const char *value)
{
	if (!value)
		return FD_OK;
	enum fd_err rc = buf_puts(b, b->data && strchr(b->data, '?') ? "&" : "?");
	if (rc == FD_OK)
		rc = rhttp_escape(b, name);
	if (rc == FD_OK)
		rc = buf_puts(b, "=");
	if (rc == FD_OK)
		rc = rhttp_escape(b, value);
	return rc;
}

/* The URL of path: under the prefix, or a Link's absolute URL moved onto our
 * base (a Link names the server as it saw itself, maybe through a proxy). */
static enum fd_err make_url(const struct rhttp *h, const char *path, char *out, size_t n)
{
	int w;
	if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) {
		size_t bl = strlen(h->base);
		const char *rest = NULL;
		if (strncmp(path, h->base, bl) == 0 && (path[bl] == '/' || path[bl] == '?'))
			rest = path + bl;
		const char *api = strstr(path, RHTTP_PREFIX "/");
		if (!rest && !api)
			return FD_EINVALID;
		w = rest ? snprintf(out, n, "%s%s", h->base, rest) : snprintf(out, n, "%s%s", h->base, api);
	} else {
		w = snprintf(out, n, "%s%s%s", h->base, RHTTP_PREFIX, path);
	}
	return w < 0 || (size_t)w >= n ? FD_ETOOLARGE : FD_OK;
}

static int retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int retryable_status(long status, double retry_after, int has_key)
{
	return status == 429 || status == 502 || status == 503 || status == 504 ||
	       (status == 409 && has_key && retry_after >= 0);
}

/* The path part of url, for messages. */
static const char *url_path(const struct rhttp *h, const char *url)
{
	size_t bl = strlen(h->base);
	return strncmp(url, h->base, bl) == 0 ? url + bl : url;
}

/* Sets the curl handle up for one attempt. */
static enum fd_err setup(struct rhttp *h, struct xfer *x, const char *url, const char *key, struct curl_slist **hdrs)
{
	const struct rhttp_request *rq = x->rq;
	CURL *c = h->curl;
	struct curl_slist *l = NULL, *t;
	char line[256];
	int ok = 1;
#define ADD(s)                                                                                                         \
	do {                                                                                                           \
		t = curl_slist_append(l, (s));                                                                         \
		if (t)                                                                                                 \
			l = t;                                                                                         \
		else                                                                                                   \
			ok = 0;                                                                                        \
	} while (0)
	ADD(h->auth);
	ADD(rq->sink ? "Accept: */*" : "Accept: application/json");
	if (rq->content_type) {
		snprintf(line, sizeof line, "Content-Type: %s", rq->content_type);
		ADD(line);
	} else {
		ADD("Content-Type:");
	}
	if (!rq->upload)
		ADD("Expect:");
	if (rq->if_match) {
		/* an ETag given without its quotes (a shell ate them) gets them back */
		const char *m = rq->if_match;
		int bare = m[0] != '"' && strncmp(m, "W/", 2) != 0 && strcmp(m, "*") != 0;
		snprintf(line, sizeof line, bare ? "If-Match: \"%.200s\"" : "If-Match: %.200s", m);
		ADD(line);
	}
	if (key) {
		snprintf(line, sizeof line, "Idempotency-Key: %s", key);
		ADD(line);
	}
#undef ADD
	*hdrs = l;
	if (!ok)
		return FD_ENOMEM;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "fleetdesk-cli");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->timeout_s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	const char *m = rq->method;
	if (strcmp(m, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "DELETE") == 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		if (strcmp(m, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
		if (rq->upload) {
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, x);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->upload_len);
		} else {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
		}
	}
	return FD_OK;
}

/* How long to wait before attempt number `next` (2, 3, ...). */
static double backoff(int next, double retry_after)
{
	if (retry_after >= 0)
		return retry_after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : retry_after;
	double cap = BACKOFF_BASE_S * pow(2, next - 2);
	if (cap > BACKOFF_CAP_S)
		cap = BACKOFF_CAP_S;
	return uniform() * cap; /* full jitter */
}

enum fd_err rhttp_send(struct rhttp *h, const struct rhttp_request *rq, struct rhttp_response *resp)
{
	rhttp_response_init(resp);
	char *url = malloc(RHTTP_URL_MAX);
	if (!url)
		return FD_ENOMEM;
	enum fd_err rc = make_url(h, rq->path, url, RHTTP_URL_MAX);
	if (rc != FD_OK) {
		snprintf(resp->error, sizeof resp->error, "the URL %.200s is not on the server", rq->path);
		free(url);
		return FD_EIO;
	}
	int interruptible = !rq->uninterruptible;
	char key[2 * IDEM_KEY_BYTES + 1];
	int has_key = strcmp(rq->method, "POST") == 0;
	if (has_key)
		util_random_hex(key, IDEM_KEY_BYTES);
	int64_t upload_at = rq->upload ? (int64_t)ftello(rq->upload) : 0;
	int weight = rq->weight > 0 ? rq->weight : 1;
	int max_attempts = h->retries + 1;
	rc = FD_EIO;
	for (int attempt = 1;; attempt++) {
		if (pace(h, weight, interruptible)) {
			resp->interrupted = 1;
			snprintf(resp->error, sizeof resp->error, "interrupted");
			rc = FD_EIO;
			break;
		}
		if (rq->upload && fseeko(rq->upload, (off_t)upload_at, SEEK_SET) != 0) {
			snprintf(resp->error, sizeof resp->error, "cannot rewind the upload: %s", strerror(errno));
			rc = FD_EIO;
			break;
		}
		buf_release(&resp->body);
		resp->status = 0;
		resp->sink_bytes = 0;
		struct xfer x = {.h = h, .rq = rq, .resp = resp, .retry_after = -1};
		struct curl_slist *hdrs = NULL;
		h->errbuf[0] = '\0';
		rc = setup(h, &x, url, has_key ? key : NULL, &hdrs);
		if (rc != FD_OK) {
			curl_slist_free_all(hdrs);
			break;
		}
		resp->attempts = attempt;
		uint64_t t0 = util_mono_ns();
		CURLcode cc = curl_easy_perform(h->curl);
		curl_slist_free_all(hdrs);
		double ms = mono_since(t0) * 1000;
		if (x.rl_seen) {
			h->srv_known = 1;
			h->srv_r = x.rl_r;
			h->srv_t = x.rl_t >= 0 ? x.rl_t : 0;
			h->srv_at = util_mono_ns();
			/* without a policy, an empty bucket (r=0) waits for t */
			h->srv_q = x.pol_seen ? x.pol_q : 0;
			h->srv_w = x.pol_seen ? x.pol_w : 0;
		}
		int can_retry = attempt < max_attempts && resp->sink_bytes == 0;
		if (cc != CURLE_OK) {
			if (x.too_large) {
				snprintf(resp->error, sizeof resp->error, "the reply is larger than %d MiB",
				         RHTTP_BODY_MAX >> 20);
				rc = FD_ETOOLARGE;
				break;
			}
			if (cc == CURLE_ABORTED_BY_CALLBACK && interrupted(h, interruptible)) {
				resp->interrupted = 1;
				snprintf(resp->error, sizeof resp->error, "interrupted");
				rc = FD_EIO;
				break;
			}
			if (x.sink_failed)
				snprintf(resp->error, sizeof resp->error, "cannot write the reply: %s",
				         strerror(errno));
			else
				snprintf(resp->error, sizeof resp->error, "%s: %s (after %d attempt%s)", h->shown,
				         h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc), attempt,
				         attempt == 1 ? "" : "s");
			if (h->verbose)
				fprintf(stderr, "fleetdesk: %s %s: %s\n", rq->method, url_path(h, url),
				        h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
			rc = FD_EIO;
			if (!can_retry || !retryable_curl(cc) || x.sink_failed)
				break;
			double wait = backoff(attempt + 1, -1);
			if (h->verbose)
				fprintf(stderr, "fleetdesk: retrying in %.2f s (attempt %d of %d)\n", wait, attempt + 1,
				        max_attempts);
			if (nap(h, wait, interruptible)) {
				resp->interrupted = 1;
				snprintf(resp->error, sizeof resp->error, "interrupted");
				rc = FD_EIO;
				break;
			}
			continue;
		}
		resp->status = x.status;
		if (h->verbose)
			fprintf(stderr, "fleetdesk: %s %s%s%.8s -> %ld in %.0f ms%s\n", rq->method, url_path(h, url),
			        has_key ? " key " : "", has_key ? key : "", x.status, ms,
			        resp->replayed ? " (replayed)" : "");
		rc = FD_OK;
		if (!can_retry || !retryable_status(x.status, x.retry_after, has_key))
			break;
		double wait = backoff(attempt + 1, x.retry_after);
		if (h->verbose)
			fprintf(stderr, "fleetdesk: retrying in %.2f s (%ld; attempt %d of %d)\n", wait, x.status,
			        attempt + 1, max_attempts);
		if (nap(h, wait, interruptible)) {
			resp->interrupted = 1;
			snprintf(resp->error, sizeof resp->error, "interrupted");
			rc = FD_EIO;
			break;
		}
	}
	free(url);
	return rc;
}
