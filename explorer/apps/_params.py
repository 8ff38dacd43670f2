"""Controls declared once: a :class:`Param` gives the widget, server-side validation and
strict URL parsing; :func:`parse_query` turns a query string into validated state.

Widget values are untrusted (a Voila client can send any trait value over the comm channel),
so every value is re-validated on the server; URL values are parsed by strict per-type
rules and never evaluated.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np

from .._common import check_int, check_option, check_real

__all__ = ["MAX_QUERY_LENGTH", "MAX_VALUE_LENGTH", "SEED", "Param", "parse_query"]

MAX_QUERY_LENGTH = 4000
MAX_VALUE_LENGTH = 64
SEED_MAX = 2**32 - 1
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}



@dataclass(frozen=True)
class Param:
    """One control: its type, default, range, widget and URL key.

    Parameters
    ----------
    name : str
        Key in the app state and in the URL query string.
    kind : {"float", "int", "choice", "bool"}
    default : value
    lo, hi : float, optional
        Allowed closed range for numbers (``lo_open``/``hi_open`` make it open).
    options : sequence of str, optional
        Allowed values of a choice.
    even : bool
        Integers must be even.
    step : float, optional
        Slider step.
    label, help : str
        Shown next to the control and as its tooltip.
    advanced : bool
        Hidden in lecture mode.

    Whether a control recomputes or only re-views is not declared here: the app derives it
    from which stages and views read the control.
    """

    name: str
    kind: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    options: Sequence[str] = ()
    even: bool = False
    step: float | None = None
    label: str = ""
    help: str = ""
    advanced: bool = False
    readout_format: str = ".3g"

    def __post_init__(self) -> None:
        check_option("kind", self.kind, ("float", "int", "choice", "bool"))
        self.validate(self.default)

    def validate(self, value: Any) -> Any:
        """Server-side check of a widget or URL value; ``ValueError`` names the control."""
        if self.kind == "float":
            lo = -math.inf if self.lo is None else self.lo
            hi = math.inf if self.hi is None else self.hi
            return check_real(self.name, value, lo, hi, lo_open=self.lo_open, hi_open=self.hi_open)
        if self.kind == "int":
            lo = None if self.lo is None else int(self.lo)
            hi = None if self.hi is None else int(self.hi)
            return check_int(self.name, value, lo, hi, even=self.even)
        if self.kind == "choice":
            return check_option(self.name, value, self.options)
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{self.name} must be true or false; got {value!r:.40}")
        return bool(value)

    def parse(self, text: str) -> Any:
        """Parse a URL value by strict per-type rules, then :meth:`validate`. Never evaluates."""
        if len(text) > MAX_VALUE_LENGTH:
            raise ValueError(f"{self.name}: value longer than {MAX_VALUE_LENGTH} characters")
        if self.kind in ("float", "int"):
            if not _NUMBER.match(text):
                raise ValueError(f"{self.name} must be a number; got {text!r}")
            value = float(text)
            if self.kind == "int":
                if not value.is_integer():
                    raise ValueError(f"{self.name} must be an integer; got {text!r}")
                value = int(value)
            return self.validate(value)
        if self.kind == "bool":
            low = text.lower()
            if low not in TRUE | FALSE:
                raise ValueError(f"{self.name} must be 0 or 1; got {text!r}")
            return low in TRUE
        return self.validate(text)

    def format(self, value: Any) -> str:
        """The URL form of a value (the inverse of :meth:`parse`)."""
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "float":
            return repr(float(value))
        return str(value)

    def make_widget(self) -> W.ValueWidget:
        common = dict(
            description=self.label or self.name,
            description_allow_html=False,
            tooltip=self.help or None,
            style={"description_width": "initial"},
        )
        if self.kind == "float":
            lo = self.lo if self.lo is not None else 0.0
            hi = self.hi if self.hi is not None else 1.0
            step = self.step or (hi - lo) / 100
            return W.FloatSlider(
                value=self.default, min=lo, max=hi, step=step, continuous_update=False,
                readout_format=self.readout_format, **common,
            )
        if self.kind == "int":
            lo = int(self.lo) if self.lo is not None else 0
            hi = int(self.hi) if self.hi is not None else 100
            step = int(self.step or (2 if self.even else 1))
            if hi - lo > 1_000_000:  # seeds and the like: a slider cannot aim that finely
                return W.BoundedIntText(value=self.default, min=lo, max=hi, step=step, **common)
            return W.IntSlider(
                value=self.default, min=lo, max=hi, step=step, continuous_update=False, **common
            )
        if self.kind == "choice":
            return W.Dropdown(options=list(self.options), value=self.default, **common)
        return W.Checkbox(value=self.default, indent=False, **common)


SEED = Param("seed", "int", 0, lo=0, hi=SEED_MAX, label="seed", help="root random seed")


def parse_query(
    query: str, params: Sequence[Param], presets: Mapping[str, Mapping[str, Any]] = (),
    tours: Mapping[str, int] = (),
) -> tuple[dict[str, Any], list[str]]:
    """Turn a URL query string into validated state plus human-readable warnings.

    Unknown keys, malformed or out-of-range values, over-long input and
    anything code-like are dropped (the default stays) with a warning. Never
    raises for any input string and never evaluates it.

    Returns
    -------
    state : dict
        Validated values for the keys that parsed, plus ``preset``, ``lecture``,
        ``debug``, ``tour`` (a name in ``tours``, which maps names to step counts) and
        ``step`` (1 to that tour's count) when given.
    warnings : list of str
    """
    state: dict[str, Any] = {}
    warnings: list[str] = []
    if not query:
        return state, warnings
    query = query.lstrip("?")
    if len(query) > MAX_QUERY_LENGTH:
        return state, [f"the URL query is longer than {MAX_QUERY_LENGTH} characters; ignored"]
    by_name = {p.name: p for p in params}
    by_name.setdefault("seed", SEED)
    flags = {"lecture": Param("lecture", "bool", False), "debug": Param("debug", "bool", False)}
    try:
        pairs = urllib.parse.parse_qsl(
            query, keep_blank_values=True, max_num_fields=len(by_name) + 8
        )
    except ValueError:
        return state, ["the URL query has too many fields; ignored"]
    for key, text in pairs:
        shown_key = key if len(key) <= 20 else key[:17] + "..."
        if key == "preset":
            if text in presets:
                state["preset"] = text
            else:
                warnings.append(f"unknown preset {text[:30]!r} ignored")
            continue
        if key == "tour":
            if text in tours:
                state["tour"] = text
            else:
                warnings.append(f"unknown tour {text[:30]!r} ignored")
            continue
        if key == "step":
            try:
                state["step"] = Param("step", "int", 1, lo=1, hi=100).parse(text)
            except ValueError as exc:
                warnings.append(f"{exc}; using step 1")
            continue
        param = by_name.get(key) or flags.get(key)
        if param is None:
            warnings.append(f"unknown key {shown_key!r} ignored")
            continue
        try:
            state[key] = param.parse(text)
        except ValueError as exc:
            warnings.append(f"{exc}; using the default")
    return state, warnings
