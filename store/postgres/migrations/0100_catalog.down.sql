DROP TABLE catalog_bindings;
DROP TABLE catalog_bundle_components;
DROP TABLE catalog_skus;
DROP TABLE catalog_products;
