DROP INDEX inv_ledger_doc;
DROP INDEX inv_ledger_sku;
CREATE INDEX inv_ledger_sku ON inv_ledger (sku_id, warehouse_id, seq);
