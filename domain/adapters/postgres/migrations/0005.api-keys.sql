-- depends: 0004.users-and-audit
-- API keys for server-to-server clients, and the per-user watermark that revokes a user's JWTs.
-- A key's secret is never stored: only its HMAC-SHA256 digest under a server-side secret, so a dump of
-- this table yields no usable key. The prefix (public, shown in listings) finds the row.

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prefix        text NOT NULL UNIQUE CHECK (prefix ~ '^[a-z2-7]{16}$'),
    digest        bytea NOT NULL CHECK (length(digest) = 32),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'trade', 'reports']),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
-- A user's listing (keys not revoked, newest first); the prefix's unique index serves verification.
CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at DESC) WHERE revoked_at IS NULL;
-- What a process re-reads twice a second while the invalidation channel is down: recent revocations.
CREATE INDEX api_keys_revoked ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX users_tokens_not_before ON users (tokens_not_before) WHERE tokens_not_before IS NOT NULL;
