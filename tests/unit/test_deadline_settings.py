"""The database deadlines: seconds, positive, and the old millisecond variable refused by name."""

import pytest

from config.settings import SettingsError, load_settings


def test_deadlines_are_seconds_with_a_longer_default_for_writes():
    defaults = load_settings({})
    assert (defaults.db_deadline_s, defaults.db_write_deadline_s) == (1.0, 3.0)
    tuned = load_settings({"DB_DEADLINE_S": "0.25", "DB_WRITE_DEADLINE_S": "2"})
    assert (tuned.db_deadline_s, tuned.db_write_deadline_s) == (0.25, 2.0)


def test_a_deadline_that_is_not_positive_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="DB_DEADLINE_S"):
        load_settings({"DB_DEADLINE_S": "0"})


def test_the_replaced_millisecond_setting_is_refused_rather_than_ignored():
    with pytest.raises(SettingsError, match=r"DATABASE_DEADLINE_MS .*DB_DEADLINE_S"):
        load_settings({"DATABASE_DEADLINE_MS": "3000"})
