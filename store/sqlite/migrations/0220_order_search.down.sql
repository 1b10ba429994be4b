DROP INDEX orders_platform_order;
