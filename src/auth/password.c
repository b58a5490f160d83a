/* password.c - Argon2id passwords (see password.h). */
#include "auth/password.h"

#include <string.h>

#include <sodium.h>

_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "PASSWORD_HASH_MAX holds an Argon2id string");

const char *password_weak(const char *pw)
{
	if (!pw)
		return "a password is required";
	size_t bytes = strlen(pw), chars = 0;
	if (bytes > PASSWORD_MAX)
		return "the password is longer than 1024 bytes";
	for (const unsigned char *p = (const unsigned char *)pw; *p; p++) {
		if ((*p & 0xC0) != 0x80)
			chars++;
		if (*p < 0x20 || *p == 0x7f)
			return "the password has a control character";
	}
	if (chars < PASSWORD_MIN)
		return "the password is shorter than 12 characters";
	return NULL;
}

enum fd_err password_hash(const char *pw, char out[PASSWORD_HASH_MAX])
{
	if (crypto_pwhash_str_alg(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                          crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return FD_ENOMEM;
	return FD_OK;
}

int password_verify(const char *hash, const char *pw)
{
	return hash && pw && crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}
