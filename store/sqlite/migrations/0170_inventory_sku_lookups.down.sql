DROP INDEX stock_push_marks_sku;
DROP INDEX inv_policy_overrides_sku;
