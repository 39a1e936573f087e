"""Webhook signatures, checked by the specification's own library (standardwebhooks), and the retry policy."""

import base64
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.adapters.webhook_http import HttpWebhookSender, TargetRefusedError, refused_address, retry_after_s
from domain.models.webhooks import (
    DeliveryClaim,
    RetryPolicy,
    SendResult,
    event_body,
    generate_secret,
    judge,
    signature_header,
)


def headers(secrets: tuple[str, ...], msg_id: str, body: bytes, at: datetime | None = None) -> dict[str, str]:
    timestamp = int((at or datetime.now(UTC)).timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }


def test_a_secret_is_whsec_and_32_random_bytes():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert generate_secret() != secret


def test_the_official_library_verifies_folios_signature_and_reads_the_body():
    secret = generate_secret()
    body = event_body("trade.created", datetime(2026, 1, 2, tzinfo=UTC), {"trade_id": 7, "price": "101.50"})
    verified = Webhook(secret).verify(body, headers((secret,), "msg_" + "a" * 32, body))
    data = {"trade_id": 7, "price": "101.50"}
    assert verified == {"type": "trade.created", "timestamp": "2026-01-02T00:00:00Z", "data": data}


def test_a_changed_body_another_secret_or_an_old_timestamp_is_refused():
    secret, other = generate_secret(), generate_secret()
    body = b'{"type":"cash.moved"}'
    signed = headers((secret,), "msg_" + "b" * 32, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"type":"cash.moved","x":1}', signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, signed)
    stale = headers((secret,), "msg_" + "b" * 32, body, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, stale)


def test_during_a_rotation_both_secrets_sign_so_either_verifies():
    new, old = generate_secret(), generate_secret()
    body = b'{"type":"user.updated"}'
    signed = headers((new, old), "msg_" + "c" * 32, body)
    assert len(signed["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(body, signed) == {"type": "user.updated"}


def claim(attempt_in_round: int) -> DeliveryClaim:
    return DeliveryClaim(
        delivery_id="msg_" + "d" * 32, endpoint_id="e", attempt=attempt_in_round, attempt_in_round=attempt_in_round,
        url="https://example.com/hook", secrets=("whsec_x",), payload=b"{}",
    )  # fmt: skip


SPEC = RetryPolicy(delays_s=(0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400), jitter=0.1)


@pytest.mark.parametrize(("code", "verdict"), [(200, "succeeded"), (204, "succeeded"), (410, "gone"), (500, "retry"),
                                               (301, "retry"), (None, "retry")])  # fmt: skip
def test_2xx_succeeds_410_stops_and_anything_else_is_retried(code, verdict):
    assert judge(SendResult(status_code=code, latency_ms=1.0), claim(1), SPEC).verdict == verdict


def test_the_waits_follow_the_schedule_within_the_jitter_and_the_last_attempt_is_dead():
    for attempt, wait in enumerate(SPEC.delays_s[1:], start=1):
        delay = judge(SendResult(status_code=500, latency_ms=1.0), claim(attempt), SPEC).delay_s
        assert delay is not None
        assert wait * 0.9 <= delay <= wait * 1.1
    assert judge(SendResult(status_code=500, latency_ms=1.0), claim(10), SPEC).verdict == "dead"


def test_429_and_503_wait_at_least_their_retry_after_and_a_500_does_not():
    for code in (429, 503):
        result = SendResult(status_code=code, latency_ms=1.0, retry_after_s=120.0)
        assert judge(result, claim(1), SPEC).delay_s == 120.0  # the schedule says 5 s
    assert judge(SendResult(status_code=500, latency_ms=1.0, retry_after_s=120.0), claim(1), SPEC).delay_s <= 5.5


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_s(b"30") == 30.0
    assert retry_after_s(b"Thu, 01 Jan 2026 00:01:00 GMT", now) == 60.0
    assert retry_after_s(b"soon") is None
    assert retry_after_s(None) is None


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.100.100.200", "0.0.0.0",
     "224.0.0.1", "::1", "fe80::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"],
)  # fmt: skip
def test_loopback_private_link_local_multicast_and_metadata_addresses_are_refused(address):
    assert refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "ftp://93.184.215.14/x", "http://user:pw@93.184.215.14/x", "http://" + "a" * 70 + ".example/x",
     "http://127.0.0.1/x", "http://[::ffff:10.0.0.1]/x"],
)  # fmt: skip
async def test_a_url_that_may_not_receive_webhooks_is_refused_naming_url(url):
    sender = HttpWebhookSender(timeout_s=1, https_only=False, allow_private=False, max_connections=1)
    with pytest.raises(TargetRefusedError) as refused:
        await sender.check(url)
    assert refused.value.field == "url"
    await sender.aclose()


async def test_production_refuses_http_and_a_public_address_passes():
    sender = HttpWebhookSender(timeout_s=1, https_only=True, allow_private=False, max_connections=1)
    with pytest.raises(TargetRefusedError):
        await sender.check("http://93.184.215.14/x")
    await sender.check("https://93.184.215.14/x")
    await sender.aclose()
