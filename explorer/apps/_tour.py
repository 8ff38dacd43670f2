"""The tour player: a tour picker, Back / Next, the step's title and narration.

It only holds the position (tour, step) and shows it; :class:`~explorer.apps._shell.App`
applies a step's controls (one recompute), highlights its view and records the position in
the permalink.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

import ipywidgets as W

from ..tours import Tour

__all__ = ["NO_TOUR", "TourPlayer"]

NO_TOUR = "(no tour)"


class TourPlayer:
    """Widgets for choosing a tour and stepping through it.

    Parameters
    ----------
    tours : mapping of name to Tour
    on_step : callable
        ``on_step(name, step)`` when the user picks a tour (step 1) or presses Back / Next;
        ``on_step(None, 0)`` when the tour is closed.
    """

    def __init__(self, tours: Mapping[str, Tour], on_step: Callable[[str | None, int], None],
                 safe: Callable[[Callable], Callable]) -> None:
        self.tours = dict(tours)
        self.name: str | None = None
        self.step = 0
        self._on_step = on_step
        self._quiet = False
        self.picker = W.Dropdown(options=[(NO_TOUR, NO_TOUR)] + [(t.title, n) for n, t in
                                                                 self.tours.items()],
                                 value=NO_TOUR, description="tour",
                                 style={"description_width": "initial"},
                                 layout={"width": "100%"})
        self.back = W.Button(description="Back", icon="arrow-left", layout={"width": "auto"})
        self.next = W.Button(description="Next", icon="arrow-right", layout={"width": "auto"})
        self.counter = W.HTML("")
        self.narration = W.HTML("").add_class("explorer-tour-text")
        self.picker.observe(safe(self._on_pick), names="value")
        self.back.on_click(safe(lambda _b: self._move(-1)))
        self.next.on_click(safe(lambda _b: self._move(+1)))
        self.controls = W.VBox([self.picker, W.HBox([self.back, self.next, self.counter],
                                                    layout={"align_items": "center"})],
                               layout={"width": "100%"}).add_class("explorer-tour")
        self.show(None, 0)

    @property
    def tour(self) -> Tour | None:
        return self.tours.get(self.name) if self.name else None

    def _on_pick(self, change) -> None:
        if self._quiet:
            return
        name = change["new"]
        self._on_step(None if name == NO_TOUR else name, 0 if name == NO_TOUR else 1)

    def _move(self, delta: int) -> None:
        if self.tour is None:
            return
        step = min(max(self.step + delta, 1), len(self.tour))
        if step != self.step:
            self._on_step(self.name, step)

    def show(self, name: str | None, step: int) -> None:
        """Display a position (already validated by the app)."""
        self.name, self.step = name, step
        self._quiet = True
        try:
            self.picker.value = name or NO_TOUR
        finally:
            self._quiet = False
        tour = self.tour
        active = tour is not None
        self.back.disabled = not active or step <= 1
        self.next.disabled = not active or step >= len(tour)
        for w in (self.back, self.next, self.counter):
            w.layout.display = None if active else "none"
        if not active:
            self.counter.value = ""
            self.narration.value = ""
            self.narration.layout.display = "none"
            return
        s = tour.steps[step - 1]
        self.counter.value = f"step {step} of {len(tour)}"
        self.narration.value = (f"<b>{html.escape(tour.title)}: {step}. "
                                f"{html.escape(s.title)}</b><br>{html.escape(s.text)}")
        self.narration.layout.display = None
