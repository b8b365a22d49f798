"""Ensuring a task space exists: read it, else compute it (pretraining its checkpoint first).

:class:`Ensurer` is the computing twin of :class:`~taskspace_core.results.read.Reader`: where
the reader raises :class:`~taskspace_core.errors.MissingResult`, the ensurer trains the checkpoint
if needed, computes the space into the run store and writes its report tables beside it. The
book's chapters take whichever :func:`~taskspace_core.book.notebook.book_plan` gives them: a
preset with committed results reads, a preset without them (``ci``, ``tiny``, a changed
parameter) computes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..analysis.masks import MaskSet
from ..analysis.report import Analysis, write_report
from ..analysis.space import Origin, TaskSpace
from ..config import Config
from ..engine.compute import compute_masks, compute_space
from ..errors import MissingResult
from ..lm.identity import checkpoint_identity
from ..lm.pretrain import ensure_checkpoint, ensure_checkpoint_meta
from ..results.keys import space_label
from ..results.read import Reader


def _to_terminal(message: str) -> None:
    # in a notebook kernel sys.__stderr__ is that of `taskspace run/book`: what is computed
    # (pretraining, a space's jobs) reports there, and nothing of it lands on the page
    print(message, file=sys.__stderr__, flush=True)


class Ensurer(Reader):
    """A :class:`~taskspace_core.results.read.Reader` that computes what it cannot read.

    ``log`` gets pretraining and job progress (default: the terminal, even from a notebook
    kernel); ``progress_file`` takes a progress bar of a space's jobs (default: the terminal).
    """

    def __init__(self, config: Config, log: Callable[[str], None] = _to_terminal, progress_file=sys.__stderr__):
        super().__init__(config)
        self.log, self.progress_file = log, progress_file

    def space(self, request) -> TaskSpace:
        config = request.config(self.config)
        meta = ensure_checkpoint_meta(config, request.size, request.checkpoint, log=self.log)
        space = self.read(config, checkpoint_identity(meta))
        if space is None:
            path = ensure_checkpoint(config, request.size, request.checkpoint, log=self.log)
            space = compute_space(config, path, label=space_label(config, request.size, path), log=self.log,
                                  progress=self.progress_file is not None, progress_file=self.progress_file)
        return space

    def mask_set(self, request) -> MaskSet:
        config = request.config(self.config)
        ensure_checkpoint_meta(config, request.size, request.checkpoint, log=self.log)
        try:
            return super().mask_set(request)
        except MissingResult:
            path = ensure_checkpoint(config, request.size, request.checkpoint, log=self.log)
            return compute_masks(config, path, label=space_label(config, request.size, path), log=self.log,
                                 progress=self.progress_file is not None, progress_file=self.progress_file)

    def analysed_first(self, space: TaskSpace, analysis: Analysis, config: Config) -> None:
        if space.origin is Origin.RUN_STORE:  # committed results are never written to
            write_report(space, analysis, config)
