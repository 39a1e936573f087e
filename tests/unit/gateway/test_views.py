"""Gateway views answer with the same bytes the domain's Structs did: same fields, order and values."""

from datetime import UTC, date, datetime
from decimal import Decimal

from domain.models.holdings import Holding, Holdings
from domain.models.quotes import DailyClose, Instrument, Quote, build_snapshot
from domain.services.health import DependencyCheck, HealthReport
from domain.services.market_data import Listing
from domain.services.valuation import value_holdings
from gateway.health_schemas import checks_view, health_view
from gateway.market_data_schemas import listing_view
from gateway.portfolio_schemas import portfolio_view
from gateway.responses import json_encoder

AT = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)
INSTRUMENTS = {
    1: Instrument(id=1, symbol="AAPL", name="Apple", asset_class="equity", currency="USD", exchange="NASDAQ"),
    2: Instrument(id=2, symbol="SAP", name="SAP", asset_class="equity", currency="EUR", exchange="XETRA"),
    3: Instrument(id=3, symbol="CASH-EUR", name="Euro", asset_class="cash", currency="USD", exchange="FX"),
}


def quote(instrument_id: int, price: str) -> Quote:
    p = Decimal(price)
    return Quote(
        instrument_id=instrument_id, price=p, bid=p, ask=p, previous_close=p, day_high=p, day_low=p, volume=7, as_of=AT
    )


SNAPSHOT = build_snapshot(7, INSTRUMENTS, {1: quote(1, "190.12"), 2: quote(2, "120.5"), 3: quote(3, "1.08")}, "USD")


def test_a_portfolio_view_encodes_to_the_bytes_of_the_valuation():
    holdings = Holdings(
        user_id=42,
        items=(
            Holding(instrument_id=1, quantity=Decimal("10.5"), average_cost=Decimal("150.12345678")),
            Holding(instrument_id=2, quantity=Decimal("3"), average_cost=Decimal("130")),
        ),
    )
    portfolio = value_holdings(holdings, SNAPSHOT)
    encoded = json_encoder.encode(portfolio_view(portfolio))
    assert encoded == json_encoder.encode(portfolio)
    assert encoded.startswith(b'{"user_id":42,"base_currency":"USD","quotes_version":7,')


def test_health_views_encode_to_the_bytes_of_the_report():
    checks = {
        "database": DependencyCheck(status="up", latency_ms=1.25),
        "cache": DependencyCheck(status="down", latency_ms=1000.0, error="timed out"),
    }
    report = HealthReport(
        status="degraded", cpu_percent=12.5, memory_percent=40.0, scale_recommendation="maintain", checks=checks
    )
    assert json_encoder.encode(health_view(report)) == json_encoder.encode(report)
    assert json_encoder.encode(checks_view(checks)) == (
        b'{"database":{"status":"up","latency_ms":1.25,"error":null},'
        b'"cache":{"status":"down","latency_ms":1000.0,"error":"timed out"}}'
    )


def test_daily_closes_encode_as_before():
    listing = Listing(version=7, instrument=INSTRUMENTS[1], quote=SNAPSHOT.quotes[1])
    closes = (DailyClose(day=date(2026, 10, 29), close=Decimal("189.5")),)
    body = json_encoder.encode(listing_view(listing, closes))
    assert body.endswith(b'"daily_closes":[{"day":"2026-10-29","close":189.5}]}')
