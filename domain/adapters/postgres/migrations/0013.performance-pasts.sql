-- depends: 0012.webhooks
-- Each user's performance answer for each named period, stored with the daily values it is computed from
-- (domain/adapters/postgres/performance_pasts.py), in the same transaction, so a read answers from one row
-- instead of computing over a year of days. A row answers only the day it was stored for (`through`, the
-- mark's), for the period start of that day (`since`), and while the user's mark still reaches `through`.

CREATE TABLE performance_pasts (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    period       text NOT NULL,
    since        date NOT NULL,
    through      date NOT NULL,
    figures      bytea NOT NULL,  -- the figures as JSON, the Sharpe ratio left out (it needs the risk-free rate)
    annual_mean  double precision,  -- the mean daily return x 252 the Sharpe ratio is computed from
    series       bytea NOT NULL,  -- the daily values as the answer's JSON array
    flows        bytea NOT NULL,  -- the external flows as the answer's JSON array
    PRIMARY KEY (user_id, period)
);
