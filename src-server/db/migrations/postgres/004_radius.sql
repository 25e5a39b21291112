-- RADIUS clients (NAS: VPN gateways, firewalls) allowed to send Access-Requests. PostgreSQL mirror of
-- migrations/sqlite/004_radius.sql (frozen once landed).

CREATE TABLE radius_clients (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,      -- names the NAS in audit rows (channel radius:<name>)
  addresses TEXT NOT NULL,        -- JSON array of source addresses / CIDRs the NAS sends from
  secret_enc BYTEA NOT NULL,      -- shared secret, AES-256-GCM under the master key, AAD = radius-client:<name>
  require_message_authenticator INTEGER NOT NULL DEFAULT 1,  -- BlastRADIUS (CVE-2024-3596); relaxing it is audited
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
