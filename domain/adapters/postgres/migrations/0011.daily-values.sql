-- depends: 0010.corporate-action-failures
-- Each user's portfolio value at the close of each valuation day, in the base currency, stored once the
-- day is computed so the performance route reads past days instead of rebuilding them per request
-- (domain/adapters/postgres/daily_values.py). The close job fills them for every user; a read fills a
-- user's missing days once.

CREATE TABLE daily_values (
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day      date NOT NULL,
    value    numeric NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- How far each user's stored days go: every valuation day up to `through` is in daily_values, computed
-- when the user's latest ledger entry and trade were `ledger_entry` and `trade`. A later entry or trade
-- dated on or before `through` makes the stored days from its day on stale (the read sees it by these ids);
-- anything else that rewrites past days (a close recorded for a past day, a split) moves `through` back.
CREATE TABLE daily_value_marks (
    user_id       bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    through       date NOT NULL,
    ledger_entry  bigint NOT NULL DEFAULT 0,
    trade         bigint NOT NULL DEFAULT 0
);

-- The currencies' instruments (CASH-XXX): their closes are every user's valuation days and the day's rates,
-- read on every performance read, without a scan of every instrument.
CREATE INDEX instruments_currencies ON instruments (id) WHERE asset_class = 'cash' AND symbol LIKE 'CASH-%';
