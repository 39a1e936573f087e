"""The contract of the value-history source (the performance figures' inputs).

Run against the in-memory twin; the PostgreSQL adapter joins the parametrisation when the ledger it
reads (deposits, withdrawals, daily closes) is in the schema.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.adapters.memory.performance import InMemoryValueHistory
from domain.errors import UserNotFoundError
from domain.models.performance import DailyValue, ExternalFlow
from domain.ports.performance import ValueHistorySource

USER, QUIET, NO_SUCH_USER = 990_101, 990_102, 990_199
START = date(2026, 3, 2)


def day(n: int) -> date:
    return START + timedelta(days=n)


@pytest.fixture(params=["memory"])
def source(request: pytest.FixtureRequest) -> ValueHistorySource:
    twin = InMemoryValueHistory()
    twin.add_user(QUIET)
    twin.record(USER, *(DailyValue(day=day(i), value=Decimal(100 + i)) for i in range(10)))
    twin.record(USER, ExternalFlow(day=day(3), amount=Decimal(50)), ExternalFlow(day=day(8), amount=Decimal(-20)))
    return twin


async def test_values_oldest_first_and_flows_within_the_period_inclusive(source: ValueHistorySource):
    h = await source.history(USER, day(3), day(8))
    assert [v.day for v in h.values] == [day(i) for i in range(3, 9)]
    assert [v.value for v in h.values] == [Decimal(100 + i) for i in range(3, 9)]
    assert [(f.day, f.amount) for f in h.flows] == [(day(3), Decimal(50)), (day(8), Decimal(-20))]
    inner = await source.history(USER, day(4), day(7))
    assert (len(inner.values), inner.flows) == (4, ())


async def test_a_user_with_nothing_has_an_empty_history_and_an_unknown_user_is_refused(source: ValueHistorySource):
    h = await source.history(QUIET, day(0), day(30))
    assert (h.values, h.flows) == ((), ())
    with pytest.raises(UserNotFoundError):
        await source.history(NO_SUCH_USER, day(0), day(30))
