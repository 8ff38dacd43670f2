"""The shared result vocabulary and validation messages."""

import math

import numpy as np
import pytest

from explorer._common import (
    Status,
    Trajectory,
    as_rng,
    check_array,
    check_int,
    check_option,
    check_real,
    spawn_rngs,
)


def test_message_names_parameter_range_and_value():
    with pytest.raises(ValueError, match=r"^p must be in \(0, 1\); got 1.3$"):
        check_real("p", 1.3, 0, 1, lo_open=True, hi_open=True)
    with pytest.raises(ValueError, match=r"^sigma must be in \[0, inf\); got -1$"):
        check_real("sigma", -1, 0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.3", None, True, [0.3]])
def test_check_real_rejects_non_numbers_and_non_finite(bad):
    with pytest.raises(ValueError, match="^x must be"):
        check_real("x", bad, 0, 1)


def test_check_real_open_and_closed_ends():
    assert check_real("x", 0.0, 0, 1) == 0.0
    with pytest.raises(ValueError):
        check_real("x", 0.0, 0, 1, lo_open=True)
    assert check_real("x", 1, 0, 1) == 1.0 and isinstance(check_real("x", 1, 0, 1), float)


def test_check_int():
    assert check_int("n", 10, 4, even=True) == 10
    assert check_int("n", 10.0, 4) == 10  # integral floats from sliders and JSON
    with pytest.raises(ValueError, match=r"^n must be an even integer >= 4; got 7$"):
        check_int("n", 7, 4, even=True)
    with pytest.raises(ValueError, match=r"in \[1, 5\]; got 6"):
        check_int("k", 6, 1, 5)
    for bad in (2.5, "3", True, None):
        with pytest.raises(ValueError, match="^k must be an integer"):
            check_int("k", bad)


def test_check_option_lists_allowed_values():
    assert check_option("schedule", "batch", ("batch", "sequential")) == "batch"
    with pytest.raises(ValueError, match=r"one of 'batch', 'sequential'; got 'bogus'"):
        check_option("schedule", "bogus", ("batch", "sequential"))
    with pytest.raises(ValueError):
        check_option("schedule", 3, ("batch",))


def test_check_array_shape_and_bounds():
    a = check_array("psi0", [0.2, 0.8], ndim=1, lo=0, hi=1)
    assert a.dtype == float and a.shape == (2,)
    with pytest.raises(ValueError, match=r"psi0 entries must be in \[0, 1\]; got 1.5"):
        check_array("psi0", [0.2, 1.5], lo=0, hi=1)
    with pytest.raises(ValueError, match=r"must have shape \(any, 3\); got \(2, 2\)"):
        check_array("ops", np.zeros((2, 2)), shape=(None, 3))
    with pytest.raises(ValueError, match="finite"):
        check_array("x", [np.nan])
    with pytest.raises(ValueError, match="numeric"):
        check_array("x", ["a"])


def _traj(k=3, **kw):
    args = dict(times=np.arange(k), iterates=np.zeros((k, 2)), objective=np.zeros(k),
                status=Status.CONVERGED)
    args.update(kw)
    return Trajectory(**args)


def test_trajectory_is_frozen_and_read_only():
    tr = _traj(extras={"p_hat": np.ones(3)})
    with pytest.raises(AttributeError):
        tr.status = Status.MAX_ITER
    with pytest.raises(ValueError):
        tr.iterates[0, 0] = 1.0
    with pytest.raises(TypeError):
        tr.extras["new"] = np.ones(3)
    assert tr.n_records == 3 and tr.converged and tr.final.shape == (2,)


def test_trajectory_copies_its_inputs():
    it = np.zeros((2, 2))
    tr = _traj(k=2, iterates=it)
    it[0, 0] = 5.0
    assert tr.iterates[0, 0] == 0.0


@pytest.mark.parametrize(
    "kw",
    [dict(iterates=np.zeros((2, 2))), dict(objective=np.zeros(4)),
     dict(extras={"a": np.zeros(2)}), dict(status="converged")],
)
def test_trajectory_rejects_mismatched_leading_axis(kw):
    with pytest.raises(ValueError):
        _traj(**kw)


def test_status_values_are_human_messages():
    assert Status.CONVERGED.value == "converged"
    assert "max_iter" in Status.MAX_ITER.value
    assert str(Status.CANCELLED) == "cancelled"
    assert Status.CONVERGED.ok and not Status.DIVERGED.ok and not Status.CANCELLED.ok


def test_rng_handling_follows_spec7():
    g = np.random.default_rng(5)
    assert as_rng(g) is g
    assert as_rng(3).random() == np.random.default_rng(3).random()
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it is untouched
    as_rng(None).random()
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_spawned_streams_are_independent_of_count_requested():
    a = [g.random() for g in spawn_rngs(42, 3)]
    b = [g.random() for g in spawn_rngs(42, 5)][:3]
    assert a == b and len(set(a)) == 3
