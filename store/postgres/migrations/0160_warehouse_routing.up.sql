-- Warehouse routing: a priority (lower = preferred) and the provinces a
-- warehouse serves, for orders no routing rule decides. provinces holds
-- GB/T 2260 province-level codes (2 digits, e.g. 33 for 浙江省), sorted,
-- comma-separated without spaces ("31,32,33"); empty = no province of its
-- own. An order's province is the first two digits of its division_code.
ALTER TABLE inv_warehouses ADD COLUMN priority INTEGER NOT NULL DEFAULT 100;
ALTER TABLE inv_warehouses ADD COLUMN provinces TEXT NOT NULL DEFAULT '';
