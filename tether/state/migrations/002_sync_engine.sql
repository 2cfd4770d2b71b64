-- Sync engine, schema version 2.
-- Pending sales are stored one row per order line; the order key lets a re-import replace an
-- order's lines as a whole (upsert by order, like data.sales_order_lines).
ALTER TABLE data.pending_sales ADD COLUMN order_external_id VARCHAR;
