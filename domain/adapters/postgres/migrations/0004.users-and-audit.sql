-- depends: 0003.report-listing
-- Users managed through the API, and the append-only, hash-chained audit log.

-- A user may be known to an identity provider by its subject there (`external_id`). Erasure replaces the
-- personal data and stamps `erased_at`; `tokens_not_before` is the JWT revocation watermark.
ALTER TABLE users
    ADD COLUMN external_id         text UNIQUE CHECK (external_id ~ '^[\x21-\x7e]{1,255}$'),
    ADD COLUMN base_currency       char(3) NOT NULL DEFAULT 'USD' CHECK (base_currency ~ '^[A-Z]{3}$'),
    ADD COLUMN updated_at          timestamptz,
    ADD COLUMN erased_at           timestamptz,
    ADD COLUMN tokens_not_before   timestamptz;

-- New users take ids from here; rows loaded with explicit ids move it past them (the demo data does).
CREATE SEQUENCE users_id_seq OWNED BY users.id;
DO $$ BEGIN PERFORM setval('users_id_seq', coalesce((SELECT max(id) FROM users), 0) + 1, false); END $$;
ALTER TABLE users ALTER COLUMN id SET DEFAULT nextval('users_id_seq');

-- Each entry's hash covers the previous entry's hash and its own fields (domain/models/audit.py), so a
-- changed, removed or inserted row breaks the chain from there on. `digest` is the SHA-256 of the change's
-- canonical JSON: the change itself (personal data, perhaps) is not kept here, where nothing can be erased.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text COLLATE "C" NOT NULL,
    action      text COLLATE "C" NOT NULL,
    target      text COLLATE "C" NOT NULL,
    request_id  text,
    digest      char(64) NOT NULL,
    prev_hash   char(64) NOT NULL UNIQUE,  -- a chain, never a fork: each hash follows at most one entry
    hash        char(64) NOT NULL UNIQUE
);
CREATE INDEX audit_log_actor ON audit_log (actor, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
CREATE INDEX audit_log_target ON audit_log (target, id DESC);

-- Append-only for every role, the owner and superusers included: only a superuser who disables this
-- trigger (or sets session_replication_role) can change a row, and the chain then shows it.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
