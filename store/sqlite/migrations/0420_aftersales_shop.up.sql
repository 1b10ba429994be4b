-- A shop's after-sales cases, newest first (the case list filtered by shop):
-- without an index the list walked every case of every shop until its page
-- was full, and a small shop's page was never full.
CREATE INDEX aftersales_cases_shop ON aftersales_cases (shop_id, id);
