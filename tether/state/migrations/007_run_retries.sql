-- Run retries: a scheduled run that fails on a transient error (timeout, 5xx, rate limit) runs
-- again as a run of trigger `retry_after_failure`, after an exponential backoff with jitter.
-- The policy is applied per integration (`retry: {attempts, backoff}` in its YAML; these
-- defaults are the documented ones), and each retry run says which attempt it is and which
-- failed run it retries, so `executions` can tell "attempt 2 of 3, after run 41".
ALTER TABLE integrations ADD COLUMN retry_attempts INTEGER DEFAULT 3;
ALTER TABLE integrations ADD COLUMN retry_backoff_s DOUBLE DEFAULT 300;
ALTER TABLE runs ADD COLUMN attempt INTEGER DEFAULT 1;
ALTER TABLE runs ADD COLUMN retry_of BIGINT;
