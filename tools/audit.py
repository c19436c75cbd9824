"""Dependency audit: fail when an installed Python package has a known vulnerability.

Two sources of advisories, tried in this order:

1. ``pip-audit`` against the installed environment, with a short timeout. It asks PyPI's
   vulnerability data (the PyPA advisory database) about every installed distribution.
2. When that service cannot be reached (or it answered for none of the packages, which is how
   pip-audit reports a blocked service: every package "could not be audited", exit code 0), an
   offline advisory database in the ``insecure_full.json`` layout: ``--advisories FILE``, or the
   one the ``safety-db`` package installs, checked here with ``packaging.specifiers`` against
   every installed distribution.

Only current data can vouch for anything. The one offline database a package registry offers,
``safety-db``, stopped at a snapshot of July 2021 (later releases of pyup's data are served only
by its online service), so it can still find an old vulnerability, which fails the audit, but
a database older than ``--max-age-days`` (30) never makes the audit pass: it then ends with
``Audit NOT DONE`` and a warning that names the source that could not be reached and the age of
the data that was used instead.

Each finding is one line: package, installed version, advisory id, fixed versions. The last line
is the verdict. Exit codes: 0 ``Audit passed`` (current data knows of no vulnerability), 1
``Audit FAILED`` (a known vulnerability), 2 ``Audit NOT DONE`` (no current data could be read:
nothing is known, and nothing was ruled out). ``make test`` fails on 1 and warns on 2.

Usage: ``python tools/audit.py [--timeout SECONDS] [--offline] [--advisories FILE] [--max-age-days N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SNAPSHOT_DISTRIBUTION = "safety-db"
SNAPSHOT_FILE = "safety_db/insecure_full.json"
DEFAULT_TIMEOUT_SECONDS = 15
# Offline advisory data older than this can find vulnerabilities but never make the audit pass.
DEFAULT_MAX_AGE_DAYS = 30
ONLINE_SOURCE = "The online check (pip-audit asking PyPI's vulnerability data)"
# pip-audit asks the service once per package; the whole run gets this many times the per-request timeout.
RUN_TIMEOUT_FACTOR = 8

EXIT_CLEAN = 0
EXIT_VULNERABLE = 1
EXIT_NOT_CHECKED = 2


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


@dataclass(frozen=True)
class Finding:
    """One known vulnerability of one installed distribution."""

    package: str
    version: str
    advisory: str
    fixed_in: tuple[str, ...]

    def line(self) -> str:
        fixed = ", ".join(self.fixed_in) if self.fixed_in else "no fixed version known"
        return f"VULNERABLE {self.package} {self.version} {self.advisory} fixed in: {fixed}"


@dataclass
class OnlineResult:
    """What pip-audit said: the findings, and which distributions it could not audit."""

    ran: bool
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)
    audited: set[str] = field(default_factory=set)
    skipped: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- the online check


def run_pip_audit(timeout: float) -> OnlineResult:
    """Run pip-audit on this interpreter's environment and read its JSON report."""
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--timeout",
        str(int(timeout)),
        "--skip-editable",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout * RUN_TIMEOUT_FACTOR)
    except FileNotFoundError:
        return OnlineResult(False, "the Python interpreter could not be run")
    except subprocess.TimeoutExpired:
        return OnlineResult(False, f"pip-audit did not finish within {timeout * RUN_TIMEOUT_FACTOR:g} s")
    if "No module named pip_audit" in done.stderr:
        return OnlineResult(False, "pip-audit is not installed")
    return read_pip_audit_report(done.stdout, done.stderr)


def read_pip_audit_report(stdout: str, stderr: str = "") -> OnlineResult:
    """Turn pip-audit's JSON report into findings; a report that audited nothing did not run."""
    try:
        report = json.loads(stdout)
    except ValueError:
        last = (stderr.strip().splitlines() or ["no report"])[-1]
        return OnlineResult(False, f"pip-audit failed: {last[:300]}")
    dependencies = report.get("dependencies", []) if isinstance(report, dict) else []
    result = OnlineResult(True)
    for dependency in dependencies:
        name = canonicalize_name(str(dependency.get("name", "")))
        if "skip_reason" in dependency:
            result.skipped[name] = str(dependency["skip_reason"])
            continue
        result.audited.add(name)
        for vuln in dependency.get("vulns", []):
            aliases = [alias for alias in vuln.get("aliases", []) if alias != vuln.get("id")]
            advisory = str(vuln.get("id")) + (f" ({', '.join(aliases)})" if aliases else "")
            result.findings.append(
                Finding(
                    name, str(dependency.get("version", "?")), advisory, tuple(vuln.get("fix_versions", []))
                )
            )
    if not result.audited:
        sample = next(iter(result.skipped.values()), "no dependency in the report")
        return OnlineResult(
            False, f"pip-audit could not audit any package ({sample})", skipped=result.skipped
        )
    return result


# --------------------------------------------------------------------------- the offline check


@dataclass(frozen=True)
class Advisory:
    id: str
    specs: tuple[str, ...]  # each one a specifier set of affected versions, e.g. ">=1.1,<1.1.1"

    def affects(self, version: Version) -> bool:
        for spec in self.specs:
            try:
                if SpecifierSet(spec).contains(version, prereleases=True):
                    return True
            except InvalidSpecifier:
                continue
        return False

    def fixed_in(self) -> tuple[str, ...]:
        """The first safe version above each affected range (its ``<`` bound), when it has one."""
        fixes = []
        for spec in self.specs:
            try:
                bounds = [s for s in SpecifierSet(spec) if s.operator in ("<", "<=")]
            except InvalidSpecifier:
                continue
            for bound in bounds:
                fixes.append(bound.version if bound.operator == "<" else f"above {bound.version}")
        return tuple(dict.fromkeys(fixes))


@dataclass(frozen=True)
class Snapshot:
    """An offline advisory database: advisories by canonical package name, and its date."""

    source: str
    taken_on: str  # ISO date, or "unknown"
    advisories: dict[str, list[Advisory]]

    def age_days(self, today: date) -> int | None:
        """Days since the snapshot was taken; None when it carries no date."""
        try:
            return (today - date.fromisoformat(self.taken_on)).days
        except ValueError:
            return None

    def staleness(self, today: date, max_age_days: int) -> str:
        """Why this data cannot vouch for a pass (its age), or "" when it is recent enough."""
        age = self.age_days(today)
        if age is None:
            return f"{self.source} carries no date"
        if age > max_age_days:
            years = f", {age / 365.25:.1f} years" if age >= 365 else ""
            return (
                f"{self.source} holds advisories up to {self.taken_on} ({age} days old{years}; "
                f"at most {max_age_days} can vouch for a pass)"
            )
        return ""


def today() -> date:
    return datetime.now(tz=UTC).date()


def load_snapshot(path: Path, source: str = "") -> Snapshot:
    """Read an advisory file in the ``insecure_full.json`` layout of safety-db."""
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    meta = raw.get("$meta", {})
    stamp = meta.get("timestamp") if isinstance(meta, dict) else None
    taken_on = datetime.fromtimestamp(int(stamp), tz=UTC).date().isoformat() if stamp else "unknown"
    advisories: dict[str, list[Advisory]] = {}
    for name, entries in raw.items():
        if name == "$meta" or not isinstance(entries, list):
            continue
        for entry in entries:
            specs = entry.get("specs") or [entry.get("v", "")]
            advisory_id = str(entry.get("id") or "unnamed advisory")
            if entry.get("cve"):
                advisory_id += f" ({entry['cve']})"
            advisories.setdefault(canonicalize_name(name), []).append(
                Advisory(advisory_id, tuple(str(spec) for spec in specs if spec))
            )
    return Snapshot(source or str(path), taken_on, advisories)


def installed_snapshot_file() -> tuple[Path, str] | None:
    """Where the installed safety-db keeps ``insecure_full.json`` (its own module cannot be
    imported: it opens the file by a path relative to the working directory)."""
    try:
        distribution = metadata.distribution(SNAPSHOT_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(distribution.locate_file(SNAPSHOT_FILE)))
    if not path.is_file():
        return None
    return path, f"{SNAPSHOT_DISTRIBUTION} {distribution.version}"


def installed_distributions() -> dict[str, str]:
    """Every installed distribution of this environment: canonical name → version."""
    found: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), distribution.version)
    return found


def check_offline(snapshot: Snapshot, installed: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, raw_version in sorted(installed.items()):
        advisories = snapshot.advisories.get(name)
        if not advisories:
            continue
        try:
            version = Version(raw_version)
        except InvalidVersion:
            continue
        findings.extend(
            Finding(name, raw_version, advisory.id, advisory.fixed_in())
            for advisory in advisories
            if advisory.affects(version)
        )
    return findings


# --------------------------------------------------------------------------- the command


def report(findings: Sequence[Finding], gaps: Sequence[str] = ()) -> int:
    """Print the findings and the verdict; ``gaps`` say what could not be checked with current data."""
    for finding in findings:
        say(finding.line())
    for gap in gaps:
        say(f"WARNING: {gap}")
    if findings:
        packages = len({finding.package for finding in findings})
        say(
            f"Audit FAILED: {len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'} "
            f"in {packages} package(s)."
        )
        return EXIT_VULNERABLE
    if gaps:
        say(
            "Audit NOT DONE: current advisory data could not be read for every package (see the warnings "
            "above): no vulnerability is known, but none is ruled out. Run `python tools/audit.py` again "
            "where PyPI's vulnerability data can be reached."
        )
        return EXIT_NOT_CHECKED
    say("Audit passed: no known vulnerabilities.")
    return EXIT_CLEAN


def offline_audit(
    advisories: Path | None, only: Iterable[str] | None = None
) -> tuple[list[Finding], Snapshot | None]:
    """Check the installed distributions (or only those named) against the offline snapshot."""
    located = (advisories, str(advisories)) if advisories else installed_snapshot_file()
    if located is None:
        say(f"No offline advisory database is installed (pip install {SNAPSHOT_DISTRIBUTION}).")
        return [], None
    path, source = located
    snapshot = load_snapshot(path, source)
    say(
        f"Offline check against {snapshot.source}: advisories known up to {snapshot.taken_on}; "
        "anything published later is not covered by this check."
    )
    installed = installed_distributions()
    if only is not None:
        wanted = set(only)
        installed = {name: version for name, version in installed.items() if name in wanted}
    return check_offline(snapshot, installed), snapshot


def offline_gap(snapshot: Snapshot | None, max_age_days: int, what: str) -> list[str]:
    """What the offline check of ``what`` leaves unchecked: nothing when its data is recent."""
    if snapshot is None:
        return [f"{what} could not be checked: no offline advisory database either."]
    stale = snapshot.staleness(today(), max_age_days)
    return [f"{what} checked only against old data: {stale}."] if stale else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds for each request of the online check (default %(default)s)",
    )
    parser.add_argument("--offline", action="store_true", help="skip the online check")
    parser.add_argument("--advisories", type=Path, help="an advisory file in insecure_full.json layout")
    parser.add_argument(
        "--max-age-days",
        type=int,
        default=DEFAULT_MAX_AGE_DAYS,
        help="offline advisory data older than this never makes the audit pass (default %(default)s)",
    )
    args = parser.parse_args(argv)

    online = OnlineResult(False, "skipped (--offline)") if args.offline else run_pip_audit(args.timeout)
    if online.ran:
        say(f"Online check (pip-audit): {len(online.audited)} package(s) audited.")
        findings = list(online.findings)
        gaps: list[str] = []
        if online.skipped:
            skipped = ", ".join(sorted(online.skipped))
            say(f"pip-audit could not audit {len(online.skipped)} package(s): {skipped}; checked offline.")
            offline_findings, snapshot = offline_audit(args.advisories, only=online.skipped)
            findings.extend(offline_findings)
            gaps = offline_gap(snapshot, args.max_age_days, f"{len(online.skipped)} package(s) ({skipped})")
        return report(findings, gaps)
    say(f"WARNING: {ONLINE_SOURCE} could not run: {online.reason}.")
    findings, snapshot = offline_audit(args.advisories)
    return report(findings, offline_gap(snapshot, args.max_age_days, "Every package"))


if __name__ == "__main__":
    sys.exit(main())
