-- depends: 0005.api-keys
-- The cash ledger: double entry. Each entry is one event (a deposit, a trade's settlement, its fee...) and
-- its postings move money between accounts: the user's cash in one currency, or a counter-account
-- (`bank`: the user's outside bank; `market`: the market's settlement; `fees`: Folio's fee income; `fx`:
-- currency conversion). An entry's postings sum to zero in each currency, checked at the commit.

CREATE TABLE ledger_entries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind             text NOT NULL
                     CHECK (kind IN ('deposit', 'withdrawal', 'trade', 'fee', 'dividend', 'interest', 'fx')),
    trade_id         bigint,  -- the trade a settlement, fee or fx entry belongs to
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    booked_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
-- The ledger read: a user's entries newest first.
CREATE INDEX ledger_entries_user_newest ON ledger_entries (user_id, id DESC);

CREATE TABLE ledger_postings (
    entry_id  bigint NOT NULL REFERENCES ledger_entries (id) ON DELETE CASCADE,
    line      smallint NOT NULL CHECK (line >= 0),
    account   text NOT NULL CHECK (account IN ('cash', 'bank', 'market', 'fees', 'fx')),
    currency  char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount    numeric(28, 8) NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (entry_id, line)
);

-- The user's cash per currency, kept in step with the cash postings in the same transaction, under the
-- row's lock. Never negative: the service refuses first (a 422), this makes sure.
CREATE TABLE cash_balances (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance     numeric(28, 8) NOT NULL CHECK (balance >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, currency)
);

-- Deferred to the commit, so an entry and its postings go in as separate statements: an entry with no
-- postings, or whose postings do not sum to zero in a currency, is refused with the whole transaction.
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_entry bigint;
BEGIN
    IF TG_TABLE_NAME = 'ledger_entries' THEN
        v_entry := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        v_entry := OLD.entry_id;
    ELSE
        v_entry := NEW.entry_id;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ledger_entries WHERE id = v_entry) THEN
        RETURN NULL;  -- the entry went with its user (ON DELETE CASCADE)
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ledger_postings WHERE entry_id = v_entry) THEN
        RAISE EXCEPTION 'ledger entry % has no postings', v_entry USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (
        SELECT 1 FROM ledger_postings WHERE entry_id = v_entry GROUP BY currency HAVING sum(amount) <> 0
    ) THEN
        RAISE EXCEPTION 'ledger entry % does not balance', v_entry USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT OR UPDATE OR DELETE ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();

-- A trade's fee (in the instrument's currency), so that a repeated Idempotency-Key answers with it.
ALTER TABLE trades ADD COLUMN fee numeric(28, 8) NOT NULL DEFAULT 0 CHECK (fee >= 0);
