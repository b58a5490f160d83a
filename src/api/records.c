/*
 * records.c - /users/{user_id}/buildings and /users/{user_id}/energy-contracts:
 * list, create, get, partial PUT and soft delete, in Podero's field names.
 * The route's arg is the kind (REC_BUILDING or REC_CONTRACT).
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/devices.h"
#include "api/fields.h"
#include "api/handlers.h"
#include "api/records.h"
#include "core/util.h"
#include "http/router.h"

#define SET (FF_CREATE | FF_UPDATE)

#define OWN_HEAD                                                                                                       \
	{"id", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL}, { "user_id", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL }
#define OWN_TAIL                                                                                                       \
	{"created_at", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL}, {"updated_at", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL}, \
	    {"deleted_at", FT_ANY, FF_OUT, 0, 0, NULL, NULL, NULL},                                                    \
	{                                                                                                              \
		NULL, FT_ANY, 0, 0, 0, NULL, NULL, NULL                                                                \
	}

static const struct field_rule building[] = {
    OWN_HEAD,
    {"name", FT_STR, SET | FF_NULL, 0, 100, NULL, NULL, NULL},
    {"property_type", FT_STR, SET | FF_NULL, 0, 50, NULL, NULL, NULL},
    {"property_size_m2", FT_NUM, SET | FF_NULL, 1, 100000, NULL, NULL, NULL},
    {"property_age", FT_INT, SET | FF_NULL, 0, 1000, NULL, NULL, NULL},
    {"num_occupants", FT_INT, SET | FF_NULL, 0, 1000, NULL, NULL, NULL},
    {"space_heating", FT_STR, SET | FF_NULL, 0, 50, NULL, NULL, NULL},
    {"water_heating", FT_STR, SET | FF_NULL, 0, 50, NULL, NULL, NULL},
    {"street_and_number", FT_STR, SET | FF_NULL, 0, 200, NULL, NULL, NULL},
    {"zip_code", FT_STR, SET | FF_NULL, 0, 20, NULL, NULL, NULL},
    {"town", FT_STR, SET | FF_NULL, 0, 100, NULL, NULL, NULL},
    {"country_iso2", FT_COUNTRY, SET | FF_NULL, 0, 0, NULL, NULL, NULL},
    OWN_TAIL,
};

static const char *const contract_types[] = {"spot_hourly", "monthly", "yearly", NULL};
static const char *const currencies[] = {"EUR", "CHF", "GBP", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN",
                                         "USD", NULL};

static const struct field_rule contract[] = {
    OWN_HEAD,
    {"energy_contract_type", FT_ENUM, SET, 0, 0, contract_types, NULL, NULL},
    {"energy_prices", FT_PRICES, SET, 0, 0, NULL, "[]", NULL},
    {"building_id", FT_UUID, SET | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"meter_id", FT_STR, SET | FF_NULL, 0, 19, NULL, NULL, NULL},
    {"supplier", FT_STR, SET | FF_NULL, 0, 100, NULL, NULL, NULL},
    {"currency_energy_price", FT_ENUM, SET, 0, 0, currencies, "\"EUR\"", NULL},
    {"valid_from", FT_TIME, SET | FF_NULL, 0, 0, NULL, NULL, NULL},
    {"valid_to", FT_TIME, SET | FF_NULL, 0, 0, NULL, NULL, NULL},
    OWN_TAIL,
};

static const struct {
	const struct field_rule *rules;
	const char *path, *what, *required;
} kinds[REC_KINDS] = {
    [REC_BUILDING] = {building, "buildings", "building", NULL},
    [REC_CONTRACT] = {contract, "energy-contracts", "energy contract", "energy_contract_type"},
};

json_t *record_view(int kind, json_t *rec)
{
	return fields_ordered(kinds[kind].rules, rec);
}

static int route_kind(struct req *r)
{
	return r->route->arg;
}

static enum fd_err reply_failed(struct req *r, int kind, enum fd_err rc)
{
	char d[160];
	switch (rc) {
	case FD_ENOTFOUND:
		snprintf(d, sizeof d, "no such %s for this user", kinds[kind].what);
		return reply_problem(r, rc, d, NULL);
	case FD_EINVALID:
		return api_reply_bad_building(r);
	case FD_ECONFLICT:
		if (kind == REC_BUILDING && strcmp(r->method, "DELETE") == 0)
			return reply_problem(r, rc,
			                     "devices or energy contracts still belong to this building; move or delete "
			                     "them first",
			                     NULL);
		snprintf(d, sizeof d, "the %s is deleted", kinds[kind].what);
		return reply_problem(r, rc, d, NULL);
	case FD_EPRECOND:
		snprintf(d, sizeof d, "the %s changed since you read it (If-Match is stale); read it again",
		         kinds[kind].what);
		return reply_problem(r, rc, d, NULL);
	default:
		return reply_problem(r, rc, NULL, NULL);
	}
}

static enum fd_err reply_record(struct req *r, unsigned status, int kind, json_t *rec, int64_t version)
{
	json_t *v = record_view(kind, rec);
	json_decref(rec);
	api_set_etag(r, version);
	return reply_json(r, status, v);
}

/* Validates body; on create adds the defaults and checks required fields. */
static enum fd_err validate(int kind, enum field_mode mode, json_t *body, json_t *current, json_t **clean,
                            json_t **errors)
{
	const struct field_rule *rules = kinds[kind].rules;
	json_t *sent = NULL;
	enum fd_err rc = fields_validate(rules, mode, body, current, &sent, errors);
	if (rc != FD_OK)
		return rc;
	json_t *full = current ? json_deep_copy(current) : fields_defaults(rules);
	json_object_update(full, sent);
	json_t *errs = json_array();
	if (!current && kinds[kind].required && !json_object_get(sent, kinds[kind].required))
		json_array_append_new(errs, problem_field(kinds[kind].required, "is required"));
	if (kind == REC_CONTRACT)
		fields_check_order(full, "valid_from", "valid_to", sent, errs);
	if (json_array_size(errs) > 0) {
		json_decref(full);
		json_decref(sent);
		*errors = errs;
		return FD_EINVALID;
	}
	json_decref(errs);
	if (current) {
		json_decref(full);
		*clean = sent;
	} else {
		json_decref(sent);
		*clean = full;
	}
	return FD_OK;
}

enum fd_err records_list(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	if (!uid)
		return FD_ENOTFOUND;
	int kind = route_kind(r);
	json_t *recs = NULL;
	rc = store_record_list(req_store(r), req_param(r, 0), uid, kind, &recs);
	if (rc == FD_ENOTFOUND)
		return reply_problem(r, rc, "no such user", NULL);
	if (rc != FD_OK)
		return reply_problem(r, rc, NULL, NULL);
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(recs, i, v) json_array_append_new(out, record_view(kind, v));
	json_decref(recs);
	return reply_json(r, 200, out);
}

enum fd_err records_create(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_WRITE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	const char *uid = device_path_id(r, 1, "user");
	if (!uid)
		return FD_ENOTFOUND;
	int kind = route_kind(r);
	json_t *body = NULL, *clean = NULL, *errors = NULL, *rec = NULL;
	rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	rc = validate(kind, FM_CREATE, body, NULL, &clean, &errors);
	json_decref(body);
	if (rc == FD_EINVALID)
		return api_reply_invalid(r, errors);
	if (rc != FD_OK)
		return rc;
	struct store_actor a = api_actor(r);
	int64_t version = 0;
	rc = store_record_create(req_store(r), &a, req_param(r, 0), uid, kind, clean, &rec, &version);
	json_decref(clean);
	if (rc != FD_OK)
		return api_reply_create_failed(r, rc, kinds[kind].path);
	char loc[320];
	snprintf(loc, sizeof loc, API_PREFIX "/org/%s/users/%s/%s/%s", req_param(r, 0), uid, kinds[kind].path,
	         json_string_value(json_object_get(rec, "id")));
	reply_header(r, "Location", loc);
	return reply_record(r, 201, kind, rec, version);
}

static enum fd_err load(struct req *r, json_t **rec, int64_t *version)
{
	int kind = route_kind(r);
	const char *uid = device_path_id(r, 1, "user");
	const char *id = uid ? device_path_id(r, 2, kinds[kind].what) : NULL;
	if (!id)
		return FD_ENOTFOUND;
	enum fd_err rc = store_record_get(req_store(r), req_param(r, 0), uid, kind, id, rec, version);
	return rc == FD_OK ? FD_OK : reply_failed(r, kind, rc);
}

enum fd_err records_get(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_READ, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	json_t *rec = NULL;
	int64_t version = 0;
	rc = load(r, &rec, &version);
	if (rc != FD_OK)
		return rc;
	if (api_if_none_match(r, version)) {
		json_decref(rec);
		api_set_etag(r, version);
		return reply_empty(r, 304);
	}
	return reply_record(r, 200, route_kind(r), rec, version);
}

enum fd_err records_update(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_WRITE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	int kind = route_kind(r);
	json_t *body = NULL;
	rc = req_json_body(r, &body);
	if (rc != FD_OK)
		return rc;
	for (int attempt = 0; attempt < 3; attempt++) {
		json_t *rec = NULL, *clean = NULL, *errors = NULL, *out = NULL;
		int64_t version = 0, nv = 0;
		rc = load(r, &rec, &version); /* replies on failure */
		if (rc != FD_OK)
			goto done;
		if (api_if_match(r, version) != FD_OK) {
			json_decref(rec);
			rc = reply_failed(r, kind, FD_EPRECOND);
			goto done;
		}
		json_t *view = record_view(kind, rec);
		json_decref(rec);
		rc = validate(kind, FM_UPDATE, body, view, &clean, &errors);
		json_decref(view);
		if (rc != FD_OK) {
			rc = rc == FD_EINVALID ? api_reply_invalid(r, errors) : rc;
			goto done;
		}
		struct store_actor a = api_actor(r);
		rc = store_record_update(req_store(r), &a, req_param(r, 0), req_param(r, 1), kind, req_param(r, 2), clean,
		                         version, &out, &nv);
		json_decref(clean);
		if (rc == FD_EPRECOND)
			continue; /* written by someone else since we read it: validate again */
		rc = rc == FD_OK ? reply_record(r, 200, kind, out, nv) : reply_failed(r, kind, rc);
		goto done;
	}
	rc = reply_problem(r, FD_EBUSY, "the record is being changed by others; try again", NULL);
done:
	json_decref(body);
	return rc;
}

enum fd_err records_delete(struct req *r)
{
	enum fd_err rc = api_authorize(r, ACT_PROPERTY_WRITE, ROLE_NONE, ROLE_NONE);
	if (rc != FD_OK)
		return rc;
	int kind = route_kind(r);
	json_t *rec = NULL;
	int64_t version = 0;
	rc = load(r, &rec, &version);
	if (rc != FD_OK)
		return rc;
	json_decref(rec);
	if (api_if_match(r, version) != FD_OK)
		return reply_failed(r, kind, FD_EPRECOND);
	struct store_actor a = api_actor(r);
	rc = store_record_delete(req_store(r), &a, req_param(r, 0), req_param(r, 1), kind, req_param(r, 2),
	                         req_header(r, "If-Match") ? version : -1);
	return rc == FD_OK ? reply_empty(r, 204) : reply_failed(r, kind, rc);
}
