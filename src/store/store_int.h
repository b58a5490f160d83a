/*
 * store_int.h - what a storage backend implements.
 *
 * Each backend defines one const struct store_ops with designated
 * initialisers, and a struct that embeds struct store first. store.c holds
 * the thin public wrappers and the helpers shared by every backend (diffs,
 * the field list). Only store.c and the backends include this header.
 */
#ifndef FD_STORE_INT_H
#define FD_STORE_INT_H

#include "store/store.h"

struct store_ops {
	const char *name;
	enum fd_err (*open)(const char *path, struct store **out);
	void (*close)(struct store *st);
	enum fd_err (*ping)(struct store *st);

	enum fd_err (*org_create)(struct store *, const struct store_actor *, const char *, json_t **);
	enum fd_err (*org_exists)(struct store *, const char *);
	enum fd_err (*org_list)(struct store *, json_t **);

	enum fd_err (*token_create)(struct store *, const struct store_actor *, const char *, const char *,
	                            const char *, const char *, const char *, const char *, int64_t, json_t **);
	enum fd_err (*token_lookup)(struct store *, const char *, int64_t, struct store_token *);
	enum fd_err (*token_list)(struct store *, const char *, json_t **);
	enum fd_err (*token_revoke)(struct store *, const struct store_actor *, const char *, const char *);

	enum fd_err (*client_create)(struct store *, const struct store_actor *, const char *, const char *,
	                             const char *, const char *, json_t **);
	enum fd_err (*client_lookup)(struct store *, const char *, char *, char *);
	enum fd_err (*client_list)(struct store *, const char *, json_t **);
	enum fd_err (*client_revoke)(struct store *, const struct store_actor *, const char *, const char *);

	enum fd_err (*user_create)(struct store *, const struct store_actor *, const char *, json_t *, json_t **,
	                           int64_t *, const char **);
	enum fd_err (*user_get)(struct store *, const char *, const char *, json_t **, int64_t *);
	enum fd_err (*user_get_text)(struct store *, const char *, const char *, char **, size_t *, int64_t *);
	enum fd_err (*user_update)(struct store *, const struct store_actor *, const char *, const char *, json_t *,
	                           int64_t, json_t **, int64_t *, const char **);
	enum fd_err (*user_delete)(struct store *, const struct store_actor *, const char *, const char *, int64_t);
	enum fd_err (*user_restore)(struct store *, const struct store_actor *, const char *, const char *, int64_t,
	                            json_t **, int64_t *);
	enum fd_err (*user_erase)(struct store *, const struct store_actor *, const char *, const char *, int64_t,
	                          json_t **, int64_t *);
	enum fd_err (*user_list)(struct store *, const struct store_user_query *, struct store_user_page *);
	enum fd_err (*user_batch)(struct store *, const struct store_actor *, const char *, struct store_user_op *,
	                          size_t, int, const struct store_job_step *);
	enum fd_err (*user_find)(struct store *, const char *, const char *, const char *, json_t **, int64_t *);
	/* optional: NULL means store.c seeds with user_create, one row at a time */
	enum fd_err (*user_seed)(struct store *, const struct store_actor *, const char *, json_t *);

	/* optional: NULL means there is nothing to optimise */
	enum fd_err (*optimize)(struct store *);
	/* optional: NULL means no tuning, no checkpoints, nothing kept per thread */
	enum fd_err (*bulk_writer)(struct store *);
	enum fd_err (*checkpoint)(struct store *);
	void (*thread_end)(struct store *);
	enum fd_err (*audit_list)(struct store *, const struct store_audit_query *, json_t **, int *, int64_t *);
};

/* Devices, readings and the fleet (store.h, "devices"). */
struct store_device_ops {
	enum fd_err (*device_create)(struct store *, const struct store_actor *, const char *, const char *, int,
	                             json_t *, json_t **, int64_t *);
	enum fd_err (*device_get)(struct store *, const char *, const char *, int, const char *, json_t **, int64_t *);
	enum fd_err (*device_list)(struct store *, const char *, const char *, int, json_t **);
	enum fd_err (*device_update)(struct store *, const struct store_actor *, const char *, const char *, int,
	                             const char *, json_t *, int64_t, const char *, json_t **, int64_t *);
	enum fd_err (*device_delete)(struct store *, const struct store_actor *, const char *, const char *, int,
	                             const char *, int64_t);
	enum fd_err (*device_report)(struct store *, const struct store_actor *, const char *, struct store_report *,
	                             size_t);
	enum fd_err (*device_statistics)(struct store *, const char *, const char *, int, const char *, const char *,
	                                 int64_t, int64_t, json_t **);
	enum fd_err (*device_batch)(struct store *, const struct store_actor *, const char *, struct store_device_op *,
	                            size_t, const struct store_job_step *);
	enum fd_err (*fleet_list)(struct store *, const struct store_fleet_query *, json_t **, int *, int64_t *,
	                          int64_t *);
	enum fd_err (*fleet_counts)(struct store *, const char *, json_t **);
	enum fd_err (*device_values)(struct store *, const char *, int, int, double **, size_t *);
	enum fd_err (*device_sweep)(struct store *, int64_t, int);
	enum fd_err (*device_seed)(struct store *, const struct store_actor *, const char *, json_t *);
};

/* Buildings, contracts, onboarding sessions and migration. */
struct store_record_ops {
	enum fd_err (*record_create)(struct store *, const struct store_actor *, const char *, const char *, int,
	                             json_t *, json_t **, int64_t *);
	enum fd_err (*record_get)(struct store *, const char *, const char *, int, const char *, json_t **, int64_t *);
	enum fd_err (*record_list)(struct store *, const char *, const char *, int, json_t **);
	enum fd_err (*record_update)(struct store *, const struct store_actor *, const char *, const char *, int,
	                             const char *, json_t *, int64_t, json_t **, int64_t *);
	enum fd_err (*record_delete)(struct store *, const struct store_actor *, const char *, const char *, int,
	                             const char *, int64_t);
	enum fd_err (*onboarding_create)(struct store *, const struct store_actor *, const char *, const char *,
	                                 json_t *, const char *, int64_t, json_t **);
	enum fd_err (*onboarding_find)(struct store *, const char *, json_t **);
	enum fd_err (*onboarding_complete)(struct store *, const char *, int64_t, int, json_t *, char *);
	enum fd_err (*user_migrate)(struct store *, const struct store_actor *, const char *, const char *, int64_t,
	                            json_t *, json_t **, const char **);
};

/* Idempotency keys and background jobs: work that outlives a request. */
struct store_work_ops {
	enum fd_err (*idem_claim)(struct store *, const char *, const char *, const char *, int64_t, int64_t,
	                          struct store_idem *);
	enum fd_err (*idem_finish)(struct store *, const char *, const void *, size_t);
	enum fd_err (*idem_release)(struct store *, const char *);
	enum fd_err (*idem_sweep)(struct store *, int64_t, int);
	enum fd_err (*job_create)(struct store *, const struct store_actor *, const char *, const char *, json_t *,
	                          json_t *, int64_t, json_t **);
	enum fd_err (*job_get)(struct store *, const char *, const char *, json_t **);
	enum fd_err (*job_list)(struct store *, const char *, int, int64_t, json_t **, int *, int64_t *);
	enum fd_err (*job_next)(struct store *, json_t *, json_t **);
	enum fd_err (*job_progress)(struct store *, const struct store_job_step *);
	enum fd_err (*job_finish)(struct store *, const char *, const char *, const char *);
	enum fd_err (*job_cancel)(struct store *, const struct store_actor *, const char *, const char *, json_t **);
	enum fd_err (*job_errors)(struct store *, const char *, int64_t, int, json_t **);
};

struct store_team_ops {
	enum fd_err (*staff_create)(struct store *, const struct store_actor *, const char *, const char *,
	                            const char *, const char *, json_t **);
	enum fd_err (*staff_list)(struct store *, const char *, json_t **);
	enum fd_err (*staff_find)(struct store *, const char *, struct store_staff *);
	enum fd_err (*staff_update)(struct store *, const struct store_actor *, const char *, const char *,
	                            const char *, int, json_t **);
	enum fd_err (*session_create)(struct store *, const struct store_actor *, const struct store_staff *,
	                              const char *, int64_t, int64_t, char *);
	enum fd_err (*session_lookup)(struct store *, const char *, struct store_session *);
	enum fd_err (*session_touch)(struct store *, const char *, int64_t);
	enum fd_err (*session_end)(struct store *, const struct store_actor *, const struct store_session *);
	enum fd_err (*session_sweep)(struct store *, int64_t, int);
	enum fd_err (*invite_create)(struct store *, const struct store_actor *, const char *, const char *,
	                             const char *, const char *, int64_t, json_t **);
	enum fd_err (*invite_list)(struct store *, const char *, int64_t, json_t **);
	enum fd_err (*invite_revoke)(struct store *, const struct store_actor *, const char *, const char *);
	enum fd_err (*invite_find)(struct store *, const char *, int64_t, json_t **);
	enum fd_err (*invite_accept)(struct store *, const char *, int64_t, const char *, const char *, json_t **);
};

struct store {
	const struct store_ops *ops;
	const struct store_device_ops *dev;
	const struct store_record_ops *rec;
	const struct store_work_ops *work;
	const struct store_team_ops *team;
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_device_ops store_sqlite_device_ops;
extern const struct store_record_ops store_sqlite_record_ops;
extern const struct store_work_ops store_sqlite_work_ops;
extern const struct store_team_ops store_sqlite_team_ops;

/* The changes between two user objects over the writable fields and
 * deleted_at: {"field": {"before": x, "after": y}}. New reference, never NULL
 * unless out of memory; an empty object when nothing changed. */
json_t *store_user_diff(json_t *before, json_t *after);

#endif
