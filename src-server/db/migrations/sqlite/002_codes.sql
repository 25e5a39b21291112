-- Emergency code sets (frozen once landed).

-- One live set per user: issuing a new set voids the old one in the same transaction, and this index refuses a
-- second live set if two issues race (as temporary_codes_one_active does for temporary codes).
CREATE UNIQUE INDEX emergency_sets_one_live ON emergency_sets (user_id) WHERE voided_at IS NULL;

-- The verifier loads the unused codes of a user's live set on every verification.
CREATE INDEX emergency_codes_unused ON emergency_codes (set_id) WHERE used_at IS NULL;
