"""Guided tours: the files' checks name the step and field; apps walk tours headlessly; the
position is in the permalink; the CLI validates files."""

import html
import subprocess
import sys
from urllib.parse import parse_qs

import pytest

from explorer.apps import iqp_app, ntk_app, sbm_app
from explorer.tours import TOURS_DIR, check_tour, load_tour, tours_for

APPS = {"sbm": sbm_app, "iqp": iqp_app, "ntk": ntk_app}

GOOD = '''
title = "A tour"
app = "ntk"

[[steps]]
title = "First"
preset = "fast polynomial decay"
view = "risk"
text = "Some words."

[[steps]]
title = "Second"
set = { R = 3.0, log_t = 2.0 }
text = "More words."
'''


def _write(tmp_path, text, name="t.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("app", list(APPS))
def test_every_app_ships_a_tour_of_five_to_eight_checked_steps(app):
    tours = tours_for(app)
    assert tours
    for tour in tours.values():
        assert 5 <= len(tour) <= 8
        assert all(step.text and step.title for step in tour.steps)


def test_a_good_tour_loads(tmp_path):
    tour = check_tour(load_tour(_write(tmp_path, GOOD)))
    assert tour.name == "t" and len(tour) == 2
    assert tour.steps[1].values == {"R": 3.0, "log_t": 2.0}


@pytest.mark.parametrize("edit,message", [
    (('text = "More words."', 'text = "More words."\ncolour = "red"'),
     r"t.toml, step 2 \('Second'\): unknown field 'colour'; allowed: title, text, preset"),
    (('view = "risk"', "view = 3"), r"step 1 \('First'\): field 'view' must be a str; got int"),
    (('text = "Some words."', ""), r"step 1 \('First'\): missing field 'text'"),
    (('app = "ntk"', 'app = "ntk"\nauthor = "me"'), r"t.toml: unknown field 'author'"),
    (('title = "A tour"', 'title = "A tour'), r"t.toml: not valid TOML"),
])
def test_shape_errors_name_the_step_and_field(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        load_tour(_write(tmp_path, GOOD.replace(*edit)))


@pytest.mark.parametrize("edit,message", [
    (("R = 3.0", "R = 300.0"),
     r"step 2 \('Second'\): field 'set': R must be in \[0, 20\]; got 300"),
    (("R = 3.0", "Q = 3.0"), r"step 2 \('Second'\): field 'set': unknown control 'Q'"),
    (('preset = "fast polynomial decay"', 'preset = "slow"'),
     r"step 1 \('First'\): field 'preset': unknown preset 'slow'"),
    (('view = "risk"', 'view = "cake"'), r"field 'view': unknown view 'cake'; known: risk"),
    (('app = "ntk"', 'app = "xyz"'),
     r"field 'app' must be one of sbm, iqp, ntk(, \w+)*; got 'xyz'"),
    (("log_t = 2.0", 'log_t = "__import__(\'os\')"'), r"field 'set': log_t must be"),
])
def test_app_errors_name_the_step_and_field(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        check_tour(load_tour(_write(tmp_path, GOOD.replace(*edit))))


def test_too_many_steps_and_overlong_text_are_refused(tmp_path):
    step = '[[steps]]\ntitle = "s"\ntext = "t"\n'
    with pytest.raises(ValueError, match="1 to 20 steps; got 21"):
        load_tour(_write(tmp_path, 'title = "x"\napp = "ntk"\n' + step * 21))
    with pytest.raises(ValueError, match="at most 2000 characters"):
        load_tour(_write(tmp_path, GOOD.replace("More words.", "w" * 2001)))


@pytest.mark.parametrize("app_name", list(APPS))
def test_walking_each_tour_sets_its_controls_and_highlights_its_view(app_name):
    module = APPS[app_name]
    app = module.make_app(query_string="")
    for name, tour in app.tour_player.tours.items():
        app.go_to_step(name, 1)
        for k, step in enumerate(tour.steps, start=1):
            if k > 1:
                app.tour_player.next.click()            # the Next button
            assert app.tour_player.step == k
            want = {**(app.preset_values(step.preset) if step.preset else {}), **step.values}
            assert {key: app.state[key] for key in want} == want
            assert app.last_error is None, app.status_text
            assert html.escape(step.title) in app.tour_player.narration.value
            focused = [v for v, w in app._fig_widgets.items()
                       if "explorer-focus" in w._dom_classes]
            assert focused == ([step.view] if step.view else [])
            query = parse_qs(app.query_string())
            assert query["tour"] == [name] and query["step"] == [str(k)]
        assert app.tour_player.next.disabled and not app.tour_player.back.disabled
        app.tour_player.back.click()
        assert app.tour_player.step == len(tour) - 1
        app.tour_player.picker.value = "(no tour)"
        assert "tour" not in parse_qs(app.query_string())
        assert not any("explorer-focus" in w._dom_classes for w in app._fig_widgets.values())


def test_a_permalink_opens_at_its_step_and_url_values_override_the_step():
    name = "ntk_early_stopping"
    step4 = tours_for("ntk")[name].steps[3]
    app = ntk_app.make_app(query_string=f"tour={name}&step=4")
    assert app.tour_player.step == 4 and app.state["R"] == ntk_app.PRESETS[step4.preset]["R"]
    assert "explorer-focus" in app._fig_widgets[step4.view]._dom_classes
    app = ntk_app.make_app(query_string=f"tour={name}&step=4&R=3")
    assert app.tour_player.step == 4 and app.state["R"] == 3.0


@pytest.mark.parametrize("query,warning,step", [
    ("tour=ntk_early_stopping&step=99", "step 99 needs a tour with that many steps", 1),
    ("step=2", "step 2 needs a tour", 0),
    ("tour=nope&step=2", "unknown tour 'nope' ignored", 0),
    ("tour=ntk_early_stopping&step=x", "step must be a number; got 'x'; using step 1", 1),
])
def test_bad_tour_positions_in_the_url_are_warnings(query, warning, step):
    app = ntk_app.make_app(query_string=query)
    assert warning in app.warning_text
    assert app.tour_player.step == step and app.last_error is None


def test_go_to_step_names_bad_arguments():
    app = ntk_app.make_app(query_string="")
    with pytest.raises(ValueError, match=r"step must be in \[1, 7\] for tour"):
        app.go_to_step("ntk_early_stopping", 8)
    with pytest.raises(ValueError, match="unknown tour 'x'; known: ntk_early_stopping"):
        app.go_to_step("x", 1)


def test_the_cli_checks_tour_files(tmp_path):
    good = _write(tmp_path, GOOD)
    bad = _write(tmp_path, GOOD.replace("R = 3.0", "R = 300.0"), "bad.toml")
    run = subprocess.run([sys.executable, "-m", "explorer", "tour", "check", str(good),
                          *map(str, sorted(TOURS_DIR.glob("*.toml")))],
                         capture_output=True, text=True, timeout=300)
    shipped = len(list(TOURS_DIR.glob("*.toml")))
    assert run.returncode == 0 and run.stdout.count("ok: ") == 1 + shipped, run.stderr
    run = subprocess.run([sys.executable, "-m", "explorer", "tour", "check", str(bad)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "bad.toml, step 2 ('Second'): field 'set'" in run.stderr
