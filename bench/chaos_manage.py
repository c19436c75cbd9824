"""``manage.py`` with the fault suite's load hook connected, for the embedded default's command.

In the embedded default, ``start_background_syncs`` runs each sync's steps in its own process, so
the hook that stops a load at a known point must be connected there: this connects the receiver
of ``chaos_hooks`` (inert unless ``CHAOS_HOOK_DIR`` and ``CHAOS_HOOK_ON_LOAD`` are set), then runs
the project's own ``manage.py`` with the same arguments.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def main() -> None:
    sys.path[:0] = [str(BENCH), str(ROOT)]
    from chaos_hooks import connect_load_hook

    connect_load_hook()
    sys.argv[0] = str(ROOT / "manage.py")
    runpy.run_path(str(ROOT / "manage.py"), run_name="__main__")


if __name__ == "__main__":
    main()
