/* migrations.c - the SQLite schema, one string per version. */
#include "store/migrations.h"

const char *const sqlite_migrations[] = {
    /* 1: orgs, tokens, clients, users with search and counts, audit */
    "CREATE TABLE orgs ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE TABLE clients ("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,"
    "  secret_hash TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);"
    "CREATE INDEX clients_org ON clients(org_id);"
    "CREATE TABLE tokens ("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), hash TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL, role TEXT NOT NULL, kind TEXT NOT NULL, client_id TEXT,"
    "  created_at TEXT NOT NULL, expires_ms INTEGER, revoked_at TEXT);"
    "CREATE INDEX tokens_org ON tokens(org_id);"
    "CREATE INDEX tokens_client ON tokens(client_id);"
    "CREATE TABLE users ("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  role TEXT NOT NULL, external_user_id TEXT, email TEXT COLLATE NOCASE,"
    "  first_name TEXT, last_name TEXT, street_and_number TEXT, street_add_info TEXT,"
    "  zip_code TEXT, town TEXT, country_iso2 TEXT,"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT, erased_at TEXT,"
    "  version INTEGER NOT NULL DEFAULT 1);"
    "CREATE UNIQUE INDEX users_org_email ON users(org_id, email);"
    "CREATE UNIQUE INDEX users_org_ext ON users(org_id, external_user_id);"
    "CREATE INDEX users_org_seq ON users(org_id);"
    "CREATE INDEX users_org_role ON users(org_id, role);"
    "CREATE INDEX users_org_email_sort ON users(org_id, ifnull(email,'') COLLATE NOCASE);"
    "CREATE INDEX users_org_last_sort ON users(org_id, ifnull(last_name,'') COLLATE NOCASE);"
    "CREATE INDEX users_org_updated ON users(org_id, updated_at);"
    /* counts per org, role and deletion, kept by triggers, so a list's total is O(1) */
    "CREATE TABLE user_counts ("
    "  org_id TEXT NOT NULL, role TEXT NOT NULL, deleted INTEGER NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY (org_id, role, deleted)) WITHOUT ROWID;"
    "CREATE TRIGGER users_count_ins AFTER INSERT ON users BEGIN"
    "  INSERT INTO user_counts VALUES (new.org_id, new.role, new.deleted_at IS NOT NULL, 1)"
    "  ON CONFLICT DO UPDATE SET n = n + 1; END;"
    "CREATE TRIGGER users_count_upd AFTER UPDATE OF role, deleted_at ON users BEGIN"
    "  UPDATE user_counts SET n = n - 1 WHERE org_id = old.org_id AND role = old.role"
    "    AND deleted = (old.deleted_at IS NOT NULL);"
    "  INSERT INTO user_counts VALUES (new.org_id, new.role, new.deleted_at IS NOT NULL, 1)"
    "  ON CONFLICT DO UPDATE SET n = n + 1; END;"
    /* trigram index for substring search over the four searchable fields */
    "CREATE VIRTUAL TABLE users_fts USING fts5(email, first_name, last_name, external_user_id,"
    "  content='users', content_rowid='seq', tokenize='trigram');"
    "CREATE TRIGGER users_fts_ins AFTER INSERT ON users BEGIN"
    "  INSERT INTO users_fts(rowid, email, first_name, last_name, external_user_id)"
    "  VALUES (new.seq, new.email, new.first_name, new.last_name, new.external_user_id); END;"
    "CREATE TRIGGER users_fts_upd AFTER UPDATE OF email, first_name, last_name, external_user_id ON users BEGIN"
    "  INSERT INTO users_fts(users_fts, rowid, email, first_name, last_name, external_user_id)"
    "  VALUES ('delete', old.seq, old.email, old.first_name, old.last_name, old.external_user_id);"
    "  INSERT INTO users_fts(rowid, email, first_name, last_name, external_user_id)"
    "  VALUES (new.seq, new.email, new.first_name, new.last_name, new.external_user_id); END;"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, at TEXT NOT NULL, request_id TEXT,"
    "  actor_type TEXT NOT NULL, actor_id TEXT NOT NULL, actor_name TEXT,"
    "  action TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, changes TEXT);"
    "CREATE INDEX audit_org ON audit(org_id, id);"
    "CREATE INDEX audit_target ON audit(org_id, target_id, id);"
    "CREATE INDEX audit_actor ON audit(org_id, actor_id, id);",
    /* 2: per-trigram document counts, to plan searches by their rarest trigrams */
    "CREATE VIRTUAL TABLE users_fts_vocab USING fts5vocab(users_fts, 'row');",
    /* 3: 1-2 character searches: folded characters and pairs (tokenizer fd_grams, store/grams.c) */
    "CREATE VIRTUAL TABLE users_grams USING fts5(email, first_name, last_name, external_user_id,"
    "  content='users', content_rowid='seq', tokenize='fd_grams', detail='none');"
    "CREATE TRIGGER users_grams_ins AFTER INSERT ON users BEGIN"
    "  INSERT INTO users_grams(rowid, email, first_name, last_name, external_user_id)"
    "  VALUES (new.seq, new.email, new.first_name, new.last_name, new.external_user_id); END;"
    "CREATE TRIGGER users_grams_upd AFTER UPDATE OF email, first_name, last_name, external_user_id ON users BEGIN"
    "  INSERT INTO users_grams(users_grams, rowid, email, first_name, last_name, external_user_id)"
    "  VALUES ('delete', old.seq, old.email, old.first_name, old.last_name, old.external_user_id);"
    "  INSERT INTO users_grams(rowid, email, first_name, last_name, external_user_id)"
    "  VALUES (new.seq, new.email, new.first_name, new.last_name, new.external_user_id); END;"
    "INSERT INTO users_grams(users_grams) VALUES ('rebuild');",
    /* 4: devices (indexed columns plus the type's fields as JSON), readings, buildings and
     * contracts ("records"), onboarding sessions */
    "CREATE TABLE devices ("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  user_seq INTEGER NOT NULL REFERENCES users(seq), type INTEGER NOT NULL, building_id TEXT,"
    "  is_authenticated INTEGER NOT NULL, authorization_url TEXT,"
    "  is_smart_optimization_active INTEGER NOT NULL, pause_power_until TEXT,"
    "  state_at TEXT, stale INTEGER NOT NULL DEFAULT 0,"
    "  attention INTEGER GENERATED ALWAYS AS"
    "    ((is_authenticated = 0) | ((is_smart_optimization_active = 0) << 1) | (stale << 2)) VIRTUAL,"
    "  cons_day REAL NOT NULL DEFAULT 0, cons_week REAL NOT NULL DEFAULT 0, cons_month REAL NOT NULL DEFAULT 0,"
    "  prod_day REAL NOT NULL DEFAULT 0, prod_week REAL NOT NULL DEFAULT 0, prod_month REAL NOT NULL DEFAULT 0,"
    "  derived_at INTEGER NOT NULL DEFAULT 0, attrs TEXT NOT NULL,"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT, version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX devices_user ON devices(user_seq, type);"
    "CREATE INDEX devices_org ON devices(org_id);"
    "CREATE INDEX devices_org_type ON devices(org_id, type);"
    "CREATE INDEX devices_building ON devices(building_id) WHERE building_id IS NOT NULL;"
    "CREATE INDEX devices_attn ON devices(org_id) WHERE deleted_at IS NULL AND attention != 0;"
    "CREATE INDEX devices_attn_type ON devices(org_id, type) WHERE deleted_at IS NULL AND attention != 0;"
    "CREATE INDEX devices_fresh ON devices(state_at) WHERE deleted_at IS NULL AND stale = 0;"
    "CREATE INDEX devices_derived ON devices(derived_at) WHERE deleted_at IS NULL;"
    "CREATE INDEX devices_cmp_day ON devices(org_id, type, cons_day) WHERE deleted_at IS NULL;"
    "CREATE INDEX devices_cmp_month ON devices(org_id, type, cons_month) WHERE deleted_at IS NULL;"
    /* counts per org, type, deletion and attention bits, kept by triggers: fleet totals in O(1) */
    "CREATE TABLE device_counts ("
    "  org_id TEXT NOT NULL, type INTEGER NOT NULL, deleted INTEGER NOT NULL, attention INTEGER NOT NULL,"
    "  n INTEGER NOT NULL, PRIMARY KEY (org_id, type, deleted, attention)) WITHOUT ROWID;"
    "CREATE TRIGGER devices_count_ins AFTER INSERT ON devices BEGIN"
    "  INSERT INTO device_counts VALUES (new.org_id, new.type, new.deleted_at IS NOT NULL, new.attention, 1)"
    "  ON CONFLICT DO UPDATE SET n = n + 1; END;"
    "CREATE TRIGGER devices_count_upd AFTER UPDATE OF org_id, type, deleted_at, is_authenticated,"
    "  is_smart_optimization_active, stale ON devices"
    "  WHEN old.org_id IS NOT new.org_id OR old.type IS NOT new.type"
    "    OR (old.deleted_at IS NULL) != (new.deleted_at IS NULL) OR old.attention != new.attention BEGIN"
    "  UPDATE device_counts SET n = n - 1 WHERE org_id = old.org_id AND type = old.type"
    "    AND deleted = (old.deleted_at IS NOT NULL) AND attention = old.attention;"
    "  INSERT INTO device_counts VALUES (new.org_id, new.type, new.deleted_at IS NOT NULL, new.attention, 1)"
    "  ON CONFLICT DO UPDATE SET n = n + 1; END;"
    /* interval energy readings: ts is the interval's start in Unix seconds */
    "CREATE TABLE readings ("
    "  device_seq INTEGER NOT NULL, ts INTEGER NOT NULL, kwh_in REAL NOT NULL, kwh_out REAL NOT NULL,"
    "  PRIMARY KEY (device_seq, ts)) WITHOUT ROWID;"
    /* buildings (kind 0) and energy contracts (kind 1) of a user */
    "CREATE TABLE records ("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  user_seq INTEGER NOT NULL REFERENCES users(seq), kind INTEGER NOT NULL, attrs TEXT NOT NULL,"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT, version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX records_user ON records(user_seq, kind);"
    /* self-service connection sessions: only the hash of the link's secret is kept */
    "CREATE TABLE onboarding ("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), user_seq INTEGER NOT NULL,"
    "  secret_hash TEXT NOT NULL UNIQUE, request TEXT NOT NULL, created_at TEXT NOT NULL,"
    "  expires_ms INTEGER NOT NULL, used_at TEXT, device_id TEXT);",
    /* 5: idempotency keys: an opaque id per (caller, key), the request's
     * fingerprint, and once done the sealed reply */
    "CREATE TABLE idempotency ("
    "  id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, owner TEXT NOT NULL, done INTEGER NOT NULL,"
    "  reply BLOB, created_ms INTEGER NOT NULL);"
    "CREATE INDEX idempotency_created ON idempotency(created_ms);",
    /* 6: background jobs and the rows they could not apply */
    "CREATE TABLE jobs ("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  kind TEXT NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL, actor TEXT NOT NULL, total INTEGER,"
    "  processed INTEGER NOT NULL DEFAULT 0, succeeded INTEGER NOT NULL DEFAULT 0,"
    "  failed INTEGER NOT NULL DEFAULT 0, stored_errors INTEGER NOT NULL DEFAULT 0, cursor TEXT, error TEXT,"
    "  cancel_requested INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, started_at TEXT,"
    "  finished_at TEXT, updated_at TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX jobs_org ON jobs(org_id, seq);"
    "CREATE INDEX jobs_open ON jobs(seq) WHERE state IN ('queued', 'running');"
    "CREATE TABLE job_errors ("
    "  job_id TEXT NOT NULL, line INTEGER NOT NULL, row TEXT, error TEXT NOT NULL,"
    "  PRIMARY KEY (job_id, line)) WITHOUT ROWID;",
    /* 7: a new user is indexed for search by the store itself (sqlite.c, fts_index), not by a
     * trigger: a batch of creates indexes its users at its end, in one statement. An insert
     * trigger opened both search indexes in every INSERT, and FTS5 writes out its pending
     * terms and totals at each statement's savepoint, so a batch paid for every row twice. */
    "DROP TRIGGER users_fts_ins;"
    "DROP TRIGGER users_grams_ins;",
    /* 8: the team's accounts for the web app: an email (one account per address, across orgs,
     * so sign-in needs no org), a role, and an Argon2id password hash (NULL until one is set) */
    "CREATE TABLE staff ("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), email TEXT NOT NULL COLLATE NOCASE,"
    "  role TEXT NOT NULL, password_hash TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    "  deactivated_at TEXT);"
    "CREATE UNIQUE INDEX staff_email ON staff(email);"
    "CREATE INDEX staff_org ON staff(org_id);",
    /* 9: sign-in sessions and invites, each stored by its token's SHA-256; times in ms */
    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, staff_id TEXT NOT NULL REFERENCES staff(id),"
    "  created_ms INTEGER NOT NULL, seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, ended_ms INTEGER);"
    "CREATE INDEX sessions_staff ON sessions(staff_id);"
    "CREATE TABLE invites ("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), email TEXT NOT NULL COLLATE NOCASE,"
    "  role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_by TEXT NOT NULL, created_at TEXT NOT NULL,"
    "  expires_ms INTEGER NOT NULL, used_at TEXT, revoked_at TEXT);"
    "CREATE INDEX invites_org ON invites(org_id, email);",
    /* 10: the users list's deleted=true walks the few deleted users, not the whole org */
    "CREATE INDEX users_deleted ON users(org_id, seq) WHERE deleted_at IS NOT NULL;",
    /* 11: per-gram document counts, to plan sorted 1-2 character searches */
    "CREATE VIRTUAL TABLE users_grams_vocab USING fts5vocab(users_grams, 'row');",
    /* 12: each user's count of live devices that need attention, kept by triggers, so the users
     * list's needs_attention filter reads the user's own row, and its first page an index */
    "ALTER TABLE users ADD COLUMN attn INTEGER NOT NULL DEFAULT 0;"
    "UPDATE users SET attn = (SELECT count(*) FROM devices d WHERE d.user_seq = users.seq"
    "  AND d.deleted_at IS NULL AND d.attention != 0)"
    "  WHERE seq IN (SELECT user_seq FROM devices WHERE deleted_at IS NULL AND attention != 0);"
    "CREATE INDEX users_attn ON users(org_id, seq) WHERE attn > 0;"
    "CREATE TRIGGER devices_attn_ins AFTER INSERT ON devices"
    "  WHEN new.deleted_at IS NULL AND new.attention != 0 BEGIN"
    "  UPDATE users SET attn = attn + 1 WHERE seq = new.user_seq; END;"
    "CREATE TRIGGER devices_attn_upd AFTER UPDATE OF user_seq, deleted_at, is_authenticated,"
    "  is_smart_optimization_active, stale ON devices"
    "  WHEN old.user_seq != new.user_seq OR (old.deleted_at IS NULL AND old.attention != 0)"
    "    != (new.deleted_at IS NULL AND new.attention != 0) BEGIN"
    "  UPDATE users SET attn = attn - 1 WHERE seq = old.user_seq AND old.deleted_at IS NULL AND old.attention != 0;"
    "  UPDATE users SET attn = attn + 1 WHERE seq = new.user_seq AND new.deleted_at IS NULL AND new.attention != 0;"
    "  END;",
};

const int sqlite_migrations_count = (int)(sizeof sqlite_migrations / sizeof sqlite_migrations[0]);
