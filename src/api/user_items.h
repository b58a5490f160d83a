/*
 * user_items.h - one user write of a batch (a bulk item, an import row),
 * checked as its single call would check it and then applied with the
 * others by store_user_batch. Shared by bulk.c and the import job.
 *
 * The policy is checked twice: when the item is prepared (so a refused
 * item costs no write), and again inside the store's transaction against
 * the user's role as stored at that moment, so neither a concurrent
 * promotion nor an earlier item of the same batch can slip an edit past it.
 */
#ifndef FD_API_USER_ITEMS_H
#define FD_API_USER_ITEMS_H

#include <stdint.h>

#include <jansson.h>

#include "auth/policy.h"
#include "store/store.h"

struct user_item {
	int kind;          /* enum store_user_op_kind: create, update, delete, restore */
	const char *id;    /* the user's id for all but create (borrowed) */
	json_t *data;      /* create and update: the fields sent (borrowed) */
	int64_t if_match;  /* the version it must have; -1: any; INT64_MAX: never matches */
	const char *under; /* where its fields are under where in errors' pointers: NULL "/data" (a bulk
	                    * item's), "" (an import row: the fields are the row's own) */
	json_t *clean;     /* owned: the validated fields */
	json_t *problem;   /* owned: why the item failed (a problem object), NULL while it has not */
	const struct principal *who;
	const char *org_id;
	enum role new_role;
	struct store_user_op op; /* ready for store_user_batch once prepared without a problem */
};

/*
 * Sets the item's problem: rc with detail, and errors (stolen) whose
 * pointers are put under where + under (where is the item's place in its
 * request, "/items/3", or "" for a row of its own; under is "/data" for
 * errors inside the item's data).
 */
void user_item_fail(struct user_item *it, const char *where, enum fd_err rc, const char *detail, json_t *errors,
                    const char *under);

/*
 * Checks the item: its data against the field rules (cur is the stored
 * user and version its version, for all but create; NULL and -1 for a
 * create), the policy for who, and if_match. Leaves it->op ready, or sets
 * it->problem. Borrows who and org_id for as long as the item lives.
 */
void user_item_prepare(struct user_item *it, const struct principal *who, const char *org_id, json_t *cur,
                       int64_t version, const char *where);

/* After store_user_batch: turns the op's result into the item's problem. */
void user_item_result(struct user_item *it, const char *where);

void user_item_release(struct user_item *it);

/* The HTTP status a successful op answers with (201, 200, 204). */
int user_item_status(int kind);

#endif
