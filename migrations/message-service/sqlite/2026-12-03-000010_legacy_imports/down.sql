DROP TABLE legacy_imports;
