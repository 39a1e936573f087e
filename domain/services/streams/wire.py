"""A portfolio's JSON in pieces: each holding encoded once and kept, so a stream re-encodes only what moved.

The pieces join into exactly the bytes the whole portfolio encodes to: a holding's and a cash line's
`weight` is their last field (it changes with every total), so each is kept encoded up to it, and the
portfolio's own fields are encoded around the joined lines (`msgspec.Raw`).
"""

from decimal import Decimal

import msgspec

from domain.models.holdings import Portfolio, ValuedCash, ValuedHolding

_OPEN_WEIGHT = b'"weight":0}'  # a line encoded with a zero weight ends so; the weight goes where the 0 was


class JsonPortfolioWire:
    """The domain's structs as JSON (decimals as numbers); the gateway's subclass encodes its wire views."""

    def __init__(self, encoder: msgspec.json.Encoder | None = None) -> None:
        self._encode = (encoder or msgspec.json.Encoder(decimal_format="number")).encode

    def holding_view(self, holding: ValuedHolding) -> object:
        return holding

    def cash_view(self, cash: ValuedCash) -> object:
        return cash

    def portfolio_view(self, portfolio: Portfolio) -> msgspec.Struct:
        return portfolio

    def holding(self, holding: ValuedHolding) -> bytes:
        """`holding` (given with a zero weight) encoded up to its weight's value."""
        return self._open(self.holding_view(holding))

    def cash(self, cash: ValuedCash) -> bytes:
        """`cash` (given with a zero weight) encoded up to its weight's value."""
        return self._open(self.cash_view(cash))

    def whole(self, portfolio: Portfolio) -> bytes:
        """The whole portfolio, lines included, in one encode."""
        return self._encode(self.portfolio_view(portfolio))

    def portfolio(self, portfolio: Portfolio, holdings: bytes | memoryview, cash: bytes | memoryview) -> bytes:
        """The whole portfolio: its own fields from `portfolio`, and its lines as `lines` joined them."""
        # Encoding does not check a field's type: the lines go in already encoded.
        view = msgspec.structs.replace(
            self.portfolio_view(portfolio), holdings=msgspec.Raw(holdings), cash=msgspec.Raw(cash)
        )
        return self._encode(view)

    def lines(self, heads: list[bytes], weights: list[Decimal]) -> bytes:
        """A JSON array of lines from their heads (from `holding` or `cash`) and their weights, in order."""
        if not heads:
            return b"[]"
        # All the weights in one call; a number never holds a comma.
        numbers = self._encode(weights)[1:-1].split(b",")
        parts = [b"["]
        for head, number in zip(heads, numbers, strict=True):
            parts += (head, number, b"},")
        parts[-1] = b"}]"
        return b"".join(parts)

    def _open(self, line: object) -> bytes:
        encoded = self._encode(line)
        if not encoded.endswith(_OPEN_WEIGHT):
            raise ValueError("a portfolio line must end with its weight, valued zero")
        return encoded[:-2]
