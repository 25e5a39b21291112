-- Lifeline core schema, PostgreSQL mirror of migrations/sqlite/001_core.sql (frozen once landed). Times are epoch
-- milliseconds; booleans are 0/1 integers, as on SQLite, so the services' SQL is the same on both engines.
-- Ids are BIGSERIAL (SQLite's INTEGER is 64-bit too), BLOB is BYTEA.

CREATE TABLE policies (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  is_default INTEGER NOT NULL DEFAULT 0,
  body TEXT NOT NULL,            -- JSON, validated by PolicySchema
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX policies_one_default ON policies (is_default) WHERE is_default = 1;

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL             -- JSON
);

CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,  -- NFC, lower case
  display_name TEXT,
  email TEXT,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
  policy_id BIGINT REFERENCES policies (id),
  code_salt BYTEA NOT NULL,        -- one salt per user: a typed code costs one derivation whatever it is checked against
  pin_hash BYTEA,
  pin_salt BYTEA,
  pin_generation INTEGER NOT NULL DEFAULT 0,
  token_generation INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,       -- consecutive failures in the current lock period
  lock_periods INTEGER NOT NULL DEFAULT 0,   -- lock periods since the last success
  locked_until BIGINT,
  locked_permanently INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE tokens (
  user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  seed_enc BYTEA NOT NULL,         -- AES-256-GCM under the master key, AAD = token:<user id>
  algorithm TEXT NOT NULL DEFAULT 'SHA1',
  digits INTEGER NOT NULL DEFAULT 6,
  period INTEGER NOT NULL DEFAULT 30,
  last_step BIGINT NOT NULL DEFAULT -1,      -- advanced only upwards by a guarded UPDATE (no replay)
  enrolled_at BIGINT NOT NULL,
  enrolled_by TEXT
);

CREATE TABLE roles (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  builtin INTEGER NOT NULL DEFAULT 0,
  permissions TEXT NOT NULL       -- JSON array of permission names
);

CREATE TABLE admins (
  id BIGSERIAL PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,    -- scrypt$N$r$p$salt$hash
  totp_seed_enc BYTEA NOT NULL,
  last_totp_step BIGINT NOT NULL DEFAULT -1,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at BIGINT NOT NULL
);

CREATE TABLE admin_roles (
  admin_id BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
  role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  PRIMARY KEY (admin_id, role_id)
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,            -- HMAC of the bearer token; the token itself is never stored
  admin_id BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('bearer', 'cookie')),
  csrf_hash TEXT,
  created_at BIGINT NOT NULL,
  mfa_at BIGINT NOT NULL,         -- last password+TOTP or step-up: high assurance for 15 minutes after
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);

-- Fixed-window counters shared by every limiter (admin logins per admin and per address, codes per user per hour).
-- Enforced by one guarded UPDATE so the limit holds under concurrency on both engines.
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  count INTEGER NOT NULL
);

CREATE TABLE temporary_codes (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash BYTEA NOT NULL,        -- HMAC(pepper, scrypt(code, users.code_salt))
  code_length INTEGER NOT NULL,
  multi_use INTEGER NOT NULL,
  purposes TEXT NOT NULL,         -- JSON array
  pin_required INTEGER NOT NULL,
  issued_at BIGINT NOT NULL,
  issued_by TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,                 -- single-use: set once by a guarded UPDATE
  last_used_at BIGINT,
  revoked_at BIGINT,
  revoke_reason TEXT
);
-- One active code per user: issuing again revokes the old one in the same transaction.
CREATE UNIQUE INDEX temporary_codes_one_active ON temporary_codes (user_id) WHERE revoked_at IS NULL AND used_at IS NULL;

CREATE TABLE emergency_sets (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  issued_at BIGINT NOT NULL,
  issued_by TEXT NOT NULL,
  expires_at BIGINT,
  token_behaviour TEXT NOT NULL CHECK (token_behaviour IN ('deny-token', 'allow-and-disable-codes', 'allow-after-codes-expire')),
  voided_at BIGINT,
  void_reason TEXT
);

CREATE TABLE emergency_codes (
  id BIGSERIAL PRIMARY KEY,
  set_id BIGINT NOT NULL REFERENCES emergency_sets (id) ON DELETE CASCADE,
  code_hash BYTEA NOT NULL,
  used_at BIGINT
);
CREATE INDEX emergency_codes_set ON emergency_codes (set_id);

CREATE TABLE api_clients (
  id BIGSERIAL PRIMARY KEY,
  client_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  key_hash BYTEA NOT NULL,         -- HMAC(pepper, key): a high-entropy secret needs no slow hash
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at BIGINT
);

-- Append-only, hash-chained in id order: hash = SHA-256(prev_hash ‖ canonical row). On SQLite the chain is written
-- with the row (one writer); on PostgreSQL a single sealer fills prev_hash/hash for committed rows in id order.
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  type TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'info')),
  actor_kind TEXT NOT NULL CHECK (actor_kind IN ('admin', 'client', 'device', 'user', 'system', 'radius')),
  actor TEXT,
  subject TEXT,
  device TEXT,
  purpose TEXT,
  method TEXT,
  reason TEXT,
  details TEXT NOT NULL DEFAULT '{}',
  prev_hash TEXT,
  hash TEXT
);
CREATE INDEX audit_subject ON audit (subject, id);
CREATE INDEX audit_type ON audit (type, id);
CREATE INDEX audit_at ON audit (at);
-- The sealer's work list: committed rows still waiting for their place in the chain (services/audit-sealer.ts).
-- audit_id_seq keeps its default CACHE 1: the sealer relies on ids being handed out in one global order.
CREATE INDEX audit_unsealed ON audit (id) WHERE hash IS NULL;

CREATE TABLE notifications (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
  username TEXT NOT NULL,
  email TEXT,
  kind TEXT NOT NULL,
  details TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  sent_at BIGINT
);

-- Seed data (owner H-core): the default policy (body '{}' = every default of src-shared/policy.ts) and the built-in
-- roles. As in the Imprivata seed, only a superadmin may enable or issue temporary codes until a role gets codes.issue.
INSERT INTO policies (name, is_default, body, updated_at) VALUES ('default', 1, '{}', 0);
INSERT INTO roles (name, builtin, permissions) VALUES ('superadmin', 1, '["settings.manage","roles.manage","users.manage","tokens.manage","codes.issue","codes.revoke","offline.reveal","audit.read","clients.manage","devices.manage"]');
INSERT INTO roles (name, builtin, permissions) VALUES ('helpdesk', 1, '["users.manage","tokens.manage","codes.revoke","offline.reveal","devices.manage"]');
INSERT INTO roles (name, builtin, permissions) VALUES ('auditor', 1, '["audit.read"]');
