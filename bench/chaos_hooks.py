"""The fault suite's hook into a load: stop it at a known point instead of guessing the moment.

``etl.signals.load_holding_locks`` is sent inside a load's transaction once a dataset's rows are
written and the load holds its locks. When the environment names a hook directory
(``CHAOS_HOOK_DIR``) and a load path (``CHAOS_HOOK_ON_LOAD``: ``copy``, ``merge`` or ``upsert``), the
receiver connected here, in the loading process, writes a marker file (this process's pid, the
database backend's pid, the dataset and the path) and then waits for a release file, at most
``RELEASE_CAP_SECONDS``. The suite waits for the marker, acts (SIGKILLs the process, or terminates
its backend), and writes the release file. Only the first matching load of a scenario is held, so
the load run again after the fault goes through.

The receiver is connected by ``chaos_worker`` (the worker's Celery app module) and by
``chaos_manage`` (``manage.py`` for the embedded command); without the environment it does nothing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOOK_DIR_ENV = "CHAOS_HOOK_DIR"
ON_LOAD_ENV = "CHAOS_HOOK_ON_LOAD"
LOAD_PATHS = frozenset({"copy", "merge", "upsert"})
RELEASE_CAP_SECONDS = 120.0


@dataclass(frozen=True)
class HookFiles:
    """The marker and release files of one scenario's hook directory."""

    directory: Path

    @property
    def marker(self) -> Path:
        return self.directory / "load-holding-locks.json"

    @property
    def release_file(self) -> Path:
        return self.directory / "release"

    def env(self, on_load: str) -> dict[str, str]:
        """The environment that arms the hook for loads taking ``on_load``."""
        if on_load not in LOAD_PATHS:
            raise ValueError(f"unknown load path {on_load!r}; known: {', '.join(sorted(LOAD_PATHS))}")
        self.directory.mkdir(parents=True, exist_ok=True)
        return {HOOK_DIR_ENV: str(self.directory), ON_LOAD_ENV: on_load}

    # -- the loading process's side

    def claim(self, facts: dict[str, Any]) -> bool:
        """Write the marker unless a load already did (a link is atomic and exclusive), so exactly
        one load of the scenario is held and the suite never reads a half-written marker."""
        draft = self.directory / f".marker-{os.getpid()}"
        draft.write_text(json.dumps(facts))
        try:
            os.link(draft, self.marker)
        except FileExistsError:
            return False
        finally:
            draft.unlink()
        return True

    def wait_for_release(self, cap: float = RELEASE_CAP_SECONDS) -> bool:
        deadline = time.monotonic() + cap
        while time.monotonic() < deadline:
            if self.release_file.exists():
                return True
            time.sleep(0.05)
        return False

    # -- the suite's side

    def read_marker(self) -> dict[str, Any] | None:
        if not self.marker.exists():
            return None
        facts: dict[str, Any] = json.loads(self.marker.read_text())
        return facts

    def release(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.release_file.touch()


def armed_hook() -> tuple[HookFiles, str] | None:
    """The hook files and load path the environment asks for, or None when the hook is off."""
    directory, on_load = os.environ.get(HOOK_DIR_ENV), os.environ.get(ON_LOAD_ENV)
    if not directory or on_load not in LOAD_PATHS:
        return None
    return HookFiles(Path(directory)), on_load


def database_backend_pid() -> int | None:
    """The PostgreSQL backend serving this process's connection (None on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def hold_the_load(sender: Any, *, sync_run_id: int, dataset: str, path: str, **_: Any) -> None:
    """Receiver of ``load_holding_locks``: mark the moment, then wait for the suite to act."""
    armed = armed_hook()
    if armed is None or armed[1] != path:
        return
    files, _on_load = armed
    facts = {
        "pid": os.getpid(),
        "backend_pid": database_backend_pid(),
        "sync_run_id": sync_run_id,
        "dataset": dataset,
        "path": path,
    }
    if files.claim(facts):
        files.wait_for_release()


def connect_load_hook() -> None:
    from etl.signals import load_holding_locks

    load_holding_locks.connect(hold_the_load, dispatch_uid="chaos-hold-the-load")
