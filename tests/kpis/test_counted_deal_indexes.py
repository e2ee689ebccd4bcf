"""A full run copies the deals without CountedDeal's indexes and builds them again: those its shards read
before they start, the one by customer in the shard that completes the copy. Whatever fails in between,
the next full run leaves the table with every index its migrations created."""

import pytest
from django.db import connection

from kpis import services
from kpis.models import KpiRun
from tests.kpis.fixtures import build_fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: on SQLite the copy keeps its indexes")


def indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'kpis_counteddeal'")
        return {name for (name,) in cursor.fetchall()}


def test_the_indexes_come_back_after_the_shard_that_completes_the_copy_failed(monkeypatch):
    migrated = indexes()
    build_fixture()
    complete_copy = services.changes.complete_copy

    def failing():
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.changes, "complete_copy", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    # the copy was committed with the primary key and the indexes the shards read, not the one by customer
    by_customer = {name for name in migrated if "customer_id" in name}
    assert len(by_customer) == 1 and {"kpis_counteddeal_pkey", "counteddeal_closed_idx"} < migrated
    assert indexes() == migrated - by_customer

    monkeypatch.setattr(services.changes, "complete_copy", complete_copy)
    repaired = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)

    assert repaired.status == KpiRun.Status.SUCCEEDED and repaired.full
    assert indexes() == migrated
    again = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    assert again.status == KpiRun.Status.SUCCEEDED and indexes() == migrated
