-- Sync engine, schema version 3: content hashes of loaded records.
-- One row per record last loaded in full (item status `success`): a hash of the data.* rows it
-- became. A later fetch whose rows hash the same is recorded as `skipped` ("Unchanged since
-- execution N") and not rewritten. No index: a page joins it by scan (an ART index would keep
-- every key in memory). `tether reset` deletes an integration's hashes, so the full re-sync that
-- follows reloads everything.
CREATE TABLE sync_hashes (
    integration_id VARCHAR NOT NULL,
    domain_type    VARCHAR NOT NULL,
    external_id    VARCHAR NOT NULL,
    hash           UBIGINT NOT NULL,
    execution_id   BIGINT NOT NULL
);
