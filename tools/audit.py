"""Dependency audit: fail when an installed Python package has a known vulnerability.

Two sources of advisories, tried in this order:

1. ``pip-audit`` against the installed environment, with a short timeout. It asks an online
   vulnerability service about every installed distribution.
2. When that service cannot be reached (or it answered for none of the packages, which is how
   pip-audit reports a blocked service: every package "could not be audited", exit code 0), the
   offline advisory database of the ``safety-db`` package (``insecure_full.json``), a dated
   snapshot, checked here with ``packaging.specifiers`` against every installed distribution.
   The output says that the online check could not run and how old the snapshot is: advisories
   published after that date are not known to this path.

Each finding is one line: package, installed version, advisory id, fixed versions. The exit code
is 0 when nothing is known to be vulnerable, 1 when something is, and 2 when no check could run
at all (so a silent pass is impossible).

Usage: ``python tools/audit.py [--timeout SECONDS] [--offline] [--advisories FILE]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SNAPSHOT_DISTRIBUTION = "safety-db"
SNAPSHOT_FILE = "safety_db/insecure_full.json"
DEFAULT_TIMEOUT_SECONDS = 15
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
    taken_on: str
    advisories: dict[str, list[Advisory]]


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


def report(findings: Sequence[Finding]) -> int:
    for finding in findings:
        say(finding.line())
    if findings:
        packages = len({finding.package for finding in findings})
        say(
            f"{len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'} in {packages} package(s)."
        )
        return EXIT_VULNERABLE
    say("No known vulnerabilities.")
    return EXIT_CLEAN


def offline_audit(advisories: Path | None, only: Iterable[str] | None = None) -> tuple[list[Finding], bool]:
    """Check the installed distributions (or only those named) against the offline snapshot."""
    located = (advisories, str(advisories)) if advisories else installed_snapshot_file()
    if located is None:
        say(f"The offline advisory snapshot is not installed (pip install {SNAPSHOT_DISTRIBUTION}).")
        return [], False
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
    return check_offline(snapshot, installed), True


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
    args = parser.parse_args(argv)

    online = OnlineResult(False, "skipped (--offline)") if args.offline else run_pip_audit(args.timeout)
    if online.ran:
        say(f"Online check (pip-audit): {len(online.audited)} package(s) audited.")
        findings = list(online.findings)
        if online.skipped:
            say(
                f"pip-audit could not audit {len(online.skipped)} package(s): {', '.join(sorted(online.skipped))}; "
                "they are checked offline."
            )
            offline_findings, _ = offline_audit(args.advisories, only=online.skipped)
            findings.extend(offline_findings)
        return report(findings)
    say(f"The online vulnerability check could not run: {online.reason}.")
    findings, checked = offline_audit(args.advisories)
    if not checked:
        say("No vulnerability check could run.")
        return EXIT_NOT_CHECKED
    return report(findings)


if __name__ == "__main__":
    sys.exit(main())
