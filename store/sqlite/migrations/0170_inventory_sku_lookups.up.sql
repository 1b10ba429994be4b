-- Allocation reads a batch's SKUs' overrides and current push marks across
-- every shop (WHERE sku_id IN ...). Both tables are keyed (shop_id, sku_id),
-- which cannot serve that: SQLite scanned them whole per batch.
CREATE INDEX inv_policy_overrides_sku ON inv_policy_overrides (sku_id);
CREATE INDEX stock_push_marks_sku ON stock_push_marks (sku_id);
