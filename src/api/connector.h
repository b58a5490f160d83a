/*
 * connector.h - the manufacturer's side of a self-service connection.
 *
 * A real deployment connects a device through its manufacturer's OAuth
 * flow. fleetdesk hosts the page the end-user opens (/connect/{secret}) and
 * asks a connector two things: what the consent step shows, and what the
 * manufacturer granted once the user agreed. The built-in connector
 * (connector_demo.c) stands in for a manufacturer: it asks for the make and
 * model and grants the connection. A real one replaces it behind this
 * interface, without touching sessions, devices or the audit.
 */
#ifndef FD_CONNECTOR_H
#define FD_CONNECTOR_H

#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"

struct connector {
	const char *name;
	/* Appends the consent step's form fields (HTML) for the session. */
	enum fd_err (*consent_html)(json_t *session, struct buf *html);
	/*
	 * The user agreed: from the submitted form body, the device state the
	 * manufacturer grants (state fields of the device type, e.g.
	 * is_authenticated, device_model). FD_EINVALID with *why for bad input.
	 */
	enum fd_err (*authorize)(json_t *session, const char *form, size_t len, json_t **state /* OUT */,
	                         const char **why /* OUT */);
};

/* The connector in use. */
const struct connector *connector_get(void);

/* Appends s with &, <, >, " and ' escaped for HTML. */
enum fd_err html_escape(struct buf *b, const char *s);

#endif
