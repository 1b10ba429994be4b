-- The stock ledger is read a page at a time by SKU (with or without a
-- warehouse) and by document (the moves of one order). The SKU index led
-- with the warehouse after the SKU, so a SKU's page sorted the SKU's whole
-- history; nothing served a document, so its page read the whole ledger.
DROP INDEX inv_ledger_sku;
CREATE INDEX inv_ledger_sku ON inv_ledger (sku_id, seq);
CREATE INDEX inv_ledger_doc ON inv_ledger (doc_id, doc_type);
