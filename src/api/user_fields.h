/*
 * user_fields.h - validating the user fields a client sends.
 *
 * Pure functions over jansson values: no I/O, so they are unit-tested and
 * fuzzed directly. Every problem found is reported, not just the first.
 */
#ifndef FD_USER_FIELDS_H
#define FD_USER_FIELDS_H

#include <jansson.h>

#include "core/err.h"

/* NULL if s is an acceptable email address, else a sentence saying why not. */
const char *user_email_problem(const char *s);

/* 1 if s (upper case) is an assigned ISO 3166-1 alpha-2 code. */
int user_country_known(const char *s);

/*
 * Validates a request body for create (current == NULL) or update (current
 * is the stored user, for the read-only round-trip rule).
 *
 * FD_OK: *clean is a new object holding only the writable fields sent,
 * normalised (country upper-cased; on create "role" defaults to "user").
 * FD_EINVALID: *errors is a new array of {field, pointer, detail}.
 * FD_ENOMEM on allocation failure. The caller owns whichever is returned.
 */
enum fd_err user_fields_validate(json_t *body, json_t *current, json_t **clean /* OUT */, json_t **errors /* OUT */);

#endif
