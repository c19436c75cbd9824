"""The datasets are read from the warehouse models, the one declaration of the tables."""

from __future__ import annotations

import pytest
from django.apps import apps

from etl.history import FOLDS
from etl.models import CrmDeal, CrmLead, WarehouseRow
from etl.schema import DATASETS, SYSTEM_COLUMNS, Column, dataset_of

pytestmark = pytest.mark.embedded


def test_every_warehouse_model_is_a_dataset_or_the_history_of_one() -> None:
    tables = {
        m._meta.db_table for m in apps.get_app_config("etl").get_models() if issubclass(m, WarehouseRow)
    }
    # The history tables are written by the fold before retention (etl/history.py), never by a sync.
    history = {fold.history._meta.db_table: name for name, fold in FOLDS.items()}
    assert tables == {d.table for d in DATASETS.values()} | set(history)
    assert set(history.values()) <= set(DATASETS)
    assert all(table.startswith("warehouse_") and table.endswith("_history_daily") for table in history)


def test_a_dataset_has_the_public_names_the_kinds_and_the_natural_key() -> None:
    ads = DATASETS["ad_performance_daily"]
    assert ads.table == "warehouse_ad_performance_daily" and ads.key == ("campaign_id", "date")
    assert ads.column("spend") == Column("spend", "decimal", required=True)
    assert ads.column("conversions") == Column("conversions", "decimal")
    assert ads.column("impressions").kind == "int" and ads.column("date").kind == "date"
    assert DATASETS["crm_lead"].column("converted").kind == "bool"
    assert DATASETS["crm_lead"].column("created_time").kind == "datetime"
    assert DATASETS["abm_engagement_daily"].column("intent_keywords").kind == "str"  # a text field
    assert not any(
        name in SYSTEM_COLUMNS or name == "id" for d in DATASETS.values() for name in d.column_names
    )


def test_leads_and_deals_share_their_attribution_columns() -> None:
    tail = (
        "lead_source",
        "campaign_id",
        "campaign_name",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "owner",
    )
    lead, deal = dataset_of(CrmLead), dataset_of(CrmDeal)
    assert tuple(lead.column_names[-7:]) == tuple(deal.column_names[-7:]) == tail

    def lengths(model: type[WarehouseRow]) -> list[int | None]:
        return [getattr(model._meta.get_field(name), "max_length", None) for name in tail]

    assert lengths(CrmLead) == lengths(CrmDeal)
