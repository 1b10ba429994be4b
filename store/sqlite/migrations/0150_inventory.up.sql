-- Inventory: warehouses, bins, balances per (warehouse, SKU), the append-only
-- stock ledger, reservations per document line, transfers, channel allocation
-- policies and the stock push marks the sync engine consumes.
CREATE TABLE inv_warehouses (
    id         TEXT PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE inv_bins (
    id           TEXT PRIMARY KEY,
    warehouse_id TEXT NOT NULL REFERENCES inv_warehouses (id),
    code         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (warehouse_id, code)
);

-- Balances are a projection of inv_ledger; available = on_hand - reserved.
CREATE TABLE inv_balances (
    warehouse_id TEXT NOT NULL,
    sku_id       TEXT NOT NULL,
    on_hand      INTEGER NOT NULL DEFAULT 0,
    reserved     INTEGER NOT NULL DEFAULT 0,
    in_transit   INTEGER NOT NULL DEFAULT 0,
    defective    INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (warehouse_id, sku_id)
) WITHOUT ROWID;
CREATE INDEX inv_balances_sku ON inv_balances (sku_id);

-- Append-only: rows are never updated or deleted.
CREATE TABLE inv_ledger (
    seq          INTEGER PRIMARY KEY,
    at           TIMESTAMP NOT NULL,
    warehouse_id TEXT NOT NULL,
    sku_id       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    doc_type     TEXT NOT NULL DEFAULT '',
    doc_id       TEXT NOT NULL DEFAULT '',
    doc_line     INTEGER NOT NULL DEFAULT 0,
    d_on_hand    INTEGER NOT NULL DEFAULT 0,
    d_reserved   INTEGER NOT NULL DEFAULT 0,
    d_in_transit INTEGER NOT NULL DEFAULT 0,
    d_defective  INTEGER NOT NULL DEFAULT 0,
    on_hand      INTEGER NOT NULL,
    reserved     INTEGER NOT NULL,
    in_transit   INTEGER NOT NULL,
    defective    INTEGER NOT NULL
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
    doc_line     INTEGER NOT NULL,
    sku_id       TEXT NOT NULL,
    warehouse_id TEXT NOT NULL,
    line_sku_id  TEXT NOT NULL,
    per_unit     INTEGER NOT NULL,
    qty          INTEGER NOT NULL,
    open_qty     INTEGER NOT NULL,
    status       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (doc_id, doc_type, doc_line, sku_id)
) WITHOUT ROWID;

CREATE TABLE inv_transfers (
    id                TEXT PRIMARY KEY,
    from_warehouse_id TEXT NOT NULL,
    to_warehouse_id   TEXT NOT NULL,
    status            TEXT NOT NULL,
    note              TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    received_at       TIMESTAMP
);

CREATE TABLE inv_transfer_lines (
    transfer_id TEXT NOT NULL REFERENCES inv_transfers (id),
    line        INTEGER NOT NULL,
    sku_id      TEXT NOT NULL,
    qty         INTEGER NOT NULL,
    PRIMARY KEY (transfer_id, line)
);

-- Channel allocation policy per shop (no FK: shops belong to package shop).
CREATE TABLE inv_policies (
    shop_id       TEXT PRIMARY KEY,
    ratio_pct     INTEGER NOT NULL DEFAULT 100,
    safety_stock  INTEGER NOT NULL DEFAULT 0,
    cap           INTEGER,
    virtual_extra INTEGER NOT NULL DEFAULT 0,
    warehouse_ids TEXT NOT NULL DEFAULT '',
    updated_at    TIMESTAMP NOT NULL
);

-- Per-SKU overrides: a non-NULL column replaces the shop's value.
CREATE TABLE inv_policy_overrides (
    shop_id       TEXT NOT NULL,
    sku_id        TEXT NOT NULL,
    ratio_pct     INTEGER,
    safety_stock  INTEGER,
    cap           INTEGER,
    virtual_extra INTEGER,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, sku_id)
);

CREATE TABLE stock_push_marks (
    shop_id        TEXT NOT NULL,
    sku_id         TEXT NOT NULL,
    sellable       INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    marked_at      TIMESTAMP NOT NULL,
    pushed_version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, sku_id)
);
CREATE INDEX stock_push_marks_pending ON stock_push_marks (shop_id, sku_id) WHERE version > pushed_version;
