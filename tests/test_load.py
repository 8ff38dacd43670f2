"""`make load` in small: three browser sessions at once against one server (one per app),
each with slider changes, a preset and a background task. No timings are asserted here: the
full load run (benchmarks/load_voila.py) reports them."""

import json
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

pytestmark = pytest.mark.browser


@pytest.mark.timeout(1500)     # a server of its own fills its pools first: minutes when busy
def test_three_sessions_at_once_get_their_canvases_and_interactions_without_errors():
    from load_voila import SESSIONS, run_load, table

    # The default server (a kernel per visitor); the light-client test below runs on warm
    # pools, where the permalink (the IQP session's query) reaches a preheated kernel.
    result = run_load(3, timeout_s=400)
    assert result["errors"] == [], result["errors"]
    assert result["sessions_with_canvas"] == 3
    assert result["interactions"] == sum(len(s[3]) for s in SESSIONS)
    assert 0 < result["kernel_mb_max"] < 1000 and result["kernels"] >= 3
    assert "| browser | 3 | 0 |" in table([result])


@pytest.mark.timeout(900)
def test_light_clients_speak_the_pages_kernel_protocol():
    """Without a browser: the widgets' states, each canvas's first image and one new image
    per slider change, over Jupyter's v1 websocket framing."""
    from load_voila import SESSIONS, run_load

    result = run_load(3, timeout_s=300, pool=1, clients="light")
    assert result["errors"] == [], result["errors"]
    assert result["sessions_with_canvas"] == 3
    assert result["interactions"] == sum(len(s[3]) for s in SESSIONS)


@pytest.mark.timeout(600)
def test_abandoned_kernels_are_culled():
    from load_voila import run_cull

    result = run_cull(2, cull_idle=5)
    assert result["kernels_while_open"] == 2
    assert result["culled_after_s"] is not None, result


def test_light_client_framing_matches_jupyter_servers_v1_protocol():
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )
    from load_voila import _ws_message, _ws_parse

    channel, parts = deserialize_msg_from_ws_v1(
        _ws_message("s", "comm_msg", {"comm_id": "c", "data": {"x": 1}}, {"version": "1.0.0"}))
    assert channel == "shell" and len(parts) == 4
    assert json.loads(parts[0])["msg_type"] == "comm_msg"
    assert json.loads(parts[2]) == {"version": "1.0.0"}
    assert json.loads(parts[3]) == {"comm_id": "c", "data": {"x": 1}}
    header = json.dumps({"msg_type": "comm_msg"}).encode()
    content = json.dumps({"comm_id": "c"}).encode()
    for buffers in ([], [b"\x89PNG..."]):
        frame = serialize_msg_to_ws_v1([header, b"{}", b"{}", content, *buffers], "iopub")
        assert _ws_parse(frame) == ({"msg_type": "comm_msg", "content": {"comm_id": "c"}},
                                    bool(buffers))
