"""``python -m explorer reproduce [sbm|iqp|ntk|all]``: each paper's key results, regenerated.

Each module here writes one markdown page with PNG figures into ``docs/reproductions/``
(or another folder), every number beside the paper's or the authors' published one, with the
settings, the seeds and the run time. ``quick=True`` runs the same code at toy sizes in
seconds (what the tests do); the real runs take from minutes (SBM, NTK) to most of an hour
(IQP training at 150 qubits). Never part of ``make test``: ``make reproduce`` runs them.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ._report import Progress, Report

__all__ = ["PAPERS", "Progress", "Report", "reproduce"]

#: Paper key -> module with ``reproduce(out, *, quick, progress, **options) -> Path``.
PAPERS = {"sbm": "explorer.reproduce.sbm", "iqp": "explorer.reproduce.iqp",
          "ntk": "explorer.reproduce.ntk"}


def reproduce(which: str, out: str | Path = "docs/reproductions", *, quick: bool = False,
              progress: Progress | None = None, **options) -> list[Path]:
    """Write the pages of ``which`` ("sbm", "iqp", "ntk" or "all"); return their paths."""
    names = list(PAPERS) if which == "all" else [which]
    for name in names:
        if name not in PAPERS:
            raise ValueError(f"which must be one of {', '.join([*PAPERS, 'all'])}; "
                             f"got {which!r}")
    pages = []
    for name in names:
        module = importlib.import_module(PAPERS[name])
        pages.append(module.reproduce(Path(out), quick=quick,
                                      progress=progress or (lambda _msg: None), **options))
    return pages
