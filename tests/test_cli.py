"""The command line: ``figures`` renders every preset; ``serve`` is driven by the browser tests."""

import subprocess
import sys

from explorer.__main__ import find_notebooks, voila_command
from explorer.apps import sbm_app
from explorer.apps._graph import evaluate_once


def test_figures_renders_every_preset(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "figures", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    import importlib

    from explorer.apps import APPS

    for name, path in APPS.items():
        module = importlib.import_module(path)
        views = len(module.VIEWS)
        pngs = sorted(tmp_path.glob(f"{name}_*.png"))
        assert len(pngs) == len(module.PRESETS) * views, name   # every view of every preset
        assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    # Each line reports the preset's status, computed by the backend.
    for name, values in sbm_app.PRESETS.items():
        state = {p.name: p.default for p in sbm_app.PARAMS} | {"seed": 0} | values
        assert evaluate_once(sbm_app.STAGES, sbm_app.summary, state) in out.stdout, name


def test_unknown_app_is_refused(tmp_path):
    res = subprocess.run([sys.executable, "-m", "explorer", "figures", "--out", str(tmp_path),
                          "--app", "nope"], capture_output=True, text=True)
    assert res.returncode != 0 and "unknown app 'nope'" in res.stderr


def test_serve_command_binds_loopback_and_finds_the_landing_page():
    nb = find_notebooks()
    assert (nb / "index.ipynb").is_file()
    cmd = voila_command(nb, 8866, "127.0.0.1")
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=8866" in cmd
    assert "--VoilaConfiguration.show_tracebacks=False" in cmd
