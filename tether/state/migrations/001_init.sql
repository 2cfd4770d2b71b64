-- Tether state, schema version 1. Control tables in `main`, synced domain data in `data`.
-- Users write SQL against these names; they are documented in docs/status-sql.md.

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL            -- schema_version, lineage (uuid), serial
);

CREATE TABLE integrations (
    id                      VARCHAR PRIMARY KEY,
    name                    VARCHAR NOT NULL,
    service                 VARCHAR NOT NULL,
    enabled                 BOOLEAN NOT NULL,
    dry_run                 BOOLEAN NOT NULL,
    cron                    VARCHAR NOT NULL,
    timezone                VARCHAR NOT NULL,
    capabilities            VARCHAR[] NOT NULL,
    settings                JSON NOT NULL,
    credentials_ref         VARCHAR,
    credentials_fingerprint VARCHAR,      -- the SOPS file's MAC: never the secret itself
    source_path             VARCHAR,
    paused                  BOOLEAN NOT NULL DEFAULT false,
    paused_reason           VARCHAR,
    paused_by               VARCHAR,
    paused_at               TIMESTAMPTZ,
    applied_serial          BIGINT NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE mappings (
    kind           VARCHAR NOT NULL,      -- sku | channel | warehouse
    integration_id VARCHAR NOT NULL,      -- '' = applies to every integration
    external_id    VARCHAR NOT NULL,
    target         VARCHAR NOT NULL,
    PRIMARY KEY (kind, integration_id, external_id)
);

CREATE SEQUENCE run_id_seq;
CREATE TABLE runs (
    id             BIGINT PRIMARY KEY DEFAULT nextval('run_id_seq'),
    integration_id VARCHAR NOT NULL,
    trigger        VARCHAR NOT NULL,      -- scheduled | manual | retry | catch_up
    scheduled_for  TIMESTAMPTZ,           -- the cron tick (scheduled/catch_up); NULL for manual
    requested_by   VARCHAR,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (integration_id, scheduled_for)
);

CREATE SEQUENCE execution_id_seq;
CREATE TABLE executions (
    id              BIGINT PRIMARY KEY DEFAULT nextval('execution_id_seq'),
    run_id          BIGINT NOT NULL,
    integration_id  VARCHAR NOT NULL,
    domain_type     VARCHAR NOT NULL,
    trigger         VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,     -- running | success | partial | failed | cancelled | interrupted
    dry_run         BOOLEAN NOT NULL DEFAULT false,
    full_resync     BOOLEAN NOT NULL DEFAULT false,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    duration_s      DOUBLE,
    records_fetched BIGINT NOT NULL DEFAULT 0,
    success         BIGINT NOT NULL DEFAULT 0,
    failed          BIGINT NOT NULL DEFAULT 0,
    skipped         BIGINT NOT NULL DEFAULT 0,
    mapped          BIGINT NOT NULL DEFAULT 0,
    partial_mapped  BIGINT NOT NULL DEFAULT 0,
    rate_limit_wait_s DOUBLE NOT NULL DEFAULT 0,
    error_code      VARCHAR,
    error           VARCHAR,
    generation      INTEGER NOT NULL DEFAULT 0,
    pid             INTEGER
);
CREATE INDEX executions_by_integration ON executions (integration_id, id);

-- Items are appended page by page, so rows are physically clustered by execution id; the
-- monitor pages through one execution with keyset predicates on (execution_id, id).
CREATE SEQUENCE sync_item_id_seq;
CREATE TABLE sync_items (
    id             BIGINT NOT NULL,
    execution_id   BIGINT NOT NULL,
    integration_id VARCHAR NOT NULL,
    domain_type    VARCHAR NOT NULL,
    external_id    VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,      -- processing | success | failed | skipped | mapped | partial_mapped
    error_code     VARCHAR,
    error_message  VARCHAR,
    fetched_at     TIMESTAMPTZ NOT NULL,
    records        INTEGER NOT NULL DEFAULT 1,
    payload        JSON,                  -- raw record(s), kept while not fully loaded, for re-mapping
    resolved_by    BIGINT                 -- the execution that later loaded this item (retry)
);
CREATE INDEX sync_items_by_execution ON sync_items (execution_id, id);

CREATE TABLE sync_item_errors (
    item_id        BIGINT NOT NULL,
    execution_id   BIGINT NOT NULL,
    external_id    VARCHAR,               -- the record / line inside the item
    code           VARCHAR NOT NULL,
    message        VARCHAR NOT NULL,
    sku            VARCHAR,
    channel        VARCHAR,
    warehouse      VARCHAR
);
CREATE INDEX sync_item_errors_by_execution ON sync_item_errors (execution_id, item_id);

CREATE TABLE sync_state (
    integration_id VARCHAR NOT NULL,
    domain_type    VARCHAR NOT NULL,
    generation     INTEGER NOT NULL,
    cursor         JSON,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, domain_type)
);

CREATE SEQUENCE audit_id_seq;
CREATE TABLE audit_log (
    id             BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    logged_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor          VARCHAR NOT NULL,
    action         VARCHAR NOT NULL,      -- apply | sync | retry | reset | delete | pause | resume | unlock
    integration_id VARCHAR,
    detail         JSON
);

CREATE SCHEMA data;

-- Every data.* row is keyed by (integration_id, external_id); the engine upserts by
-- DELETE + INSERT of each page (faster than MERGE/ON CONFLICT here), so re-imports never duplicate.
CREATE TABLE data.sales_orders (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    order_number VARCHAR, channel VARCHAR, channel_external_id VARCHAR,
    ordered_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, currency VARCHAR, financial_status VARCHAR,
    total DOUBLE, pending BOOLEAN NOT NULL DEFAULT false, execution_id BIGINT
);
CREATE TABLE data.sales_order_lines (
    integration_id VARCHAR NOT NULL, order_external_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    sku VARCHAR, sku_external_id VARCHAR, quantity DOUBLE, unit_price DOUBLE, warehouse VARCHAR,
    execution_id BIGINT
);
CREATE TABLE data.pending_sales (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    order_number VARCHAR, channel VARCHAR, ordered_at TIMESTAMPTZ, sku VARCHAR,
    sku_external_id VARCHAR, quantity DOUBLE, execution_id BIGINT
);
CREATE TABLE data.sales_history (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    date DATE, sku VARCHAR, channel VARCHAR, quantity DOUBLE, revenue DOUBLE, execution_id BIGINT
);
CREATE TABLE data.inventory_levels (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    warehouse VARCHAR, sku VARCHAR, on_hand DOUBLE, available DOUBLE, as_of TIMESTAMPTZ,
    execution_id BIGINT
);
CREATE TABLE data.products (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    sku VARCHAR, sku_external_id VARCHAR, title VARCHAR, price DOUBLE, updated_at TIMESTAMPTZ,
    execution_id BIGINT
);
CREATE TABLE data.channels (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    channel VARCHAR, name VARCHAR, execution_id BIGINT
);
CREATE TABLE data.prices (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    sku VARCHAR, channel VARCHAR, price DOUBLE, currency VARCHAR, valid_from DATE,
    execution_id BIGINT
);
CREATE TABLE data.forecast_versions (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    name VARCHAR, created_at TIMESTAMPTZ, execution_id BIGINT
);
CREATE TABLE data.sales_forecasts (
    integration_id VARCHAR NOT NULL, external_id VARCHAR NOT NULL,
    version VARCHAR, date DATE, sku VARCHAR, channel VARCHAR, quantity DOUBLE, execution_id BIGINT
);

CREATE VIEW v_executions AS
SELECT e.id, e.integration_id, i.name AS integration, i.service, e.domain_type, e.trigger,
       e.status, e.dry_run, e.full_resync, e.started_at, e.finished_at, e.duration_s,
       e.records_fetched, e.success, e.failed, e.skipped, e.mapped, e.partial_mapped,
       e.error_code, e.error
FROM executions e LEFT JOIN integrations i ON i.id = e.integration_id;

CREATE VIEW v_failed_items AS
SELECT s.execution_id, s.integration_id, s.domain_type, s.external_id, s.status, s.error_code,
       s.error_message, s.fetched_at, s.records
FROM sync_items s
WHERE s.status IN ('failed', 'partial_mapped') AND s.resolved_by IS NULL;

CREATE VIEW v_unmapped_skus AS
SELECT x.integration_id, e.sku AS external_sku, count(DISTINCT e.item_id) AS items,
       count(DISTINCT e.execution_id) AS executions, max(x.started_at) AS last_seen
FROM sync_item_errors e
JOIN executions x ON x.id = e.execution_id
JOIN sync_items s ON s.id = e.item_id
WHERE e.code = 'UNMAPPED_SKU' AND s.resolved_by IS NULL
GROUP BY ALL;

CREATE VIEW v_sync_health AS
SELECT i.id AS integration_id, i.name, i.service, i.enabled, i.paused,
       max(e.started_at) AS last_sync,
       arg_max(e.status, e.id) AS last_status,
       count(*) FILTER (WHERE e.status IN ('failed')) AS failed_executions,
       count(e.id) AS executions
FROM integrations i LEFT JOIN executions e ON e.integration_id = i.id
GROUP BY ALL;
