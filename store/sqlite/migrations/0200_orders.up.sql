-- Orders: the unified order (one per shop and platform order id), its lines,
-- parts (parcels after a split), every platform version received, the
-- history of internal states, the audit rules and the receiver blacklist.
CREATE TABLE orders (
    id                   TEXT PRIMARY KEY,
    shop_id              TEXT NOT NULL,
    platform_order_id    TEXT NOT NULL,
    platform_status      TEXT NOT NULL DEFAULT '',
    channel_status       TEXT NOT NULL DEFAULT '',
    platform_modified_at TIMESTAMP NOT NULL,
    payload_hash         TEXT NOT NULL,
    status               TEXT NOT NULL,
    hold_reasons         TEXT NOT NULL DEFAULT '',
    buyer_id             TEXT NOT NULL DEFAULT '',
    buyer_nick           TEXT NOT NULL DEFAULT '',
    receiver_name        TEXT NOT NULL DEFAULT '',
    receiver_phone       TEXT NOT NULL DEFAULT '',
    receiver_province    TEXT NOT NULL DEFAULT '',
    receiver_city        TEXT NOT NULL DEFAULT '',
    receiver_district    TEXT NOT NULL DEFAULT '',
    receiver_town        TEXT NOT NULL DEFAULT '',
    receiver_detail      TEXT NOT NULL DEFAULT '',
    receiver_zip         TEXT NOT NULL DEFAULT '',
    division_code        TEXT NOT NULL DEFAULT '',
    phone_key            TEXT NOT NULL DEFAULT '',
    address_key          TEXT NOT NULL DEFAULT '',
    currency             TEXT NOT NULL DEFAULT 'CNY',
    goods_amount         BIGINT NOT NULL DEFAULT 0,
    discount_amount      BIGINT NOT NULL DEFAULT 0,
    shipping_amount      BIGINT NOT NULL DEFAULT 0,
    paid_amount          BIGINT NOT NULL DEFAULT 0,
    platform_subsidy     BIGINT NOT NULL DEFAULT 0,
    buyer_note           TEXT NOT NULL DEFAULT '',
    seller_note          TEXT NOT NULL DEFAULT '',
    tags                 TEXT NOT NULL DEFAULT '',
    presale              BOOLEAN NOT NULL DEFAULT FALSE,
    warehouse_id         TEXT NOT NULL DEFAULT '',
    courier              TEXT NOT NULL DEFAULT '',
    merge_group          TEXT NOT NULL DEFAULT '',
    platform_created_at  TIMESTAMP NOT NULL,
    paid_at              TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    UNIQUE (shop_id, platform_order_id)
);
CREATE INDEX orders_status ON orders (status, id);
CREATE INDEX orders_shop ON orders (shop_id, id);
CREATE INDEX orders_phone ON orders (phone_key, paid_at);
CREATE INDEX orders_merge ON orders (shop_id, buyer_id, address_key, status);
CREATE INDEX orders_created ON orders (platform_created_at);

CREATE TABLE order_lines (
    order_id         TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    platform_line_id TEXT NOT NULL DEFAULT '',
    platform_item_id TEXT NOT NULL DEFAULT '',
    platform_sku_id  TEXT NOT NULL DEFAULT '',
    outer_code       TEXT NOT NULL DEFAULT '',
    title            TEXT NOT NULL DEFAULT '',
    spec_name        TEXT NOT NULL DEFAULT '',
    sku_id           TEXT NOT NULL DEFAULT '',
    quantity         BIGINT NOT NULL,
    price            BIGINT NOT NULL DEFAULT 0,
    discount         BIGINT NOT NULL DEFAULT 0,
    paid             BIGINT NOT NULL DEFAULT 0,
    refund_status    TEXT NOT NULL DEFAULT '',
    part             INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (order_id, line_no)
);
-- Only unbound lines are looked up (ReplayUnbound): a partial index stays small.
CREATE INDEX order_lines_unbound ON order_lines (platform_sku_id) WHERE sku_id = '';

-- A part is one parcel of an order: a split gives several (another
-- warehouse, presale lines waiting for stock).
CREATE TABLE order_parts (
    order_id     TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    part         INTEGER NOT NULL,
    warehouse_id TEXT NOT NULL DEFAULT '',
    courier      TEXT NOT NULL DEFAULT '',
    presale      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (order_id, part)
);

-- Every distinct platform version received, applied or not.
CREATE TABLE order_versions (
    order_id             TEXT NOT NULL,
    payload_hash         TEXT NOT NULL,
    platform_modified_at TIMESTAMP NOT NULL,
    platform_status      TEXT NOT NULL DEFAULT '',
    applied              BOOLEAN NOT NULL,
    received_at          TIMESTAMP NOT NULL,
    raw                  TEXT NOT NULL,
    PRIMARY KEY (order_id, payload_hash)
);

-- History: every internal state change and audit decision.
CREATE TABLE order_events (
    order_id    TEXT NOT NULL,
    id          TEXT NOT NULL,
    at          TIMESTAMP NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT NOT NULL DEFAULT '',
    to_status   TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    -- Read per order in id (time) order: the key is the only index.
    PRIMARY KEY (order_id, id)
);

CREATE TABLE order_rules (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    expression TEXT NOT NULL,
    action     TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    tag        TEXT NOT NULL DEFAULT '',
    target     TEXT NOT NULL DEFAULT '',
    priority   INTEGER NOT NULL DEFAULT 100,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE order_blacklist (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    UNIQUE (kind, value)
);

-- The default audit rule set. Rules are data: edit them through the API.
INSERT INTO order_rules (id, kind, name, expression, action, reason, tag, target, priority, enabled, created_at, updated_at) VALUES
('0190a000-0000-7000-8000-000000000001', 'audit', 'address', '!AddressValid', 'hold', 'bad_address', '', '', 10, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000002', 'audit', 'blacklist', 'Blacklisted', 'hold', 'risk_blacklist', 'risk', '', 20, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000003', 'audit', 'phone_frequency', 'SamePhoneRecent >= 5 || (SamePhoneRecent >= 3 && PaidAmount < 1000)', 'hold', 'risk_phone_frequency', 'risk', '', 30, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000004', 'audit', 'note_change_address', 'containsAny(Notes, ["改地址", "换地址", "地址写错", "修改地址"])', 'hold', 'note_change_address', 'change_address', '', 40, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000005', 'audit', 'note_change_spec', 'containsAny(Notes, ["改颜色", "换颜色", "改尺码", "换尺码", "改规格", "换个颜色"])', 'hold', 'note_change_spec', 'change_spec', '', 41, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000006', 'audit', 'note_courier', 'containsAny(Notes, ["指定快递", "顺丰", "发京东", "不要发中通", "不要韵达"])', 'hold', 'note_courier', 'courier_request', '', 42, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000007', 'audit', 'note_invoice', 'containsAny(Notes, ["发票", "开票", "税号"])', 'tag', '', 'invoice', '', 50, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000008', 'audit', 'note_urgent', 'containsAny(Notes, ["加急", "急用", "尽快发"])', 'tag', '', 'urgent', '', 51, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000009', 'courier', 'remote_regions', 'Province in ["新疆维吾尔自治区", "西藏自治区", "青海省"]', '', '', '', 'EMS', 10, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-00000000000a', 'courier', 'heavy', 'WeightGrams > 20000', '', '', '', 'DBL', 20, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-00000000000b', 'courier', 'fragile_or_fresh', '"fresh" in SKUTypes || "fragile" in SKUTypes', '', '', '', 'SF', 30, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('0190a000-0000-7000-8000-00000000000c', 'courier', 'default', 'true', '', '', '', 'ZTO', 1000, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00');
