-- Inventory: warehouses, bins, balances per (warehouse, SKU), the append-only
-- stock ledger, reservations per document line, transfers, channel allocation
-- policies and the stock push marks the sync engine consumes.
CREATE TABLE inv_warehouses (
    id         TEXT PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE inv_bins (
    id           TEXT PRIMARY KEY,
    warehouse_id TEXT NOT NULL REFERENCES inv_warehouses (id),
    code         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (warehouse_id, code)
);

-- Balances are a projection of inv_ledger; available = on_hand - reserved.
CREATE TABLE inv_balances (
    warehouse_id TEXT NOT NULL,
    sku_id       TEXT NOT NULL,
    on_hand      BIGINT NOT NULL DEFAULT 0,
    reserved     BIGINT NOT NULL DEFAULT 0,
    in_transit   BIGINT NOT NULL DEFAULT 0,
    defective    BIGINT NOT NULL DEFAULT 0,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (warehouse_id, sku_id)
);
CREATE INDEX inv_balances_sku ON inv_balances (sku_id);

-- Append-only: rows are never updated or deleted.
CREATE TABLE inv_ledger (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    warehouse_id TEXT NOT NULL,
    sku_id       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    doc_type     TEXT NOT NULL DEFAULT '',
    doc_id       TEXT NOT NULL DEFAULT '',
    doc_line     BIGINT NOT NULL DEFAULT 0,
    d_on_hand    BIGINT NOT NULL DEFAULT 0,
    d_reserved   BIGINT NOT NULL DEFAULT 0,
    d_in_transit BIGINT NOT NULL DEFAULT 0,
    d_defective  BIGINT NOT NULL DEFAULT 0,
    on_hand      BIGINT NOT NULL,
    reserved     BIGINT NOT NULL,
    in_transit   BIGINT NOT NULL,
    defective    BIGINT NOT NULL
);
CREATE INDEX inv_ledger_sku ON inv_ledger (sku_id, warehouse_id, seq);
-- A returned line is restocked once, however often QC retries.
CREATE UNIQUE INDEX inv_ledger_restock_once ON inv_ledger (doc_type, doc_id, doc_line, sku_id)
    WHERE reason IN ('restock_good', 'restock_defective');

-- One row per (document line, component SKU); a bundle line has one row per
-- component. The primary key makes reservations idempotent per document line.
CREATE TABLE inv_reservations (
    doc_id       TEXT NOT NULL,
    doc_type     TEXT NOT NULL,
    doc_line     BIGINT NOT NULL,
    sku_id       TEXT NOT NULL,
    warehouse_id TEXT NOT NULL,
    line_sku_id  TEXT NOT NULL,
    per_unit     BIGINT NOT NULL,
    qty          BIGINT NOT NULL,
    open_qty     BIGINT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doc_id, doc_type, doc_line, sku_id)
);

CREATE TABLE inv_transfers (
    id                TEXT PRIMARY KEY,
    from_warehouse_id TEXT NOT NULL,
    to_warehouse_id   TEXT NOT NULL,
    status            TEXT NOT NULL,
    note              TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    received_at       TIMESTAMPTZ
);

CREATE TABLE inv_transfer_lines (
    transfer_id TEXT NOT NULL REFERENCES inv_transfers (id),
    line        BIGINT NOT NULL,
    sku_id      TEXT NOT NULL,
    qty         BIGINT NOT NULL,
    PRIMARY KEY (transfer_id, line)
);

-- Channel allocation policy per shop (no FK: shops belong to package shop).
CREATE TABLE inv_policies (
    shop_id       TEXT PRIMARY KEY,
    ratio_pct     BIGINT NOT NULL DEFAULT 100,
    safety_stock  BIGINT NOT NULL DEFAULT 0,
    cap           BIGINT,
    virtual_extra BIGINT NOT NULL DEFAULT 0,
    warehouse_ids TEXT NOT NULL DEFAULT '',
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Per-SKU overrides: a non-NULL column replaces the shop's value.
CREATE TABLE inv_policy_overrides (
    shop_id       TEXT NOT NULL,
    sku_id        TEXT NOT NULL,
    ratio_pct     BIGINT,
    safety_stock  BIGINT,
    cap           BIGINT,
    virtual_extra BIGINT,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop_id, sku_id)
);

CREATE TABLE stock_push_marks (
    shop_id        TEXT NOT NULL,
    sku_id         TEXT NOT NULL,
    sellable       BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    marked_at      TIMESTAMPTZ NOT NULL,
    pushed_version BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, sku_id)
);
CREATE INDEX stock_push_marks_pending ON stock_push_marks (shop_id, sku_id) WHERE version > pushed_version;
