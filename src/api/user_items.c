/* user_items.c - one user write of a batch: see user_items.h. */
#include "api/user_items.h"

#include <stdio.h>
#include <string.h>

#include "api/user_fields.h"
#include "api/users.h"
#include "http/request.h"

static const enum policy_action op_actions[] = {
    [STORE_UOP_CREATE] = ACT_USER_CREATE,
    [STORE_UOP_UPDATE] = ACT_USER_UPDATE,
    [STORE_UOP_DELETE] = ACT_USER_DELETE,
    [STORE_UOP_RESTORE] = ACT_USER_RESTORE,
};

int user_item_status(int kind)
{
	return kind == STORE_UOP_CREATE ? 201 : kind == STORE_UOP_DELETE ? 204 : 200;
}

void user_item_fail(struct user_item *it, const char *where, enum fd_err rc, const char *detail, json_t *errors,
                    const char *under)
{
	size_t k;
	json_t *e;
	json_array_foreach(errors, k, e)
	{
		const char *p = json_string_value(json_object_get(e, "pointer"));
		char ptr[512];
		snprintf(ptr, sizeof ptr, "%s%s%s", where, under, p && strcmp(p, "/") != 0 ? p : "");
		json_object_set_new(e, "pointer", json_string(*ptr ? ptr : "/"));
	}
	json_decref(it->problem);
	it->problem = problem_new(rc, detail, errors);
}

static enum fd_err allowed(const struct user_item *it, enum role target)
{
	struct policy_request pr = {
	    .action = op_actions[it->kind], .org_id = it->org_id, .target_role = target, .new_role = it->new_role};
	enum fd_err rc = policy_check(it->who, &pr);
	return rc == FD_ENOTFOUND ? FD_EFORBIDDEN : rc; /* the org was checked for the whole request */
}

/* The policy against the user's role as stored inside the transaction. */
static enum fd_err check_role(void *ctx, const char *role)
{
	return allowed(ctx, role_parse(role));
}

void user_item_prepare(struct user_item *it, const struct principal *who, const char *org_id, json_t *cur,
                       int64_t version, const char *where)
{
	json_t *errors = NULL;
	json_decref(it->clean);
	it->clean = NULL;
	it->who = who;
	it->org_id = org_id;
	enum role target = cur ? role_parse(json_string_value(json_object_get(cur, "role"))) : ROLE_NONE;
	if (it->data) {
		enum fd_err rc = user_fields_validate(it->data, cur, &it->clean, &errors);
		if (rc != FD_OK) {
			user_item_fail(it, where, rc, rc == FD_EINVALID ? "some fields are invalid" : NULL, errors,
			               it->under ? it->under : "/data");
			return;
		}
	}
	json_t *nr = it->clean ? json_object_get(it->clean, "role") : NULL;
	it->new_role = nr ? role_parse(json_string_value(nr)) : ROLE_NONE;
	if (allowed(it, target) != FD_OK) {
		user_item_fail(it, where, FD_EFORBIDDEN, "your role may not do this to this user", NULL, "");
		return;
	}
	if (it->if_match >= 0 && it->if_match != version) {
		user_item_fail(it, where, FD_EPRECOND,
		               "the user changed since you read it (if_match is stale); read it again", NULL, "");
		return;
	}
	it->op = (struct store_user_op){
	    .kind = it->kind,
	    .user_id = it->id,
	    .fields = it->clean,
	    .expect_version = it->if_match,
	    .check = it->kind == STORE_UOP_CREATE ? NULL : check_role,
	    .check_ctx = it,
	};
}

void user_item_result(struct user_item *it, const char *where)
{
	enum fd_err rc = it->op.result;
	if (rc == FD_OK)
		return;
	char d[160];
	json_t *errors = NULL;
	const char *detail = NULL;
	switch (rc) {
	case FD_ENOTFOUND:
		detail = "no such user";
		break;
	case FD_ECONFLICT:
		detail = users_conflict(it->op.conflict_field, d, sizeof d, &errors);
		break;
	case FD_EPRECOND:
		detail = "the user changed since you read it (if_match is stale); read it again";
		break;
	case FD_EFORBIDDEN:
		detail = "your role may not do this to this user (as it is when this item applies)";
		break;
	default:
		break;
	}
	user_item_fail(it, where, rc, detail, errors, it->under ? it->under : "/data");
}

void user_item_release(struct user_item *it)
{
	json_decref(it->clean);
	json_decref(it->problem);
	json_decref(it->op.user);
	it->clean = it->problem = it->op.user = NULL;
}
