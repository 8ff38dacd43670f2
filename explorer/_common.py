"""Shared vocabulary of the backends: results, statuses, validation and randomness.

Every iterative backend returns a :class:`Trajectory` (in the spirit of scipy's
``OptimizeResult`` and diffrax's ``Solution``): failure to converge is a
:class:`Status`, never an exception. Bad input raises ``ValueError`` with a
message naming the parameter, the allowed range and the value received, so an
app can show it verbatim in its status line.

This module grows only when a second model needs a thing.
"""

from __future__ import annotations

import enum
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "Status",
    "Trajectory",
    "as_rng",
    "check_array",
    "check_int",
    "check_option",
    "check_real",
    "spawn_rngs",
]


class Status(enum.Enum):
    """How an iterative computation ended; the value is the message a user reads."""

    CONVERGED = "converged"
    MAX_ITER = "stopped at max_iter before converging"
    DIVERGED = "diverged (an iterate became non-finite)"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    STOPPED_EARLY = "stopped early"

    @property
    def ok(self) -> bool:
        """True when the computation reached its natural end."""
        return self in (Status.CONVERGED, Status.COMPLETED, Status.STOPPED_EARLY)

    def __str__(self) -> str:
        return self.value


def _frozen_array(name: str, value: Any) -> np.ndarray:
    arr = np.array(value, copy=True)
    if arr.dtype == object:
        raise ValueError(f"{name} must be a numeric array; got dtype object")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Trajectory:
    """The path of an iterative method, with ``iterates[0]`` the start.

    Parameters
    ----------
    times : array_like, shape (K,)
        Iteration counter or physical time of each record.
    iterates : array_like, shape (K, ...)
        The state after each record; ``iterates[0]`` is the initial state.
    objective : array_like, shape (K,) or (K, R)
        The objective (ELBO, loss, risk) at each record, one column per run when
        R runs are stacked.
    status : Status
        How the computation ended.
    extras : mapping of str to array_like, optional
        Further named series; each has leading axis K.

    Notes
    -----
    All arrays are copied and made read-only, so a ``Trajectory`` can be cached
    and shared between views without defensive copies.
    """

    times: np.ndarray
    iterates: np.ndarray
    objective: np.ndarray
    status: Status
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        times = _frozen_array("times", self.times)
        iterates = _frozen_array("iterates", self.iterates)
        objective = _frozen_array("objective", self.objective)
        if times.ndim != 1:
            raise ValueError(f"times must be one-dimensional; got shape {times.shape}")
        k = times.shape[0]
        if k < 1:
            raise ValueError("times must hold at least the start (K >= 1); got K = 0")
        for name, arr in (("iterates", iterates), ("objective", objective)):
            if arr.ndim < 1 or arr.shape[0] != k:
                raise ValueError(f"{name} must have leading axis K = {k}; got shape {arr.shape}")
        if not isinstance(self.status, Status):
            raise ValueError(f"status must be a Status; got {self.status!r}")
        extras = {}
        for name, value in dict(self.extras).items():
            arr = _frozen_array(f"extras[{name!r}]", value)
            if arr.ndim < 1 or arr.shape[0] != k:
                raise ValueError(
                    f"extras[{name!r}] must have leading axis K = {k}; got shape {arr.shape}"
                )
            extras[name] = arr
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "iterates", iterates)
        object.__setattr__(self, "objective", objective)
        object.__setattr__(self, "extras", MappingProxyType(extras))

    @property
    def n_records(self) -> int:
        """Number of records K (the start included)."""
        return int(self.times.shape[0])

    @property
    def final(self) -> np.ndarray:
        """The last iterate."""
        return self.iterates[-1]

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED


# --------------------------------------------------------------------------- validation


def _fmt(x: float) -> str:
    return f"{x:.10g}" if isinstance(x, float) else str(x)


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open or lo == -math.inf else "["
    right = ")" if hi_open or hi == math.inf else "]"
    lo_s = "-inf" if lo == -math.inf else _fmt(lo)
    hi_s = "inf" if hi == math.inf else _fmt(hi)
    return f"{left}{lo_s}, {hi_s}{right}"


def _short_repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_real(
    name: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside an interval, or raise ``ValueError``.

    >>> check_real("p", 0.3, 0, 1, lo_open=True, hi_open=True)
    0.3
    >>> check_real("p", 1.3, 0, 1, lo_open=True, hi_open=True)
    Traceback (most recent call last):
    ...
    ValueError: p must be in (0, 1); got 1.3
    """
    interval = _interval(lo, hi, lo_open, hi_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number in {interval}; got {_short_repr(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number in {interval}; got {_fmt(x)}")
    too_low = x <= lo if lo_open else x < lo
    too_high = x >= hi if hi_open else x > hi
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}; got {_fmt(x)}")
    return x


def check_int(
    name: str,
    value: Any,
    lo: int | None = None,
    hi: int | None = None,
    *,
    even: bool = False,
) -> int:
    """Return ``value`` as an int inside ``[lo, hi]`` (optionally even), or raise ``ValueError``.

    >>> check_int("n", 7, 4, even=True)
    Traceback (most recent call last):
    ...
    ValueError: n must be an even integer >= 4; got 7
    """
    kind = "an even integer" if even else "an integer"
    if lo is not None and hi is not None:
        allowed = f"{kind} in [{lo}, {hi}]"
    elif lo is not None:
        allowed = f"{kind} >= {lo}"
    elif hi is not None:
        allowed = f"{kind} <= {hi}"
    else:
        allowed = kind
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    if not isinstance(value, numbers.Integral):
        # Accept integral floats (2000.0) from sliders and JSON, nothing else.
        if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be {allowed}; got {_short_repr(value)}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi) or (even and v % 2):
        raise ValueError(f"{name} must be {allowed}; got {v}")
    return v


def check_option(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` listing them.

    >>> check_option("schedule", "batch", ("batch", "sequential"))
    'batch'
    """
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {listed}; got {_short_repr(value)}")
    return value


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    lo: float = -math.inf,
    hi: float = math.inf,
    dtype: Any = float,
) -> np.ndarray:
    """Return ``value`` as a finite array with the given shape and bounds, or raise ``ValueError``.

    ``None`` in ``shape`` matches any length along that axis.
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array; got {_short_repr(value)}") from None
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in dims:
            want = " or ".join(str(d) for d in dims)
            raise ValueError(f"{name} must have {want} dimension(s); got shape {arr.shape}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(
            s is None or s == a for s, a in zip(shape, arr.shape, strict=False)
        )
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}; got {arr.shape}")
    if arr.size:
        # min and max propagate NaN and show +-inf: two passes instead of four (a 500,000-angle
        # theta is checked at every training step)
        low, high = arr.min(), arr.max()
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"{name} must contain only finite values")
        if low < lo or high > hi:
            bad = low if low < lo else high
            raise ValueError(f"{name} entries must be in {_interval(lo, hi, False, False)}; "
                             f"got {_fmt(float(bad))}")
    return arr


# --------------------------------------------------------------------------- randomness


def as_rng(rng: Any = None) -> np.random.Generator:
    """SPEC 7: turn ``None``, an int seed, a ``SeedSequence`` or a ``Generator`` into a Generator.

    Never touches numpy's global random state.
    """
    return np.random.default_rng(rng)


def spawn_rngs(seed: Any, count: int) -> list[np.random.Generator]:
    """``count`` independent generators from one root seed (via ``SeedSequence.spawn``).

    The i-th stream depends only on ``seed`` and ``i``, never on how work is
    chunked or which worker runs it.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.default_rng(child) for child in ss.spawn(count)]


def cached_array(path: Any, compute: Any, *, shape: tuple | None = None,
                 dtype: Any = None) -> np.ndarray:
    """The array kept at ``path`` (``.npy``), or ``compute()`` kept there for the next caller.

    For results that are costly and the same on every run, shared by processes: a file
    of another shape or dtype, or one that does not load, is computed again and replaced;
    it is written aside and renamed, so a concurrent reader sees a whole file or none; a
    disk that refuses the write only costs the saving. ``path`` must name every input the
    array depends on (the caller's key).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "squares.npy"
    >>> cached_array(path, lambda: np.arange(4) ** 2)
    array([0, 1, 4, 9])
    >>> cached_array(path, lambda: 1 / 0)       # read back: not computed again
    array([0, 1, 4, 9])
    """
    import os
    from pathlib import Path

    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
        if (shape is None or data.shape == tuple(shape)) and (dtype is None
                                                              or data.dtype == np.dtype(dtype)):
            return data
    except (OSError, ValueError):
        pass
    data = np.asarray(compute())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, data, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass
    return data
