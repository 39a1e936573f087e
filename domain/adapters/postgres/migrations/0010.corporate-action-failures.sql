-- depends: 0009.corporate-actions
-- An action the market day's run could not apply (a result its columns cannot hold, any data error) is
-- marked failed with the reason, in the run's transaction, and never tried again: it no longer blocks the
-- actions after it nor the days after.
ALTER TABLE corporate_actions ADD COLUMN failed_at timestamptz, ADD COLUMN failure text;
DROP INDEX corporate_actions_pending;
CREATE INDEX corporate_actions_pending ON corporate_actions (ex_date, id) WHERE applied_at IS NULL AND failed_at IS NULL;

-- Trade history on today's terms, for analytics that rebuild past holdings from the trades: a trade booked
-- before a split was applied is in old shares. `split_factor(instrument, at)` is the product of the ratios
-- of the instrument's splits applied after `at` (1 when none); exact, as the numerators and denominators
-- are multiplied separately.
CREATE AGGREGATE split_product (numeric) (SFUNC = numeric_mul, STYPE = numeric, INITCOND = '1');

CREATE FUNCTION split_factor(instrument integer, at timestamptz) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT split_product(ratio_numerator::numeric) / split_product(ratio_denominator::numeric)
    FROM corporate_actions
    WHERE kind = 'split' AND instrument_id = instrument AND applied_at > at
$$;

-- Every trade with its quantity and price on today's terms (quantity × factor, price ÷ factor, 8 places,
-- as the holdings were adjusted): summing `adjusted_quantity` up to a day gives that day's holding in
-- today's shares, to be valued at the split-adjusted closes of `daily_prices`.
CREATE VIEW trades_adjusted AS
SELECT t.user_id, t.id, t.instrument_id, t.side, t.executed_at, t.quantity, t.price, f.factor AS split_factor,
       round(t.quantity * f.factor, 8) AS adjusted_quantity, round(t.price / f.factor, 8) AS adjusted_price
FROM trades t CROSS JOIN LATERAL (SELECT split_factor(t.instrument_id, t.executed_at) AS factor) f;
