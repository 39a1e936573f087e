"""A stream's event, re-valued line by line as quotes move, is the portfolio route's body byte for byte."""

import random
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest

from domain.models.holdings import Cash, Holding, Holdings
from domain.models.quotes import Instrument, Quote, QuoteSnapshot, build_snapshot
from domain.services.streams.frames import QuoteMoves, Valued, moved_instruments
from domain.services.valuation import value_holdings
from gateway.dependencies import ServicesHandle
from gateway.hot_path import PortfolioFastLane
from gateway.portfolio_schemas import PortfolioViewWire, portfolio_view
from gateway.responses import json_encoder

AS_OF = datetime(2026, 10, 30, 20, tzinfo=UTC)
CURRENCIES = ("USD", "EUR", "JPY", "GBP")
UNLISTED = 999  # held, but not in the snapshot: no line
NEVER_QUOTED = 50  # listed without a quote: valued at its average cost


def _quote(iid: int, price: Decimal, previous: Decimal) -> Quote:
    return Quote(
        instrument_id=iid, price=price, bid=price, ask=price, previous_close=previous, day_high=price, day_low=price,
        volume=1, as_of=AS_OF,
    )  # fmt: skip


def _market(rng: random.Random) -> tuple[dict[int, Instrument], dict[int, Quote]]:
    instruments = {
        i: Instrument(id=i, symbol=f"S{i}", name=f"Company \"{i}\" Ünïcode", asset_class="equity",
                      currency=rng.choice(CURRENCIES), exchange="X")
        for i in range(1, NEVER_QUOTED + 1)
    }  # fmt: skip
    quotes = {}
    for i in range(1, NEVER_QUOTED):
        price = Decimal(rng.choice(("10", "10", "123.45", "0.0071", "5000.5")))  # repeats make ties
        quotes[i] = _quote(i, price, price - Decimal("0.25"))
    for n, (currency, rate) in enumerate((("EUR", "1.0843"), ("JPY", "0.006712"), ("GBP", "1.27")), start=100):
        instruments[n] = Instrument(id=n, symbol=f"CASH-{currency}", name=currency, asset_class="cash",
                                    currency="USD", exchange="FX")  # fmt: skip
        quotes[n] = _quote(n, Decimal(rate), Decimal(rate))
    return instruments, quotes


def _holdings(rng: random.Random, user_id: int) -> Holdings:
    ids = sorted(rng.sample(range(1, NEVER_QUOTED + 1), rng.randint(0, 20)) + [UNLISTED] * rng.randint(0, 1))
    items = tuple(
        Holding(instrument_id=i, quantity=Decimal(rng.choice(("1", "3", "0.5", "12.125"))),
                average_cost=Decimal(rng.choice(("9.5", "100", "0.01"))))
        for i in ids
    )  # fmt: skip
    cash = tuple(Cash(currency=c, amount=Decimal(rng.choice(("5", "1234.56")))) for c in rng.sample(CURRENCIES, 2))
    return Holdings(user_id=user_id, items=items, cash=cash)


def _route_body(holdings: Holdings, snapshot: QuoteSnapshot) -> bytes:
    return json_encoder.encode(portfolio_view(value_holdings(holdings, snapshot)))


def _data(valued: Valued) -> bytes:
    assert valued.frame is not None
    lines = valued.frame.split(b"\n")
    assert lines[0] == b"event: portfolio"
    assert lines[1] == b"id: %s" % valued.event_id.encode()
    return lines[2].removeprefix(b"data: ")


@pytest.mark.parametrize("seed", range(6))
def test_events_re_valued_line_by_line_are_the_routes_body_at_every_version(seed):
    rng = random.Random(seed)
    instruments, quotes = _market(rng)
    snapshot = build_snapshot(1, instruments, quotes, "USD")
    wire = PortfolioViewWire()
    users = [_holdings(rng, user_id) for user_id in range(1, 30)]
    valued = {h.user_id: Valued(h, "tag", snapshot, wire) for h in users}
    for h in users:
        assert _data(valued[h.user_id]) == _route_body(h, snapshot)
    for version in range(2, 12):
        moving = rng.sample(range(1, NEVER_QUOTED), 8)
        quotes = {**quotes, **{i: _quote(i, quotes[i].price + Decimal(rng.choice(("0.01", "-0.33", "7"))),
                                         quotes[i].previous_close) for i in moving}}  # fmt: skip
        new = build_snapshot(version, instruments, quotes, "USD")
        moved = moved_instruments(snapshot, new)
        assert moved == frozenset(moving)
        for h in users:
            valued[h.user_id].advance(new, moved, wire)
            assert _data(valued[h.user_id]) == _route_body(h, new), (seed, version, h.user_id)
            assert valued[h.user_id].event_id == f"{version}.tag"
        snapshot = new


def test_an_empty_portfolio_is_the_routes_body_too():
    snapshot = build_snapshot(3, {}, {}, "USD")
    holdings = Holdings(user_id=4, items=())
    data = _data(Valued(holdings, "tag", snapshot, PortfolioViewWire()))
    assert data == _route_body(holdings, snapshot)
    assert msgspec.json.decode(data)["holdings"] == []


def _lane() -> PortfolioFastLane:
    return PortfolioFastLane(None, ServicesHandle(), authenticator=None, min_size=10**9, max_entries=1000)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_lanes_body_is_the_routes_at_every_version_it_is_read_at(seed):
    # Users read now and then with versions skipped in between, a step where an exchange rate moves (every
    # line is valued again), and a quiet spell longer than the steps kept: every body is the route's.
    rng = random.Random(seed)
    instruments, quotes = _market(rng)
    lane = _lane()
    lane.moves = QuoteMoves(depth=10)
    users = [_holdings(rng, user_id) for user_id in range(1, 25)]
    for version in range(1, 60):
        if version == 20:
            quotes = {**quotes, 100: _quote(100, Decimal("1.0901"), Decimal("1.0843"))}  # EUR moves
        elif version > 1:
            moving = rng.sample(range(1, NEVER_QUOTED), rng.choice((0, 1, 8)))
            quotes = {**quotes, **{i: _quote(i, quotes[i].price + Decimal("0.01"), quotes[i].previous_close)
                                   for i in moving}}  # fmt: skip
        snapshot = build_snapshot(version, instruments, quotes, "USD")
        if 30 <= version < 45:
            continue  # nobody reads: the next reads are further back than the steps kept
        for h in users:
            if rng.random() < 0.3:
                body, coding = lane._body(h.user_id, h, snapshot, None)
                assert coding == "identity"
                assert body == _route_body(h, snapshot), (seed, version, h.user_id)


def test_the_fast_lane_values_again_only_the_lines_whose_quotes_moved():
    rng = random.Random(7)
    instruments, quotes = _market(rng)
    holdings = Holdings(user_id=3, items=tuple(Holding(instrument_id=i, quantity=Decimal(2), average_cost=Decimal(9))
                                               for i in (1, 2, 3)))  # fmt: skip
    lane = _lane()
    first = build_snapshot(1, instruments, quotes, "USD")
    lane._body(3, holdings, first, None)
    cells = list(lane.bodies[3].cells)
    unmoved = build_snapshot(2, instruments, {**quotes, 40: _quote(40, Decimal(1), Decimal(1))}, "USD")
    body, _ = lane._body(3, holdings, unmoved, None)
    assert lane.bodies[3].cells == cells  # the same line objects: nothing valued again
    assert body == _route_body(holdings, unmoved)  # yet the body names the new quote version
    moved = build_snapshot(3, instruments, {**quotes, 2: _quote(2, Decimal(77), Decimal(70))}, "USD")
    body, _ = lane._body(3, holdings, moved, None)
    assert [a is b for a, b in zip(lane.bodies[3].cells, cells, strict=True)] == [True, False, True]
    assert body == _route_body(holdings, moved)
