/*
 * routes.h - the route table: every endpoint fleetdesk serves.
 */
#ifndef FD_ROUTES_H
#define FD_ROUTES_H

#include <stddef.h>

#include "http/router.h"

extern const struct route api_routes[];
extern const size_t api_routes_count;

#endif
