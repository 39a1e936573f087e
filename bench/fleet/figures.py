"""Figures as a scenario measures them: printed at once, each with the bound it is held to."""

from dataclasses import dataclass, field


@dataclass
class Figures:
    scenario: str
    rows: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        print(f"\n== {self.scenario}", flush=True)

    def note(self, label: str, value: object) -> None:
        """A figure shown, not held to a bound."""
        self.rows.append((label, str(value), "", True))
        print(f"   {label}: {value}", flush=True)

    def check(self, label: str, value: object, ok: bool, bound: str) -> None:
        self.rows.append((label, str(value), bound, ok))
        print(f"   {'PASS' if ok else 'FAIL'} {label}: {value} (expected {bound})", flush=True)

    @property
    def failures(self) -> list[str]:
        return [
            f"{self.scenario}: {label} = {value}, expected {bound}" for label, value, bound, ok in self.rows if not ok
        ]
