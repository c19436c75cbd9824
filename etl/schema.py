"""Canonical datasets: the columns each warehouse table takes from a sync, their kinds, the
natural key the loader upserts on, and the date column that bounds a sync window."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str | int | decimal | date | datetime | bool
    required: bool = False


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key, within one connection
    window_column: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# Columns every warehouse table carries, set by the loader rather than the source.
SYSTEM_COLUMNS = ("organization_id", "connection_id", "platform", "sync_run_id", "synced_at")

AD_PERFORMANCE_DAILY = Dataset(
    name="ad_performance_daily",
    table="warehouse_ad_performance_daily",
    columns=(
        Column("account_id", "str", required=True),
        Column("account_name", "str"),
        Column("campaign_id", "str", required=True),
        Column("campaign_name", "str"),
        Column("campaign_status", "str"),
        Column("date", "date", required=True),
        Column("currency", "str", required=True),
        Column("impressions", "int", required=True),
        Column("clicks", "int", required=True),
        Column("spend", "decimal", required=True),
        Column("conversions", "decimal"),
        Column("conversion_value", "decimal"),
    ),
    key=("campaign_id", "date"),
    window_column="date",
)

DATASETS = {d.name: d for d in (AD_PERFORMANCE_DAILY,)}


def get_dataset(name: str) -> Dataset:
    return DATASETS[name]
