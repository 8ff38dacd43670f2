"""The performance report's writer and budget table (benchmarks/report.py), on fake results.

Nothing heavy runs here: no benchmark, no server, no peer environment.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod            # dataclasses look their module up there
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


report = _load("report")
util = _load("_util")


def test_budget_table_has_no_duplicates_and_every_row_names_its_floor():
    keys = [b.key for b in report.BUDGETS]
    names = [b.name for b in report.BUDGETS]
    assert len(keys) == len(set(keys))
    assert len(names) == len(set(names))
    sources = {(b.source, b.row) for b in report.BUDGETS}
    assert len(sources) == len(report.BUDGETS)
    for b in report.BUDGETS:
        assert b.floor.strip() and b.floor.strip() != "-", b.key
        assert b.budget.strip() and b.measured.strip(), b.key
        assert b.limit is not None or b.max_ratio is not None, b.key
        assert b.unit in ("s", "MB", "count"), b.key


def test_budget_table_holds_the_issues_budgets():
    by = {b.key: b for b in report.BUDGETS}
    assert by["sbm_app_recompute"].limit == pytest.approx(0.100)
    assert by["browser_review"].limit == pytest.approx(0.100)
    assert by["browser_recompute"].limit == pytest.approx(0.250)
    assert by["iqp_w2_n150"].limit == pytest.approx(0.015)
    assert by["iqp_w2_n1000"].limit == pytest.approx(0.1)
    assert by["iqp_w2_n1000"].max_ratio == pytest.approx(2.0)
    assert by["iqp_training"].limit == pytest.approx(30.0)
    assert by["load_30_first_canvas"].limit == pytest.approx(5.0)
    assert by["load_30_interaction"].limit == pytest.approx(0.5)
    assert by["load_30_errors"].limit == 0
    assert by["load_idle_kernel"].limit == pytest.approx(250.0)


def test_status_flags_met_and_missed():
    b = report.Budget("x", "X", "m", "floor", "<= 10 ms and <= 2x", "s.py", "row",
                      limit=0.010, max_ratio=2.0)
    assert report.status(b, report.Result(0.005, 0.004)) == "met"
    assert report.status(b, report.Result(0.012, 0.010)) == "MISSED"       # over the limit
    assert report.status(b, report.Result(0.009, 0.001)) == "MISSED"       # over the ratio
    assert report.status(b, report.Result(0.009, None)) == "MISSED"        # ratio unknowable
    assert report.status(b, None) == "not measured"
    assert report.status(b, report.Result(float("nan"), 1.0)) == "not measured"
    errors = report.Budget("e", "E", "m", "floor", "0", "load", "30:errors", limit=0,
                           unit="count")
    assert report.status(errors, report.Result(0.0, 0.0)) == "met"
    assert report.status(errors, report.Result(1.0, 0.0)) == "MISSED"


def test_formatting():
    assert report.fmt_ratio(8.06) == "8.06x"
    assert report.fmt_ratio(250.4) == "250x"
    assert report.fmt_ratio(None) == "-"
    assert report.fmt_ratio(float("nan")) == "-"
    assert report.fmt_value(0.0631) == "63 ms"
    assert report.fmt_value(0.00071) == "0.71 ms"
    assert report.fmt_value(12.345) == "12.35 s"
    assert report.fmt_value(212.4, "MB") == "212 MB"
    assert report.fmt_value(None) == "-"
    assert report.ratio(0.063, 0.0) is None


def test_render_budgets_from_fake_results():
    budgets = (
        report.Budget("a", "Alpha", "what a", "GEMM", "<= 10 ms", "s.py", "a", limit=0.010),
        report.Budget("b", "Beta", "what b", "eigh", "<= 1.2x floor", "s.py", "b",
                      max_ratio=1.2),
        report.Budget("c", "Gamma", "what c", "SpMM", "<= 1 s", "s.py", "c", limit=1.0),
    )
    text = report.render_budgets({"a": report.Result(0.004, 0.002),
                                  "b": report.Result(0.030, 0.020)}, budgets)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| ") and "---" not in line}
    assert "| 4 ms | 2 ms | 2.00x | <= 10 ms | met |" in rows["Alpha"]
    assert "1.50x" in rows["Beta"] and "**MISSED**" in rows["Beta"]
    assert "not measured" in rows["Gamma"]
    assert text.startswith("**1 of 3 budgets met.** Missed: Beta. Not measured in this run: "
                           "Gamma.")


def test_collect_reads_script_tables_browser_and_load():
    table = util.table([
        ("n=150 loss+grad, mean weight 2", 0.012, "floor", 0.004, "<= 15 ms"),
        ("n=150 loss+grad, mean weight 2", 0.013, "1 dense L m N product", 0.3, "<< 1x"),
        ("app: change p (recompute)", 0.050, "Agg redraw of every view", 0.1, "<= 100 ms"),
        ("app: change seed (recompute)", 0.120, "Agg redraw of every view", 0.1, "<= 100 ms"),
        ("  slowest stages: fit 90", 0.0, "", 0.0, "ms"),
    ])
    saved = {
        "scripts": {"bench_iqp.py": {"rows": util.parse_table(table)},
                    "bench_sbm.py": {"rows": util.parse_table(table)}},
        "browser": {"latency": {
            "sbm_app:p (within)": {"p50_ms": 90, "p95_ms": 180, "kernel_ms": 40,
                                   "budget_ms": 250, "timeouts": 0},
            "ntk_app:log10 time": {"p50_ms": 60, "p95_ms": 120, "kernel_ms": 5,
                                   "budget_ms": 100, "timeouts": 0}}},
        "load": {"bare_python_mb": 90.0, "rows": [
            {"sessions": 1, "first_canvas_p50_s": 1.2, "first_canvas_p95_s": 1.2,
             "interaction_p50_ms": 100, "interaction_p95_ms": 150, "errors": [],
             "idle_kernel_mb_max": 200},
            {"sessions": 30, "first_canvas_p50_s": 3.0, "first_canvas_p95_s": 6.0,
             "interaction_p50_ms": 300, "interaction_p95_ms": 450, "errors": ["x"],
             "idle_kernel_mb_max": 210}]},
        "first_canvas": {"warm_s": 1.1, "warm_dom_s": 0.5},
    }
    r = report.collect(saved)
    assert r["iqp_w2_n150"] == report.Result(0.012, 0.004)            # the first of two rows
    assert r["sbm_app_recompute"].value == pytest.approx(0.120)       # the slowest control
    assert r["sbm_app_recompute"].note == "seed"
    assert r["browser_recompute"] == report.Result(0.180, 0.040, "p (within)")
    assert r["browser_review"].value == pytest.approx(0.120)
    assert r["load_30_first_canvas"] == report.Result(6.0, 1.2)
    assert r["load_30_interaction"].value == pytest.approx(0.450)
    assert r["load_30_interaction"].floor == pytest.approx(0.150)
    assert r["load_30_errors"] == report.Result(1.0, 0.0)
    assert r["load_idle_kernel"] == report.Result(210, 90.0)
    assert r["first_canvas_warm"] == report.Result(1.1, 0.5)
    assert r["load_1_first_canvas"] == report.Result(1.2, 0.5)
    by = {b.key: b for b in report.BUDGETS}
    assert report.status(by["load_30_first_canvas"], r["load_30_first_canvas"]) == "MISSED"
    assert report.status(by["load_30_errors"], r["load_30_errors"]) == "MISSED"
    assert report.status(by["browser_recompute"], r["browser_recompute"]) == "met"
    page = report.render_page(saved)
    assert "## Budgets" in page and "**MISSED**" in page
    assert "not measured" in page                                       # e.g. the NTK rows


def test_render_peers_says_when_a_peer_is_missing():
    text = report.render_peers({
        "iqp": {"150": {"explorer_warm_s": 0.063, "explorer_first_s": 0.2,
                        "explorer_value": 1e-3, "explorer_grad_absmax": 1e-3,
                        "iqpopt": {"error": "not installed (No module named 'iqpopt')"},
                        "pennylane": {"library": "pennylane 0.45.1", "warm_s": 0.508,
                                      "first_s": 3.0, "value": 1e-3, "value_absdiff": 1e-18,
                                      "grad_absdiff_max": 2e-6}}},
        "nt": {"error": "not installed: run make bench-peers"}})
    assert "| pennylane 0.45.1: 508 ms | 8.06x |" in text
    assert "iqpopt at n = 150: not installed" in text and "IQPOPT_SRC" in text
    assert "neural-tangents: not installed: run make bench-peers" in text
