"""Guided tours: a lecturer's walk through one finding, written as data, not code.

A tour is a TOML file (one per tour, shipped in this folder) naming its app and a list of
steps. Each step sets controls (a preset, control values, or both), says a few sentences,
and names the view to look at::

    title = "Known or estimated parameters: where BCAVI ends up"
    app = "sbm"

    [[steps]]
    title = "Known p and q"
    preset = "dense, known parameters"
    set = { init = "uniform" }
    view = "phase"
    text = '''Each black dot is a random start ...'''

:func:`load_tour` checks the file's shape (which fields, of which types) and
:func:`check_tour` checks it against its app (control names, values in range, presets and
views that exist), each error naming the file, the step and the field. Nothing in a tour is
evaluated: values go through the same validation as a widget's. ``python -m explorer tour
check FILE`` runs both.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["TOURS_DIR", "Tour", "TourStep", "check_tour", "load_tour", "tours_for"]

TOURS_DIR = Path(__file__).parent
MAX_STEPS = 20
MAX_TEXT = 2000

_TOUR_FIELDS = {"title": str, "app": str, "summary": str, "steps": list}
_STEP_FIELDS = {"title": str, "text": str, "preset": str, "set": dict, "view": str}


@dataclass(frozen=True)
class TourStep:
    """One step: controls to set (a preset first, then ``values``), narration, a view."""

    title: str
    text: str
    preset: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    view: str | None = None


@dataclass(frozen=True)
class Tour:
    """A named sequence of steps through one app (``name`` is the file's stem)."""

    name: str
    title: str
    app: str
    steps: tuple[TourStep, ...]
    summary: str = ""
    source: str = ""

    def __len__(self) -> int:
        return len(self.steps)


def _where(source: str, step: int | None = None, title: str | None = None) -> str:
    where = source
    if step is not None:
        where += f", step {step}" + (f" ({title!r})" if title else "")
    return where


def _check_fields(table: Mapping[str, Any], allowed: dict[str, type], required: tuple,
                  where: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ValueError(f"{where}: unknown field {key!r}; allowed: "
                             f"{', '.join(allowed)}")
        if not isinstance(value, allowed[key]):
            raise ValueError(f"{where}: field {key!r} must be a {allowed[key].__name__}; got "
                             f"{type(value).__name__}")
    for key in required:
        if key not in table:
            raise ValueError(f"{where}: missing field {key!r}")


def load_tour(path: str | Path) -> Tour:
    """Read and check the shape of one tour file.

    Raises
    ------
    ValueError
        Not valid TOML, an unknown or missing field, a field of the wrong type, no steps or
        more than ``MAX_STEPS``, or a text longer than ``MAX_TEXT`` characters; the message
        names the file, the step (1-based) and the field.
    """
    path = Path(path)
    source = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{source}: cannot read the tour: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    _check_fields(data, _TOUR_FIELDS, ("title", "app", "steps"), source)
    raw_steps = data["steps"]
    if not 1 <= len(raw_steps) <= MAX_STEPS:
        raise ValueError(f"{source}: a tour has 1 to {MAX_STEPS} steps; got {len(raw_steps)}")
    steps = []
    for k, raw in enumerate(raw_steps, start=1):
        if not isinstance(raw, dict):
            raise ValueError(f"{_where(source, k)}: each step must be a table ([[steps]])")
        where = _where(source, k, raw.get("title") if isinstance(raw.get("title"), str)
                       else None)
        _check_fields(raw, _STEP_FIELDS, ("title", "text"), where)
        if len(raw["text"]) > MAX_TEXT:
            raise ValueError(f"{where}: field 'text' must be at most {MAX_TEXT} characters; "
                             f"got {len(raw['text'])}")
        steps.append(TourStep(title=raw["title"], text=" ".join(raw["text"].split()),
                              preset=raw.get("preset"), values=dict(raw.get("set", {})),
                              view=raw.get("view")))
    return Tour(name=path.stem, title=data["title"], app=data["app"], steps=tuple(steps),
                summary=data.get("summary", ""), source=source)


def check_tour(tour: Tour) -> Tour:
    """Check a tour against its app's declarations (no app is built); return it.

    Every preset and view must exist, every control in ``set`` must be one of the app's,
    and each value must pass that control's own validation.
    """
    from ..apps import APPS

    if tour.app not in APPS:
        raise ValueError(f"{tour.source}: field 'app' must be one of {', '.join(APPS)}; "
                         f"got {tour.app!r}")
    module = importlib.import_module(APPS[tour.app])
    params = {p.name: p for p in module.PARAMS}
    from ..apps._params import SEED

    params.setdefault("seed", SEED)
    views = [v.name for v in module.VIEWS]
    for k, step in enumerate(tour.steps, start=1):
        where = _where(tour.source, k, step.title)
        if step.preset is not None and step.preset not in module.PRESETS:
            raise ValueError(f"{where}: field 'preset': unknown preset {step.preset!r}; known: "
                             f"{', '.join(module.PRESETS)}")
        if step.view is not None and step.view not in views:
            raise ValueError(f"{where}: field 'view': unknown view {step.view!r}; known: "
                             f"{', '.join(views)}")
        for key, value in step.values.items():
            if key not in params:
                raise ValueError(f"{where}: field 'set': unknown control {key!r}; known: "
                                 f"{', '.join(params)}")
            try:
                params[key].validate(value)
            except ValueError as exc:
                raise ValueError(f"{where}: field 'set': {exc}") from None
    return tour


def tours_for(app: str) -> dict[str, Tour]:
    """The shipped tours of one app, by name, each loaded and checked."""
    out = {}
    for path in sorted(TOURS_DIR.glob("*.toml")):
        tour = load_tour(path)
        if tour.app == app:
            out[tour.name] = check_tour(tour)
    return out
