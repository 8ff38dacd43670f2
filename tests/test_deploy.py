"""The deployment files in deploy/ parse and agree with the server's own settings and the
measured per-kernel memory (docs/deploy.md)."""

import json
import re

import yaml

from conftest import ROOT
from explorer.__main__ import CONFIG, KERNEL_MB

DEPLOY = ROOT / "deploy"


def _mb(text: str) -> float:
    value, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([MG])", text).groups()
    return float(value) * (1024 if unit == "G" else 1)


def test_every_deploy_file_parses():
    files = sorted(DEPLOY.glob("*.yaml"))
    assert {f.name for f in files} >= {"z2jh-config.yaml", "binderhub-config.yaml"}
    for f in files:
        assert isinstance(yaml.safe_load(f.read_text()), dict), f


def test_jupyterhub_values_fit_the_measured_kernels_and_cull_like_the_server():
    values = yaml.safe_load((DEPLOY / "z2jh-config.yaml").read_text())
    single = values["singleuser"]
    assert single["defaultUrl"] == "/voila/render/notebooks/index.ipynb"
    assert (ROOT / "notebooks" / "index.ipynb").is_file()
    # a student's landing page plus three apps, each one kernel
    assert _mb(single["memory"]["guarantee"]) >= 3 * KERNEL_MB
    assert _mb(single["memory"]["limit"]) >= _mb(single["memory"]["guarantee"])
    server = json.loads(CONFIG.read_text())
    assert values["cull"]["timeout"] == server["MappingKernelManager"]["cull_idle_timeout"]


def test_binderhub_values_size_and_cull_the_same_way():
    values = yaml.safe_load((DEPLOY / "binderhub-config.yaml").read_text())
    single = values["jupyterhub"]["singleuser"]
    assert _mb(single["memory"]["guarantee"]) >= 3 * KERNEL_MB
    assert values["jupyterhub"]["cull"]["timeout"] == 900


def test_the_guide_links_the_files_it_describes():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for f in DEPLOY.glob("*.yaml"):
        assert f"deploy/{f.name}" in guide
    assert "make serve-class" in guide and "make load" in guide
