-- depends: 0005.api-keys
-- The rows a user imported from files, by fingerprint (domain/models/trade_imports.py: a SHA-256 of the
-- trade's time, symbol, side, quantity, price and its occurrence in the file), so a file imported again
-- books nothing twice. The trade each row booked is kept beside it.
CREATE TABLE trade_import_rows (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint  text COLLATE "C" NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    trade_id     bigint NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, fingerprint),
    FOREIGN KEY (user_id, trade_id) REFERENCES trades (user_id, id) ON DELETE CASCADE
);
