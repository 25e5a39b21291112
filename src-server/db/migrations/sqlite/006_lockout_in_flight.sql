-- Lockout that concurrent correct attempts cannot trip, and that an unknown name shares (issue 11, points 5 and 7;
-- services/lockout.ts). Frozen once landed.

-- Attempts reserved and not yet decided. A reservation is refused (retryable, not counted) when failures plus the
-- live ones would pass the policy's maxFailures; a success gives its place back, a failure turns it into a failure.
-- The count is live until in_flight_until (each reservation moves it on): an instance that died mid-attempt cannot
-- hold places for ever. in_flight_epoch changes when a stale count is dropped, so a late attempt cannot give back
-- a place that is no longer its own.
ALTER TABLE users ADD COLUMN attempts_in_flight INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN in_flight_until BIGINT;
ALTER TABLE users ADD COLUMN in_flight_epoch INTEGER NOT NULL DEFAULT 0;

-- The same counter for names that are no active user (unknown or inactive), keyed by the normalised name, so that
-- such a name is locked exactly when a user's would be. A row is forgotten a day after its last attempt or lock
-- (expires_at; housekeeping deletes it), so guessed names cannot fill the database.
CREATE TABLE name_lockouts (
  username TEXT PRIMARY KEY,
  failures INTEGER NOT NULL DEFAULT 0,
  lock_periods INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT,
  locked_permanently INTEGER NOT NULL DEFAULT 0,
  attempts_in_flight INTEGER NOT NULL DEFAULT 0,
  in_flight_until BIGINT,
  in_flight_epoch INTEGER NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX name_lockouts_expires ON name_lockouts (expires_at);
