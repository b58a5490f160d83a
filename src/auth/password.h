/*
 * password.h - the team's passwords: Argon2id (libsodium's crypto_pwhash_str,
 * interactive limits), and the rule a new password must meet.
 */
#ifndef FD_PASSWORD_H
#define FD_PASSWORD_H

#include <stddef.h>

#include "core/err.h"

#define PASSWORD_MIN      12   /* characters (UTF-8 code points) */
#define PASSWORD_MAX      1024 /* bytes */
#define PASSWORD_HASH_MAX 128  /* crypto_pwhash_STRBYTES */

/* NULL when pw may be a password, else why not (a sentence for the user). */
const char *password_weak(const char *pw);

/* The Argon2id string of pw into out (PASSWORD_HASH_MAX bytes). FD_ENOMEM
 * when the hash's memory cannot be had. */
enum fd_err password_hash(const char *pw, char out[PASSWORD_HASH_MAX]);

/* 1 when pw is the password of hash, in time that does not depend on how
 * much of it matches. */
int password_verify(const char *hash, const char *pw);

#endif
