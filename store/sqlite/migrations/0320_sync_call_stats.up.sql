-- Cluster-wide platform call outcomes for the failure-rate alert: each
-- process adds its counts per (minute, shop, kind) here every few seconds, so
-- the alert sees every process's calls. bucket is the minute (Unix seconds
-- / 60) the calls were made in; old buckets are pruned by the tick.
CREATE TABLE sync_call_stats (
    bucket  INTEGER NOT NULL,
    shop_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    ok      INTEGER NOT NULL DEFAULT 0,
    failed  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, shop_id, kind)
);
-- Sync engines alive on this database (heartbeat every few seconds): each
-- process takes its share of the platform rate limits by their number.
CREATE TABLE sync_members (
    id           TEXT PRIMARY KEY,
    heartbeat_at TIMESTAMP NOT NULL
);
