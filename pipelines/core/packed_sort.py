"""Integer sort keys: a stable argsort of non-negative keys by one `np.sort` of (key, position)
packed in an int64 (numpy sorts plain int64 with SIMD kernels, measured at about 10x its stable
argsort of the same 10M keys on the 2-core machine; the position in the low bits keeps equal keys
in input order and gives the permutation back), and the bit and type sizes keys are packed in."""

from __future__ import annotations

import numpy as np

# Positions added per pass, so no full-length temporary is made.
_POSITIONS_PER_PASS = 1 << 20


def sorted_with_order(keys: np.ndarray, in_runs: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(keys sorted, the stable permutation that sorts them), for keys >= 0. Falls back to a
    stable argsort when a key and its position need more than 63 bits together. `in_runs`: the
    keys come as a few long sorted runs, which numpy's stable sort (a timsort) merges, 500k keys
    in 2 ms where the default sort takes 27 (on keys in no order it is about 20% slower)."""
    count = len(keys)
    if count == 0:
        return keys.astype(np.int64), np.zeros(0, dtype=np.int64)
    low = int(keys.min())
    if low < 0:
        raise ValueError(f"sort keys must be >= 0, got {low}")
    position_bits = max((count - 1).bit_length(), 1)
    if int(keys.max()).bit_length() + position_bits > 63:
        order = np.argsort(keys, kind="stable")
        return keys[order].astype(np.int64, copy=False), order
    packed = keys.astype(np.int64)
    packed <<= position_bits
    for start in range(0, count, _POSITIONS_PER_PASS):
        stop = min(start + _POSITIONS_PER_PASS, count)
        packed[start:stop] |= np.arange(start, stop, dtype=np.int64)
    packed.sort(kind="stable" if in_runs else None)
    ordered_keys = packed >> position_bits
    packed &= (1 << position_bits) - 1
    return ordered_keys, packed


def bits_for(count: int) -> int:
    """Bits that hold the numbers 0..count-1."""
    return max(count - 1, 0).bit_length()


def smallest_uint(count: int) -> type:
    """The narrowest unsigned type for the numbers 0..count-1 (numpy radix-sorts 8 and 16 bit
    integers, and a narrow column moves fewer bytes)."""
    return np.uint8 if count <= 2**8 else np.uint16 if count <= 2**16 else np.uint32


def smallest_int(count: int) -> type:
    """The narrowest signed type for the codes 0..count-1 and -1 (missing): dictionary codes of a
    column with few distinct values take one byte a row, not four."""
    for dtype in (np.int8, np.int16, np.int32):
        if count <= np.iinfo(dtype).max + 1:
            return dtype
    return np.int64


def run_starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    if len(ordered) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.empty(len(ordered), dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    return np.flatnonzero(starts)
