"""API keys through the in-memory twins: their text, their digest, and the use cases around them."""

import hmac
import math
from datetime import timedelta

import pytest

from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.credentials import InMemoryApiKeyStore, InMemoryCredentials, InMemoryRevocationStore
from domain.adapters.memory.holdings import InMemoryInvalidationHub
from domain.errors import ApiKeyLimitError, ApiKeyNotFoundError, CredentialRejectedError, InvalidRequestError
from domain.models import api_keys
from domain.models.api_keys import KEY_CHARS, generate_key, key_digest, key_matches, key_prefix
from domain.services.api_keys import ApiKeyService
from domain.services.revocations import RevocationWatch

PEPPER = b"unit-test-pepper-" + b"p" * 16
USER = 42


def test_a_key_has_the_documented_form_and_at_least_128_bits_of_entropy():
    prefix, token = generate_key()
    assert token.startswith(f"folio_{prefix}_")
    assert len(token) == KEY_CHARS == 55
    secret = token.rsplit("_", 1)[1]
    assert len(secret) * math.log2(32) >= 128  # 32 base32 characters, each a uniform draw: 160 bits
    assert set(secret) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert key_prefix(token) == prefix
    assert len({generate_key()[1] for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "text",
    [
        "",
        "folio_",
        "folio_abc_def",
        "Folio_" + "a" * 16 + "_" + "b" * 32,
        "folio_" + "a" * 16 + "-" + "b" * 32,
        "folio_" + "a" * 16 + "_" + "b" * 31,
        "folio_" + "a" * 16 + "_" + "b" * 31 + "1",  # 1 is not base32
        "folio_" + "A" * 16 + "_" + "b" * 32,
        "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ],
)
def test_anything_else_has_no_prefix(text: str):
    assert key_prefix(text) is None


def test_the_digest_is_keyed_and_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch):
    _, token = generate_key()
    digest = key_digest(PEPPER, token)
    assert len(digest) == 32
    assert token.encode() not in digest
    assert key_digest(b"another-server-secret-" + b"q" * 16, token) != digest  # a dump alone tests nothing
    compared: list[tuple[bytes, bytes]] = []
    constant_time = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    assert key_matches(PEPPER, token, digest)
    assert not key_matches(PEPPER, token[:-1] + ("a" if token[-1] != "a" else "b"), digest)
    assert len(compared) == 2
    assert all(b == digest for _, b in compared)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def state(clock: FixedClock) -> InMemoryCredentials:
    credentials = InMemoryCredentials(clock)
    credentials.add_user(USER)
    return credentials


@pytest.fixture
def watch(state: InMemoryCredentials) -> RevocationWatch:
    return RevocationWatch(InMemoryRevocationStore(state), InMemoryInvalidationHub().bus())


@pytest.fixture
def service(state: InMemoryCredentials, watch: RevocationWatch, clock: FixedClock) -> ApiKeyService:
    store = InMemoryApiKeyStore(state)
    return ApiKeyService(store, watch, clock, pepper=PEPPER, max_per_user=3, usage_flush_s=10)


async def create(service: ApiKeyService, **changes: object):
    fields: dict = {"name": "ci", "scopes": ("read",), "expires_at": None, "actor": "user:42", "request_id": "r1"}
    return await service.create(USER, **{**fields, **changes})


async def test_a_new_key_verifies_and_only_its_digest_is_stored(service: ApiKeyService, state: InMemoryCredentials):
    issued = await create(service, scopes=("trade", "read", "trade"))
    assert issued.key.scopes == ("trade", "read")  # repeats dropped, order kept
    assert (await service.verify(issued.token)).id == issued.key.id
    stored = next(iter(state.keys.values()))
    assert stored.digest == key_digest(PEPPER, issued.token)
    assert issued.token not in repr(state.keys)  # nothing in the store can be used as the key
    assert [(a.actor, a.action, a.request_id) for a in state.audit] == [("user:42", "apikey.create", "r1")]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("folio_nonsense", "the API key is malformed"),
        ("folio_" + "a" * 16 + "_" + "b" * 32, "the API key is not valid"),
    ],
)
async def test_malformed_and_unknown_keys_are_refused(service: ApiKeyService, token: str, reason: str):
    with pytest.raises(CredentialRejectedError, match=reason):
        await service.verify(token)


async def test_a_wrong_secret_for_a_real_prefix_reads_as_unknown(service: ApiKeyService):
    issued = await create(service)
    forged = issued.token[: -len("b" * 32)] + "b" * 32
    with pytest.raises(CredentialRejectedError, match="not valid"):
        await service.verify(forged)


async def test_an_expired_key_is_refused(service: ApiKeyService, clock: FixedClock):
    issued = await create(service, expires_at=clock.now() + timedelta(hours=1))
    await service.verify(issued.token)
    clock.advance(3600)
    with pytest.raises(CredentialRejectedError, match="expired"):
        await service.verify(issued.token)


async def test_an_expiry_in_the_past_is_refused_naming_the_field(service: ApiKeyService, clock: FixedClock):
    with pytest.raises(InvalidRequestError) as refused:
        await create(service, expires_at=clock.now())
    assert refused.value.field == "expires_at"


async def test_a_revoked_key_is_refused_here_at_once_and_by_the_store(
    service: ApiKeyService, watch: RevocationWatch, state: InMemoryCredentials
):
    issued = await create(service)
    await service.revoke(USER, issued.key.id, actor="operator:ops", request_id="r2")
    assert watch.revoked(f"apikey:{issued.key.id}", issued.key.created_at.timestamp())
    with pytest.raises(CredentialRejectedError, match="revoked"):
        await service.verify(issued.token)
    with pytest.raises(ApiKeyNotFoundError):
        await service.revoke(USER, issued.key.id, actor="operator:ops", request_id="r3")
    assert state.audit[-1].action == "apikey.revoke"
    assert state.audit[-1].actor == "operator:ops"


async def test_the_limit_per_user_is_a_conflict(service: ApiKeyService):
    for _ in range(3):
        await create(service)
    with pytest.raises(ApiKeyLimitError):
        await create(service)


async def test_uses_are_written_in_one_batch_with_the_latest_time(
    service: ApiKeyService, state: InMemoryCredentials, clock: FixedClock
):
    a, b = (await create(service)).key, (await create(service)).key
    calls: list[dict] = []
    store = service._store
    original = store.record_use

    async def counting(used):
        calls.append(dict(used))
        await original(used)

    store.record_use = counting  # type: ignore[method-assign]
    start = clock.time()
    for i in range(1000):
        service.touch(a.id, start + i)
    service.touch(b.id, start)
    assert (await service.list(USER))[0].last_used_at is None  # nothing written per request
    await service.flush()
    assert len(calls) == 1
    last_used = {k.id: k.last_used_at for k in await service.list(USER)}
    assert last_used[a.id].timestamp() == start + 999
    assert last_used[b.id].timestamp() == start
    await service.flush()
    assert len(calls) == 1  # nothing new: no write
