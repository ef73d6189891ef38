"""Replace a file whole: readers see the old file or the new one, never half of one.

Two runs of the same day may write the same file at the same moment (the cadence guard lets
both run and only one send), so each writer gets its own temporary name: a shared one (say
`day.tmp`) lets one writer rename the other's half-written file, and the other then fails.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, unique to this writer and not yet created (the writer
    creates it, with the usual permissions); on success it replaces `path` (last writer wins),
    on an error it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
