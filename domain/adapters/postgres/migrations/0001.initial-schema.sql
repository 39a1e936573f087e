-- Folio's schema: the read paths are portfolio by user, trades by user newest first,
-- quotes by instrument, daily closes by instrument and day, reports by id and by state.

CREATE TABLE users (
    id          bigint PRIMARY KEY CHECK (id > 0),
    email       text NOT NULL UNIQUE CHECK (position('@' IN email) > 1),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instruments (
    id           integer PRIMARY KEY,
    symbol       text NOT NULL UNIQUE CHECK (symbol ~ '^[A-Z0-9][A-Z0-9.\-]{0,15}$'),
    name         text NOT NULL,
    asset_class  text NOT NULL CHECK (asset_class IN ('equity', 'etf', 'bond', 'crypto', 'cash')),
    currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    exchange     text NOT NULL
);

-- The latest quote per instrument, in the instrument's currency.
CREATE TABLE quotes (
    instrument_id   integer PRIMARY KEY REFERENCES instruments (id),
    price           numeric(20, 8) NOT NULL CHECK (price > 0),
    bid             numeric(20, 8) NOT NULL CHECK (bid > 0),
    ask             numeric(20, 8) NOT NULL CHECK (ask >= bid),
    previous_close  numeric(20, 8) NOT NULL CHECK (previous_close > 0),
    day_high        numeric(20, 8) NOT NULL,
    day_low         numeric(20, 8) NOT NULL CHECK (day_low <= day_high),
    volume          bigint NOT NULL CHECK (volume >= 0),
    as_of           timestamptz NOT NULL
);

-- Keyed by (instrument, day) so that partitioning by month stays a migration.
CREATE TABLE daily_prices (
    instrument_id  integer NOT NULL REFERENCES instruments (id),
    day            date NOT NULL,
    close          numeric(20, 8) NOT NULL CHECK (close > 0),
    PRIMARY KEY (instrument_id, day)
);

-- One row per user and instrument; the primary key serves the portfolio read.
CREATE TABLE holdings (
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instrument_id  integer NOT NULL REFERENCES instruments (id),
    quantity       numeric(28, 8) NOT NULL CHECK (quantity >= 0),
    average_cost   numeric(20, 8) NOT NULL CHECK (average_cost >= 0),
    realized_pnl   numeric(24, 8) NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, instrument_id)
);
CREATE INDEX holdings_instrument ON holdings (instrument_id);

-- Keyed by (user, id) so that partitioning by user stays a migration.
CREATE TABLE trades (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instrument_id    integer NOT NULL REFERENCES instruments (id),
    side             text NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity         numeric(28, 8) NOT NULL CHECK (quantity > 0),
    price            numeric(20, 8) NOT NULL CHECK (price > 0),
    realized_pnl     numeric(24, 8) NOT NULL DEFAULT 0,
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    executed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, idempotency_key)
);

CREATE TABLE reports (
    id               uuid PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error            text,
    email_status     text NOT NULL DEFAULT 'pending'
                     CHECK (email_status IN ('pending', 'sending', 'sent', 'unknown')),
    document         bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    deadline_at      timestamptz NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX reports_user_newest ON reports (user_id, created_at DESC);
CREATE INDEX reports_pending_deadline ON reports (deadline_at) WHERE status IN ('queued', 'running');
CREATE INDEX reports_failed_newest ON reports (finished_at DESC) WHERE status = 'failed';

-- Each quote ingest publishes a new market-data version; web processes watch the newest.
CREATE TABLE quote_versions (
    version       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    quotes        integer NOT NULL CHECK (quotes >= 0),
    published_at  timestamptz NOT NULL DEFAULT now()
);
