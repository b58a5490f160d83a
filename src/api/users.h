/*
 * users.h - what the single-user handlers (users.c) share with the batch
 * handler (bulk.c).
 */
#ifndef FD_API_USERS_H
#define FD_API_USERS_H

#include <stddef.h>

#include <jansson.h>

/* The detail of a 409 for a user write, with its errors array in *errors
 * (new reference, NULL when there is none). field names the unique field
 * taken, NULL when the user is erased. buf (n bytes) may hold the text. */
const char *users_conflict(const char *field, char *buf, size_t n, json_t **errors /* OUT */);

#endif
