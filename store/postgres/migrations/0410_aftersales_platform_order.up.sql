-- Cases by platform order id (the list's platform_order_id filter, how a
-- person finds an order's cases): without it every lookup read every case.
CREATE INDEX aftersales_cases_platform_order ON aftersales_cases (platform_order_id);
