"""Normalization throughput per platform against the parse floor.

For every stream of every connector, the recorded fixture page is replicated into N distinct,
valid records (unique natural keys), cut into pages and serialized as the platform would send
them. Two things are timed on the same bytes:

- the parse floor: a plain ``json.loads`` of every page;
- normalize: the pipeline's own ``etl.normalize.normalize_pages``: parsing the raw pages and
  normalizing their records into the canonical frame, deduplicated, with quarantine.

The ratio normalize / floor is what the goal (at most 2x) is about.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sales_dashboard.settings.test")

FIXTURES = ROOT / "fixtures"
FIXTURE_PAGES = {
    ("linkedin_ads", "ad_analytics"): "linkedin_ads/ad_analytics/page_1.json",
    ("google_ads", "campaign_performance"): "google_ads/campaign_performance/page_1.json",
    ("mailchimp", "campaigns"): "mailchimp/campaigns/page_1.json",
    ("zoho_crm", "leads"): "zoho_crm/leads/page_1.json",
    ("zoho_crm", "deals"): "zoho_crm/deals/page_1.json",
    ("demandbase", "accounts"): "demandbase/accounts/page_1.json",
    ("demandbase", "engagement"): "demandbase/engagement/page_1.json",
    ("demandbase", "intent"): "demandbase/intent/page_1.json",
}


def _set_path(record: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target: Any = record
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


def synthetic_records(platform: str, stream: Any, rows: int) -> list[dict[str, Any]]:
    """``rows`` valid records built from the fixture's good records, each with its own key."""
    from etl.normalize import normalize
    from etl.schema import get_dataset

    dataset = get_dataset(stream.dataset)
    fixture = json.loads((FIXTURES / FIXTURE_PAGES[(platform, stream.name)]).read_text())
    good = []
    for record in fixture:
        if isinstance(record, dict) and not normalize([record], stream.mapping, dataset).quarantined:
            good.append(record)
    first_key = stream.mapping[dataset.key[0]]
    records = []
    for i in range(rows):
        record = copy.deepcopy(good[i % len(good)])
        unique = (
            f"urn:li:sponsoredCampaign:{9_000_000 + i}"
            if first_key.convert == "urn_id"
            else str(9_000_000 + i)
        )
        _set_path(record, first_key.path, unique)
        records.append(record)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="records per stream")
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    args = parser.parse_args()

    import django

    django.setup()
    from connectors.registry import connector_classes
    from etl.normalize import normalize_pages
    from etl.schema import get_dataset

    results = []
    print(f"normalize: {args.rows:,} records per stream, pages of {args.page_size:,}; best of {args.repeat}")
    print(f"{'platform/stream':34} {'parse floor':>14} {'normalize':>14} {'ratio':>7}")
    for platform, cls in sorted(connector_classes().items()):
        for stream in cls.streams:
            if (platform, stream.name) not in FIXTURE_PAGES:
                continue
            records = synthetic_records(platform, stream, args.rows)
            pages = [
                json.dumps(records[i : i + args.page_size]).encode()
                for i in range(0, len(records), args.page_size)
            ]
            del records
            dataset = get_dataset(stream.dataset)
            floor = ours = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                for page in pages:
                    json.loads(page)
                floor = min(floor, time.perf_counter() - started)
                started = time.perf_counter()
                result = normalize_pages(pages, stream.mapping, dataset)
                ours = min(ours, time.perf_counter() - started)
            assert len(result.frame) == args.rows and not result.quarantined, (
                "benchmark records must be valid"
            )
            name = f"{platform}/{stream.name}"
            print(
                f"{name:34} {args.rows / floor:>9,.0f} r/s {args.rows / ours:>9,.0f} r/s {ours / floor:>6.2f}x"
            )
            results.append(
                {
                    "stream": name,
                    "rows": args.rows,
                    "floor_rows_s": args.rows / floor,
                    "normalize_rows_s": args.rows / ours,
                    "ratio_to_floor": ours / floor,
                }
            )
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "normalize.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
