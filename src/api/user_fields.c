/*
 * user_fields.c - the rules for user fields (see README, "Users").
 */
#include "api/user_fields.h"

#include <string.h>

#include "api/fields.h"
#include "auth/policy.h"
#include "http/request.h"

/* The officially assigned ISO 3166-1 alpha-2 codes, sorted. */
static const char countries[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW "
    "BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI "
    "FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN "
    "IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF "
    "PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE "
    "YT ZA ZM ZW";

int user_country_known(const char *s)
{
	if (!s || strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
		return 0;
	for (const char *p = countries; *p; p += 3) {
		if (p[0] == s[0] && p[1] == s[1])
			return 1;
		if (!p[2])
			break;
	}
	return 0;
}

static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL || c >= 0x80;
}

static int is_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c >= 0x80;
}

/* Length of the Unicode white space (beyond ASCII) at p, or 0. */
static size_t uspace_len(const unsigned char *p)
{
	if (p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x80 &&
	    ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
		return 3;
	if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	return 0;
}

static int ends_with_uspace(const char *s, size_t n)
{
	for (size_t k = 2; k <= 3 && k <= n; k++) {
		if (uspace_len((const unsigned char *)s + n - k) == k)
			return 1;
	}
	return 0;
}

const char *user_email_problem(const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return "must not be empty";
	if (n > 254)
		return "must be at most 254 bytes";
	int ascii_space =
	    s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r';
	if (ascii_space || uspace_len((const unsigned char *)s) || ends_with_uspace(s, n))
		return "must not start or end with whitespace";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f)
			return "must not contain spaces or control characters";
	}
	const char *at = strchr(s, '@');
	if (!at || strchr(at + 1, '@'))
		return "must be one address of the form name@example.com, with exactly one @";
	size_t local = (size_t)(at - s);
	if (local == 0)
		return "must have a name before the @";
	if (local > 64)
		return "must have at most 64 bytes before the @";
	if (s[0] == '.' || at[-1] == '.')
		return "must not have a dot at the start or end of the name";
	for (size_t i = 0; i < local; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return "must not have two dots in a row";
		if (s[i] != '.' && !is_atext((unsigned char)s[i]))
			return "has a character not allowed in the name part";
	}
	const char *d = at + 1;
	if (!*d)
		return "must have a domain after the @";
	const char *label = d, *last_label = d;
	int dots = 0;
	for (const char *p = d;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t ll = (size_t)(p - label);
			if (ll == 0)
				return "must have a domain like example.com after the @";
			if (ll > 63)
				return "has a domain label longer than 63 characters";
			if (label[0] == '-' || p[-1] == '-')
				return "has a domain label that starts or ends with a hyphen";
			last_label = label;
			if (*p == '\0')
				break;
			dots++;
			label = p + 1;
		} else if (!is_label_char((unsigned char)*p)) {
			return "has a character not allowed in the domain";
		}
	}
	if (dots == 0)
		return "must have a domain with a dot, like example.com";
	size_t tld = strlen(last_label);
	int alpha = 0;
	for (const char *p = last_label; *p; p++)
		alpha |= !(*p >= '0' && *p <= '9') && *p != '-';
	if (tld < 2 || !alpha)
		return "must end in a top-level domain of at least two letters";
	return NULL;
}

struct user_rule {
	const char *name;
	size_t max; /* in characters */
	int nullable;
	int nonempty;
};

static const struct user_rule rules[] = {
    {"role", 16, 0, 1},
    {"external_user_id", 255, 1, 1},
    {"email", 254, 0, 1},
    {"first_name", 100, 1, 0},
    {"last_name", 100, 1, 0},
    {"street_and_number", 200, 1, 0},
    {"street_add_info", 200, 1, 0},
    {"zip_code", 20, 1, 0},
    {"town", 100, 1, 0},
    {"country_iso2", 2, 1, 1},
};
#define NRULES (sizeof rules / sizeof rules[0])

static const char *const read_only[] = {"id", "org_id", "created_at", "updated_at", "deleted_at", NULL};

static const struct user_rule *rule_for(const char *key)
{
	for (size_t i = 0; i < NRULES; i++) {
		if (strcmp(rules[i].name, key) == 0)
			return &rules[i];
	}
	return NULL;
}

static int is_read_only(const char *key)
{
	for (const char *const *p = read_only; *p; p++) {
		if (strcmp(*p, key) == 0)
			return 1;
	}
	return 0;
}

static void add_error(json_t *errors, const char *field, const char *detail)
{
	json_array_append_new(errors, problem_field(field, detail));
}

/* Checks one writable field; on success sets the normalised value in clean. */
static void check_field(const struct user_rule *rule, json_t *v, json_t *clean, json_t *errors)
{
	const char *key = rule->name;
	if (json_is_null(v)) {
		if (!rule->nullable)
			add_error(errors, key, "must not be null");
		else
			json_object_set(clean, key, v);
		return;
	}
	if (!json_is_string(v)) {
		add_error(errors, key, rule->nullable ? "must be a string or null" : "must be a string");
		return;
	}
	const char *s = json_string_value(v);
	if (json_string_length(v) != strlen(s)) {
		add_error(errors, key, "must not contain NUL characters");
		return;
	}
	if (strcmp(key, "email") == 0) {
		const char *why = user_email_problem(s);
		if (why)
			add_error(errors, key, why);
		else
			json_object_set(clean, key, v);
		return;
	}
	if (rule->nonempty && !*s) {
		add_error(errors, key,
		          rule->nullable ? "must not be empty (send null to clear it)" : "must not be empty");
		return;
	}
	if (fields_has_control(s)) {
		add_error(errors, key, "must not contain control characters");
		return;
	}
	if (fields_utf8_chars(s) > rule->max) {
		char d[64];
		snprintf(d, sizeof d, "must be at most %zu characters", rule->max);
		add_error(errors, key, d);
		return;
	}
	if (strcmp(key, "role") == 0) {
		enum role ro = role_parse(s);
		if (ro == ROLE_NONE || ro == ROLE_INTEGRATION)
			add_error(errors, key, "must be one of user, viewer, staff, admin");
		else
			json_object_set(clean, key, v);
		return;
	}
	if (strcmp(key, "country_iso2") == 0) {
		char up[3] = {0};
		for (int i = 0; i < 2 && s[i]; i++)
			up[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
		if (!user_country_known(up))
			add_error(errors, key, "must be an ISO 3166-1 alpha-2 country code, like DE");
		else
			json_object_set_new(clean, key, json_string(up));
		return;
	}
	json_object_set(clean, key, v);
}

enum fd_err user_fields_validate(json_t *body, json_t *current, json_t **clean, json_t **errors)
{
	json_t *c = json_object(), *errs = json_array();
	if (!c || !errs) {
		json_decref(c);
		json_decref(errs);
		return FD_ENOMEM;
	}
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		const struct user_rule *rule = rule_for(key);
		if (rule) {
			check_field(rule, v, c, errs);
		} else if (is_read_only(key)) {
			json_t *have = current ? json_object_get(current, key) : NULL;
			if (!have || !json_equal(have, v))
				add_error(errs, key, "is read-only");
		} else {
			add_error(errs, key, "is not a known field");
		}
	}
	if (!current) {
		if (!json_object_get(body, "email"))
			add_error(errs, "email", "is required");
		if (!json_object_get(c, "role") && !json_object_get(body, "role"))
			json_object_set_new(c, "role", json_string("user"));
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
