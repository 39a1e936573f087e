-- depends: 0001.initial-schema
-- The holding as the trade left it, so that a repeated Idempotency-Key returns the first answer.
ALTER TABLE trades
    ADD COLUMN position_quantity      numeric(28, 8),
    ADD COLUMN position_average_cost  numeric(20, 8),
    ADD COLUMN position_realized_pnl  numeric(24, 8);
