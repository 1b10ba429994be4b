-- Unprocessed messages per shop, oldest first: the burst pull's backlog.
CREATE INDEX sync_inbox_pending ON sync_inbox (shop_id, received_at) WHERE processed_at IS NULL;
