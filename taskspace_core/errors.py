"""Exceptions that the CLI turns into one-line messages (never a traceback), and the warning a damaged
stored result raises."""

from __future__ import annotations

import os


class TaskspaceError(Exception):
    """Base class: a problem with the user's input, not a bug in taskspace."""


class ConfigError(TaskspaceError):
    """An unknown preset, size or config field, or a value of the wrong type."""


class ModelLoadError(TaskspaceError):
    """A model directory (or hub name) that cannot be loaded."""


class DataError(TaskspaceError):
    """Malformed input data. The message names the file, and the line and field where known."""

    def __init__(self, file, message: str, line: int | None = None, field: str | None = None):
        self.file, self.line, self.field = str(file), line, field
        where = self.file + (f", line {line}" if line is not None else "")
        what = f"field '{field}': " if field is not None else ""
        super().__init__(f"{where}: {what}{message}")


class ComputeForbidden(TaskspaceError):
    """Something tried to train or fine-tune while :data:`READ_ONLY_VARIABLE` is set (a read-only
    book build): the results it needed are missing."""


# set (`taskspace book --read-only`, or by hand): nothing may train or fine-tune in this process
# or in the notebook kernels it starts; see :func:`forbid_compute`
READ_ONLY_VARIABLE = "TASKSPACE_READ_ONLY"


def forbid_compute(what: str) -> None:
    """Raise :class:`ComputeForbidden` naming ``what`` would be computed, when compute is off."""
    if os.environ.get(READ_ONLY_VARIABLE):
        raise ComputeForbidden(f"{what}: nothing is computed in read-only mode ({READ_ONLY_VARIABLE} is set), "
                               "so the results this needs are missing")


class MissingResult(TaskspaceError):
    """A result that reading expected and did not find (a checkpoint's record, a task space). The
    message names what is missing and the command that computes it; nothing was computed."""


class CorruptResultWarning(UserWarning):
    """A stored result failed its integrity check and will be recomputed."""
