-- Orders under after-sales: where the order stood in fulfilment when its
-- refunding began (approved … completed). It decides whether a refunding or
-- partially refunded order still holds its reservation and whether it has
-- shipped, and where a withdrawn refund returns it. Empty for orders never refunded.
ALTER TABLE orders ADD COLUMN refund_from TEXT NOT NULL DEFAULT '';
