"""Staging writes on PostgreSQL: a background writer thread, kept from step to step in a worker."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
from django.db import connection, transaction
from django.utils import timezone

from connectors.models import Connection
from etl import background_writer
from etl.background_writer import BackgroundWriter, InlineWriter, staging_writes
from etl.models import RawPage, SyncRun
from etl.staging import stage_row
from tenancy.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process keeps one writer between blocks, as a worker's pool process does."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # the tests' own is 0
    saved = dict(background_writer._kept)
    background_writer.keep_between_steps()
    try:
        yield
    finally:
        writer = background_writer._kept["writer"]
        if writer is not None:
            writer.close()  # its connection would keep the test database from being dropped
        background_writer._kept.update(saved)


def test_writes_run_in_order_on_another_connection_and_fail_at_the_end() -> None:
    seen: list[int] = []
    with staging_writes() as writer:
        assert isinstance(writer, BackgroundWriter)
        for i in range(5):
            writer.submit(partial(seen.append, i))
        writer.submit(lambda: seen.append(backend_pid()))
    assert seen[:5] == [0, 1, 2, 3, 4]
    assert seen[5] != backend_pid()

    with pytest.raises(ZeroDivisionError), staging_writes() as writer:
        writer.submit(lambda: 1 / 0)
        writer.submit(lambda: seen.append(99))  # skipped: the block has already failed
    assert 99 not in seen


def test_inside_a_transaction_writes_run_inline() -> None:
    with transaction.atomic(), staging_writes() as writer:
        assert isinstance(writer, InlineWriter)


def test_a_kept_writer_reuses_its_thread_and_connection_and_recovers_from_a_failure(kept: None) -> None:
    pids: list[int] = []
    with staging_writes() as first:
        first.submit(lambda: pids.append(backend_pid()))
    with pytest.raises(ValueError), staging_writes() as second:
        second.submit(lambda: int("not a number"))
    with staging_writes() as third:
        third.submit(lambda: pids.append(backend_pid()))
    assert first is second is third
    assert pids[0] == pids[1] != backend_pid()


def test_a_staged_row_keeps_its_text_exactly() -> None:
    org = Organization.objects.create(name="Acme", slug="acme")
    conn = Connection.objects.create(organization=org, platform="linkedin_ads", account_id="508")
    today = timezone.now().date()
    run = SyncRun.objects.create(connection=conn, window_start=today, window_end=today)
    text = '[{"q": "it\'s \\"quoted\\" \\\\ and ; -- not SQL", "e": "é😀"}]'
    stage_row(
        RawPage,
        sync_run_id=run.pk,
        stream="s",
        seq=0,
        record_count=1,
        records=text,
        created_at=timezone.now(),
    )
    assert RawPage.objects.get(sync_run=run).records == text
