/*
 * fuzz_request.c - libFuzzer driver for the request path, without a network.
 *
 * An input is a request in miniature:
 *
 *     METHOD PATH\n
 *     BODY...
 *
 * The first line goes through router_match() against the real route table
 * (api_routes); the rest is parsed as the server parses a body
 * (json_loadb with JSON_REJECT_DUPLICATES) and, when it is an object, runs
 * through user_fields_validate() as a create (current NULL) and as an update
 * of a fixed stored user, and any string "email" member through
 * user_email_problem(). The same object also goes through the device field
 * rules of each type (create, update of a default device, state report) and
 * then device_view(), whose output must stay within the rules.
 *
 * Besides ASan/UBSan findings, the driver aborts when a result breaks the
 * documented contract (see check_* below), so a logic slip is a crash too.
 * Built and run by scripts/run-fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/device_fields.h"
#include "api/routes.h"
#include "api/user_fields.h"
#include "auth/policy.h"
#include "core/util.h"
#include "http/router.h"

/* The longest method and path the driver passes on; longer ones are cut. */
#define MAX_LINE 4096

static json_t *current_user;

/* Stops the run with a message: libFuzzer records the input as a crash. */
static void violated(const char *what)
{
	fprintf(stderr, "fuzz_request: contract violated: %s\n", what);
	abort();
}

/* Code points in valid UTF-8 (jansson only hands out valid UTF-8). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The documented maximum of a writable field, or 0 for a field that is not one. */
static size_t field_max(const char *key)
{
	static const struct {
		const char *name;
		size_t max;
	} fields[] = {
	    {"role", 16},       {"external_user_id", 255},  {"email", 254},           {"first_name", 100},
	    {"last_name", 100}, {"street_and_number", 200}, {"street_add_info", 200}, {"zip_code", 20},
	    {"town", 100},      {"country_iso2", 2},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (strcmp(fields[i].name, key) == 0)
			return fields[i].max;
	}
	return 0;
}

/* FD_OK from router_match: a route of the table, with that many non-empty, slash-free parameters. */
static void check_route(enum fd_err rc, const struct route *route, char *params[REQ_MAX_PARAMS], int nparams,
                        const char *method, const char *allow)
{
	if (rc == FD_OK) {
		if (route < api_routes || route >= api_routes + api_routes_count)
			violated("router_match returned a route outside the table");
		if (strcmp(route->method, method) != 0)
			violated("router_match returned a route of another method");
		if (nparams < 0 || nparams > REQ_MAX_PARAMS)
			violated("router_match returned a bad parameter count");
		for (int i = 0; i < nparams; i++) {
			if (!params[i] || !params[i][0] || strchr(params[i], '/'))
				violated("router_match returned an empty parameter or one with a slash");
		}
	} else if (rc == FD_EMETHOD) {
		if (!allow[0])
			violated("405 without an Allow list");
		/* the request's own method cannot be in the list (it would have matched) */
		size_t ml = strlen(method);
		const char *p = ml > 0 ? strstr(allow, method) : NULL;
		while (p) {
			int starts = p == allow || p[-1] == ' ';
			int ends = p[ml] == '\0' || p[ml] == ',';
			if (starts && ends)
				violated("405 whose Allow list holds the request's method");
			p = strstr(p + ml, method);
		}
		for (int i = 0; i < REQ_MAX_PARAMS; i++) {
			if (params[i])
				violated("parameters handed out with a 405");
		}
	} else if (rc == FD_ENOTFOUND) {
		for (int i = 0; i < REQ_MAX_PARAMS; i++) {
			if (params[i])
				violated("parameters handed out with a 404");
		}
	} else {
		violated("router_match returned an undocumented error");
	}
}

/* FD_OK from user_fields_validate: only writable fields, each valid and normalised. */
static void check_clean(json_t *clean, int is_create)
{
	if (!json_is_object(clean))
		violated("clean is not an object");
	const char *key;
	json_t *v;
	json_object_foreach(clean, key, v)
	{
		size_t max = field_max(key);
		if (max == 0)
			violated("clean holds a field that is not writable");
		if (json_is_null(v)) {
			if (strcmp(key, "email") == 0 || strcmp(key, "role") == 0)
				violated("clean sets email or role to null");
			continue;
		}
		if (!json_is_string(v))
			violated("clean holds a value that is neither a string nor null");
		const char *s = json_string_value(v);
		if (json_string_length(v) != strlen(s))
			violated("clean holds a string with a NUL");
		if (utf8_chars(s) > max)
			violated("clean holds a string over its maximum length");
		if (strcmp(key, "email") == 0 && user_email_problem(s))
			violated("clean holds an email that user_email_problem refuses");
		if (strcmp(key, "role") == 0 && role_parse(s) == ROLE_NONE)
			violated("clean holds an unknown role");
		if (strcmp(key, "country_iso2") == 0 && !user_country_known(s))
			violated("clean holds a country that is unknown or not upper case");
	}
	if (is_create) {
		if (!json_is_string(json_object_get(clean, "email")))
			violated("a valid create without an email");
		if (!json_is_string(json_object_get(clean, "role")))
			violated("a valid create without a role");
	}
}

/* FD_EINVALID: a non-empty array of {field, pointer, detail} strings. */
static void check_errors(json_t *errors)
{
	if (!json_is_array(errors) || json_array_size(errors) == 0)
		violated("FD_EINVALID without errors");
	size_t i;
	json_t *e;
	json_array_foreach(errors, i, e)
	{
		const char *field = json_string_value(json_object_get(e, "field"));
		const char *ptr = json_string_value(json_object_get(e, "pointer"));
		const char *detail = json_string_value(json_object_get(e, "detail"));
		if (!field || !ptr || !detail || ptr[0] != '/' || !detail[0])
			violated("an error entry without field, pointer and detail");
	}
}

static void run_validate(json_t *body, json_t *current)
{
	json_t *clean = NULL, *errors = NULL;
	enum fd_err rc = user_fields_validate(body, current, &clean, &errors);
	if (rc == FD_OK) {
		check_clean(clean, current == NULL);
		if (errors)
			violated("FD_OK with errors");
	} else if (rc == FD_EINVALID) {
		check_errors(errors);
		if (clean)
			violated("FD_EINVALID with a clean object");
	} else if (rc != FD_ENOMEM) {
		violated("user_fields_validate returned an undocumented error");
	}
	json_decref(clean);
	json_decref(errors);
}

/* Every clean value of a device must pass its own rule again, and device_view must keep the shape. */
static void run_devices(json_t *body)
{
	for (int t = 0; t < DEV_TYPES; t++) {
		json_t *none = json_object();
		json_t *stored = NULL, *errors = NULL;
		if (device_fields_validate(t, FM_CREATE, none, NULL, &stored, &errors) != FD_OK)
			violated("an empty device create is refused");
		json_decref(none);
		static const enum field_mode modes[] = {FM_CREATE, FM_UPDATE, FM_STATE};
		for (size_t m = 0; m < 3; m++) {
			json_t *clean = NULL;
			errors = NULL;
			enum fd_err rc = device_fields_validate(t, modes[m], body, modes[m] == FM_UPDATE ? stored : NULL,
			                                        &clean, &errors);
			if (rc == FD_EINVALID) {
				check_errors(errors);
			} else if (rc == FD_OK) {
				/* a valid result validates again, unchanged, as a create */
				json_t *again = NULL, *errs2 = NULL;
				json_t *copy = json_deep_copy(clean);
				const char *const out_only[] = {"id", "user_id", "building", "is_pause_power_active", "actions",
				                                "created_at", "updated_at", "deleted_at", NULL};
				for (const char *const *k = out_only; *k; k++)
					json_object_del(copy, *k);
				if (modes[m] == FM_CREATE &&
				    device_fields_validate(t, FM_CREATE, copy, NULL, &again, &errs2) != FD_OK)
					violated("a valid device create does not validate again");
				json_decref(again);
				json_decref(errs2);
				json_decref(copy);
				json_t *view = device_view(t, modes[m] == FM_CREATE ? clean : stored, 0);
				if (!json_is_array(json_object_get(view, "actions")))
					violated("device_view without actions");
				char tag[DEVICE_ETAG_LEN];
				device_etag(view, 1, tag);
				if (tag[0] != '"')
					violated("device_etag is not a quoted tag");
				json_decref(view);
			} else if (rc != FD_ENOMEM) {
				violated("device_fields_validate returned an undocumented error");
			}
			json_decref(clean);
			json_decref(errors);
		}
		json_decref(stored);
	}
}

static void run_route(const char *line, size_t len)
{
	char buf[MAX_LINE + 1];
	if (len > MAX_LINE)
		len = MAX_LINE;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[len - 1] = '\0';
	/* METHOD PATH; a line without a space is a method with an empty path */
	char *method = buf, *path = strchr(buf, ' ');
	if (path)
		*path++ = '\0';
	else
		path = buf + strlen(buf);
	/* the server routes the path without its query string */
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';

	const struct route *route = NULL;
	char *params[REQ_MAX_PARAMS] = {0};
	int nparams = 0;
	char allow[64];
	enum fd_err rc =
	    router_match(api_routes, api_routes_count, method, path, &route, params, &nparams, allow, sizeof allow);
	check_route(rc, route, params, nparams, method, allow);
	for (int i = 0; i < REQ_MAX_PARAMS; i++)
		free(params[i]);
}

static void run_body(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(body)) {
		json_decref(body);
		return;
	}
	run_validate(body, NULL);
	run_validate(body, current_user);
	run_devices(body);
	json_t *email = json_object_get(body, "email");
	if (json_is_string(email)) {
		const char *why = user_email_problem(json_string_value(email));
		if (why && !why[0])
			violated("user_email_problem gave an empty reason");
	}
	json_decref(body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (util_init() != FD_OK)
		abort();
	json_error_t err;
	current_user = json_loads("{\"id\": \"0b6b3a59-1d2e-4c61-9a3c-6f0b0f3c2e11\","
	                          " \"org_id\": \"7d3f0c8e-5a4b-4f7e-8b2a-1c9d8e7f6a50\", \"role\": \"user\","
	                          " \"external_user_id\": \"customer_12345\", \"email\": \"john.doe@example.com\","
	                          " \"first_name\": \"John\", \"last_name\": \"Doe\", \"street_and_number\": null,"
	                          " \"street_add_info\": null, \"zip_code\": null, \"town\": null,"
	                          " \"country_iso2\": \"DE\", \"created_at\": \"2026-11-27T07:20:00.000Z\","
	                          " \"updated_at\": \"2026-11-27T07:21:00.000Z\", \"deleted_at\": null}",
	                          0, &err);
	if (!current_user)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t line_len = nl ? (size_t)(nl - data) : size;
	run_route((const char *)data, line_len);
	if (nl)
		run_body(nl + 1, size - line_len - 1);
	return 0;
}
