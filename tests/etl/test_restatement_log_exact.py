"""The restatement log keeps a figure exactly as PostgreSQL's numeric(20,6) holds it: every digit,
no float on the way (SQLite, the embedded default, holds decimals as floats to begin with)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.models import Connection
from tests.etl.test_load import connection, csv_rows, load
from tests.etl.test_restatement_log import logged

pytestmark = pytest.mark.django_db
__all__ = ["connection"]  # the fixture, shared with the module that defines it


def test_a_large_decimal_figure_keeps_every_digit(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "98765432109876.543210")), run=1)
    load(connection, csv_rows(("1", "2026-11-01", 3, "98765432109876.543211")), run=2)
    assert logged(connection) == {
        ("1", date(2026, 11, 1), "spend", Decimal("98765432109876.543210"), Decimal("98765432109876.543211"), 2)
    }
