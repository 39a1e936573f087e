"""BROKER_URL: empty for the Redis broker on VALKEY_URL, amqp:// or amqps:// for RabbitMQ, nothing else."""

import pytest

from config.settings import SettingsError, load_settings

VALKEY = "redis://127.0.0.1:6379/0"


def test_without_broker_url_the_broker_is_valkey():
    settings = load_settings({"VALKEY_URL": VALKEY})
    assert (settings.broker, settings.broker_is_amqp) == (VALKEY, False)
    same = load_settings({"VALKEY_URL": VALKEY, "BROKER_URL": VALKEY})
    assert (same.broker, same.broker_is_amqp) == (VALKEY, False)


@pytest.mark.parametrize("url", ["amqp://folio:secret@rabbit:5672/folio", "amqps://rabbit.example.com/"])
def test_an_amqp_url_selects_rabbitmq(url: str):
    settings = load_settings({"VALKEY_URL": VALKEY, "BROKER_URL": url, "BROKER_TIMEOUT_MS": "250"})
    assert (settings.broker, settings.broker_is_amqp, settings.broker_timeout_ms) == (url, True, 250)


@pytest.mark.parametrize("url", ["redis://other:6379/0", "kafka://broker:9092", "rabbit:5672"])
def test_any_other_broker_url_is_refused_naming_the_variable(url: str):
    with pytest.raises(SettingsError, match="BROKER_URL must be an amqp:// or amqps:// URL"):
        load_settings({"VALKEY_URL": VALKEY, "BROKER_URL": url})
