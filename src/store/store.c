/*
 * store.c - the public store_*() wrappers and helpers shared by backends.
 *
 * The wrappers only dispatch through the backend's ops table, so callers
 * never see which backend runs, in the manner of SQLite's sqlite3Os*() calls.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

const char *const store_user_fields[STORE_USER_FIELDS + 1] = {
    "id",
    "org_id",
    "role",
    "external_user_id",
    "email",
    "first_name",
    "last_name",
    "street_and_number",
    "street_add_info",
    "zip_code",
    "town",
    "country_iso2",
    "created_at",
    "updated_at",
    "deleted_at",
    NULL,
};

const char *const store_user_writable[] = {
    "role", "external_user_id", "email", "first_name", "last_name", "street_and_number", "street_add_info", "zip_code",
    "town", "country_iso2",     NULL,
};

json_t *store_user_diff(json_t *before, json_t *after)
{
	json_t *changes = json_object();
	if (!changes)
		return NULL;
	static const char *const extra[] = {"deleted_at", NULL};
	const char *const *lists[] = {store_user_writable, extra};
	for (size_t l = 0; l < 2; l++) {
		for (const char *const *f = lists[l]; *f; f++) {
			json_t *b = before ? json_object_get(before, *f) : NULL;
			json_t *a = after ? json_object_get(after, *f) : NULL;
			if (!b)
				b = json_null();
			if (!a)
				a = json_null();
			if (json_equal(a, b))
				continue;
			json_object_set_new(changes, *f, json_pack("{sOsO}", "before", b, "after", a));
		}
	}
	return changes;
}

void store_user_page_release(struct store_user_page *p)
{
	free(p->items_json);
	free(p->last_key);
	memset(p, 0, sizeof *p);
}

enum fd_err store_open(const char *path, struct store **out)
{
	return store_sqlite_ops.open(path, out);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

enum fd_err store_ping(struct store *st)
{
	return st->ops->ping(st);
}

enum fd_err store_org_create(struct store *st, const struct store_actor *a, const char *name, json_t **org)
{
	return st->ops->org_create(st, a, name, org);
}

enum fd_err store_org_exists(struct store *st, const char *org_id)
{
	return st->ops->org_exists(st, org_id);
}

enum fd_err store_org_list(struct store *st, json_t **orgs)
{
	return st->ops->org_list(st, orgs);
}

enum fd_err store_token_create(struct store *st, const struct store_actor *a, const char *org_id, const char *role,
                               const char *name, const char *kind, const char *client_id, const char *hash,
                               int64_t expires_ms, json_t **meta)
{
	return st->ops->token_create(st, a, org_id, role, name, kind, client_id, hash, expires_ms, meta);
}

enum fd_err store_token_lookup(struct store *st, const char *hash, int64_t now_ms, struct store_token *tok)
{
	return st->ops->token_lookup(st, hash, now_ms, tok);
}

enum fd_err store_token_list(struct store *st, const char *org_id, json_t **tokens)
{
	return st->ops->token_list(st, org_id, tokens);
}

enum fd_err store_token_revoke(struct store *st, const struct store_actor *a, const char *org_id, const char *token_id)
{
	return st->ops->token_revoke(st, a, org_id, token_id);
}

enum fd_err store_client_create(struct store *st, const struct store_actor *a, const char *org_id,
                                const char *client_id, const char *name, const char *secret_hash, json_t **meta)
{
	return st->ops->client_create(st, a, org_id, client_id, name, secret_hash, meta);
}

enum fd_err store_client_lookup(struct store *st, const char *client_id, char *org_id, char *secret_hash)
{
	return st->ops->client_lookup(st, client_id, org_id, secret_hash);
}

enum fd_err store_client_list(struct store *st, const char *org_id, json_t **clients)
{
	return st->ops->client_list(st, org_id, clients);
}

enum fd_err store_client_revoke(struct store *st, const struct store_actor *a, const char *org_id,
                                const char *client_id)
{
	return st->ops->client_revoke(st, a, org_id, client_id);
}

enum fd_err store_user_create(struct store *st, const struct store_actor *a, const char *org_id, json_t *fields,
                              json_t **user, int64_t *version, const char **conflict_field)
{
	return st->ops->user_create(st, a, org_id, fields, user, version, conflict_field);
}

enum fd_err store_user_get(struct store *st, const char *org_id, const char *user_id, json_t **user, int64_t *version)
{
	return st->ops->user_get(st, org_id, user_id, user, version);
}

enum fd_err store_user_get_text(struct store *st, const char *org_id, const char *user_id, char **json, size_t *len,
                                int64_t *version)
{
	return st->ops->user_get_text(st, org_id, user_id, json, len, version);
}

enum fd_err store_user_update(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                              json_t *patch, int64_t expect_version, json_t **user, int64_t *version,
                              const char **conflict_field)
{
	return st->ops->user_update(st, a, org_id, user_id, patch, expect_version, user, version, conflict_field);
}

enum fd_err store_user_delete(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                              int64_t expect_version)
{
	return st->ops->user_delete(st, a, org_id, user_id, expect_version);
}

enum fd_err store_user_restore(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                               int64_t expect_version, json_t **user, int64_t *version)
{
	return st->ops->user_restore(st, a, org_id, user_id, expect_version, user, version);
}

enum fd_err store_user_erase(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                             int64_t expect_version, json_t **user, int64_t *version)
{
	return st->ops->user_erase(st, a, org_id, user_id, expect_version, user, version);
}

enum fd_err store_user_list(struct store *st, const struct store_user_query *q, struct store_user_page *page)
{
	return st->ops->user_list(st, q, page);
}

enum fd_err store_user_batch(struct store *st, const struct store_actor *a, const char *org_id,
                             struct store_user_op *ops, size_t n, int atomic, const struct store_job_step *step)
{
	return st->ops->user_batch(st, a, org_id, ops, n, atomic, step);
}

enum fd_err store_user_find(struct store *st, const char *org_id, const char *field, const char *value, json_t **user,
                            int64_t *version)
{
	return st->ops->user_find(st, org_id, field, value, user, version);
}

enum fd_err store_user_seed(struct store *st, const struct store_actor *a, const char *org_id, json_t *users)
{
	if (st->ops->user_seed)
		return st->ops->user_seed(st, a, org_id, users);
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
	{
		json_t *out = NULL;
		int64_t v;
		enum fd_err rc = st->ops->user_create(st, a, org_id, u, &out, &v, NULL);
		json_decref(out);
		if (rc != FD_OK)
			return rc;
	}
	return FD_OK;
}

enum fd_err store_staff_create(struct store *st, const struct store_actor *a, const char *org_id, const char *email,
                               const char *role, const char *password_hash, json_t **staff)
{
	return st->team->staff_create(st, a, org_id, email, role, password_hash, staff);
}

enum fd_err store_staff_list(struct store *st, const char *org_id, json_t **list)
{
	return st->team->staff_list(st, org_id, list);
}

enum fd_err store_staff_find(struct store *st, const char *email, struct store_staff *out)
{
	return st->team->staff_find(st, email, out);
}

enum fd_err store_staff_update(struct store *st, const struct store_actor *a, const char *org_id, const char *staff_id,
                               const char *role, int deactivate, json_t **staff)
{
	return st->team->staff_update(st, a, org_id, staff_id, role, deactivate, staff);
}

enum fd_err store_session_create(struct store *st, const struct store_actor *a, const struct store_staff *who,
                                 const char *token_hash, int64_t now_ms, int64_t expires_ms, char id[FD_UUID_LEN + 1])
{
	return st->team->session_create(st, a, who, token_hash, now_ms, expires_ms, id);
}

enum fd_err store_session_lookup(struct store *st, const char *token_hash, struct store_session *out)
{
	return st->team->session_lookup(st, token_hash, out);
}

enum fd_err store_session_touch(struct store *st, const char *session_id, int64_t now_ms)
{
	return st->team->session_touch(st, session_id, now_ms);
}

enum fd_err store_session_end(struct store *st, const struct store_actor *a, const struct store_session *se)
{
	return st->team->session_end(st, a, se);
}

enum fd_err store_session_sweep(struct store *st, int64_t before_ms, int limit)
{
	return st->team->session_sweep(st, before_ms, limit);
}

enum fd_err store_invite_create(struct store *st, const struct store_actor *a, const char *org_id, const char *email,
                                const char *role, const char *token_hash, int64_t expires_ms, json_t **invite)
{
	return st->team->invite_create(st, a, org_id, email, role, token_hash, expires_ms, invite);
}

enum fd_err store_invite_list(struct store *st, const char *org_id, int64_t now_ms, json_t **list)
{
	return st->team->invite_list(st, org_id, now_ms, list);
}

enum fd_err store_invite_revoke(struct store *st, const struct store_actor *a, const char *org_id,
                                const char *invite_id)
{
	return st->team->invite_revoke(st, a, org_id, invite_id);
}

enum fd_err store_invite_find(struct store *st, const char *token_hash, int64_t now_ms, json_t **invite)
{
	return st->team->invite_find(st, token_hash, now_ms, invite);
}

enum fd_err store_invite_accept(struct store *st, const char *token_hash, int64_t now_ms, const char *password_hash,
                                const char *request_id, json_t **staff)
{
	return st->team->invite_accept(st, token_hash, now_ms, password_hash, request_id, staff);
}

enum fd_err store_optimize(struct store *st)
{
	return st->ops->optimize ? st->ops->optimize(st) : FD_OK;
}

enum fd_err store_bulk_writer(struct store *st)
{
	return st->ops->bulk_writer ? st->ops->bulk_writer(st) : FD_OK;
}

enum fd_err store_checkpoint(struct store *st)
{
	return st->ops->checkpoint ? st->ops->checkpoint(st) : FD_OK;
}

void store_thread_end(struct store *st)
{
	if (st->ops->thread_end)
		st->ops->thread_end(st);
}

enum fd_err store_audit_list(struct store *st, const struct store_audit_query *q, json_t **items, int *has_more,
                             int64_t *last_id)
{
	return st->ops->audit_list(st, q, items, has_more, last_id);
}

/* --- devices --- */
enum fd_err store_device_create(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int type, json_t *fields, json_t **dev, int64_t *version)
{
	return st->dev->device_create(st, a, org_id, user_id, type, fields, dev, version);
}

enum fd_err store_device_get(struct store *st, const char *org_id, const char *user_id, int type, const char *device_id,
                             json_t **dev, int64_t *version)
{
	return st->dev->device_get(st, org_id, user_id, type, device_id, dev, version);
}

enum fd_err store_device_list(struct store *st, const char *org_id, const char *user_id, int type, json_t **devs)
{
	return st->dev->device_list(st, org_id, user_id, type, devs);
}

enum fd_err store_device_update(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int type, const char *device_id, json_t *patch, int64_t expect_version,
                                const char *action, json_t **dev, int64_t *version)
{
	return st->dev->device_update(st, a, org_id, user_id, type, device_id, patch, expect_version, action, dev,
	                              version);
}

enum fd_err store_device_delete(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int type, const char *device_id, int64_t expect_version)
{
	return st->dev->device_delete(st, a, org_id, user_id, type, device_id, expect_version);
}

enum fd_err store_device_report(struct store *st, const struct store_actor *a, const char *org_id,
                                struct store_report *reports, size_t n)
{
	return st->dev->device_report(st, a, org_id, reports, n);
}

enum fd_err store_device_statistics(struct store *st, const char *org_id, const char *user_id, int type,
                                    const char *device_id, const char *resolution, int64_t from_s, int64_t to_s,
                                    json_t **buckets)
{
	return st->dev->device_statistics(st, org_id, user_id, type, device_id, resolution, from_s, to_s, buckets);
}

enum fd_err store_device_batch(struct store *st, const struct store_actor *a, const char *org_id,
                               struct store_device_op *ops, size_t n, const struct store_job_step *step)
{
	return st->dev->device_batch(st, a, org_id, ops, n, step);
}

enum fd_err store_fleet_list(struct store *st, const struct store_fleet_query *q, json_t **items, int *has_more,
                             int64_t *last_seq, int64_t *total)
{
	return st->dev->fleet_list(st, q, items, has_more, last_seq, total);
}

enum fd_err store_fleet_counts(struct store *st, const char *org_id, json_t **counts)
{
	return st->dev->fleet_counts(st, org_id, counts);
}

enum fd_err store_device_values(struct store *st, const char *org_id, int type, int month, double **values, size_t *n)
{
	return st->dev->device_values(st, org_id, type, month, values, n);
}

enum fd_err store_device_sweep(struct store *st, int64_t now_ms, int batch)
{
	return st->dev->device_sweep(st, now_ms, batch);
}

enum fd_err store_device_seed(struct store *st, const struct store_actor *a, const char *org_id, json_t *items)
{
	return st->dev->device_seed(st, a, org_id, items);
}

/* --- records, onboarding, migration --- */
enum fd_err store_record_create(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int kind, json_t *fields, json_t **rec, int64_t *version)
{
	return st->rec->record_create(st, a, org_id, user_id, kind, fields, rec, version);
}

enum fd_err store_record_get(struct store *st, const char *org_id, const char *user_id, int kind, const char *id,
                             json_t **rec, int64_t *version)
{
	return st->rec->record_get(st, org_id, user_id, kind, id, rec, version);
}

enum fd_err store_record_list(struct store *st, const char *org_id, const char *user_id, int kind, json_t **recs)
{
	return st->rec->record_list(st, org_id, user_id, kind, recs);
}

enum fd_err store_record_update(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int kind, const char *id, json_t *patch, int64_t expect_version, json_t **rec,
                                int64_t *version)
{
	return st->rec->record_update(st, a, org_id, user_id, kind, id, patch, expect_version, rec, version);
}

enum fd_err store_record_delete(struct store *st, const struct store_actor *a, const char *org_id, const char *user_id,
                                int kind, const char *id, int64_t expect_version)
{
	return st->rec->record_delete(st, a, org_id, user_id, kind, id, expect_version);
}

enum fd_err store_onboarding_create(struct store *st, const struct store_actor *a, const char *org_id,
                                    const char *user_id, json_t *request, const char *secret_hash, int64_t expires_ms,
                                    json_t **session)
{
	return st->rec->onboarding_create(st, a, org_id, user_id, request, secret_hash, expires_ms, session);
}

enum fd_err store_onboarding_find(struct store *st, const char *secret_hash, json_t **session)
{
	return st->rec->onboarding_find(st, secret_hash, session);
}

enum fd_err store_onboarding_complete(struct store *st, const char *secret_hash, int64_t now_ms, int cancel,
                                      json_t *fields, char *device_id)
{
	return st->rec->onboarding_complete(st, secret_hash, now_ms, cancel, fields, device_id);
}

enum fd_err store_user_migrate(struct store *st, const struct store_actor *a, const char *org_id,
                               const char *old_user_id, int64_t expect_version, json_t *new_user, json_t **report,
                               const char **conflict_field)
{
	return st->rec->user_migrate(st, a, org_id, old_user_id, expect_version, new_user, report, conflict_field);
}

enum fd_err store_idem_claim(struct store *st, const char *id, const char *fingerprint, const char *owner,
                             int64_t now_ms, int64_t ttl_ms, struct store_idem *prev)
{
	return st->work->idem_claim(st, id, fingerprint, owner, now_ms, ttl_ms, prev);
}

enum fd_err store_idem_finish(struct store *st, const char *id, const void *reply, size_t len)
{
	return st->work->idem_finish(st, id, reply, len);
}

enum fd_err store_idem_release(struct store *st, const char *id)
{
	return st->work->idem_release(st, id);
}

enum fd_err store_idem_sweep(struct store *st, int64_t before_ms, int batch)
{
	return st->work->idem_sweep(st, before_ms, batch);
}

enum fd_err store_job_create(struct store *st, const struct store_actor *a, const char *org_id, const char *kind,
                             json_t *params, json_t *actor, int64_t total, json_t **job)
{
	return st->work->job_create(st, a, org_id, kind, params, actor, total, job);
}

enum fd_err store_job_get(struct store *st, const char *org_id, const char *job_id, json_t **job)
{
	return st->work->job_get(st, org_id, job_id, job);
}

enum fd_err store_job_list(struct store *st, const char *org_id, int limit, int64_t before_seq, json_t **jobs,
                           int *has_more, int64_t *last_seq)
{
	return st->work->job_list(st, org_id, limit, before_seq, jobs, has_more, last_seq);
}

enum fd_err store_job_next(struct store *st, json_t *busy, json_t **job)
{
	return st->work->job_next(st, busy, job);
}

enum fd_err store_job_progress(struct store *st, const struct store_job_step *step)
{
	return st->work->job_progress(st, step);
}

enum fd_err store_job_finish(struct store *st, const char *job_id, const char *state, const char *error)
{
	return st->work->job_finish(st, job_id, state, error);
}

enum fd_err store_job_cancel(struct store *st, const struct store_actor *a, const char *org_id, const char *job_id,
                             json_t **job)
{
	return st->work->job_cancel(st, a, org_id, job_id, job);
}

enum fd_err store_job_errors(struct store *st, const char *job_id, int64_t after_line, int limit, json_t **items)
{
	return st->work->job_errors(st, job_id, after_line, limit, items);
}
