"""Settings: the environment read once into one frozen, typed object."""

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

Positive = Annotated[int, msgspec.Meta(gt=0)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every knob Folio has, with the seed's numbers as defaults."""

    environment: Literal["development", "test", "production"] = "development"
    # Connections. Empty means: the dev runner and the test suite start embedded servers.
    database_url: str = ""
    # Migrations, the demo data load and the release's role defaults need a session of their own: a direct URL
    # when DATABASE_URL goes through a transaction-mode pooler. Empty: DATABASE_URL.
    database_direct_url: str = ""
    # "pgbouncer": DATABASE_URL is a transaction-mode pooler, so connections send no startup `options` and
    # prepare no statements (the server connection under them changes from one transaction to the next).
    database_pooler: Literal["", "pgbouncer"] = ""
    valkey_url: str = ""
    # Comma-separated startup nodes of a Valkey Cluster (redis://host:port each): it replaces VALKEY_URL for the
    # cache, the buses (sharded pub/sub), the rate limiter and the fleet registry, and needs BROKER_URL=amqp://.
    valkey_cluster_urls: str = ""
    smtp_url: str = ""
    # The Dramatiq broker: empty (or VALKEY_URL itself) for its Redis broker on Valkey; amqp:// or amqps:// for
    # RabbitMQ, which Valkey Cluster and managed cluster modes need (the Redis broker's scripts cannot run there).
    broker_url: str = ""
    # Cache (the seed's configuration 1).
    redis_cache_ttl: Positive = 300
    redis_max_connections: Positive = 20
    cache_timeout_ms: Positive = 100
    redis_pool_wait_ms: Positive = 1000
    cache_breaker_failures: Positive = 5
    cache_breaker_reset_s: PositiveFloat = 5.0
    portfolio_cache: bool = True
    performance_cache: bool = True  # false: every performance answer computed afresh (`make bench`'s cold figures)
    local_cache: bool = True
    local_cache_max_entries: Positive = 100_000
    portfolio_bodies_max: Positive = 20_000  # users' portfolios kept encoded for the next read (~17 KB each)
    cache_fill_wait_ms: Positive = 3000
    invalidation_ack_timeout_ms: Positive = 250
    invalidation_heartbeat_ms: Positive = 100
    # Database pool (the seed's configuration 2).
    database_pool_size: Positive = 20
    max_overflow: NonNegative = 30
    pool_recycle: Positive = 3600
    pool_timeout_s: PositiveFloat = 0.5
    pool_max_waiting: NonNegative = 200
    database_connect_timeout_s: Positive = 3
    statement_timeout_ms: Positive = 3000  # = DB_WRITE_DEADLINE_S: no query outlives the request it served
    # Client-side deadlines of one unit of work (wait for a connection, check on borrow, statements,
    # commit): past it the connection is cut off and the request answers 503, even from a frozen server.
    db_deadline_s: PositiveFloat = 1.0  # reads
    db_write_deadline_s: PositiveFloat = 3.0  # writes: trades, quote batches, report rows
    pool_pre_ping_idle_s: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    # Background work (the seed's configuration 3).
    worker_threads: Positive = 4
    worker_processes: Positive = 1
    broker_heartbeat_timeout_ms: Positive = 15_000  # a killed worker's messages come back after this (Valkey)
    broker_timeout_ms: Positive = 1000  # RabbitMQ: connect, declare and confirm of one publish; past it, unavailable
    # Reports. The deadline is both how long a queued report waits before the sweeper sends
    # it again and the lease of a running attempt; the time limit must stay below it.
    report_deadline_s: PositiveFloat = 120.0
    report_time_limit_s: PositiveFloat = 60.0
    report_max_attempts: Positive = 4
    report_min_backoff_ms: Positive = 2_000
    report_max_backoff_ms: Positive = 60_000
    report_sweep_interval_s: PositiveFloat = 15.0
    report_estimate_s: PositiveFloat = 5.0  # `estimated_completion` in the 202
    report_history_days: Positive = 252
    risk_free_rate: Annotated[float, msgspec.Meta(ge=-1, le=1)] = 0.04  # annual, for the Sharpe ratio
    smtp_timeout_s: PositiveFloat = 10.0  # every SMTP socket operation (TimeLimit cannot interrupt it)
    mail_from: str = "Folio Reports <reports@folio.localhost>"
    # Webhooks (Standard Webhooks). The retry schedule is the waits before each attempt, comma-separated
    # seconds (the first 0: at once), each drawn within +/- WEBHOOK_RETRY_JITTER of its value; 429 and 503
    # wait at least their Retry-After. An attempt's lease must outlast its timeout: a worker killed
    # mid-attempt leaves the delivery to be attempted again once the lease runs out.
    webhook_timeout_s: PositiveFloat = 15.0
    webhook_retry_schedule_s: str = "0,5,300,1800,7200,18000,36000,50400,72000,86400"
    webhook_retry_jitter: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.1
    webhook_disable_after: Positive = 5  # consecutive dead deliveries before the endpoint is disabled
    webhook_rotation_overlap_s: NonNegative = 86_400  # the old secret keeps signing this long after a rotation
    webhook_lease_s: PositiveFloat = 60.0
    webhook_relay_interval_s: PositiveFloat = 0.5  # how often the relay looks for new events and due retries
    webhook_relay_batch: Positive = 500
    webhook_max_connections: Positive = 100  # per worker process, across all receivers
    webhook_endpoints_per_user: Positive = 20
    # Development and tests only: lets endpoints on loopback and private addresses receive (`make run` sets it).
    webhook_allow_private: bool = False
    # The market day: the `clock` process sends the day's jobs (the close, report retention) at this UTC
    # time every day, and on start the days it missed, at most `market_catch_up_days` back per job.
    market_close_utc: Annotated[str, msgspec.Meta(pattern="^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "21:00"
    market_catch_up_days: Positive = 7
    # The close job stores every user's daily values (for the performance route) in batches of users, each in
    # one transaction under this deadline (its statements too); a read stores a user's missing days itself.
    daily_values_deadline_s: PositiveFloat = 60.0
    report_retention_days: Positive = 90  # finished reports (and their PDFs) older than this are deleted
    # Trades settle in cash (exact decimals, in the instrument's currency): a fee of TRADE_FEE_BPS basis
    # points of quantity x price, at least TRADE_FEE_MIN; AUTO_FX converts a buy's shortfall from the base
    # currency instead of refusing it. TRADE_PRICE_POLICY: `client` trades at the order's price, `market`
    # at the quote's; either way a price more than TRADE_PRICE_TOLERANCE_BPS from the quote is refused
    # (0: any price).
    trade_fee_bps: NonNegative = 0
    trade_fee_min: Decimal = Decimal(0)  # at least 0 (checked below: msgspec bounds no Decimal)
    auto_fx: bool = False
    trade_price_policy: Literal["client", "market"] = "client"
    trade_price_tolerance_bps: NonNegative = 0
    # Compression and CDN (the seed's configuration 4).
    gzip_minimum_size: NonNegative = 1000
    cdn_cache_ttl: NonNegative = 3600
    # Market data: the largest quote batch one ingest accepts.
    quote_batch_max: Positive = 5000
    # Health and scaling (the seed's configuration 5).
    auto_scale_target_cpu: Percent = 70
    auto_scale_low_cpu: Percent = 30
    auto_scale_target_memory: Percent = 80
    health_sample_interval_s: PositiveFloat = 1.0
    retry_after_s: Positive = 1
    # Autoscaling policy: target tracking, the article's numbers. Cooldowns are in seconds.
    min_instances: Positive = 2
    max_instances: Positive = 8
    scale_out_cooldown: NonNegative = 300
    scale_in_cooldown: NonNegative = 600
    scale_window_s: Positive = 180  # metrics are averaged over this window, so one spike does not scale
    worker_min_instances: Positive = 1
    worker_max_instances: Positive = 8
    worker_target_backlog: PositiveFloat = 20.0  # queued reports per worker process
    worker_target_queue_age_s: PositiveFloat = 30.0  # age of the oldest queued report
    fleet_heartbeat_s: PositiveFloat = 5.0  # every process publishes its samples this often
    fleet_heartbeat_ttl_s: PositiveFloat = 15.0  # a process silent this long has left the fleet
    instance_id: str = ""  # the fleet view's scaling unit (container, dyno, pod); empty = the host name
    # Metrics: Prometheus exposition on /metrics for an operator token, and optionally on a
    # separate, unauthenticated bind address (host:port; empty = closed).
    metrics: bool = True
    metrics_dir: str = ""  # prometheus-client multiprocess folder; empty = DATA_DIR/metrics
    metrics_bind: str = ""
    # The console's hour of history: from this Prometheus's HTTP API (query_range) when set, such as
    # http://prometheus:9090; empty = each web process keeps the hour itself (10 s points).
    prometheus_url: str = ""
    # Cost model and budget alert, in US dollars.
    instance_type: str = "t3.large"
    instance_price_per_hour: Annotated[float, msgspec.Meta(ge=0)] = 0.0832
    # ElastiCache for Valkey cache.t3.small, on-demand us-east-1: $0.0272/h x 730 h (Redis OSS: $0.034/h).
    cache_price_per_month: Annotated[float, msgspec.Meta(ge=0)] = 19.86
    # RDS for PostgreSQL db.t3.medium Single-AZ, on-demand us-east-1: $0.072/h x 730 h + 20 GB gp3 at $0.115.
    database_price_per_month: Annotated[float, msgspec.Meta(ge=0)] = 54.86
    bandwidth_price_per_gb: Annotated[float, msgspec.Meta(ge=0)] = 0.09
    monthly_budget_usd: Annotated[float, msgspec.Meta(ge=0)] = 1000.0
    # Live portfolio streams (`GET /api/user/{id}/portfolio/stream`): at most one event per
    # STREAM_MIN_INTERVAL_MS for quote moves (a user's own trade or cash booking is sent at once), a
    # heartbeat comment every STREAM_HEARTBEAT_S, STREAM_RETRY_MS as the clients' reconnection hint, and
    # a 429 beyond STREAM_MAX_PER_USER streams of one user or STREAM_MAX_PER_PROCESS in one web process.
    # A client that has not taken an event for STREAM_STALL_S is disconnected (its memory freed).
    # A stream holds one of Granian's concurrent requests: the Procfile's --backpressure (GRANIAN_BACKPRESSURE,
    # 11000) leaves room above STREAM_MAX_PER_PROCESS for every other request.
    stream_min_interval_ms: Positive = 1000
    stream_heartbeat_s: PositiveFloat = 15.0
    stream_retry_ms: Positive = 2000
    stream_max_per_user: Positive = 8
    stream_max_per_process: Positive = 10_000
    stream_stall_s: PositiveFloat = 60.0
    # HTTP.
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    web_concurrency: Positive = 2
    # On SIGTERM, `python -m cli.web` keeps serving this long with readiness answering 503 (so a load balancer
    # takes the instance out) before the server stops; 0 = stop at once (a router that stops at SIGTERM).
    web_drain_delay_s: Annotated[float, msgspec.Meta(ge=0, le=20)] = 0.0
    web_drain_file: str = ""  # set by `python -m cli.web` for the server it runs: present = stopping
    slow_request_ms: Positive = 500
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = True
    base_currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] = "USD"
    # Authentication: signed JWTs (HMAC secret, or an asymmetric key pair from PEM files).
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"] = "HS256"
    jwt_secret: str = ""  # HS*: at least 32 bytes; empty in development = generated into DATA_DIR/jwt-secret
    jwt_private_key_file: str = ""  # RS*/ES*/EdDSA: PEM, needed only to mint tokens
    jwt_public_key_file: str = ""  # RS*/ES*/EdDSA: PEM, needed to verify them
    jwt_issuer: str = "folio"
    jwt_audience: str = "folio-api"
    token_ttl_s: Positive = 3600
    console_session_ttl_s: Positive = 8 * 3600  # an operator console session; never longer than its token
    auth_cache_max: Positive = 100_000  # verified tokens remembered until their expiry
    auth_negative_cache_max: NonNegative = 1024  # rejected tokens remembered for auth_negative_cache_s
    auth_negative_cache_s: PositiveFloat = 1.0
    # API keys for server-to-server clients: stored as HMAC-SHA256 digests under this secret.
    api_key_secret: str = ""  # at least 32 bytes; empty outside production = generated into DATA_DIR/api-key-secret
    api_keys_per_user: Positive = 100  # keys a user may hold at once (revoked ones do not count)
    api_key_cache_s: Positive = 300  # a verified key is re-read from the database after this long
    api_key_usage_flush_s: PositiveFloat = 10.0  # last_used_at is written in one batch this often
    # OpenID Connect: access tokens of an external identity provider are accepted too (empty issuer: off).
    oidc_issuer: str = ""  # exactly the tokens' `iss`; https (http only to 127.0.0.1, ::1 or localhost)
    oidc_audience: str = ""  # required with an issuer: this API's identifier at the provider (`aud`)
    oidc_leeway_s: Annotated[float, msgspec.Meta(ge=0, le=300)] = 30.0  # clock skew allowed on exp, nbf, iat
    oidc_auto_provision: bool = False  # a token of an unknown subject creates its user
    oidc_algorithms: str = "RS256,ES256,EdDSA"  # comma-separated, asymmetric only
    oidc_jwks_refresh_s: PositiveFloat = 300.0  # the key set is fetched again this long after the last fetch
    oidc_min_refetch_s: PositiveFloat = 10.0  # an unknown key refetches at most this often (and a failing fetch)
    oidc_http_timeout_s: PositiveFloat = 2.0  # per request to the provider
    # The console's sign-in through the provider (authorization code + PKCE), on when OIDC_CLIENT_ID is set too:
    # the provider's roles (OIDC_ROLES_CLAIM of the ID token, a claim or a dotted path) give the console role.
    oidc_client_id: str = ""  # the console's client at the provider; its ID tokens' `aud`
    oidc_client_secret: str = ""  # that client's secret (empty: a public client, PKCE alone)
    oidc_provider_name: str = ""  # the sign-in button's "Sign in with ..."; empty: the issuer's host
    oidc_roles_claim: Annotated[str, msgspec.Meta(min_length=1)] = "roles"
    oidc_operator_admin_role: Annotated[str, msgspec.Meta(min_length=1)] = "folio-operator-admin"
    oidc_operator_read_role: Annotated[str, msgspec.Meta(min_length=1)] = "folio-operator-read"
    public_url: str = ""  # https://folio.example.com: the provider's redirect back; empty: the request's own
    # Rate limits per minute: per token (user, operator) and per client address without one.
    rate_limit: bool = True
    rate_limit_per_minute: Positive = 600
    rate_limit_operator_per_minute: Positive = 6000
    rate_limit_anon_per_minute: Positive = 60
    rate_limit_sync_ms: Positive = 50  # local counts reach Valkey at least this often
    rate_limit_overshoot_pct: Percent = 2  # each extra process may admit this much of a limit beyond it
    rate_limit_max_keys: Positive = 100_000
    # Hostile input and browsers.
    max_request_body_bytes: Positive = 1_048_576
    # Trade imports: a file's rows (more is a 413), and the deadline of the one transaction that books them,
    # during which the user's other trades wait (about a millisecond a row on a quiet machine).
    trade_import_max_rows: Positive = 5_000
    trade_import_deadline_s: PositiveFloat = 30.0
    cors_allow_origins: str = ""  # comma-separated origins; empty: no CORS headers at all
    allowed_hosts: str = "*"  # comma-separated Host values (`*.example.com` allowed)
    trust_proxy_headers: bool = False  # behind the platform's proxy: X-Forwarded-Proto, rightmost X-Forwarded-For
    hsts_max_age_s: NonNegative = 31_536_000
    # Where the embedded servers, generated keys and report files live in development.
    data_dir: str = ".data"

    def __post_init__(self) -> None:
        if self.report_time_limit_s >= self.report_deadline_s:
            # A live attempt must finish (or be stopped) before its lease lets another worker claim it.
            raise ValueError("REPORT_TIME_LIMIT_S must be below REPORT_DEADLINE_S")
        if self.min_instances > self.max_instances:
            raise ValueError("MIN_INSTANCES must not exceed MAX_INSTANCES")
        if self.worker_min_instances > self.worker_max_instances:
            raise ValueError("WORKER_MIN_INSTANCES must not exceed WORKER_MAX_INSTANCES")
        if not self.trade_fee_min.is_finite() or self.trade_fee_min < 0:
            raise ValueError("TRADE_FEE_MIN must be a decimal number of 0 or more")
        if self.oidc_issuer:
            _check_oidc(self)
        _check_console_sign_in(self)
        if self.webhook_lease_s <= self.webhook_timeout_s:
            raise ValueError("WEBHOOK_LEASE_S must exceed WEBHOOK_TIMEOUT_S")
        if self.webhook_allow_private and self.environment == "production":
            raise ValueError("WEBHOOK_ALLOW_PRIVATE is for development and tests only")
        _ = self.webhook_retry_delays
        if self.broker_url and self.broker_url != self.valkey_url and not self.broker_is_amqp:
            raise ValueError("BROKER_URL must be an amqp:// or amqps:// URL (empty: the broker runs on VALKEY_URL)")
        if self.valkey_cluster_urls and not self.broker_is_amqp:
            raise ValueError(
                "VALKEY_CLUSTER_URLS needs BROKER_URL=amqp://...: the reports' Redis broker cannot run on a Valkey"
                " Cluster, so a clustered cache needs RabbitMQ as the broker"
            )

    @property
    def broker(self) -> str:
        """The broker's URL: BROKER_URL, else VALKEY_URL."""
        return self.broker_url or self.valkey_url

    @property
    def valkey_cluster_nodes(self) -> tuple[str, ...]:
        """VALKEY_CLUSTER_URLS, one URL per startup node; empty on a single Valkey."""
        return tuple(url.strip() for url in self.valkey_cluster_urls.split(",") if url.strip())

    @property
    def database_session_url(self) -> str:
        """Where work that needs a session of its own connects: DATABASE_DIRECT_URL, else DATABASE_URL."""
        return self.database_direct_url or self.database_url

    @property
    def broker_is_amqp(self) -> bool:
        return urlsplit(self.broker_url).scheme in ("amqp", "amqps")

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        try:
            delays = tuple(float(part) for part in self.webhook_retry_schedule_s.split(","))
        except ValueError:
            delays = ()
        if not delays or any(not 0 <= d < float("inf") for d in delays):
            raise ValueError("WEBHOOK_RETRY_SCHEDULE_S must be comma-separated seconds, each 0 or more")
        return delays

    @property
    def oidc_algorithm_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.oidc_algorithms.split(",") if name.strip())


# Signature algorithms with a public key: an HMAC (HS*) would make the issuer's public key a shared secret.
OIDC_ALGORITHMS = frozenset(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"))
_LOOPBACK_HOSTS = frozenset(("127.0.0.1", "::1", "localhost"))


def _check_oidc(settings: Settings) -> None:
    issuer = urlsplit(settings.oidc_issuer)
    secure = issuer.scheme == "https" or (issuer.scheme == "http" and issuer.hostname in _LOOPBACK_HOSTS)
    if not secure or not issuer.hostname or issuer.query or issuer.fragment:
        raise ValueError("OIDC_ISSUER must be an https URL without query or fragment (http only to this machine)")
    if settings.oidc_issuer == settings.jwt_issuer:  # the issuer decides which key verifies a token
        raise ValueError("OIDC_ISSUER must differ from JWT_ISSUER, the issuer of Folio's own tokens")
    if not settings.oidc_audience:
        raise ValueError("OIDC_AUDIENCE must be set with OIDC_ISSUER: tokens meant for other clients are refused")
    names = settings.oidc_algorithm_names
    unknown = sorted(set(names) - OIDC_ALGORITHMS)
    if not names or unknown:
        accepted = ", ".join(sorted(OIDC_ALGORITHMS))
        refused = f"; {', '.join(unknown)} cannot be used" if unknown else ""
        raise ValueError(f"OIDC_ALGORITHMS must list one or more of {accepted}{refused}")


def _check_console_sign_in(settings: Settings) -> None:
    if settings.oidc_client_id and not settings.oidc_issuer:
        raise ValueError("OIDC_CLIENT_ID needs OIDC_ISSUER: the provider the console signs in through")
    if settings.public_url and not _is_base_url(settings.public_url):
        raise ValueError("PUBLIC_URL must be an http(s) URL without path, query or fragment")
    if settings.oidc_client_id and not settings.public_url and settings.environment == "production":
        # Behind a proxy the request's own address is not the one the provider must send the browser back to.
        raise ValueError("PUBLIC_URL must be set in production with OIDC_CLIENT_ID: the console's address")


def _is_base_url(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment)
    )


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the variable."""


def _env_name(field: str) -> str:
    return field.upper()


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read every field of Settings from its upper-case environment variable."""
    if "DATABASE_DEADLINE_MS" in environ:  # replaced: refuse it rather than ignore a limit someone set
        raise SettingsError("DATABASE_DEADLINE_MS is replaced by DB_DEADLINE_S and DB_WRITE_DEADLINE_S (seconds)")
    raw = {f: environ[_env_name(f)] for f in Settings.__struct_fields__ if _env_name(f) in environ}
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as e:
        raise SettingsError(_name_variable(str(e))) from None


def _name_variable(message: str) -> str:
    # msgspec says "... - at `$.redis_cache_ttl`"; users know the variable, not the path.
    if "`$." in message:
        head, _, path = message.rpartition("`$.")
        field = path.rstrip("`").split(".")[0].split("[")[0]
        reason = head.removesuffix(" - at ").strip()
        return f"invalid environment variable {_env_name(field)}: {reason}"
    return f"invalid settings: {message}"
