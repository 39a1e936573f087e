-- depends: 0003.report-listing
-- Users managed through the API, and the append-only, hash-chained audit log.

-- A user may be known to an identity provider by its subject there (`external_id`). Erasure replaces the
-- personal data and stamps `erased_at`; `tokens_not_before` is the JWT revocation watermark.
ALTER TABLE users
    ADD COLUMN external_id         text UNIQUE CHECK (external_id ~ '^[\x21-\x7e]{1,255}$'),
    ADD COLUMN base_currency       char(3) NOT NULL DEFAULT 'USD' CHECK (base_currency ~ '^[A-Z]{3}$'),
    ADD COLUMN updated_at          timestamptz,
    ADD COLUMN erased_at           timestamptz,
    ADD COLUMN IF NOT EXISTS tokens_not_before timestamptz;

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
    hash        char(64) NOT NULL
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

-- One append in one statement, inside the caller's transaction: take the log's lock (held to the commit, so
-- entries chain in commit order), read the last hash (a statement of its own: in READ COMMITTED it sees the
-- previous appender's committed entry), insert. The hash is `chain_hash` of domain/models/audit.py, which
-- defines it (and verifies it): SHA-256 of the previous hash followed by the hex SHA-256 of each field.
CREATE FUNCTION audit_field_hash(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT encode(sha256(convert_to(value, 'UTF8')), 'hex')
$$;
CREATE FUNCTION audit_append(
    p_at timestamptz, p_actor text, p_action text, p_target text, p_request_id text, p_digest text
) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_at timestamptz := coalesce(p_at, now());
    v_prev text;
BEGIN
    PERFORM pg_advisory_xact_lock(4707744067223310151);  -- "AUDITLOG"
    SELECT a.hash INTO v_prev FROM audit_log a ORDER BY a.id DESC LIMIT 1;
    v_prev := coalesce(v_prev, repeat('0', 64));
    INSERT INTO audit_log (at, actor, action, target, request_id, digest, prev_hash, hash)
    VALUES (v_at, p_actor, p_action, p_target, p_request_id, p_digest, v_prev, encode(sha256(convert_to(
        v_prev
        || audit_field_hash(to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00')
        || audit_field_hash(p_actor) || audit_field_hash(p_action) || audit_field_hash(p_target)
        || audit_field_hash(coalesce(p_request_id, '')) || audit_field_hash(p_digest),
        'UTF8')), 'hex'));
END;
$$;
