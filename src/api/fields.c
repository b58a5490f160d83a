/*
 * fields.c - the typed field-rule validator (see fields.h).
 */
#include "api/fields.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/user_fields.h"
#include "core/util.h"
#include "http/request.h"

size_t fields_utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* C0 controls, DEL, and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F). */
int fields_has_control(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			return 1;
		if (c == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f)
			return 1;
	}
	return 0;
}

const struct field_rule *fields_find(const struct field_rule *rules, const char *name)
{
	for (const struct field_rule *r = rules; r->name; r++) {
		if (strcmp(r->name, name) == 0)
			return r;
	}
	return NULL;
}

static void add_error(json_t *errors, const char *field, const char *detail)
{
	json_array_append_new(errors, problem_field(field, detail));
}

static void add_range_error(json_t *errors, const char *field, double lo, double hi)
{
	char d[160];
	snprintf(d, sizeof d, "must be between %g and %g", lo, hi);
	add_error(errors, field, d);
}

/* Appends the entries of inner (stolen) to errors, each under [outer/]seg. */
static void append_nested(json_t *errors, json_t *inner, const char *outer, const char *seg)
{
	size_t i;
	json_t *e;
	json_array_foreach(inner, i, e)
	{
		if (seg)
			problem_prefix(e, seg);
		json_array_append(errors, problem_prefix(e, outer));
	}
	json_decref(inner);
}

/* A string value without NULs, or NULL. */
static const char *plain_string(json_t *v)
{
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	return json_string_length(v) == strlen(s) ? s : NULL;
}

static json_t *check_text(const char *field, json_t *v, size_t max, json_t *errors)
{
	const char *s = plain_string(v);
	if (!s) {
		add_error(errors, field, "must be a string");
		return NULL;
	}
	if (fields_has_control(s)) {
		add_error(errors, field, "must not contain control characters");
		return NULL;
	}
	if (fields_utf8_chars(s) > max) {
		char d[64];
		snprintf(d, sizeof d, "must be at most %zu characters", max);
		add_error(errors, field, d);
		return NULL;
	}
	return json_incref(v);
}

static json_t *check_number(const struct field_rule *r, const char *field, json_t *v, json_t *errors)
{
	if (r->type == FT_INT ? !json_is_integer(v) : !json_is_number(v)) {
		add_error(errors, field, r->type == FT_INT ? "must be an integer" : "must be a number");
		return NULL;
	}
	double x = json_number_value(v);
	if (!isfinite(x) || x < r->min || x > r->max) {
		add_range_error(errors, field, r->min, r->max);
		return NULL;
	}
	return r->type == FT_INT ? json_incref(v) : json_real(x);
}

static json_t *check_time(const char *field, json_t *v, json_t *errors)
{
	const char *s = plain_string(v);
	int64_t ms;
	if (!s || util_parse_rfc3339(s, &ms) != FD_OK) {
		add_error(errors, field, "must be an RFC 3339 date-time, like 2026-11-27T08:00:00Z");
		return NULL;
	}
	char out[FD_TIME_LEN + 1];
	util_format_rfc3339(ms, out);
	return json_string(out);
}

static json_t *check_hhmm(const char *field, json_t *v, json_t *errors)
{
	const char *s = plain_string(v);
	if (!s || strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9' || (s[0] == '2' && s[1] > '3')) {
		add_error(errors, field, "must be a time of day as HH:MM, from 00:00 to 23:59");
		return NULL;
	}
	return json_incref(v);
}

static json_t *check_url(const char *field, json_t *v, json_t *errors)
{
	const char *s = plain_string(v);
	if (!s || strlen(s) > 2048 || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) ||
	    fields_has_control(s) || strchr(s, ' ') || !s[strncmp(s, "https://", 8) == 0 ? 8 : 7]) {
		add_error(errors, field, "must be an absolute http or https URL of at most 2048 bytes");
		return NULL;
	}
	return json_incref(v);
}

static json_t *check_model(const char *field, json_t *v, json_t *errors)
{
	if (!json_is_object(v)) {
		add_error(errors, field, "must be an object with manufacturer, model, year and device_type");
		return NULL;
	}
	json_t *out = json_object();
	const char *key;
	json_t *m;
	int bad = 0;
	json_t *inner = json_array();
	json_object_foreach(v, key, m)
	{
		json_t *c = NULL;
		if (strcmp(key, "year") == 0) {
			static const struct field_rule year = {"year", FT_INT, 0, 1950, 2100, NULL, NULL, NULL};
			c = json_is_null(m) ? json_null() : check_number(&year, key, m, inner);
		} else if (strcmp(key, "manufacturer") == 0 || strcmp(key, "model") == 0 ||
		           strcmp(key, "device_type") == 0) {
			c = json_is_null(m) ? json_null() : check_text(key, m, 100, inner);
		} else {
			add_error(inner, key, "is not a field of device_model (manufacturer, model, year, device_type)");
		}
		if (c)
			json_object_set_new(out, key, c);
		else
			bad = 1;
	}
	append_nested(errors, inner, field, NULL);
	if (bad) {
		json_decref(out);
		return NULL;
	}
	return out;
}

#define MAX_PRICES 10000

static json_t *check_prices(const char *field, json_t *v, json_t *errors)
{
	if (!json_is_array(v) || json_array_size(v) > MAX_PRICES) {
		add_error(errors, field, "must be an array of at most 10000 {price, timestamp} objects");
		return NULL;
	}
	json_t *out = json_array();
	size_t i;
	json_t *e;
	static const struct field_rule price = {"price", FT_NUM, 0, -100000, 100000, NULL, NULL, NULL};
	json_array_foreach(v, i, e)
	{
		char idx[24];
		snprintf(idx, sizeof idx, "%zu", i);
		json_t *inner = json_array();
		json_t *p = json_object_get(e, "price"), *t = json_object_get(e, "timestamp");
		json_t *cp = NULL, *ct = NULL;
		if (!json_is_object(e) || json_object_size(e) != 2 || !p || !t) {
			add_error(inner, "", "must be an object with exactly price and timestamp");
		} else {
			cp = check_number(&price, "price", p, inner);
			ct = check_time("timestamp", t, inner);
		}
		append_nested(errors, inner, field, idx);
		if (!cp || !ct) {
			json_decref(cp);
			json_decref(ct);
			break;
		}
		json_array_append_new(out, json_pack("{soso}", "price", cp, "timestamp", ct));
	}
	if (json_array_size(out) != json_array_size(v)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* The normalised value of v for rule r, or NULL having added an error. */
static json_t *check_value(const struct field_rule *r, json_t *v, json_t *errors)
{
	const char *field = r->name;
	if (json_is_null(v)) {
		if (r->flags & FF_NULL)
			return json_null();
		add_error(errors, field, "must not be null");
		return NULL;
	}
	switch (r->type) {
	case FT_BOOL:
		if (json_is_boolean(v))
			return json_incref(v);
		add_error(errors, field, "must be true or false");
		return NULL;
	case FT_NUM:
	case FT_INT:
		return check_number(r, field, v, errors);
	case FT_STR:
		return check_text(field, v, (size_t)r->max, errors);
	case FT_ENUM: {
		const char *s = plain_string(v);
		for (const char *const *c = r->choices; s && *c; c++) {
			if (strcmp(*c, s) == 0)
				return json_incref(v);
		}
		char d[200] = "must be one of";
		for (const char *const *c = r->choices; *c; c++)
			snprintf(d + strlen(d), sizeof d - strlen(d), "%s %s", c == r->choices ? "" : ",", *c);
		add_error(errors, field, d);
		return NULL;
	}
	case FT_TIME:
		return check_time(field, v, errors);
	case FT_HHMM:
		return check_hhmm(field, v, errors);
	case FT_UUID: {
		const char *s = plain_string(v);
		if (s && util_is_uuid(s))
			return json_incref(v);
		add_error(errors, field, "must be the id (a UUID) of a record of this user");
		return NULL;
	}
	case FT_URL:
		return check_url(field, v, errors);
	case FT_COUNTRY: {
		const char *s = plain_string(v);
		char up[3] = {0};
		for (int i = 0; s && i < 2 && s[i]; i++)
			up[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
		if (s && strlen(s) == 2 && user_country_known(up))
			return json_string(up);
		add_error(errors, field, "must be an ISO 3166-1 alpha-2 country code, like DE");
		return NULL;
	}
	case FT_MODEL:
		return check_model(field, v, errors);
	case FT_PRICES:
		return check_prices(field, v, errors);
	case FT_ANY:
		break;
	}
	add_error(errors, field, "cannot be set");
	return NULL;
}

/* json_equal, but 1 and 1.0 are the same number (a client may print 0.0 as 0). */
static int same_value(json_t *a, json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_is_object(a) && json_is_object(b)) {
		if (json_object_size(a) != json_object_size(b))
			return 0;
		const char *k;
		json_t *v;
		json_object_foreach(a, k, v)
		{
			json_t *w = json_object_get(b, k);
			if (!w || !same_value(v, w))
				return 0;
		}
		return 1;
	}
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++) {
			if (!same_value(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		}
		return 1;
	}
	return json_equal(a, b);
}

static unsigned mode_flag(enum field_mode m)
{
	return m == FM_CREATE ? FF_CREATE : m == FM_UPDATE ? FF_UPDATE : FF_STATE;
}

static const char *refusal(const struct field_rule *r, enum field_mode mode)
{
	if (r->why_not)
		return r->why_not;
	if (r->flags & FF_OUT)
		return "is read-only";
	if (mode == FM_UPDATE && (r->flags & FF_STATE))
		return "is reported by the device's integration (POST .../state), not set by PUT";
	if (mode == FM_STATE)
		return "is a setting, not part of a state report (use PUT)";
	return "cannot be set here";
}

enum fd_err fields_validate(const struct field_rule *rules, enum field_mode mode, json_t *body, json_t *current,
                            json_t **clean, json_t **errors)
{
	json_t *c = json_object(), *errs = json_array();
	if (!c || !errs) {
		json_decref(c);
		json_decref(errs);
		return FD_ENOMEM;
	}
	unsigned want = mode_flag(mode);
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		const struct field_rule *r = fields_find(rules, key);
		if (!r) {
			add_error(errs, key, "is not a known field");
			continue;
		}
		if (!(r->flags & want)) {
			json_t *have = current ? json_object_get(current, key) : NULL;
			if (!have || !same_value(have, v))
				add_error(errs, key, refusal(r, mode));
			continue;
		}
		json_t *norm = check_value(r, v, errs);
		if (norm)
			json_object_set_new(c, key, norm);
	}
	if (json_array_size(errs) > 0) {
		json_decref(c);
		*errors = errs;
		return FD_EINVALID;
	}
	json_decref(errs);
	*clean = c;
	return FD_OK;
}

json_t *fields_defaults(const struct field_rule *rules)
{
	json_t *o = json_object();
	for (const struct field_rule *r = rules; o && r->name; r++) {
		if (!(r->flags & (FF_CREATE | FF_STATE)) || (r->flags & FF_OUT))
			continue;
		json_t *v = r->def ? json_loads(r->def, JSON_DECODE_ANY, NULL) : json_null();
		json_object_set_new(o, r->name, v ? v : json_null());
	}
	return o;
}

json_t *fields_ordered(const struct field_rule *rules, json_t *rec)
{
	json_t *o = json_object();
	for (const struct field_rule *r = rules; o && r->name; r++) {
		json_t *v = json_object_get(rec, r->name);
		json_object_set(o, r->name, v ? v : json_null());
	}
	return o;
}

void fields_check_order(json_t *rec, const char *lo, const char *hi, json_t *sent, json_t *errors)
{
	json_t *a = json_object_get(rec, lo), *b = json_object_get(rec, hi);
	int bad = 0;
	if (json_is_number(a) && json_is_number(b))
		bad = json_number_value(a) > json_number_value(b);
	else if (json_is_string(a) && json_is_string(b))
		bad = strcmp(json_string_value(a), json_string_value(b)) > 0;
	if (!bad)
		return;
	char d[160];
	int hi_sent = sent && json_object_get(sent, hi) && !json_object_get(sent, lo);
	if (hi_sent)
		snprintf(d, sizeof d, "must not be less than %s", lo);
	else
		snprintf(d, sizeof d, "must not be greater than %s", hi);
	add_error(errors, hi_sent ? hi : lo, d);
}
