/*
 * migrations.h - the versioned SQLite schema.
 *
 * Migration i (1-based) is sqlite_migrations[i - 1]. They are applied in
 * order at start, each in its own transaction, and recorded in
 * schema_migrations. Never edit a migration that has shipped: add one.
 */
#ifndef FD_MIGRATIONS_H
#define FD_MIGRATIONS_H

extern const char *const sqlite_migrations[];
extern const int sqlite_migrations_count;

#endif
