/*
 * web.c - the back-office web app: its files, embedded in the binary at
 * build time (scripts/gen-web-assets.sh), served at "/" and "/assets/...".
 *
 * The pages run under a CSP that allows only this origin's scripts and
 * styles (no inline code), and are revalidated by ETag on each load.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/handlers.h"

/* the generated table (build/gen/web_assets.S), ended by a zero entry */
struct web_asset {
	const char *path;
	const char *data;
	size_t len;
};
extern const struct web_asset web_assets[];

#define WEB_MAX_ASSETS 256
static char etags[WEB_MAX_ASSETS][24];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static const char web_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                              "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                              "form-action 'self'; frame-ancestors 'none'";

static void etags_init(void)
{
	for (int i = 0; i < WEB_MAX_ASSETS && web_assets[i].path; i++) {
		unsigned char h[8];
		crypto_generichash(h, sizeof h, (const unsigned char *)web_assets[i].data, web_assets[i].len, NULL, 0);
		snprintf(etags[i], sizeof etags[i], "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", h[0], h[1], h[2], h[3],
		         h[4], h[5], h[6], h[7]);
	}
}

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".woff2", "font/woff2"},
	    {".json", "application/json"},
	};
	if (strcmp(path, "/") == 0)
		return types[0].type;
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static enum fd_err serve(struct req *r, const char *path)
{
	pthread_once(&etags_once, etags_init);
	for (int i = 0; i < WEB_MAX_ASSETS && web_assets[i].path; i++) {
		if (strcmp(web_assets[i].path, path) != 0)
			continue;
		reply_header(r, "Content-Security-Policy", web_csp);
		reply_header(r, "Cache-Control", "no-cache");
		reply_header(r, "ETag", etags[i]);
		const char *inm = req_header(r, "If-None-Match");
		if (inm && strstr(inm, etags[i]))
			return reply_empty(r, 304);
		return reply_raw(r, 200, content_type(path), web_assets[i].data, web_assets[i].len);
	}
	return reply_problem(r, FD_ENOTFOUND, "no such file", NULL);
}

enum fd_err web_index(struct req *r)
{
	return serve(r, "/");
}

enum fd_err web_asset(struct req *r)
{
	char path[512];
	if (snprintf(path, sizeof path, "/assets/%s", req_param(r, 0)) >= (int)sizeof path)
		return reply_problem(r, FD_ENOTFOUND, "no such file", NULL);
	return serve(r, path);
}
