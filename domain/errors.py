"""The domain's errors: a small tree of categories the gateway maps to HTTP in one place."""


class DomainError(Exception):
    """Root of every error Folio raises on purpose."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFoundError(DomainError):
    """The thing asked for does not exist."""


class InvalidRequestError(DomainError):
    """The request is well-formed but breaks a business rule; `field` names the culprit."""


class ConflictError(DomainError):
    """The request clashes with the current state."""


class ForbiddenError(DomainError):
    """The caller may not touch this object."""


class UnavailableError(DomainError):
    """A dependency (database, cache, broker) cannot serve now; retrying later may work."""


class UserNotFoundError(NotFoundError):
    def __init__(self, user_id: int) -> None:
        super().__init__(f"user {user_id} does not exist")


class InstrumentNotFoundError(NotFoundError):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"no instrument with symbol {symbol!r}", field="symbol")


class UnknownSymbolError(InvalidRequestError):
    def __init__(self, symbol: str, *, field: str = "symbol") -> None:
        super().__init__(f"unknown symbol {symbol!r}", field=field)


class CurrencyNotTradableError(InvalidRequestError):
    """A trade named a currency's quote (`CASH-EUR`): cash is moved through the ledger, never held as a lot."""

    def __init__(self, symbol: str, *, field: str = "symbol") -> None:
        super().__init__(
            f"{symbol} is a currency's exchange rate, not a tradable instrument: cash is deposited, withdrawn"
            " and converted through the cash ledger",
            field=field,
        )


class DatabaseUnavailableError(UnavailableError):
    def __init__(self, detail: str = "the database is not answering") -> None:
        super().__init__(detail)


class InsufficientHoldingsError(InvalidRequestError):
    def __init__(self, symbol: str, *, held: object) -> None:
        super().__init__(f"cannot sell more {symbol} than the {held} held", field="quantity")


class InsufficientCashError(InvalidRequestError):
    def __init__(self, currency: str, *, held: object, needed: object) -> None:
        super().__init__(f"not enough {currency} cash: {held} held, {needed} needed", field="amount")


class IdempotencyKeyReusedError(InvalidRequestError):
    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for a different request", field="Idempotency-Key")


class ReportNotFoundError(NotFoundError):
    def __init__(self, report_id: str) -> None:
        super().__init__(f"no report {report_id}", field="task_id")


class ReportNotReadyError(ConflictError):
    def __init__(self, report_id: str, status: str) -> None:
        super().__init__(f"report {report_id} has no document yet (status {status})")


class ReportNotFailedError(ConflictError):
    def __init__(self, report_id: str, status: str) -> None:
        super().__init__(f"report {report_id} is {status}: only a failed report can be requeued")


class ReportNotCancellableError(ConflictError):
    def __init__(self, report_id: str, status: str) -> None:
        super().__init__(f"report {report_id} is {status}: only a queued or failed report can be cancelled")


class MailNotSentError(UnavailableError):
    """The mail server refused or could not be reached before the message was handed over: safe to retry."""


class MailOutcomeUnknownError(DomainError):
    """The connection broke after the message was handed over: it may have been delivered, so never resend."""


class ApiKeyNotFoundError(NotFoundError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"no active API key {key_id} for this user", field="key_id")


class ApiKeyLimitError(ConflictError):
    def __init__(self, user_id: int, limit: int) -> None:
        super().__init__(f"user {user_id} already has {limit} API keys: revoke one before creating another")


class CredentialRejectedError(DomainError):
    """A credential (an API key, an access token) is malformed, unknown, expired or revoked; the gateway answers 401."""


class ExternalTokenRejectedError(CredentialRejectedError):
    """An access token that is not a valid token of the configured OpenID Connect issuer for this API."""


class SignInRefusedError(CredentialRejectedError):
    """The identity provider refused to complete a sign-in (an unknown or used code, a wrong verifier or client)."""


class IdentityProviderUnavailableError(UnavailableError):
    """The token's signing key is not known yet and the identity provider cannot be reached to learn it."""

    def __init__(self, detail: str = "the identity provider cannot be reached to verify this token") -> None:
        super().__init__(detail)


class UserErasedError(UserNotFoundError):
    """The user was erased: answered as an unknown user (404), and the erased user's own token as a 401."""

    def __init__(self, user_id: int) -> None:
        NotFoundError.__init__(self, f"user {user_id} was erased")
        self.user_id = user_id


class DuplicateUserError(ConflictError):
    """Another user already has this email or external id; `field` names which."""

    def __init__(self, field: str) -> None:
        super().__init__(f"another user already has this {field}", field=field)


class OperatorOnlyFieldError(ForbiddenError):
    def __init__(self, field: str) -> None:
        super().__init__(f"only an operator may change {field}", field=field)


class WebhookNotFoundError(NotFoundError):
    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"no webhook endpoint {endpoint_id} for this user", field="webhook_id")


class DeliveryNotFoundError(NotFoundError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no delivery {delivery_id} of this endpoint", field="delivery_id")


class DeliveryPendingError(ConflictError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"delivery {delivery_id} is still being attempted: redeliver it once it has succeeded or died")


class TooManyStreamsError(DomainError):
    """A cap on open live streams (the user's, or this process's) is reached; retrying later may work."""


class StreamsDrainingError(UnavailableError):
    def __init__(self) -> None:
        super().__init__("this instance is shutting down: connect again to reach another one")
