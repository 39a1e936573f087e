"""One contract for the report renderer, run against the fake and the real reportlab renderer.

What both keep: PDF bytes that name the report, for any figures and any recipient name. What only a
real PDF can show (a reader opens it, the name is on the page) is checked on the real one alone.
"""

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest
from pypdf import PdfReader

from domain.adapters.memory.reports import FakeReportRenderer
from domain.adapters.pdf import ReportlabRenderer
from domain.models.reports import Allocation, PortfolioAnalytics, ReportDocument, TopHolding, ValuePoint
from domain.ports.reports import ReportRenderer

pytestmark = pytest.mark.integration
HOSTILE_NAME = "Tom & Jerry <b>Ltd</i> (O'Brien)"  # markup characters, unbalanced tags, PDF string delimiters

EMPTY = PortfolioAnalytics(
    base_currency="USD", as_of=None, holdings_count=0, total_value=Decimal(0), cost_basis=Decimal(0),
    unrealized_pnl=Decimal(0), unrealized_pnl_pct=None, by_asset_class=(), by_currency=(), top_holdings=(), series=(),
    return_1m=None, return_3m=None, return_ytd=None, return_1y=None, volatility=None, sharpe=None, max_drawdown=None,
    herfindahl=None,
)  # fmt: skip
FULL = msgspec.structs.replace(
    EMPTY,
    as_of=date(2026, 10, 30),
    holdings_count=2,
    total_value=Decimal("15000.50"),
    cost_basis=Decimal("12000"),
    unrealized_pnl=Decimal("3000.50"),
    unrealized_pnl_pct=0.25,
    by_asset_class=(Allocation(key="equity", value=Decimal(10000), weight=0.67),
                    Allocation(key="bond", value=Decimal("5000.50"), weight=0.33)),
    by_currency=(Allocation(key="USD", value=Decimal("15000.50"), weight=1.0),),
    top_holdings=(TopHolding(symbol="AAPL", name="Apple & <Co>", asset_class="equity", value=Decimal(10000),
                             unrealized_pnl=Decimal(2000), weight=0.67),),
    series=tuple(ValuePoint(day=date(2026, 1, 1) + timedelta(days=i), value=12000 + 10 * i) for i in range(300)),
    return_1m=0.01, return_3m=-0.02, return_ytd=0.2, return_1y=0.25, volatility=0.18, sharpe=1.1, max_drawdown=0.12,
    drawdown_peak=date(2026, 3, 2), drawdown_trough=date(2026, 4, 14), herfindahl=0.55,
)  # fmt: skip


@pytest.fixture(params=["fake", "reportlab"])
def renderer(request: pytest.FixtureRequest) -> ReportRenderer:
    return FakeReportRenderer() if request.param == "fake" else ReportlabRenderer()


def document(analytics: PortfolioAnalytics, name: str = "Ada Lovelace") -> ReportDocument:
    return ReportDocument(
        report_id=str(uuid.uuid4()), user_id=7, recipient_name=name, generated_at=datetime.now(UTC), analytics=analytics
    )


@pytest.mark.parametrize("analytics", [EMPTY, FULL], ids=["empty", "full"])
def test_any_figures_make_a_pdf_that_names_the_report(renderer: ReportRenderer, analytics: PortfolioAnalytics):
    doc = document(analytics)
    pdf = renderer.render(doc)
    assert pdf.startswith(b"%PDF-")
    assert doc.report_id.encode() in pdf


def test_any_recipient_name_renders(renderer: ReportRenderer):
    doc = document(EMPTY, HOSTILE_NAME)
    assert renderer.render(doc).startswith(b"%PDF-")


# --- reportlab only: what a reader sees ------------------------------------------------------------------
def test_a_reader_opens_it_sees_the_title_and_the_name_as_written():
    doc = document(FULL, HOSTILE_NAME)
    reader = PdfReader(io.BytesIO(ReportlabRenderer().render(doc)))
    assert reader.metadata is not None
    assert reader.metadata.title == f"Folio portfolio report {doc.report_id}"
    first_page = reader.pages[0].extract_text()
    assert HOSTILE_NAME in first_page
    assert "15,000.50 USD" in first_page
    assert "12.00 % (2026-03-02 to 2026-04-14)" in first_page  # the drawdown and the days of its peak and trough
    assert len(reader.pages) >= 2  # the allocation starts a page of its own
