"""The error for a whole export file that cannot be used (row faults are rejects instead)."""

from __future__ import annotations


class ExportFileError(ValueError):
    """A whole file cannot be used. The message names the file, the place and the fix."""
