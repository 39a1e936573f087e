-- depends: 0006.ledger 0007.market-day 0008.trade-imports
-- Corporate actions an operator recorded (domain/models/corporate_actions.py): a split of `ratio_numerator`
-- new shares per `ratio_denominator` old ones, or a cash dividend of `amount_per_share` in the instrument's
-- currency. The market day's `corporate_actions` job applies each once: `applied_at` is when a split was
-- applied or a dividend's holders recorded.
CREATE TABLE corporate_actions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind               text NOT NULL CHECK (kind IN ('split', 'dividend')),
    instrument_id      integer NOT NULL REFERENCES instruments (id),
    ratio_numerator    bigint CHECK (ratio_numerator > 0),
    ratio_denominator  bigint CHECK (ratio_denominator > 0),
    amount_per_share   numeric(20, 8) CHECK (amount_per_share > 0),
    ex_date            date NOT NULL,
    pay_date           date,
    created_at         timestamptz NOT NULL DEFAULT now(),
    applied_at         timestamptz,
    CHECK (kind <> 'split' OR (ratio_numerator IS NOT NULL AND ratio_denominator IS NOT NULL)),
    CHECK (kind <> 'dividend' OR (amount_per_share IS NOT NULL AND pay_date >= ex_date))
);
-- The job's read: the actions not yet applied, by ex-date.
CREATE INDEX corporate_actions_pending ON corporate_actions (ex_date, id) WHERE applied_at IS NULL;

-- A dividend's holders at its ex-date, and (once paid) the ledger entry that paid each: one row per
-- (dividend, user), so a job delivered twice pays nobody twice.
CREATE TABLE dividend_payments (
    action_id  bigint NOT NULL REFERENCES corporate_actions (id),
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    quantity   numeric(28, 8) NOT NULL CHECK (quantity > 0),
    amount     numeric(28, 8) NOT NULL CHECK (amount > 0),
    entry_id   bigint REFERENCES ledger_entries (id),
    PRIMARY KEY (action_id, user_id)
);
CREATE INDEX dividend_payments_unpaid ON dividend_payments (action_id) WHERE entry_id IS NULL;
