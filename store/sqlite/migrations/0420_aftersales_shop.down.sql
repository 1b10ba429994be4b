DROP INDEX aftersales_cases_shop;
