/*
 * demo.c - `fleetdesk demo`: an org with realistic end-users, for `make run`
 * and the benchmarks.
 *
 * The data is generated from a fixed seed, so two demos of the same size
 * hold the same people (with fresh ids and tokens). Users are inserted in
 * batches so memory stays flat at a million.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "api/device_fields.h"
#include "auth/password.h"
#include "auth/token.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "store/store.h"

#define BATCH     10000
#define MAX_USERS 5000000

static const char *const first_names[] = {
    "Anna",     "Lukas",  "Marie",  "Leon",   "Sophie", "Felix",  "Emma",    "Jonas", "Mia",       "Paul",
    "Lena",     "Elias",  "Hannah", "Noah",   "Lea",    "Ben",    "Laura",   "Finn",  "Julia",     "Luis",
    "Clara",    "Max",    "Sarah",  "Henry",  "Lisa",   "Emil",   "Johanna", "Anton", "Katharina", "Jakob",
    "Sofia",    "Moritz", "Ida",    "David",  "Greta",  "Niklas", "Amelie",  "Simon", "Nora",      "Tobias",
    "Matthias", "Eva",    "Peter",  "Ursula", "Thomas", "Sabine", "Stefan",  "Petra", "Michael",   "Monika",
    "John",     "Jürgen", "Zoë",    "Björn",  "Özlem",  "Łukasz", "Chloé",   "Mateo", "Aisha",     "Kenji"};
static const char *const last_names[] = {
    "Müller",   "Schmidt",    "Schneider", "Fischer", "Weber",    "Meyer",    "Wagner",    "Becker",     "Schulz",
    "Hoffmann", "Schäfer",    "Koch",      "Bauer",   "Richter",  "Klein",    "Wolf",      "Schröder",   "Neumann",
    "Schwarz",  "Zimmermann", "Braun",     "Krüger",  "Hofmann",  "Hartmann", "Lange",     "Schmitt",    "Werner",
    "Schmitz",  "Krause",     "Meier",     "Lehmann", "Schmid",   "Schulze",  "Maier",     "Köhler",     "Herrmann",
    "König",    "Walter",     "Mayer",     "Huber",   "Kaiser",   "Fuchs",    "Peters",    "Lang",       "Scholz",
    "Möller",   "Weiß",       "Jung",      "Hahn",    "Schubert", "Vogel",    "Friedrich", "Keller",     "Günther",
    "Frank",    "Berger",     "Winkler",   "Roth",    "Beck",     "Lorenz",   "Baumann",   "Franke",     "Albrecht",
    "Schuster", "Simon",      "Ludwig",    "Böhm",    "Winter",   "Kraus",    "Martin",    "Schumacher", "Krämer",
    "Vogt",     "Stein",      "Jäger",     "Otto",    "Sommer",   "Groß",     "Seidel",    "Heinrich",   "Doe"};
static const char *const streets[] = {"Hauptstraße", "Schulstraße",   "Gartenstraße", "Bahnhofstraße",
                                      "Dorfstraße",  "Bergstraße",    "Birkenweg",    "Lindenstraße",
                                      "Kirchstraße", "Waldstraße",    "Ringstraße",   "Friedhofstraße",
                                      "Mühlenweg",   "Am Sportplatz", "Rosenweg",     "Wiesenstraße"};
static const struct {
	const char *town, *zip, *country;
} towns[] = {
    {"Berlin", "10115", "DE"},
    {"Hamburg", "20095", "DE"},
    {"München", "80331", "DE"},
    {"Köln", "50667", "DE"},
    {"Frankfurt am Main", "60311", "DE"},
    {"Stuttgart", "70173", "DE"},
    {"Düsseldorf", "40213", "DE"},
    {"Leipzig", "04109", "DE"},
    {"Dortmund", "44135", "DE"},
    {"Essen", "45127", "DE"},
    {"Bremen", "28195", "DE"},
    {"Dresden", "01067", "DE"},
    {"Hannover", "30159", "DE"},
    {"Nürnberg", "90402", "DE"},
    {"Freiburg", "79098", "DE"},
    {"Wien", "1010", "AT"},
    {"Graz", "8010", "AT"},
    {"Linz", "4020", "AT"},
    {"Salzburg", "5020", "AT"},
    {"Zürich", "8001", "CH"},
    {"Basel", "4051", "CH"},
    {"Bern", "3011", "CH"},
    {"Amsterdam", "1012", "NL"},
    {"Rotterdam", "3011", "NL"},
};
static const char *const providers[] = {"gmail.com", "web.de",     "gmx.de",   "t-online.de", "outlook.com",
                                        "posteo.de", "icloud.com", "yahoo.de", "mailbox.org", "example.com"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* xorshift64*: fast and repeatable; the demo needs no cryptographic randomness */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* ASCII-folds a name for an email local part ("Jürgen" -> "juergen"). */
static void email_part(const char *in, char *out, size_t n)
{
	static const struct {
		const char *from, *to;
	} fold[] = {{"ä", "ae"}, {"ö", "oe"}, {"ü", "ue"}, {"ß", "ss"}, {"Ä", "ae"}, {"Ö", "oe"},
	            {"Ü", "ue"}, {"ë", "e"},  {"é", "e"},  {"Ł", "l"},  {"ł", "l"}};
	size_t o = 0;
	while (*in && o + 3 < n) {
		int done = 0;
		for (size_t k = 0; k < N(fold) && !done; k++) {
			size_t fl = strlen(fold[k].from);
			if (strncmp(in, fold[k].from, fl) == 0) {
				for (const char *t = fold[k].to; *t && o + 1 < n; t++)
					out[o++] = *t;
				in += fl;
				done = 1;
			}
		}
		if (done)
			continue;
		char c = *in++;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[o++] = c;
	}
	out[o] = '\0';
}

static json_t *demo_user(uint64_t *rng, long i)
{
	const char *fn = first_names[rng_next(rng) % N(first_names)];
	const char *ln = last_names[rng_next(rng) % N(last_names)];
	char fe[64], le[64], email[200], ext[32], street[96];
	email_part(fn, fe, sizeof fe);
	email_part(ln, le, sizeof le);
	snprintf(email, sizeof email, "%s.%s%ld@%s", fe, le, i, providers[rng_next(rng) % N(providers)]);
	snprintf(ext, sizeof ext, "cust_%07ld", i);
	snprintf(street, sizeof street, "%s %u", streets[rng_next(rng) % N(streets)],
	         (unsigned)(rng_next(rng) % 180 + 1));
	size_t t = rng_next(rng) % N(towns);
	const char *role = (i % 1000 == 7) ? "staff" : "user";
	json_t *u =
	    json_pack("{ssssssssssssssss}", "role", role, "email", email, "external_user_id", ext, "first_name", fn,
	              "last_name", ln, "street_and_number", street, "zip_code", towns[t].zip, "town", towns[t].town);
	if (u)
		json_object_set_new(u, "country_iso2", json_string(towns[t].country));
	if (u && rng_next(rng) % 10 == 0)
		json_object_set_new(u, "street_add_info", json_string("c/o Hausverwaltung"));
	return u;
}

/* ------------------------------------------------------------------ buildings, contracts, devices */

static const char *const models[DEV_TYPES][5][2] = {
    {{"Daikin", "Altherma 3 H HT"},
     {"Vaillant", "aroTHERM plus"},
     {"Viessmann", "Vitocal 250-A"},
     {"Bosch", "Compress 7000i AW"},
     {"Stiebel Eltron", "WPL 25 A"}},
    {{"Tesla", "Model 3"}, {"Volkswagen", "ID.4"}, {"Hyundai", "Ioniq 5"}, {"BMW", "i4"}, {"Renault", "Zoe"}},
    {{"SMA", "Sunny Tripower 10.0"},
     {"Fronius", "Symo GEN24 8.0"},
     {"Huawei", "SUN2000-10KTL"},
     {"SolarEdge", "SE8K"},
     {"Kostal", "Plenticore plus 10"}},
};
static const char *const suppliers[] = {"Stadtwerke Nord", "Tibber", "Octopus Energy", "E.ON",
                                        "Vattenfall",      "EnBW",   "Naturstrom",     "Lichtblick"};

struct demo_opts {
	int devices_per_user; /* 0: a realistic mix */
	int reading_days, reading_hours;
	int64_t now_s;
};

static double unit(uint64_t *rng)
{
	return (double)(rng_next(rng) >> 11) / 9007199254740992.0;
}

static double r3(double x)
{
	return nearbyint(x * 1000.0) / 1000.0;
}

/* Interval readings up to the last full interval before now: [[ts, in, out], ...]. */
static json_t *demo_readings(uint64_t *rng, int type, double scale, const struct demo_opts *o)
{
	json_t *arr = json_array();
	int64_t step = (int64_t)o->reading_hours * 3600;
	int64_t last = o->now_s / step * step - step;
	int64_t n = (int64_t)o->reading_days * 24 / o->reading_hours;
	for (int64_t k = n - 1; k >= 0; k--) {
		int64_t ts = last - k * step;
		int hour = (int)((ts % 86400) / 3600);
		double in = 0, out = 0, h = (double)o->reading_hours;
		if (type == DEV_HEAT_PUMP) {
			double shape = (hour >= 5 && hour <= 9) || (hour >= 17 && hour <= 22) ? 1.4 : 0.8;
			in = scale * shape * h * (0.7 + 0.6 * unit(rng));
		} else if (type == DEV_EV) {
			in = hour < 6 && unit(rng) < 0.5 ? scale * h * (0.6 + 0.8 * unit(rng)) : 0;
		} else {
			in = 0.35 * h * (0.5 + unit(rng));
			double sun = hour >= 7 && hour <= 17 ? sin((double)(hour - 7) / 10.0 * 3.14159265) : 0;
			out = scale * sun * h * (0.3 + 0.7 * unit(rng));
		}
		json_array_append_new(arr, json_pack("[Iff]", (json_int_t)ts, r3(in), r3(out)));
	}
	return arr;
}

static json_t *demo_device(uint64_t *rng, int type, long i, const struct demo_opts *o)
{
	char ts[FD_TIME_LEN + 1], url[160], ext[48];
	unsigned m = (unsigned)(rng_next(rng) % 5);
	unsigned roll = (unsigned)(rng_next(rng) % 100);
	int authenticated = roll >= 6, stale = roll >= 6 && roll < 10, off = roll >= 10 && roll < 18;
	int64_t age_s = stale ? 3 * 3600 + (int64_t)(rng_next(rng) % (27 * 3600)) : (int64_t)(rng_next(rng) % 600);
	util_format_rfc3339((o->now_s - age_s) * 1000, ts);
	snprintf(ext, sizeof ext, "%s-%07ld-%u", type == DEV_HEAT_PUMP ? "hp" : type == DEV_EV ? "ev" : "iv", i, m);
	json_t *body =
	    json_pack("{sssbsssbs{ssss}ssssss}", "external_device_id", ext, "is_authenticated", authenticated,
	              "current_state_last_updated_at", ts, "is_smart_optimization_active", !off, "device_model",
	              "manufacturer", models[type][m][0], "model", models[type][m][1], "connection_status",
	              authenticated ? (stale ? "warning" : "ok") : "error", "monitoring_status",
	              stale ? "warning" : "ok", "steering_status", off ? "warning" : "ok");
	if (!authenticated && roll % 2 == 0) {
		snprintf(url, sizeof url, "https://auth.example-oem.com/reconnect/%s", ext);
		json_object_set_new(body, "authorization_url", json_string(url));
	}
	json_object_set_new(body, "building_id", json_string("#0"));
	double scale;
	if (type == DEV_HEAT_PUMP) {
		scale = 0.4 + 1.2 * unit(rng);
		json_object_set_new(body, "current_mode", json_string(roll % 3 ? "heating" : "hot_water"));
		json_object_set_new(body, "outdoor_temperature", json_real(r3(-5 + 15 * unit(rng))));
		json_object_set_new(body, "indoor_actual_temperature", json_real(r3(19 + 3 * unit(rng))));
	} else if (type == DEV_EV) {
		scale = 5 + 6 * unit(rng);
		json_object_set_new(body, "battery_level", json_real(r3(20 + 75 * unit(rng))));
		json_object_set_new(body, "battery_capacity_kwh", json_real((double)(50 + 10 * (rng_next(rng) % 5))));
		json_object_set_new(body, "is_plugged_in", json_boolean(roll % 2));
	} else {
		scale = 4 + 8 * unit(rng);
		json_object_set_new(body, "solar_power_rating_kw", json_real(r3(scale)));
		json_object_set_new(body, "is_battery_connected", json_boolean(roll % 3 == 0));
	}
	json_t *fields = NULL, *errors = NULL;
	json_t *building = json_object_get(body, "building_id");
	json_incref(building);
	json_object_del(body, "building_id"); /* "#0" is the seed's placeholder, not a UUID */
	enum fd_err rc = device_fields_validate(type, FM_CREATE, body, NULL, &fields, &errors);
	json_decref(body);
	json_decref(errors);
	if (rc != FD_OK) {
		json_decref(building);
		return NULL;
	}
	json_object_set_new(fields, "building_id", building);
	json_t *d = json_pack("{sisoso}", "type", type, "fields", fields, "readings",
	                      o->reading_days ? demo_readings(rng, type, scale, o) : json_array());
	return d;
}

/* The buildings, contract and devices of demo user i (whose fields are u). */
static json_t *demo_property(uint64_t *rng, long i, json_t *u, const struct demo_opts *o)
{
	unsigned roll = (unsigned)(rng_next(rng) % 100);
	json_t *building = json_pack("{sssssisOsOsO}", "name", "Home", "property_type",
	                             roll < 60 ? "house" : "apartment", "num_occupants", (int)(1 + rng_next(rng) % 5),
	                             "street_and_number", json_object_get(u, "street_and_number"), "zip_code",
	                             json_object_get(u, "zip_code"), "town", json_object_get(u, "town"));
	json_object_set(building, "country_iso2", json_object_get(u, "country_iso2"));
	json_object_set_new(building, "property_size_m2", json_real((double)(60 + rng_next(rng) % 180)));
	json_object_set_new(building, "space_heating", json_string(roll < 70 ? "heat_pump" : "gas"));
	char meter[24];
	snprintf(meter, sizeof meter, "DE%011ld", i);
	char from[FD_TIME_LEN + 1];
	util_format_rfc3339(1735689600000LL, from); /* 2025-01-01 */
	int spot = roll % 2;
	json_t *contract = json_pack(
	    "{sssssssssssss[{sfss}]}", "energy_contract_type", spot ? "spot_hourly" : "yearly", "building_id", "#0",
	    "meter_id", meter, "supplier", suppliers[rng_next(rng) % N(suppliers)], "currency_energy_price", "EUR",
	    "valid_from", from, "energy_prices", "price", spot ? 0.24 : 0.32, "timestamp", from);
	json_t *devices = json_array();
	if (o->devices_per_user > 0) {
		for (int k = 0; k < o->devices_per_user; k++)
			json_array_append_new(devices, demo_device(rng, (int)((i + k) % DEV_TYPES), i, o));
	} else {
		if (roll < 60)
			json_array_append_new(devices, demo_device(rng, DEV_HEAT_PUMP, i, o));
		if (rng_next(rng) % 100 < 35)
			json_array_append_new(devices, demo_device(rng, DEV_EV, i, o));
		if (rng_next(rng) % 100 < 40)
			json_array_append_new(devices, demo_device(rng, DEV_INVERTER, i, o));
	}
	return json_pack("{sOs[o]s[o]so}", "external_user_id", json_object_get(u, "external_user_id"), "buildings",
	                 building, "contracts", contract, "devices", devices);
}

static const char demo_help[] =
    "usage: fleetdesk [--db PATH] demo [--users N] [--name NAME] [--devices-per-user N]\n"
    "                 [--reading-days D] [--reading-hours H]\n"
    "Creates a demo org with N realistic users (default 200), each with a building, an\n"
    "energy contract and devices (a mix of heat pumps, EVs and inverters, or exactly\n"
    "--devices-per-user of them), with interval readings every H hours (default 1) over\n"
    "the last D days (default 35; 0 for none). About 6% of the devices need\n"
    "re-authentication, 4% are stale and 8% have optimization off. Prints\n"
    "{\"org_id\", \"token\", \"integration_token\", \"staff_email\", \"staff_password\", \"users\",\n"
    "\"devices\"} as JSON: staff_email and staff_password sign an admin in to the web app.\n";

/* Users per property batch: about 200,000 readings in memory at a time. */
static long long property_batch(const struct demo_opts *o)
{
	long long per_user = (long long)(o->devices_per_user ? o->devices_per_user : 2) *
	                     ((long long)o->reading_days * 24 / o->reading_hours + 1);
	long long b = 200000 / per_user;
	return b < 1 ? 1 : b > BATCH ? BATCH : b;
}

int cmd_demo(int argc, char **argv, const char *db)
{
	struct cli_opt opts[] = {{"users", 1, NULL},
	                         {"name", 1, NULL},
	                         {"devices-per-user", 1, NULL},
	                         {"reading-days", 1, NULL},
	                         {"reading-hours", 1, NULL}};
	int prc = args_parse(argc, argv, opts, N(opts), "demo");
	if (prc < 0) {
		fputs(demo_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	long long nusers = 200, dpu = 0, days = 35, hours = 1;
	const char *nu = args_get(opts, N(opts), "users");
	if (nu && util_parse_int(nu, 0, MAX_USERS, &nusers) != FD_OK)
		return args_usage_error("demo", "--users must be an integer from 0 to 5000000");
	const char *v = args_get(opts, N(opts), "devices-per-user");
	if (v && util_parse_int(v, 0, 20, &dpu) != FD_OK)
		return args_usage_error("demo", "--devices-per-user must be an integer from 0 to 20");
	v = args_get(opts, N(opts), "reading-days");
	if (v && util_parse_int(v, 0, 400, &days) != FD_OK)
		return args_usage_error("demo", "--reading-days must be an integer from 0 to 400");
	v = args_get(opts, N(opts), "reading-hours");
	if (v && (util_parse_int(v, 1, 24, &hours) != FD_OK || 24 % hours != 0))
		return args_usage_error("demo", "--reading-hours must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)");
	struct demo_opts o = {.devices_per_user = (int)dpu,
	                      .reading_days = (int)days,
	                      .reading_hours = (int)hours,
	                      .now_s = util_now_ms() / 1000};
	const char *name = args_get(opts, N(opts), "name");
	if (!name)
		name = "Demo Energy";
	struct store *st = NULL;
	enum fd_err rc = store_open(db, &st);
	if (rc != FD_OK) {
		fprintf(stderr, "fleetdesk: demo: cannot open the database (%s)\n", fd_err_name(rc));
		return 1;
	}
	const struct store_actor actor = {.type = "cli", .id = "local", .name = "fleetdesk demo"};
	json_t *org = NULL, *batch = NULL, *props = NULL;
	char tok[TOKEN_MAX], itok[TOKEN_MAX], hash[65], email[64], password[25], pwhash[PASSWORD_HASH_MAX];
	long long ndevices = 0;
	rc = store_org_create(st, &actor, name, &org);
	if (rc != FD_OK)
		goto out;
	const char *org_id = json_string_value(json_object_get(org, "id"));
	token_generate("fdt_", tok);
	token_hash(tok, hash);
	rc = store_token_create(st, &actor, org_id, "admin", "demo admin", "api", NULL, hash, 0, NULL);
	token_generate("fdt_", itok);
	token_hash(itok, hash);
	if (rc == FD_OK)
		rc = store_token_create(st, &actor, org_id, "integration", "demo integration", "api", NULL, hash, 0,
		                        NULL);
	/* an admin of the web app: an email of its own per demo org (an email has one account), a random password */
	snprintf(email, sizeof email, "admin.%.12s@demo.fleetdesk.example", org_id + FD_UUID_LEN - 12);
	util_random_hex(password, 12);
	if (rc == FD_OK)
		rc = password_hash(password, pwhash);
	if (rc == FD_OK)
		rc = store_staff_create(st, &actor, org_id, email, "admin", pwhash, NULL);
	if (rc != FD_OK)
		goto out;
	uint64_t rng = 0x9E3779B97F4A7C15ULL, prng = 0xD1B54A32D192ED03ULL;
	long long pb = property_batch(&o);
	for (long long i = 0; i < nusers && rc == FD_OK; i += BATCH) {
		batch = json_array();
		for (long long k = i; k < nusers && k < i + BATCH; k++)
			json_array_append_new(batch, demo_user(&rng, (long)k + 1));
		rc = store_user_seed(st, &actor, org_id, batch);
		for (size_t k = 0; rc == FD_OK && k < json_array_size(batch); k += (size_t)pb) {
			props = json_array();
			for (size_t j = k; j < json_array_size(batch) && j < k + (size_t)pb; j++) {
				json_t *p =
				    demo_property(&prng, (long)(i + (long long)j) + 1, json_array_get(batch, j), &o);
				ndevices += (long long)json_array_size(json_object_get(p, "devices"));
				json_array_append_new(props, p);
			}
			rc = store_device_seed(st, &actor, org_id, props);
			json_decref(props);
			props = NULL;
		}
		json_decref(batch);
		batch = NULL;
		if (nusers >= 100000 && isatty(2))
			fprintf(stderr, "\rdemo: %lld / %lld users", i + BATCH < nusers ? i + BATCH : nusers, nusers);
	}
	if (nusers >= 100000 && isatty(2))
		fputc('\n', stderr);
	if (rc == FD_OK)
		rc = store_optimize(st);
	if (rc != FD_OK)
		goto out;
	json_t *outj =
	    json_pack("{sssssssssssIsI}", "org_id", org_id, "token", tok, "integration_token", itok, "staff_email",
	              email, "staff_password", password, "users", (json_int_t)nusers, "devices", (json_int_t)ndevices);
	char *s = json_dumps(outj, JSON_INDENT(2));
	json_decref(outj);
	if (s)
		puts(s);
	free(s);
out:
	sodium_memzero(tok, sizeof tok);
	sodium_memzero(itok, sizeof itok);
	sodium_memzero(password, sizeof password);
	sodium_memzero(pwhash, sizeof pwhash);
	json_decref(org);
	store_close(st);
	if (rc != FD_OK) {
		fprintf(stderr, "fleetdesk: demo: failed (%s)\n", fd_err_name(rc));
		return 1;
	}
	return 0;
}
