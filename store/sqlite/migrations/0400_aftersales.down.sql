DROP TABLE aftersales_rules;
DROP TABLE aftersales_case_events;
DROP TABLE aftersales_qc;
DROP TABLE aftersales_lines;
DROP TABLE aftersales_cases;
