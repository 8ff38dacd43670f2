"""`make load` in small: three browser sessions at once against one server (one per app),
each with slider changes, a preset and a background task. No timings are asserted here: the
full load run (benchmarks/load_voila.py) reports them."""

import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

pytestmark = pytest.mark.browser


@pytest.mark.timeout(1500)     # a server of its own fills its pools first: minutes when busy
def test_three_sessions_at_once_get_their_canvases_and_interactions_without_errors():
    from load_voila import SESSIONS, run_load, table

    result = run_load(3, timeout_s=400)          # the default server: a kernel per visitor
    assert result["errors"] == [], result["errors"]
    assert result["sessions_with_canvas"] == 3
    assert result["interactions"] == sum(len(s[3]) for s in SESSIONS)
    assert 0 < result["kernel_mb_max"] < 1000 and result["kernels"] >= 3
    assert "| 3 | 0 |" in table([result])
