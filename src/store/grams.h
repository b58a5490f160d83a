/*
 * grams.h - an FTS5 tokenizer of single characters and character pairs.
 *
 * A trigram index cannot answer a 1- or 2-character substring search, which
 * would otherwise scan every user. This tokenizer ("fd_grams") indexes each
 * case-folded character and each pair of adjacent characters of a value;
 * with detail=none the index is a list of rows per gram, so a 1-2
 * character search is one doclist read. Case folding is Unicode simple
 * lower-casing (towlower in C.UTF-8), like Python's str.lower() for all
 * but a few special cases.
 *
 * At query time the tokenizer emits the whole folded term as one token.
 */
#ifndef FD_GRAMS_H
#define FD_GRAMS_H

#include <sqlite3.h>

/* Registers "fd_grams" on db. SQLITE_OK or an SQLite error code. Call on
 * every connection before it touches a table that uses the tokenizer. */
int grams_register(sqlite3 *db);

#endif
