-- RADIUS state every server instance of one deployment shares (issue 7), so that a NAS retransmission or a challenge
-- follow-up may land on any instance behind a UDP balancer without source affinity. PostgreSQL mirror of
-- migrations/sqlite/005_radius_shared_state.sql (frozen once landed).

-- Duplicate detection (RFC 5080 §2.2.2): the first copy of a request anywhere in the deployment claims its key and is
-- verified; every other copy gets the stored answer bytes. Rows live at least 30 s after the answer is known.
CREATE TABLE radius_requests (
  client_id BIGINT NOT NULL REFERENCES radius_clients(id) ON DELETE CASCADE,
  source_address TEXT NOT NULL,
  source_port INTEGER NOT NULL,
  identifier INTEGER NOT NULL,
  authenticator BYTEA NOT NULL,   -- the request's 16-byte Request Authenticator
  claim BYTEA NOT NULL,           -- random token of the verifying instance's claim: only it stores the answer
  answer BYTEA,                   -- the signed answer as sent; NULL while being verified, or when nothing was sent
  created_at BIGINT NOT NULL,
  answered_at BIGINT,             -- NULL while the claiming instance is verifying
  expires_at BIGINT NOT NULL,     -- after it the key is free again (an instance that died mid-verification)
  PRIMARY KEY (client_id, source_address, source_port, identifier, authenticator)
);
CREATE INDEX radius_requests_expires ON radius_requests (expires_at);

-- Access-Challenge states (RFC 2865 §5.24): the first request's password (the PIN, unchecked) until the follow-up
-- carrying the State and the code reaches any instance; deleted when taken, so each is used once.
CREATE TABLE radius_challenges (
  id BYTEA PRIMARY KEY,           -- SHA-256 of the State sent to the NAS: the table alone yields no usable State
  client_id BIGINT NOT NULL REFERENCES radius_clients(id) ON DELETE CASCADE,
  username TEXT NOT NULL,
  pin_enc BYTEA NOT NULL,         -- AES-256-GCM under the master key, AAD = radius-challenge:<id hex>; never in clear
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX radius_challenges_expires ON radius_challenges (expires_at);
