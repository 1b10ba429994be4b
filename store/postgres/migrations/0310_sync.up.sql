-- Sync engine state: pull watermarks, the inbox of platform messages, stock
-- push rounds and leases, the push log, reconciliation runs and alerts.
CREATE TABLE sync_watermarks (
    shop_id    TEXT NOT NULL,
    stream     TEXT NOT NULL,
    watermark  TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop_id, stream)
);
CREATE TABLE sync_inbox (
    id           TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    shop_id      TEXT NOT NULL,
    msg_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    topic        TEXT NOT NULL,
    ref_id       TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    payload      TEXT NOT NULL,
    processed_at TIMESTAMPTZ,
    UNIQUE (platform, msg_id)
);
CREATE TABLE sync_push_rounds (
    shop_id     TEXT PRIMARY KEY,
    round       BIGINT NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMPTZ
);
CREATE TABLE sync_push_log (
    id             TEXT PRIMARY KEY,
    shop_id        TEXT NOT NULL,
    sku_id         TEXT NOT NULL,
    platform_sku_id TEXT NOT NULL,
    quantity       BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    ok             BOOLEAN NOT NULL,
    error          TEXT NOT NULL DEFAULT '',
    pushed_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX sync_push_log_shop ON sync_push_log (shop_id, pushed_at);
CREATE TABLE sync_reconcile_runs (
    id         TEXT PRIMARY KEY,
    shop_id    TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    report     TEXT NOT NULL
);
CREATE INDEX sync_reconcile_runs_shop ON sync_reconcile_runs (shop_id, started_at);
CREATE TABLE sync_alerts (
    id        TEXT PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    kind      TEXT NOT NULL,
    shop_id   TEXT NOT NULL DEFAULT '',
    dedup_key TEXT NOT NULL,
    message   TEXT NOT NULL,
    sent_at   TIMESTAMPTZ
);
CREATE INDEX sync_alerts_dedup ON sync_alerts (dedup_key, at);
