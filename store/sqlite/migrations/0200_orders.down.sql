DROP TABLE order_blacklist;
DROP TABLE order_rules;
DROP TABLE order_events;
DROP TABLE order_versions;
DROP TABLE order_parts;
DROP TABLE order_lines;
DROP TABLE orders;
