/*
 * fields.h - a typed rule table for the JSON fields of a resource, and the
 * validator every device, building and contract handler uses.
 *
 * A resource describes its public fields once, in output order, as an array
 * of struct field_rule ending in a rule with name NULL. The same table
 * drives validation (type, range, length, choices), who may set a field
 * (create, update or state), the defaults of a new record, and the order of
 * the fields in replies. Pure functions: no I/O, unit-tested directly.
 */
#ifndef FD_FIELDS_H
#define FD_FIELDS_H

#include <jansson.h>

#include "core/err.h"

enum field_type {
	FT_BOOL,
	FT_NUM,     /* a number in [min, max] */
	FT_INT,     /* an integer in [min, max] */
	FT_STR,     /* text of at most max characters, no control characters */
	FT_ENUM,    /* one of choices */
	FT_TIME,    /* RFC 3339, normalised to UTC with milliseconds */
	FT_HHMM,    /* "HH:MM", 00:00 to 23:59 */
	FT_UUID,    /* a reference to another record */
	FT_URL,     /* an absolute http(s) URL of at most 2048 bytes */
	FT_COUNTRY, /* ISO 3166-1 alpha-2, upper-cased */
	FT_MODEL,   /* the device_model object */
	FT_PRICES,  /* energy_prices: [{price, timestamp}] */
	FT_ANY,     /* output only */
};

enum {
	FF_NULL = 1 << 0,   /* null is a value */
	FF_CREATE = 1 << 1, /* a client may set it on create */
	FF_UPDATE = 1 << 2, /* ... on update (PUT) */
	FF_STATE = 1 << 3,  /* ... in a state report from an integration */
	FF_OUT = 1 << 4,    /* computed or kept by the server: never set by a client */
};

struct field_rule {
	const char *name;
	enum field_type type;
	unsigned flags;
	double min, max;            /* FT_NUM, FT_INT range; FT_STR maximum characters (max) */
	const char *const *choices; /* FT_ENUM, NULL-terminated */
	const char *def;            /* JSON text of the default on create; NULL: null */
	const char *why_not;        /* why a client may not set it, for the error (FF_OUT, state fields) */
};

enum field_mode { FM_CREATE, FM_UPDATE, FM_STATE };

const struct field_rule *fields_find(const struct field_rule *rules, const char *name);

/*
 * Validates body against rules for mode. current (may be NULL) is the stored
 * record: a field that may not be set in this mode is still accepted when it
 * equals the stored value, so a GET can be sent back as a PUT.
 * FD_OK: *clean holds the settable fields sent, normalised. FD_EINVALID:
 * *errors is an array of {field, pointer, detail}. The caller owns either.
 */
enum fd_err fields_validate(const struct field_rule *rules, enum field_mode mode, json_t *body, json_t *current,
                            json_t **clean /* OUT */, json_t **errors /* OUT */);

/* A new object with every settable field at its default (create, or FF_STATE). */
json_t *fields_defaults(const struct field_rule *rules);

/* A new object with rec's fields in the table's order (fields not in the table dropped). */
json_t *fields_ordered(const struct field_rule *rules, json_t *rec);

/* Adds "{lo} must not be greater than {hi}" to errors when both are numbers and lo > hi. */
void fields_check_order(json_t *rec, const char *lo, const char *hi, json_t *sent, json_t *errors);

/* Validation helpers shared with user_fields.c. */
size_t fields_utf8_chars(const char *s);
int fields_has_control(const char *s);

#endif
