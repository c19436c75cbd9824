"""The dependency audit (tools/audit.py): the offline advisory check and reading pip-audit's report.

No test reaches the network: the online check is replaced by what pip-audit reports.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tools import audit

ADVISORIES = {
    "$meta": {"advisory": "fabricated for the test", "timestamp": 1625119202},
    "Example_Lib": [
        {
            "advisory": "Remote code execution in the template loader.",
            "cve": "CVE-2099-0001",
            "id": "pyup.io-90001",
            "specs": ["<1.4.2", ">=2.0,<2.0.5"],
            "v": "<1.4.2,>=2.0,<2.0.5",
        }
    ],
    "other-lib": [
        {"advisory": "Old bug.", "cve": None, "id": "pyup.io-90002", "specs": ["<=0.9"], "v": "<=0.9"}
    ],
}


@pytest.fixture
def advisory_file(tmp_path: Path) -> Path:
    path = tmp_path / "insecure_full.json"
    path.write_text(json.dumps(ADVISORIES))
    return path


def test_a_vulnerable_version_is_flagged_with_its_advisory_and_fixes(advisory_file: Path) -> None:
    snapshot = audit.load_snapshot(advisory_file)
    findings = audit.check_offline(snapshot, {"example-lib": "2.0.1", "other-lib": "0.9"})
    assert [finding.line() for finding in findings] == [
        "VULNERABLE example-lib 2.0.1 pyup.io-90001 (CVE-2099-0001) fixed in: 1.4.2, 2.0.5",
        "VULNERABLE other-lib 0.9 pyup.io-90002 fixed in: above 0.9",
    ]
    assert snapshot.taken_on == "2021-07-01"


@pytest.mark.parametrize("version", ["1.4.2", "2.0.5", "3.0", "1.5"])
def test_a_fixed_version_passes(advisory_file: Path, version: str) -> None:
    snapshot = audit.load_snapshot(advisory_file)
    assert audit.check_offline(snapshot, {"example-lib": version, "unrelated": "0.1"}) == []


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The online check cannot run, as on a machine without internet."""
    monkeypatch.setattr(
        audit, "run_pip_audit", lambda timeout: audit.OnlineResult(False, "service unreachable")
    )


@pytest.fixture
def recent_advisory_file(tmp_path: Path) -> Path:
    path = tmp_path / "recent.json"
    path.write_text(json.dumps({**ADVISORIES, "$meta": {"timestamp": int(time.time()) - 3 * 86400}}))
    return path


def test_old_offline_data_finds_a_vulnerability_but_never_passes(
    offline: None, advisory_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(audit, "installed_distributions", lambda: {"example-lib": "1.4.1"})
    assert audit.main(["--advisories", str(advisory_file)]) == audit.EXIT_VULNERABLE
    out = capsys.readouterr().out
    assert "WARNING: The online check (pip-audit asking PyPI's vulnerability data) could not run: " in out
    assert "service unreachable" in out and "advisories known up to 2021-07-01" in out
    assert "VULNERABLE example-lib 1.4.1 pyup.io-90001" in out
    assert out.strip().splitlines()[-1].startswith("Audit FAILED: 1 known vulnerability")

    # Nothing found in data five years old is no pass: a warning with the source and the age.
    monkeypatch.setattr(audit, "installed_distributions", lambda: {"example-lib": "1.4.2"})
    assert audit.main(["--advisories", str(advisory_file)]) == audit.EXIT_NOT_CHECKED
    out = capsys.readouterr().out
    assert "No known vulnerabilities" not in out and "passed" not in out
    warning = next(line for line in out.splitlines() if line.startswith("WARNING: Every package"))
    assert f"{advisory_file} holds advisories up to 2021-07-01 (" in warning and "days old" in warning
    assert out.strip().splitlines()[-1].startswith("Audit NOT DONE: ")


def test_recent_offline_data_can_pass(
    offline: None,
    recent_advisory_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(audit, "installed_distributions", lambda: {"example-lib": "1.4.2"})
    assert audit.main(["--advisories", str(recent_advisory_file)]) == audit.EXIT_CLEAN
    assert capsys.readouterr().out.strip().splitlines()[-1] == "Audit passed: no known vulnerabilities."
    # ... unless the caller wants fresher data than that.
    assert (
        audit.main(["--advisories", str(recent_advisory_file), "--max-age-days", "1"])
        == audit.EXIT_NOT_CHECKED
    )


def test_offline_data_without_a_date_never_passes(
    offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    undated = tmp_path / "undated.json"
    undated.write_text(json.dumps({k: v for k, v in ADVISORIES.items() if k != "$meta"}))
    monkeypatch.setattr(audit, "installed_distributions", lambda: {"example-lib": "1.4.2"})
    assert audit.main(["--advisories", str(undated)]) == audit.EXIT_NOT_CHECKED
    assert "carries no date" in capsys.readouterr().out


def test_without_any_advisory_source_the_audit_does_not_pass(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(audit, "installed_snapshot_file", lambda: None)
    assert audit.main(["--offline"]) == audit.EXIT_NOT_CHECKED
    out = capsys.readouterr().out
    assert "no offline advisory database either" in out
    assert out.strip().splitlines()[-1].startswith("Audit NOT DONE: ")


def test_packages_the_online_check_skipped_and_old_data_leave_the_audit_not_done(
    advisory_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    online = audit.OnlineResult(True, audited={"django"}, skipped={"example-lib": "not found"})
    monkeypatch.setattr(audit, "run_pip_audit", lambda timeout: online)
    monkeypatch.setattr(audit, "installed_distributions", lambda: {"example-lib": "1.4.2", "django": "5.2"})
    assert audit.main(["--advisories", str(advisory_file)]) == audit.EXIT_NOT_CHECKED
    out = capsys.readouterr().out
    assert "WARNING: 1 package(s) (example-lib) checked only against old data" in out


def test_a_clean_online_check_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(audit, "run_pip_audit", lambda timeout: audit.OnlineResult(True, audited={"django"}))
    assert audit.main([]) == audit.EXIT_CLEAN
    assert capsys.readouterr().out.strip().splitlines()[-1] == "Audit passed: no known vulnerabilities."


def test_a_pip_audit_report_that_audited_nothing_counts_as_not_run() -> None:
    blocked = {
        "dependencies": [
            {
                "name": "django",
                "skip_reason": "Dependency not found on PyPI and could not be audited: django (5.2)",
            },
        ],
        "fixes": [],
    }
    result = audit.read_pip_audit_report(json.dumps(blocked))
    assert not result.ran and "could not audit any package" in result.reason


def test_a_pip_audit_report_with_vulnerabilities_gives_findings() -> None:
    found = {
        "dependencies": [
            {
                "name": "Django",
                "version": "4.2.1",
                "vulns": [
                    {"id": "PYSEC-2023-100", "fix_versions": ["4.2.2"], "aliases": ["CVE-2023-36053"]},
                ],
            },
            {"name": "requests", "version": "2.32.3", "vulns": []},
        ]
    }
    result = audit.read_pip_audit_report(json.dumps(found))
    assert result.ran and result.audited == {"django", "requests"}
    assert [finding.line() for finding in result.findings] == [
        "VULNERABLE django 4.2.1 PYSEC-2023-100 (CVE-2023-36053) fixed in: 4.2.2"
    ]
