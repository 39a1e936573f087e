"""The report PDF: reportlab lays out the text and tables, matplotlib (Agg, no display) draws the charts.

Both libraries are imported inside the functions that use them, so only the worker loads them
(the web process wires this adapter but never renders). Charts use matplotlib's object API
(`Figure` + the Agg canvas), not `pyplot`, whose global state is not safe across worker threads.
"""

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from domain.models.reports import Allocation, PortfolioAnalytics, ReportDocument
from domain.ports.reports import ReportRenderer

CHART_DPI = 110  # sharp in print at the size drawn; each extra dot costs render time
INK = "#1f3b57"
ACCENT = "#2e86ab"
PALETTE = ("#2e86ab", "#f18f01", "#c73e1d", "#3b1f2b", "#6a994e", "#8d6a9f", "#bc4b51", "#5b8e7d")


def warm_up() -> None:
    """Import the heavy libraries and build the font cache once, so the first report is not slow."""
    import matplotlib.backends.backend_agg
    import reportlab.platypus  # noqa: F401 - imported for its side effect: a warm module cache

    _ = matplotlib.backends.backend_agg.FigureCanvasAgg


class ReportlabRenderer(ReportRenderer):
    def render(self, document: ReportDocument) -> bytes:
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm
        from reportlab.platypus import SimpleDocTemplate

        out = io.BytesIO()
        a = document.analytics
        doc = SimpleDocTemplate(
            out,
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=16 * mm,
            bottomMargin=16 * mm,
            title=f"Folio portfolio report {document.report_id}",
            author="Folio",
            subject=f"Portfolio report for {document.recipient_name}",
        )
        doc.build(_story(document, a, doc.width))
        return out.getvalue()


def _story(document: ReportDocument, a: PortfolioAnalytics, width: float) -> list[Any]:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, PageBreak, Paragraph, Spacer

    styles = getSampleStyleSheet()
    cur = a.base_currency
    when = document.generated_at.strftime("%d %B %Y, %H:%M UTC")
    as_of = a.as_of.isoformat() if a.as_of else "no price history"
    name = escape(document.recipient_name)  # the user's text, not markup: `<` or `&` would break the paragraph
    story: list[Any] = [
        Paragraph("Portfolio report", styles["Title"]),
        Paragraph(f"{name} &middot; generated {when} &middot; prices to {as_of}", styles["Normal"]),
        Spacer(1, 6 * mm),
        Paragraph("Summary", styles["Heading2"]),
        _table(_summary_rows(a), [width * 0.45, width * 0.55]),
    ]
    if len(a.series) >= 2:  # a line needs two points
        story += [Spacer(1, 4 * mm), Paragraph(f"Value over the year ({cur})", styles["Heading2"])]
        story.append(Image(io.BytesIO(_value_chart(a)), width=width, height=width * 0.42))
    story += [PageBreak(), Paragraph("Allocation", styles["Heading2"])]
    if a.by_asset_class:
        story.append(Image(io.BytesIO(_allocation_chart(a)), width=width, height=width * 0.38))
        story += [Spacer(1, 3 * mm), _table(_allocation_rows("Asset class", a.by_asset_class, cur), None)]
        story += [Spacer(1, 3 * mm), _table(_allocation_rows("Currency", a.by_currency, cur), None)]
    else:
        story.append(Paragraph("The portfolio holds nothing.", styles["Normal"]))
    story += [Spacer(1, 5 * mm), Paragraph("Top holdings", styles["Heading2"])]
    story.append(_table(_top_rows(a), None))
    story += [Spacer(1, 5 * mm), Paragraph(_NOTES, styles["Italic"])]
    return story


_NOTES = (
    "Values are in the base currency at today's prices and exchange rates. The yearly series uses daily"
    " closes of today's holdings (a missing day repeats the previous close). Volatility is annualised from"
    " daily returns; the Sharpe ratio uses the configured risk-free rate; maximum drawdown is the largest"
    " fall from a peak (from the peak's day to the trough's); the Herfindahl index is the sum of squared"
    " weights (1 = a single holding)."
)


def _money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f} %"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _drawdown(a: PortfolioAnalytics) -> str:
    if a.max_drawdown is None:
        return "n/a"
    if a.drawdown_peak is None or a.drawdown_trough is None or a.max_drawdown == 0:
        return f"{a.max_drawdown * 100:.2f} %"
    return f"{a.max_drawdown * 100:.2f} % ({a.drawdown_peak.isoformat()} to {a.drawdown_trough.isoformat()})"


def _summary_rows(a: PortfolioAnalytics) -> list[list[str]]:
    cur = a.base_currency
    return [
        ["Figure", "Value"],
        ["Total value", _money(a.total_value, cur)],
        ["Cost basis", _money(a.cost_basis, cur)],
        ["Unrealised P&L", f"{_money(a.unrealized_pnl, cur)} ({_pct(a.unrealized_pnl_pct)})"],
        ["Holdings", str(a.holdings_count)],
        ["Return 1 month", _pct(a.return_1m)],
        ["Return 3 months", _pct(a.return_3m)],
        ["Return year to date", _pct(a.return_ytd)],
        ["Return 1 year", _pct(a.return_1y)],
        ["Volatility (annualised)", "n/a" if a.volatility is None else f"{a.volatility * 100:.2f} %"],
        ["Sharpe ratio", _num(a.sharpe)],
        ["Maximum drawdown", _drawdown(a)],
        ["Concentration (Herfindahl)", _num(a.herfindahl, 3)],
    ]


def _allocation_rows(title: str, rows: Sequence[Allocation], currency: str) -> list[list[str]]:
    return [[title, f"Value ({currency})", "Weight"]] + [
        [r.key, f"{r.value:,.2f}", f"{r.weight * 100:.1f} %"] for r in rows
    ]


def _top_rows(a: PortfolioAnalytics) -> list[list[str]]:
    head = ["Symbol", "Name", "Class", f"Value ({a.base_currency})", "Unrealised P&L", "Weight"]
    return [head] + [
        [t.symbol, t.name[:34], t.asset_class, f"{t.value:,.2f}", f"{t.unrealized_pnl:,.2f}", f"{t.weight * 100:.1f} %"]
        for t in a.top_holdings
    ]


def _table(rows: list[list[str]], widths: list[float] | None) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, hAlign="LEFT", repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(INK)),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#eef3f7")]),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8d3dc")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=CHART_DPI)
    return out.getvalue()


def _value_chart(a: PortfolioAnalytics) -> bytes:
    from matplotlib.figure import Figure

    # Fixed margins rather than a constrained layout: a layout engine draws the figure twice.
    fig = Figure(figsize=(8, 3.36))
    fig.subplots_adjust(left=0.1, right=0.98, top=0.96, bottom=0.16)
    ax = fig.add_subplot()
    days: Any = [p.day for p in a.series]  # matplotlib plots dates; its stubs say numbers
    values = [p.value for p in a.series]
    ax.plot(days, values, color=ACCENT, linewidth=1.6)
    ax.fill_between(days, values, min(values), color=ACCENT, alpha=0.12)
    ax.set_ylabel(a.base_currency)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    return _png(fig)


def _allocation_chart(a: PortfolioAnalytics) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.04))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.88, bottom=0.04, wspace=0.3)
    for i, (title, rows) in enumerate((("By asset class", a.by_asset_class), ("By currency", a.by_currency[:8]))):
        ax = fig.add_subplot(1, 2, i + 1)
        weights = [max(r.weight, 0.0) for r in rows]
        if sum(weights) <= 0:
            ax.axis("off")
            continue
        ax.pie(weights, labels=[r.key for r in rows], colors=PALETTE[: len(rows)], autopct="%1.0f%%",
               pctdistance=0.78, wedgeprops={"width": 0.42}, textprops={"fontsize": 8})  # fmt: skip
        ax.set_title(title, fontsize=10)
    return _png(fig)
