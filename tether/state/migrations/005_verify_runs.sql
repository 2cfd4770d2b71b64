-- Completeness checks, schema version 5: one row per capability each time `tether verify` runs.
-- The source's count over a window next to the state's count over the same window (see
-- docs/verify.md for what "equal" means). The monitor's integration screen and the health
-- checks read the newest row per (integration_id, domain_type) from v_verify_latest.
CREATE SEQUENCE verify_run_id_seq;
CREATE TABLE verify_runs (
    id             BIGINT PRIMARY KEY DEFAULT nextval('verify_run_id_seq'),
    check_id       BIGINT NOT NULL,       -- one `tether verify` call: the id of its first row
    integration_id VARCHAR NOT NULL,
    domain_type    VARCHAR NOT NULL,
    window_since   TIMESTAMPTZ,           -- NULL: no window (a snapshot, or all history)
    window_until   TIMESTAMPTZ,
    window_field   VARCHAR,               -- the record field the window filters on
    source_count   BIGINT,                -- NULL when the source cannot count it
    state_count    BIGINT,                -- loaded + failed
    loaded         BIGINT,                -- records in data.* over the window
    failed         BIGINT,                -- records fetched but not loaded (open failed items)
    status         VARCHAR NOT NULL,      -- match | missing | extra | not_countable | error
    message        VARCHAR,
    checked_at     TIMESTAMPTZ NOT NULL,
    actor          VARCHAR
);

CREATE VIEW v_verify_latest AS
SELECT * EXCLUDE (rn) FROM (
    SELECT v.*, row_number() OVER (
        PARTITION BY integration_id, domain_type ORDER BY id DESC) AS rn
    FROM verify_runs v
) WHERE rn = 1;
