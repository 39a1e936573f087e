-- depends: 0011.daily-values
-- Webhooks (Standard Webhooks): a user's endpoints, the transactional outbox the business writes fill,
-- one delivery per (event, endpoint) with its retry state, and every attempt of it.

CREATE TABLE webhook_endpoints (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id               bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                   text NOT NULL,
    events                text[] NOT NULL,
    description           text NOT NULL DEFAULT '',
    -- Signing needs the secret itself (HMAC), so it is kept, and never shown again after its creation.
    secret                text NOT NULL,
    previous_secret       text,                -- still signs until previous_secret_until (a rotation's overlap)
    previous_secret_until timestamptz,
    enabled               boolean NOT NULL DEFAULT true,
    disabled_reason       text,
    consecutive_dead      integer NOT NULL DEFAULT 0,
    notify_pending        boolean NOT NULL DEFAULT false,  -- the user is still to be told it was disabled
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_by_user ON webhook_endpoints (user_id, created_at DESC);
CREATE INDEX webhook_endpoints_to_notify ON webhook_endpoints (id) WHERE notify_pending;

-- Written in the same transaction as the change it tells about; the relay moves rows into deliveries.
CREATE TABLE webhook_outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL,
    event_type  text NOT NULL,
    payload     bytea NOT NULL,  -- the JSON body, encoded once
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id               text COLLATE "C" PRIMARY KEY CHECK (id ~ '^msg_[0-9a-f]{32}$'),  -- the `webhook-id` header
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    user_id          bigint NOT NULL,
    event_type       text NOT NULL,
    payload          bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,  -- every attempt ever, the number of the latest
    round_start      integer NOT NULL DEFAULT 0,  -- attempts before the current retry round (a redelivery)
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    queued_until     timestamptz,  -- the relay sent a message for it; it sends again after this
    lease_until      timestamptz,  -- an attempt is running; another may start after this
    last_status_code integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (finished_at DESC, id DESC) WHERE status = 'dead';

CREATE TABLE webhook_attempts (
    delivery_id  text COLLATE "C" NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    status_code  integer,         -- null: no answer (refused, timed out, unreachable)
    latency_ms   double precision NOT NULL,
    error        text,
    PRIMARY KEY (delivery_id, attempt)
);
