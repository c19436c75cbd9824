"""Natural keys already normalized in a stream, so a sync can be normalized batch by batch.

A sync is normalized in batches to keep a worker's memory flat; a record read again on a later
page (offset paging that shifted, a restated row) must still be loaded once. The ledger keeps a
128-bit hash of every key written so far (16 bytes a row, not the keys themselves) in sorted
arrays, and drops the rows of a new batch whose key it has seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# Two independent SipHash keys: a row is "seen" only when both 64-bit hashes match.
_HASH_KEYS = ("natural-key-one!", "natural-key-two!")


def _hashes(frame: pd.DataFrame, key: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    keys = frame[list(key)].astype(object)
    first, second = (
        pd.util.hash_pandas_object(keys, index=False, hash_key=hash_key).to_numpy() for hash_key in _HASH_KEYS
    )
    return first, second


class KeyLedger:
    def __init__(self) -> None:
        self._first = np.empty(0, dtype=np.uint64)
        self._second = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._first)

    def drop_seen(self, frame: pd.DataFrame, key: Sequence[str]) -> tuple[pd.DataFrame, int]:
        """The rows of ``frame`` whose key was not seen before (then remembered), and how many went."""
        if frame.empty:
            return frame, 0
        first, second = _hashes(frame, key)
        seen = self._contains(first, second)
        dropped = int(seen.sum())
        if dropped:
            frame = frame[~seen].reset_index(drop=True)
            first, second = first[~seen], second[~seen]
        self._add(first, second)
        return frame, dropped

    def _contains(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        found = np.zeros(len(first), dtype=bool)
        if not len(self._first):
            return found
        low = np.searchsorted(self._first, first, side="left")
        high = np.searchsorted(self._first, first, side="right")
        for i in np.flatnonzero(high > low):  # rare: only repeated keys (or a 64-bit collision)
            found[i] = bool((self._second[low[i] : high[i]] == second[i]).any())
        return found

    def _add(self, first: np.ndarray, second: np.ndarray) -> None:
        order = np.argsort(first, kind="stable")
        merged_first = np.concatenate([self._first, first[order]])
        merged_second = np.concatenate([self._second, second[order]])
        # Two sorted runs: the stable sort merges them in linear time.
        merged = np.argsort(merged_first, kind="stable")
        self._first, self._second = merged_first[merged], merged_second[merged]
