-- After-sales cases (RMA): refunds, returns, exchanges and reships, with
-- their lines, per-unit QC results, an attributed history and the stored
-- auto-approval rules.
CREATE TABLE aftersales_cases (
    id                   TEXT PRIMARY KEY,
    shop_id              TEXT NOT NULL,
    platform_refund_id   TEXT,
    order_id             TEXT NOT NULL DEFAULT '',
    platform_order_id    TEXT NOT NULL DEFAULT '',
    type                 TEXT NOT NULL,
    state                TEXT NOT NULL,
    reason               TEXT NOT NULL DEFAULT '',
    evidence             TEXT NOT NULL DEFAULT '',
    refund_amount        BIGINT NOT NULL DEFAULT 0,
    refunded_amount      BIGINT NOT NULL DEFAULT 0,
    currency             TEXT NOT NULL DEFAULT 'CNY',
    goods_shipped        BIGINT NOT NULL DEFAULT 0,
    warehouse_id         TEXT NOT NULL DEFAULT '',
    return_carrier       TEXT NOT NULL DEFAULT '',
    return_tracking_no   TEXT NOT NULL DEFAULT '',
    ship_carrier         TEXT NOT NULL DEFAULT '',
    ship_tracking_no     TEXT NOT NULL DEFAULT '',
    refuse_reason        TEXT NOT NULL DEFAULT '',
    platform_status      TEXT NOT NULL DEFAULT '',
    platform_modified_at TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    state_since          TIMESTAMPTZ NOT NULL,
    UNIQUE (shop_id, platform_refund_id)
);
CREATE INDEX aftersales_cases_state ON aftersales_cases (state, created_at);
CREATE INDEX aftersales_cases_order ON aftersales_cases (order_id);

CREATE TABLE aftersales_lines (
    case_id        TEXT NOT NULL REFERENCES aftersales_cases (id) ON DELETE CASCADE,
    line_no        BIGINT NOT NULL,
    order_line     BIGINT NOT NULL DEFAULT 0,
    platform_line_id TEXT NOT NULL DEFAULT '',
    sku_id         TEXT NOT NULL DEFAULT '',
    new_sku_id     TEXT NOT NULL DEFAULT '',
    qty            BIGINT NOT NULL,
    amount         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (case_id, line_no)
);

CREATE TABLE aftersales_qc (
    case_id   TEXT NOT NULL REFERENCES aftersales_cases (id) ON DELETE CASCADE,
    line_no   BIGINT NOT NULL,
    unit_no   BIGINT NOT NULL,
    sku_id    TEXT NOT NULL,
    result    TEXT NOT NULL,
    note      TEXT NOT NULL DEFAULT '',
    actor     TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, line_no, unit_no)
);
CREATE INDEX aftersales_qc_sku ON aftersales_qc (sku_id, at);

CREATE TABLE aftersales_case_events (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES aftersales_cases (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT NOT NULL DEFAULT '',
    to_state   TEXT NOT NULL DEFAULT '',
    note       TEXT NOT NULL DEFAULT '',
    UNIQUE (case_id, seq)
);

CREATE TABLE aftersales_rules (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    expr       TEXT NOT NULL,
    priority   BIGINT NOT NULL DEFAULT 0,
    enabled    BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
