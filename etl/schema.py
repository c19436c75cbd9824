"""Canonical datasets: the columns each warehouse table takes from a sync, their kinds, the
natural key the loader upserts on, and the date column that bounds a sync window.

The warehouse models (``etl.models``) are the one declaration of the tables: a dataset is read from
its model. Its columns are the model's fields in order, the system columns aside; a column is
required when it is NOT NULL; the natural key is the model's ``*_natural_key`` constraint without the
connection. What a model cannot say, the window and retention columns, is given here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from etl.models import (
    AbmAccount,
    AbmEngagementDaily,
    AdPerformanceDaily,
    CrmDeal,
    CrmLead,
    EmailCampaign,
    WarehouseRow,
)


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
    # A date column bounding a sync window: rows of the window the platform no longer reports go.
    window_column: str | None = None
    # The column retention prunes on (rows older than RETENTION_DAYS); default the window column.
    retention_column: str | None = None

    @property
    def prune_column(self) -> str | None:
        return self.retention_column or self.window_column

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# Columns every warehouse table carries, set by the loader rather than the source.
SYSTEM_COLUMNS = ("organization_id", "connection_id", "platform", "sync_run_id", "synced_at")

# Model field types → column kinds; the first match wins (subclasses before their bases).
_KINDS: tuple[tuple[type[models.Field], str], ...] = (
    (models.BooleanField, "bool"),
    (models.IntegerField, "int"),  # BigIntegerField too
    (models.DecimalField, "decimal"),
    (models.DateTimeField, "datetime"),  # before DateField, its base
    (models.DateField, "date"),
    (models.CharField, "str"),
    (models.TextField, "str"),
)


def _kind(field: models.Field) -> str:
    for field_type, kind in _KINDS:
        if isinstance(field, field_type):
            return kind
    raise TypeError(f"{field.model.__name__}.{field.name}: no column kind for {type(field).__name__}")


def dataset_of(
    model: type[WarehouseRow], *, window_column: str | None = None, retention_column: str | None = None
) -> Dataset:
    """The dataset of a warehouse model: its table, columns in field order, kinds and natural key."""
    table = str(model._meta.db_table)
    key = next(
        tuple(name for name in constraint.fields if name != "connection")
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.name == f"{table}_natural_key"
    )
    columns = tuple(
        Column(str(field.column), _kind(field), required=not field.null)
        for field in model._meta.concrete_fields
        if not field.primary_key and field.column not in SYSTEM_COLUMNS
    )
    return Dataset(
        name=table.removeprefix("warehouse_"),
        table=table,
        columns=columns,
        key=key,
        window_column=window_column,
        retention_column=retention_column,
    )


AD_PERFORMANCE_DAILY = dataset_of(AdPerformanceDaily, window_column="date")
EMAIL_CAMPAIGN = dataset_of(EmailCampaign, retention_column="send_time")
CRM_LEAD = dataset_of(CrmLead, retention_column="modified_time")
CRM_DEAL = dataset_of(CrmDeal, retention_column="modified_time")
ABM_ACCOUNT = dataset_of(AbmAccount, retention_column="synced_at")
ABM_ENGAGEMENT_DAILY = dataset_of(AbmEngagementDaily, window_column="date")

DATASETS = {
    d.name: d
    for d in (AD_PERFORMANCE_DAILY, EMAIL_CAMPAIGN, CRM_LEAD, CRM_DEAL, ABM_ACCOUNT, ABM_ENGAGEMENT_DAILY)
}


def get_dataset(name: str) -> Dataset:
    return DATASETS[name]
