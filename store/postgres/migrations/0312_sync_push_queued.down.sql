ALTER TABLE sync_push_rounds DROP COLUMN queued_round;
