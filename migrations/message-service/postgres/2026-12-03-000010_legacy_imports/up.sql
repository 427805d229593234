-- Which legacy databases `minitwit-admin import` loaded into this one (the source as
-- given to --from, without a password). The import refuses a database that holds
-- rows but no record of that same source: it never mixes two systems' ids.
CREATE TABLE legacy_imports (
    source TEXT PRIMARY KEY,
    imported_at BIGINT NOT NULL
);
