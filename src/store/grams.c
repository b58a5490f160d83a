/* grams.c - the fd_grams FTS5 tokenizer (see grams.h). */
#include "store/grams.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include <sqlite3.h>

static locale_t fold_locale;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_init(void)
{
	fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Decodes one UTF-8 code point at s (valid UTF-8 assumed, as stored); returns its length. */
static int utf8_decode(const unsigned char *s, int n, unsigned *cp)
{
	if (s[0] < 0x80 || n < 2) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		*cp = ((unsigned)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		return 2;
	}
	if ((s[0] & 0xf0) == 0xe0 && n >= 3) {
		*cp = ((unsigned)(s[0] & 0x0f) << 12) | ((unsigned)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
		return 3;
	}
	if (n >= 4) {
		*cp = ((unsigned)(s[0] & 0x07) << 18) | ((unsigned)(s[1] & 0x3f) << 12) |
		      ((unsigned)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
		return 4;
	}
	*cp = s[0];
	return 1;
}

static int utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static unsigned fold(unsigned cp)
{
	if (cp < 0x80)
		return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
	if (fold_locale)
		return (unsigned)towlower_l((wint_t)cp, fold_locale);
	return cp;
}

static int gx_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
	(void)ctx;
	(void)argv;
	if (argc != 0)
		return SQLITE_ERROR;
	pthread_once(&fold_once, fold_init);
	*out = (Fts5Tokenizer *)&fold_locale; /* stateless: any non-NULL handle */
	return SQLITE_OK;
}

static void gx_delete(Fts5Tokenizer *t)
{
	(void)t;
}

typedef int (*token_cb)(void *, int, const char *, int, int, int);

static int gx_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n, token_cb emit)
{
	(void)t;
	const unsigned char *s = (const unsigned char *)text;
	char cur[4], prev[4], pair[8];
	int curn, prevn = 0, i = 0, rc = SQLITE_OK;
	if (flags & FTS5_TOKENIZE_QUERY) {
		/* the whole term, folded, as one token (1 or 2 characters) */
		char buf[64];
		int o = 0;
		while (i < n && o <= (int)sizeof buf - 4) {
			unsigned cp;
			i += utf8_decode(s + i, n - i, &cp);
			o += utf8_encode(fold(cp), buf + o);
		}
		return o ? emit(ctx, 0, buf, o, 0, n) : SQLITE_OK;
	}
	while (i < n && rc == SQLITE_OK) {
		unsigned cp;
		int start = i;
		i += utf8_decode(s + i, n - i, &cp);
		curn = utf8_encode(fold(cp), cur);
		rc = emit(ctx, 0, cur, curn, start, i);
		if (rc == SQLITE_OK && prevn) {
			memcpy(pair, prev, (size_t)prevn);
			memcpy(pair + prevn, cur, (size_t)curn);
			rc = emit(ctx, 0, pair, prevn + curn, start, i);
		}
		memcpy(prev, cur, (size_t)curn);
		prevn = curn;
	}
	return rc;
}

int grams_register(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (!api)
		return SQLITE_ERROR;
	static fts5_tokenizer tok = {gx_create, gx_delete, gx_tokenize};
	return api->xCreateTokenizer(api, "fd_grams", NULL, &tok, NULL);
}
