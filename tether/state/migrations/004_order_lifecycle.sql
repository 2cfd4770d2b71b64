-- Order lifecycle (issue 11): lines keep the ordered quantity in `quantity` and carry the
-- quantity after refunds, removals and order edits in `current_quantity` (Shopify's
-- currentQuantity; the ordered quantity for sources that have no such notion). Rows written
-- before this migration get their ordered quantity: a full re-sync fills in the real value.
ALTER TABLE data.sales_order_lines ADD COLUMN current_quantity DOUBLE;
UPDATE data.sales_order_lines SET current_quantity = quantity;
ALTER TABLE data.pending_sales ADD COLUMN current_quantity DOUBLE;
UPDATE data.pending_sales SET current_quantity = quantity;
