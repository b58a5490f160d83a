/*
 * demo.c - `fleetdesk demo`: an org with realistic end-users, for `make run`
 * and the benchmarks.
 *
 * The data is generated from a fixed seed, so two demos of the same size
 * hold the same people (with fresh ids and tokens). Users are inserted in
 * batches so memory stays flat at a million.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

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

static const char demo_help[] = "usage: fleetdesk [--db PATH] demo [--users N] [--name NAME]\n"
                                "Creates a demo org with N realistic users (default 200) and an admin token,\n"
                                "and prints {\"org_id\", \"token\", \"users\"} as JSON.\n";

int cmd_demo(int argc, char **argv, const char *db)
{
	struct cli_opt opts[] = {{"users", 1, NULL}, {"name", 1, NULL}};
	int prc = args_parse(argc, argv, opts, N(opts), "demo");
	if (prc < 0) {
		fputs(demo_help, stdout);
		return 0;
	}
	if (prc)
		return prc;
	long long nusers = 200;
	const char *nu = args_get(opts, N(opts), "users");
	if (nu && util_parse_int(nu, 0, MAX_USERS, &nusers) != FD_OK)
		return args_usage_error("demo", "--users must be an integer from 0 to 5000000");
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
	json_t *org = NULL, *batch = NULL;
	char tok[TOKEN_MAX], hash[65];
	rc = store_org_create(st, &actor, name, &org);
	if (rc != FD_OK)
		goto out;
	const char *org_id = json_string_value(json_object_get(org, "id"));
	token_generate("fdt_", tok);
	token_hash(tok, hash);
	rc = store_token_create(st, &actor, org_id, "admin", "demo admin", "api", NULL, hash, 0, NULL);
	if (rc != FD_OK)
		goto out;
	uint64_t rng = 0x9E3779B97F4A7C15ULL;
	for (long long i = 0; i < nusers && rc == FD_OK; i += BATCH) {
		batch = json_array();
		for (long long k = i; k < nusers && k < i + BATCH; k++)
			json_array_append_new(batch, demo_user(&rng, (long)k + 1));
		rc = store_user_seed(st, &actor, org_id, batch);
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
	json_t *outj = json_pack("{sssssI}", "org_id", org_id, "token", tok, "users", (json_int_t)nusers);
	char *s = json_dumps(outj, JSON_INDENT(2));
	json_decref(outj);
	if (s)
		puts(s);
	free(s);
out:
	sodium_memzero(tok, sizeof tok);
	json_decref(org);
	store_close(st);
	if (rc != FD_OK) {
		fprintf(stderr, "fleetdesk: demo: failed (%s)\n", fd_err_name(rc));
		return 1;
	}
	return 0;
}
