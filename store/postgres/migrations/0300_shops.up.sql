-- Shops: one seller account on one platform, with its sealed credentials.
CREATE TABLE shops (
    id               TEXT PRIMARY KEY,
    platform         TEXT NOT NULL,
    name             TEXT NOT NULL,
    platform_shop_id TEXT NOT NULL,
    app_key          TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'active',
    base_url         TEXT NOT NULL DEFAULT '',
    settings_json    TEXT NOT NULL DEFAULT '{}',
    credentials      TEXT NOT NULL DEFAULT '',
    token_expires_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (platform, platform_shop_id)
);
CREATE INDEX shops_app_key ON shops (platform, app_key);
