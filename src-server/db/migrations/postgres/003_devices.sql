-- Devices (agents), their offline data and the outbox events they upload. PostgreSQL mirror of
-- migrations/sqlite/003_devices.sql (frozen once landed). DESIGN §5-6.

-- The enrollment secret agents present to ask for enrollment; one row, created on first need, sealed under the
-- master key (AAD enrollment-secret) because admins must be able to read it again to configure installers.
CREATE TABLE device_enrollment (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  secret_enc BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,                       -- 10 Crockford symbols (50 random bits), read aloud inside emergency requests
  signing_public_key TEXT NOT NULL UNIQUE,   -- Ed25519, raw base64url: verifies every request of the device
  encryption_public_key TEXT NOT NULL,       -- X25519, raw base64url: bundles are sealed to it
  machine_id_hash TEXT NOT NULL,
  hostname TEXT NOT NULL,
  agent_version TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
  enrolled_at BIGINT NOT NULL,
  approved_at BIGINT,
  approved_by TEXT,
  revoked_at BIGINT,
  revoked_by TEXT,
  last_seen_at BIGINT,
  chain_seq INTEGER NOT NULL DEFAULT 0,      -- seq and hash of the last outbox event recorded (hash-chain continuity)
  chain_head TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000'
);
CREATE INDEX devices_status ON devices (status, enrolled_at);

-- Nonces of signed device requests, kept while their timestamp is inside the acceptance window: a replayed request
-- hits the primary key and is refused.
CREATE TABLE device_nonces (
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  nonce TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, nonce)
);
CREATE INDEX device_nonces_expiry ON device_nonces (expires_at);

-- Which users' offline data a device holds, and the bundle sequence (strictly increasing per device and user).
CREATE TABLE device_users (
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  sequence INTEGER NOT NULL DEFAULT 0,
  first_delivered_at BIGINT,
  last_bundle_at BIGINT,
  PRIMARY KEY (device_id, user_id)
);
CREATE INDEX device_users_user ON device_users (user_id);

-- Offline emergency slots (RSA offline emergency access): per device and user, numbered upwards, code sealed under
-- the master key (AAD offline-slot:<device>:<user id>:<index>). Revealed to the helpdesk at most once (guarded
-- UPDATE on revealed_at), used at most once, retired by a reset, a use or expiry.
CREATE TABLE offline_slots (
  id BIGSERIAL PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  slot_index INTEGER NOT NULL,
  code_enc BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  delivered_at BIGINT,
  revealed_at BIGINT,
  revealed_by TEXT,
  used_at BIGINT,
  retired_at BIGINT,
  retire_reason TEXT
);
CREATE UNIQUE INDEX offline_slots_index ON offline_slots (device_id, user_id, slot_index);
CREATE INDEX offline_slots_live ON offline_slots (device_id, user_id) WHERE retired_at IS NULL AND used_at IS NULL;

-- Outbox events recorded from devices: the primary key makes a batch uploaded twice (to any instance) count once.
CREATE TABLE device_events (
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  event_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, event_id)
);
