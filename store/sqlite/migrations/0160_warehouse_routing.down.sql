ALTER TABLE inv_warehouses DROP COLUMN provinces;
ALTER TABLE inv_warehouses DROP COLUMN priority;
