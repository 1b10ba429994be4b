-- The round a push job was last queued for: a marking transaction enqueues a
-- job only for a round that has none yet (one insert per round, not per change).
ALTER TABLE sync_push_rounds ADD COLUMN queued_round BIGINT NOT NULL DEFAULT 0;
