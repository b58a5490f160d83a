/*
 * connector_demo.c - the built-in connector: a stand-in for a manufacturer's
 * consent page. It asks for the make and model and grants the connection.
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/connector.h"
#include "api/fields.h"
#include "core/util.h"

enum fd_err html_escape(struct buf *b, const char *s)
{
	enum fd_err rc = FD_OK;
	for (; rc == FD_OK && s && *s; s++) {
		switch (*s) {
		case '&':
			rc = buf_puts(b, "&amp;");
			break;
		case '<':
			rc = buf_puts(b, "&lt;");
			break;
		case '>':
			rc = buf_puts(b, "&gt;");
			break;
		case '"':
			rc = buf_puts(b, "&quot;");
			break;
		case '\'':
			rc = buf_puts(b, "&#39;");
			break;
		default:
			rc = buf_append(b, s, 1);
		}
	}
	return rc;
}

static enum fd_err demo_consent(json_t *session, struct buf *html)
{
	(void)session;
	return buf_puts(html, "<p><label>Manufacturer <input name=\"manufacturer\" maxlength=\"100\" "
	                      "autocomplete=\"off\"></label></p>\n"
	                      "<p><label>Model <input name=\"model\" maxlength=\"100\" autocomplete=\"off\"></label></p>\n"
	                      "<p>By continuing you allow your energy partner to read this device's state and "
	                      "to optimise when it uses energy.</p>\n");
}

/* A form value checked like a device_model text field; NULL when absent or empty. */
static enum fd_err form_text(const char *form, size_t len, const char *key, json_t **out, const char **why)
{
	char *v = api_form_value(form, len, key);
	*out = json_null();
	if (!v || !*v) {
		free(v);
		return FD_OK;
	}
	enum fd_err rc = FD_OK;
	if (fields_utf8_chars(v) > 100 || fields_has_control(v)) {
		*why = "The manufacturer and model must be at most 100 characters of plain text.";
		rc = FD_EINVALID;
	} else {
		*out = json_string(v); /* NULL for invalid UTF-8 */
		if (!*out) {
			*why = "The manufacturer and model must be plain text.";
			rc = FD_EINVALID;
		}
	}
	free(v);
	return rc;
}

static enum fd_err demo_authorize(json_t *session, const char *form, size_t len, json_t **state, const char **why)
{
	json_t *maker = NULL, *model = NULL;
	enum fd_err rc = form_text(form, len, "manufacturer", &maker, why);
	if (rc == FD_OK)
		rc = form_text(form, len, "model", &model, why);
	if (rc != FD_OK) {
		json_decref(maker);
		json_decref(model);
		return rc;
	}
	char now[FD_TIME_LEN + 1];
	util_now_rfc3339(now);
	*state = json_pack("{sbsnsssssssssoso}", "is_authenticated", 1, "authorization_url", "connection_status", "ok",
	                   "monitoring_status", "ok", "steering_status", "ok", "current_state_last_updated_at", now,
	                   "manufacturer", maker, "model", model);
	(void)session;
	return *state ? FD_OK : FD_ENOMEM;
}

static const struct connector demo = {
    .name = "fleetdesk test connector",
    .consent_html = demo_consent,
    .authorize = demo_authorize,
};

const struct connector *connector_get(void)
{
	return &demo;
}
