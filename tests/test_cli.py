"""The command line: ``figures`` renders every preset; ``serve`` is driven by the browser tests."""

import json
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


def test_serve_command_binds_loopback_and_finds_the_landing_page(tmp_path):
    nb = find_notebooks()
    assert (nb / "index.ipynb").is_file()
    cmd = voila_command(nb, 8866, "127.0.0.1", config_dir=tmp_path)
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=8866" in cmd
    assert f"--Voila.config_file_paths={tmp_path}" in cmd
    config = json.loads((tmp_path / "voila.json").read_text())
    assert config["VoilaConfiguration"]["show_tracebacks"] is False
    assert config["VoilaConfiguration"]["preheat_kernel"] is False     # pools are opt-in


def _fake_bin(tmp_path, uid: int):
    """A PATH of stand-ins: apt-get records its arguments, id reports ``uid``, no chromium."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "sudo").write_text("#!/bin/sh\nexit 1\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {"PATH": str(bin_dir), "ENSURE_CHROMIUM_BIN": str(tmp_path / "no-chromium"),
           "HOME": os.environ.get("HOME", "/tmp")}
    return env, log


def test_make_test_installs_chromium_when_missing_and_root(tmp_path):
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / ".ci" / "ensure-chromium"
    env, log = _fake_bin(tmp_path, 0)
    out = subprocess.run(["/bin/bash", str(script)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert log.read_text().splitlines() == ["update -qq",
                                            "install -y -qq --no-install-recommends chromium"]
    # Without root (and no sudo) nothing is installed; the browser tests then say what to do.
    user = tmp_path / "user"
    user.mkdir()
    env, log = _fake_bin(user, 1000)
    out = subprocess.run(["/bin/bash", str(script)], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "needs root" in out.stdout and not log.exists()
