"""The database itself keeps the ledger whole: an entry that does not balance, or has no postings, is
refused at the commit, and no cash balance goes below zero, whatever client writes."""

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from tests.integration.ports.conftest import new_id

pytestmark = pytest.mark.integration
Session = tuple[psycopg.Connection, int]


@pytest.fixture
def session(contract_database: str) -> Iterator[Session]:
    """A connection to the suites' database and a user of this test's own."""
    with psycopg.connect(contract_database) as conn:
        user = new_id()
        conn.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, 'Ledger')", (user, f"l{user}@example.com"))
        conn.commit()
        yield conn, user


def _entry(session: Session, *postings: tuple[str, str, str]) -> None:
    conn, user = session
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO ledger_entries (user_id, kind) VALUES (%s, 'deposit') RETURNING id", (user,)
        ).fetchone()
        assert row is not None
        for line, (account, currency, amount) in enumerate(postings):
            conn.execute(
                "INSERT INTO ledger_postings (entry_id, line, account, currency, amount) VALUES (%s, %s, %s, %s, %s)",
                (row[0], line, account, currency, amount),
            )


def test_an_unbalanced_entry_is_refused_at_the_commit(session: Session):
    with pytest.raises(errors.CheckViolation, match="does not balance"):
        _entry(session, ("cash", "USD", "10"), ("bank", "USD", "-9.99999999"))
    with pytest.raises(errors.CheckViolation, match="does not balance"):  # per currency
        _entry(session, ("cash", "USD", "10"), ("bank", "EUR", "-10"))
    with pytest.raises(errors.CheckViolation, match="has no postings"):
        _entry(session)
    conn, user = session
    assert conn.execute("SELECT count(*) FROM ledger_entries WHERE user_id = %s", (user,)).fetchone() == (0,)


def test_a_balanced_entry_commits_and_its_postings_cannot_be_changed_alone(session: Session):
    _entry(session, ("cash", "USD", "10"), ("bank", "USD", "-10"))
    conn, user = session
    with pytest.raises(errors.CheckViolation, match="does not balance"), conn.transaction():
        conn.execute(
            "UPDATE ledger_postings SET amount = 11 WHERE account = 'cash'"
            " AND entry_id IN (SELECT id FROM ledger_entries WHERE user_id = %s)",
            (user,),
        )
    assert conn.execute(
        "SELECT sum(amount) FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id WHERE e.user_id = %s",
        (user,),
    ).fetchone() == (0,)


def test_no_cash_balance_goes_below_zero(session: Session):
    conn, user = session
    with pytest.raises(errors.CheckViolation), conn.transaction():
        conn.execute("INSERT INTO cash_balances (user_id, currency, balance) VALUES (%s, 'ZZZ', -0.00000001)", (user,))
