"""On a Valkey Cluster every script, pipeline and MGET must touch one slot, and a bus's channels subscribed
together must share one: checked here with valkey-py's own key-slot function on the adapters' key names."""

import pytest
from valkey.crc import key_slot

from config.settings import SettingsError, load_settings
from domain.adapters import valkey_bus, valkey_cache, valkey_fleet, valkey_quote_bus, valkey_rate_limit

CLUSTER = "redis://10.0.0.1:6379, redis://10.0.0.2:6379,redis://10.0.0.3:6379"
AMQP = "amqp://guest:guest@rabbit:5672/"


def slots(*keys: str) -> set[int]:
    return {key_slot(key.encode()) for key in keys}


@pytest.mark.parametrize("user_id", [1, 42, 7_000, 123_456_789])
def test_the_cache_scripts_keys_of_one_user_share_a_slot(user_id: int):
    # _READ_OR_LEAD and _FILL_AND_END take all three, _FILL and _INVALIDATE the first two, await_fill MGETs two.
    keys = (valkey_cache.holdings_key(user_id), valkey_cache._version_key(user_id), valkey_cache._lease_key(user_id))
    assert len(slots(*keys)) == 1


def test_users_spread_over_the_slots():
    assert len(slots(*(valkey_cache.holdings_key(u) for u in range(1, 200)))) > 150


@pytest.mark.parametrize("process", ["web", "worker", "feed"])
def test_a_process_types_fleet_keys_share_a_slot(process: str):
    # publish pipelines a sample and the index; live MGETs every member's key.
    keys = [valkey_fleet._key(process, suffix) for suffix in ("members", "lead", "scaler", "p:host-a:12", "p:b:9")]
    assert len(slots(*keys)) == 1


def test_a_rate_limit_sync_touches_one_key_per_window():
    assert valkey_rate_limit.window_key(28_000_000).startswith("folio:{rl}:")


def test_the_invalidation_channel_and_its_acknowledgements_share_a_slot():
    channel = valkey_bus.SHARDED_CHANNEL
    assert len(slots(channel, f"{channel}:ack:0123456789abcdef", f"{channel}:ack:fedcba9876543210")) == 1


def test_the_sharded_channels_are_not_the_single_node_ones():
    # One node keeps the earlier names, so processes of the previous release still hear this one's.
    assert valkey_bus.SHARDED_CHANNEL != valkey_bus.CHANNEL
    assert valkey_quote_bus.SHARDED_CHANNEL != valkey_quote_bus.CHANNEL


def test_cluster_urls_need_rabbitmq_and_the_message_names_both_variables():
    with pytest.raises(SettingsError, match="VALKEY_CLUSTER_URLS needs BROKER_URL=amqp://"):
        load_settings({"VALKEY_CLUSTER_URLS": CLUSTER})


def test_cluster_urls_are_the_startup_nodes():
    settings = load_settings({"VALKEY_CLUSTER_URLS": CLUSTER, "BROKER_URL": AMQP})
    assert settings.valkey_cluster_nodes == ("redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3:6379")
    assert load_settings({"VALKEY_URL": "redis://127.0.0.1:6379/0"}).valkey_cluster_nodes == ()
