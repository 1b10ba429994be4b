-- Searching orders by platform order id without a shop (the customer
-- service's "find this order") read every order: the unique key starts with
-- shop_id. This index makes it a probe.
CREATE INDEX orders_platform_order ON orders (platform_order_id);
