-- Catalog: products (SPU), SKUs, bundle components and channel listing
-- bindings (platform item/SKU of a shop → internal SKU).
CREATE TABLE catalog_products (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL DEFAULT '',
    brand       TEXT NOT NULL DEFAULT '',
    images_json TEXT NOT NULL DEFAULT '[]',
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- barcode is NULL when unset so that UNIQUE applies only to set barcodes.
CREATE TABLE catalog_skus (
    id              TEXT PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    barcode         TEXT UNIQUE,
    product_id      TEXT REFERENCES catalog_products (id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'simple',
    attrs_json      TEXT NOT NULL DEFAULT '{}',
    cost_fen        INTEGER NOT NULL DEFAULT 0,
    price_fen       INTEGER NOT NULL DEFAULT 0,
    list_price_fen  INTEGER NOT NULL DEFAULT 0,
    currency        TEXT NOT NULL DEFAULT 'CNY',
    weight_g        INTEGER NOT NULL DEFAULT 0,
    volume_cm3      INTEGER NOT NULL DEFAULT 0,
    images_json     TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'active',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX catalog_skus_product ON catalog_skus (product_id);

-- Components of bundle SKUs; a component is never itself a bundle.
CREATE TABLE catalog_bundle_components (
    bundle_id    TEXT NOT NULL REFERENCES catalog_skus (id),
    component_id TEXT NOT NULL REFERENCES catalog_skus (id),
    qty          INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (bundle_id, component_id)
);
CREATE INDEX catalog_bundle_components_component ON catalog_bundle_components (component_id);

-- platform_sku_id is '' for single-spec items that have no platform SKU.
CREATE TABLE catalog_bindings (
    shop_id          TEXT NOT NULL,
    platform_item_id TEXT NOT NULL,
    platform_sku_id  TEXT NOT NULL,
    sku_id           TEXT NOT NULL REFERENCES catalog_skus (id),
    outer_code       TEXT NOT NULL DEFAULT '',
    source           TEXT NOT NULL DEFAULT 'manual',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, platform_item_id, platform_sku_id)
);
CREATE INDEX catalog_bindings_sku ON catalog_bindings (sku_id, shop_id);
