"""``start_background_syncs --plan``: the plan as a table, then one verdict per credential."""

from __future__ import annotations

from collections.abc import Callable

from etl.sync_plan import PlanLine


def _window(line: PlanLine) -> str:
    what = "backfill" if line.backfill else "sync"
    return f"{what} {line.window.start:%d %b}–{line.window.end:%d %b %Y} ({line.window.days} d)"


def _verdict(line: PlanLine) -> str:
    if line.credential is None:
        return "no daily budget"
    if line.days is None:
        return f"budget not known (set {line.credential.budget.setting})"
    if line.days == 1:
        return "fits"
    return f"does not fit: would take {line.days} days"


def plan_lines(lines: list[PlanLine]) -> list[str]:
    """The table: per platform and connection, the window, the calls, the credential's spend today,
    its budget and whether the connection (after the ones before it on the same credential) fits."""
    header = (
        f"{'platform':<13} {'connection':<34} {'window':<36} {'calls':>7} "
        f"{'spent today':>11} {'budget':>9}  verdict"
    )
    out = [header, "-" * len(header)]
    for line in sorted(lines, key=lambda found: found.connection.platform):
        connection = line.connection
        label = (connection.name or connection.account_id)[:34]
        calls = f"{'' if line.exact else '≥'}{line.calls:,}"
        budget = line.credential.budget if line.credential else None
        amount = f"{budget.amount:,}" if budget and budget.amount else "—"
        spent = f"{line.spent_today:,}" if line.credential else "—"
        out.append(
            f"{connection.platform:<13} {label:<34} {_window(line):<36} {calls:>7} {spent:>11} {amount:>9}  "
            f"{_verdict(line)}"
        )
    return out


def credential_lines(lines: list[PlanLine]) -> list[str]:
    """One sentence per credential: what the plan costs it, on top of what it spent, against what."""
    last: dict[tuple[str, str], PlanLine] = {}
    for line in lines:
        if line.credential is not None:
            last[(line.credential.platform, line.credential.label)] = line
    out = []
    for line in last.values():
        assert line.credential is not None
        budget = line.credential.budget
        total = line.planned_before + line.calls
        day = "any 24 hours" if budget.rolling else "UTC day"
        head = f"{line.connection.platform}: {budget.holder} ({line.credential.label}): {total:,} {budget.unit} planned"
        if budget.amount is None:
            out.append(f"{head}; the platform publishes no budget ({budget.setting} sets one)")
            continue
        verdict = "fits today" if line.days == 1 else f"does not fit today: would take {line.days} days"
        out.append(f"{head} + {line.spent_today:,} spent of {budget.amount:,} per {day}: {verdict}")
    return out


def write_plan(lines: list[PlanLine], write: Callable[[str], None], heading: str) -> None:
    write(heading)
    for text in plan_lines(lines):
        write(text)
    for text in credential_lines(lines):
        write(text)
