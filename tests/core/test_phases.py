"""Phase recognition: template parsing (and its errors), hysteresis and dropout bridging, rule
priority, minimum phase length, the bundled templates, and a real SOSpine trial (skipped when the
shared data folder is absent)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.core.phases import (
    GENERIC_TEMPLATE_ID,
    Phase,
    Signal,
    TemplateError,
    bundled_templates,
    load_template,
    phase_at,
    phase_durations,
    presence_table,
    raw_labels,
    recognise_phases,
    signal_states,
    smooth_segments,
)

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
[template]
id = "t"
name = "Test"
default = "idle"
min_phase_s = 0

[signals.a]
[signals.b]

[[phases]]
label = "both"
all = ["a", "b"]

[[phases]]
label = "a only"
all = ["a"]
only = true

[[phases]]
label = "something"
any = ["a", "b"]
"""


def write(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def table(times, **columns) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.Index(np.asarray(times, dtype=float), name="time_s"))


# ---------------------------------------------------------------------------------------------
# Parsing


def test_minimal_template_parses(tmp_path):
    t = load_template(write(tmp_path, MINIMAL))
    assert t.id == "t" and t.default == "idle"
    assert [p.label for p in t.phases] == ["both", "a only", "something"]
    assert t.labels == ("both", "a only", "something", "idle")
    assert t.signals["a"] == Signal("a", "a", 0.5, 0.5, 0.0)
    assert t.missing_columns(["a"]) == ["b"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.replace('id = "t"\n', ""), "missing required text field 'id'"),
        (lambda s: s.replace("[template]", "[templat]"), "missing the [template] table"),
        (lambda s: s.replace('all = ["a", "b"]', 'all = ["a", "c"]'), "signal 'c' is not declared"),
        (lambda s: s.replace('all = ["a", "b"]', 'al = ["a", "b"]'), "unknown key(s) 'al'"),
        (lambda s: s.replace('all = ["a", "b"]', 'all = "a"'), "'all' should be a list"),
        (
            lambda s: s.replace("[signals.a]", "[signals.a]\non = 0.2\noff = 0.4"),
            "'off' (0.4) must not exceed 'on' (0.2)",
        ),
        (
            lambda s: s.replace("min_phase_s = 0", "min_phase_s = -1"),
            "'min_phase_s' must not be negative",
        ),
        (
            lambda s: s.replace("min_phase_s = 0", 'min_phase_s = "long"'),
            "'min_phase_s' should be a number",
        ),
        (
            lambda s: s.replace('label = "both"\nall = ["a", "b"]', 'label = "both"'),
            "would hold everywhere",
        ),
        (lambda s: s.replace('label = "both"\n', ""), "missing required text field 'label'"),
        (lambda s: s.replace("only = true", 'only = "yes"'), "'only' should be true or false"),
        (
            lambda s: s.replace("only = true", 'after = "nowhere"'),
            "'after' unknown phase 'nowhere'",
        ),
        (lambda s: s.replace("[signals.a]\n[signals.b]\n", ""), "no [signals.<name>] tables"),
        (lambda s: s.split("[[phases]]")[0], "no [[phases]]"),
        (lambda s: s + "\n[extra]\nx = 1\n", "unknown table(s) 'extra'"),
        (lambda s: s.replace('name = "Test"', 'name = "Test'), "not valid TOML"),
    ],
)
def test_bad_templates_name_the_file_and_the_problem(tmp_path, change, message):
    path = write(tmp_path, change(MINIMAL), "broken.toml")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert str(path) in str(info.value)
    assert message in str(info.value), str(info.value)


def test_missing_file_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="cannot be read"):
        load_template(tmp_path / "absent.toml")


def test_bundled_templates_load():
    templates = bundled_templates()
    assert {GENERIC_TEMPLATE_ID, "sospine-durotomy", "socal-carotid"} <= set(templates)
    assert templates[GENERIC_TEMPLATE_ID].columns == ("instrument", "bleeding")
    sospine = templates["sospine-durotomy"]
    assert set(sospine.columns) == {"durotomy", "needle driver", "needle", "nerve hook", "grasper"}


# ---------------------------------------------------------------------------------------------
# Signals and rules


def test_hysteresis_switches_on_high_and_off_low(tmp_path):
    t = load_template(
        write(
            tmp_path,
            """
            [template]
            id = "h"
            name = "H"
            [signals.bleeding]
            on = 0.05
            off = 0.03
            [[phases]]
            label = "bleeding"
            all = ["bleeding"]
            """,
        )
    )
    values = [0.0, 0.04, 0.06, 0.04, 0.035, 0.02, 0.04, 0.06]
    states = signal_states(table(range(8), bleeding=values), t)["bleeding"].tolist()
    assert states == [False, False, True, True, True, False, False, True]


def test_hold_bridges_short_dropouts_only(tmp_path):
    t = load_template(
        write(
            tmp_path,
            """
            [template]
            id = "h"
            name = "H"
            [signals.tool]
            hold_s = 2
            [[phases]]
            label = "work"
            all = ["tool"]
            """,
        )
    )
    # Off for 1 s (t=3) and for 4 s (t=7..10): the first is bridged, the second is not; the
    # leading gap (before the first on) is never filled.
    values = [0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1]
    states = signal_states(table(range(13), tool=values), t)["tool"].astype(int).tolist()
    assert states == [0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1]


def test_rule_priority_only_and_default(tmp_path):
    t = load_template(write(tmp_path, MINIMAL))
    p = table(range(5), a=[1, 1, 0, 0, 1], b=[1, 0, 1, 0, 0])
    assert raw_labels(p, t).tolist() == ["both", "a only", "something", "idle", "a only"]
    # A missing column counts as never on.
    assert raw_labels(table(range(3), a=[1, 0, 1]), t).tolist() == ["a only", "idle", "a only"]


def test_after_only_once_the_other_phase_was_seen(tmp_path):
    t = load_template(
        write(
            tmp_path,
            """
            [template]
            id = "x"
            name = "X"
            default = "idle"
            [signals.muscle]
            [signals.tool]
            [[phases]]
            label = "patch"
            all = ["muscle"]
            [[phases]]
            label = "hemostasis"
            none = ["tool", "muscle"]
            after = "patch"
            [[phases]]
            label = "work"
            all = ["tool"]
            """,
        )
    )
    p = table(range(6), muscle=[0, 0, 1, 0, 0, 0], tool=[0, 1, 1, 1, 0, 0])
    assert raw_labels(p, t).tolist() == [
        "idle",
        "work",
        "patch",
        "work",
        "hemostasis",
        "hemostasis",
    ]


# ---------------------------------------------------------------------------------------------
# Smoothing


def test_short_flicker_inside_a_phase_is_absorbed():
    segs = [["a", 0.0, 10.0], ["b", 10.0, 11.0], ["a", 11.0, 20.0]]
    assert smooth_segments(segs, 3.0) == [["a", 0.0, 20.0]]


def test_short_phase_between_two_others_joins_the_longer():
    segs = [["a", 0.0, 10.0], ["b", 10.0, 12.0], ["c", 12.0, 15.0]]
    assert smooth_segments(segs, 3.0) == [["a", 0.0, 12.0], ["c", 12.0, 15.0]]
    # Nothing shorter than the minimum: unchanged.
    assert smooth_segments(segs, 1.0) == segs


def test_recognise_phases_end_to_end(tmp_path):
    text = MINIMAL.replace("min_phase_s = 0", "min_phase_s = 3")
    t = load_template(write(tmp_path, text))
    times = np.arange(0.0, 30.0, 0.5)  # 2 fps
    a = ((times >= 5) & (times < 20)).astype(float)
    b = ((times >= 12) & (times < 20)).astype(float)
    b[times == 8.0] = 1  # a one-frame false detection
    phases = recognise_phases(table(times, a=a, b=b), t)
    assert [p.label for p in phases] == ["idle", "a only", "both", "idle"]
    assert [(p.start_s, p.end_s) for p in phases] == [
        (0.0, 5.0),
        (5.0, 12.0),
        (12.0, 20.0),
        (20.0, 30.0),
    ]
    assert phase_durations(phases) == {"idle": 15.0, "a only": 7.0, "both": 8.0}
    assert phase_at(phases, np.array([1.0, 6.0, 13.0, 29.5])).tolist() == [
        "idle",
        "a only",
        "both",
        "idle",
    ]
    assert recognise_phases(table([], a=[], b=[]), t) == []


def test_generic_template_on_a_class_agnostic_case():
    t = bundled_templates()[GENERIC_TEMPLATE_ID]
    times = np.arange(0.0, 60.0)
    detections = pd.DataFrame(
        [(s, "instrument", 0.9, 0, 0, 10, 10) for s in times if 10 <= s < 50]
        + [(s, "instrument", 0.9, 50, 50, 60, 60) for s in times if 20 <= s < 30],
        columns=["time_s", "label", "score", "x1", "y1", "x2", "y2"],
    )
    bleeding = pd.Series(np.where((times >= 35) & (times < 45), 0.2, 0.0), index=times)
    presence = presence_table(detections, times, bleeding=bleeding)
    assert presence.loc[25.0, "instrument"] == 2 and presence.loc[5.0, "instrument"] == 0
    phases = recognise_phases(presence, t)
    assert [(p.label, p.start_s, p.end_s) for p in phases] == [
        ("no instrument in view", 0.0, 10.0),
        ("one instrument", 10.0, 20.0),
        ("two or more instruments", 20.0, 30.0),
        ("one instrument", 30.0, 35.0),
        ("bleeding, instrument in view", 35.0, 45.0),
        ("one instrument", 45.0, 50.0),
        ("no instrument in view", 50.0, 60.0),
    ]
    assert all(isinstance(p, Phase) for p in phases)


def test_presence_table_keeps_empty_analysed_frames_and_filters():
    det = pd.DataFrame(
        [(0.0, "needle", 0.9), (0.0, "needle", 0.2), (1.0, "grasper", 0.8)],
        columns=["time_s", "label", "score"],
    )
    p = presence_table(
        det, np.array([0.0, 1.0, 2.0]), labels=["needle", "grasper", "nerve hook"], min_score=0.5
    )
    assert p.index.tolist() == [0.0, 1.0, 2.0]
    assert p.loc[0.0, "needle"] == 1 and p.loc[1.0, "grasper"] == 1
    assert p.loc[2.0].sum() == 0 and p["nerve hook"].sum() == 0


# ---------------------------------------------------------------------------------------------
# Real data


def _data_dir() -> Path:
    return Path(os.environ.get("SCRUBLINE_DATA", REPO.parent / "shared" / "data"))


def test_sospine_trial_phases_from_ground_truth():
    path = _data_dir() / "sospine" / "sospine_bbox.csv"
    if not path.is_file():
        pytest.skip(f"SOSpine data not found under {path.parent}")
    boxes = pd.read_csv(path)
    boxes["trial"] = boxes["trial_frame"].str.split("_").str[0]
    boxes["time_s"] = boxes["trial_frame"].str.extract(r"_(\d+)\.")[0].astype(float) - 1.0
    trial = boxes[boxes["trial"] == "S4A1"]
    det = trial.dropna(subset=["label"]).assign(label=lambda d: d["label"].str.strip(), score=1.0)
    presence = presence_table(det, trial["time_s"].unique())
    phases = recognise_phases(presence, bundled_templates()["sospine-durotomy"])
    durations = phase_durations(phases)
    # The repair has both suturing steps, and the timeline covers the whole trial.
    assert durations.get("taking a bite", 0) > 10 and durations.get("suture tying", 0) > 0
    assert phases[0].start_s == 0.0 and phases[-1].end_s == pytest.approx(trial["time_s"].max() + 1)
    assert all(p.duration_s >= 3.0 for p in phases)
    assert all(a.end_s == b.start_s for a, b in zip(phases, phases[1:], strict=False))


def test_a_phase_name_is_shown_and_the_label_kept(tmp_path):
    """`name` is the display name of a phase; exports and rules keep `label`."""
    cholecystectomy = bundled_templates()["cholecystectomy"]
    assert cholecystectomy.name_of("CalotTriangleDissection") == "Calot triangle dissection"
    assert cholecystectomy.name_of("CleaningCoagulation") == "Cleaning and coagulation"
    assert cholecystectomy.name_of("Preparation") == "Preparation"  # no name: the label
    assert cholecystectomy.name_of("not a phase") == "not a phase"
    bad = tmp_path / "bad.toml"
    bad.write_text(
        textwrap.dedent(
            """
            [template]
            id = "t"
            name = "T"
            model = "cholec80-phases"
            [[phases]]
            label = "Preparation"
            name = 3
            """
        )
    )
    with pytest.raises(TemplateError, match="'name' should be text"):
        load_template(bad)
