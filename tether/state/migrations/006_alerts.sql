-- Health and alerts, schema version 6.
-- health_flags: every health problem the daemon saw, from when it was raised until it resolved
-- (resolved_at NULL = still open). Alerts deduplicate on (integration_id, flag_key): one message
-- when a problem starts, one when it resolves, one escalation after N repeats. A restarted
-- daemon reads the open rows back, so it does not alert twice for the same problem.
CREATE SEQUENCE health_flag_id_seq;
CREATE TABLE health_flags (
    id             BIGINT PRIMARY KEY DEFAULT nextval('health_flag_id_seq'),
    integration_id VARCHAR NOT NULL,
    flag_key       VARCHAR NOT NULL,      -- code:domain_type, e.g. failed:sales_orders
    code           VARCHAR NOT NULL,      -- failed | auth_failed | rate_limited | unmapped | …
    domain_type    VARCHAR,
    severity       VARCHAR NOT NULL,      -- error | warning
    message        VARCHAR NOT NULL,      -- the latest wording (a streak grows: "last 3 syncs")
    keys           VARCHAR[] NOT NULL DEFAULT [],
    repeats        INTEGER NOT NULL DEFAULT 1,  -- evaluations after executions it was still up
    raised_at      TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    resolved_at    TIMESTAMPTZ
);

-- alert_deliveries: one row per message per route. Never the destination URL (it holds tokens):
-- only the route and the destination's name in the SOPS file.
CREATE SEQUENCE alert_delivery_id_seq;
CREATE TABLE alert_deliveries (
    id             BIGINT PRIMARY KEY DEFAULT nextval('alert_delivery_id_seq'),
    route          VARCHAR NOT NULL,
    destination    VARCHAR NOT NULL,      -- the name in the alerts SOPS file
    event          VARCHAR NOT NULL,      -- execution_failed | sync_recovered | flag_raised | …
    integration_id VARCHAR,
    flag_key       VARCHAR,
    title          VARCHAR NOT NULL,
    body           VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,      -- queued | retrying | delivered | failed
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     VARCHAR,
    created_at     TIMESTAMPTZ NOT NULL,
    delivered_at   TIMESTAMPTZ
);
