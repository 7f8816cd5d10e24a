"""Learned phases: the `cholecystectomy` template and its Cholec80 model (features, HMM decoding,
the ONNX contract), `scrubline phases` on a hand-made presence table and its errors, a
class-agnostic case that must say which tool signals are missing, and held-out Cholec80 videos
(skipped when the shared data folder is absent)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.cli import main
from scrubline.core.models import load_registry
from scrubline.core.phase_model import (
    Decoding,
    FeatureSpec,
    PhaseModelError,
    match_tool_columns,
    per_second,
    video_features,
)
from scrubline.core.phases import (
    TemplateError,
    bundled_templates,
    learned_model,
    load_template,
    phases_from_table,
    presence_table,
    recognise_phases,
)

REPO = Path(__file__).resolve().parents[2]
CHOLEC80_PHASES = [
    "Preparation",
    "CalotTriangleDissection",
    "ClippingCutting",
    "GallbladderDissection",
    "GallbladderPackaging",
    "CleaningCoagulation",
    "GallbladderRetraction",
]

# A made-up cholecystectomy as tool runs (start s, end s, tools in view), written by hand from
# the usual course of the operation, not taken from any data set.
HAND_MADE_RUNS = """
0     150   Grasper
150   1150  Grasper Hook
1150  1330  Grasper Clipper
1330  1380  Grasper Scissors
1380  1420  Grasper Clipper
1420  2150  Grasper Hook
2150  2330  Grasper SpecimenBag
2330  2520  Irrigator Bipolar
2520  2640  Grasper SpecimenBag
"""
TOOLS = ["Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag"]


def hand_made_table(columns: dict[str, str] | None = None, step: float = 1.0) -> pd.DataFrame:
    """The runs above as `time_s` + one 0/1 column per tool (renamed through `columns`)."""
    times = np.arange(0.0, 2640.0, step)
    table = {"time_s": times}
    for tool in TOOLS:
        table[tool] = np.zeros(times.size, dtype=int)
    for line in textwrap.dedent(HAND_MADE_RUNS).strip().splitlines():
        start, end, *tools = line.split()
        for tool in tools:
            table[tool][(times >= float(start)) & (times < float(end))] = 1
    frame = pd.DataFrame(table)
    return frame.rename(columns=columns or {})


@pytest.fixture(scope="module")
def template():
    return bundled_templates()["cholecystectomy"]


# ---------------------------------------------------------------------------------------------
# Template and model


def test_cholecystectomy_template_names_the_model_and_cholec80_phases(template):
    assert template.model == "cholec80-phases"
    assert list(template.labels) == CHOLEC80_PHASES
    assert all(
        template.colour_of(p) and template.colour_of(p).startswith("#") for p in CHOLEC80_PHASES
    )
    assert len({template.colour_of(p) for p in CHOLEC80_PHASES}) == 7
    model = learned_model(template)
    assert list(model.labels) == CHOLEC80_PHASES
    assert list(model.tools) == TOOLS


def test_phase_model_is_not_run_on_frames_and_stays_small():
    registry = load_registry()
    manifest = registry.get("cholec80-phases")
    assert manifest.task == "phase"
    assert "cholec80-phases" not in [m.id for m in registry.frame_models()]
    assert manifest.file.stat().st_size < 10_000_000
    assert "CC BY-NC-SA 4.0" in manifest.licence and "Cholec80" in manifest.licence
    assert manifest.metrics["test_accuracy"] > 0.9


def test_learned_template_refuses_rules(tmp_path):
    path = tmp_path / "learned.toml"
    path.write_text(
        textwrap.dedent("""
        [template]
        id = "x"
        name = "X"
        model = "cholec80-phases"

        [[phases]]
        label = "Preparation"
        all = ["grasper"]
    """)
    )
    with pytest.raises(TemplateError, match="unknown key"):
        load_template(path)


def test_template_must_list_every_phase_of_its_model(tmp_path, template):
    path = tmp_path / "short.toml"
    path.write_text(
        '[template]\nid = "x"\nname = "X"\nmodel = "cholec80-phases"\n\n'
        '[[phases]]\nlabel = "Preparation"\n'
    )
    short = load_template(path)
    with pytest.raises(TemplateError, match="GallbladderRetraction"):
        recognise_phases(hand_made_table().set_index("time_s"), short)


def test_unknown_model_is_named(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(
        '[template]\nid = "x"\nname = "X"\nmodel = "no-such-model"\n\n[[phases]]\nlabel = "a"\n'
    )
    with pytest.raises(PhaseModelError, match="'no-such-model' is not installed"):
        recognise_phases(hand_made_table().set_index("time_s"), load_template(path))


def test_features_are_causal_online_and_look_ahead_offline():
    rng = np.random.default_rng(0)
    x = (rng.random((300, 2)) < 0.3).astype(float)
    online = FeatureSpec(("A", "B"), (10, 60), offline=False)
    offline = FeatureSpec(("A", "B"), (10, 60), offline=True)
    full, head = video_features(x, online), video_features(x[:200], online)
    np.testing.assert_allclose(full[:200], head)  # the future does not change the past
    f = video_features(x, offline)
    assert f.shape == (300, len(offline.names()))
    names = offline.names()
    # Share of the next 10 s, and seconds since the tool was last on, by their definitions.
    t = 50
    assert f[t, names.index("a_next_10s")] == pytest.approx(x[t : t + 10, 0].mean())
    last = max(i for i in range(t + 1) if x[i, 0])
    assert f[t, names.index("a_since_s")] == t - last


def test_viterbi_follows_the_phase_order():
    # Two phases, only 0 -> 1 allowed; a noisy middle second claiming phase 0 again is overruled.
    decoding = Decoding(
        np.array([[0.9, 0.1], [1e-9, 1.0]]), np.array([1.0, 0.0]), np.array([0.5, 0.5])
    )
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.2, 0.8]])
    assert decoding.viterbi(probabilities).tolist() == [0, 1, 1, 1, 1]
    # The causal filter cannot look ahead: it switches later, once the evidence has built up.
    assert decoding.forward(probabilities).tolist() == [0, 0, 0, 1, 1]


def test_per_second_resamples_analysed_frames():
    presence = pd.DataFrame(
        {"Hook": [1, 1, 0, 0, 2, 0, 0]}, index=[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 5.0]
    )
    # In view in half of second 2's frames counts; seconds 3 and 4 were not analysed and take the
    # nearest analysed second's value.
    assert per_second(presence, ["Hook"])[:, 0].tolist() == [1, 0, 1, 1, 0, 0]


def test_tool_columns_match_ignoring_case_spaces_underscores_and_the_export_prefix():
    found, missing = match_tool_columns(["GRASPER", "specimen bag", "tool_hook", "Clip per"], TOOLS)
    assert found == {
        "Grasper": "GRASPER",
        "Hook": "tool_hook",
        "Clipper": "Clip per",
        "SpecimenBag": "specimen bag",
    }
    assert missing == ["Bipolar", "Scissors", "Irrigator"]


# ---------------------------------------------------------------------------------------------
# The hand-made operation


def test_hand_made_operation_gets_its_phases_in_order(template):
    result = phases_from_table(hand_made_table(), template)
    assert list(result.columns) == ["time_s", "phase"] and len(result) == 2640
    phase = dict(zip(result["time_s"], result["phase"], strict=True))
    assert phase[60.0] == "Preparation"
    assert phase[700.0] == "CalotTriangleDissection"
    assert phase[1300.0] == "ClippingCutting"
    assert phase[1800.0] == "GallbladderDissection"
    assert phase[2250.0] == "GallbladderPackaging"
    assert phase[2450.0] == "CleaningCoagulation"
    assert phase[2630.0] == "GallbladderRetraction"
    order = [CHOLEC80_PHASES.index(p) for p in result["phase"]]
    assert order == sorted(order)  # never back to an earlier phase in this textbook case


def test_hand_made_operation_at_five_frames_per_second_with_other_names(template):
    names = {
        "Grasper": "grasper",
        "SpecimenBag": "Specimen bag",
        "Clipper": "CLIPPER",
        "time_s": "second",
    }
    result = phases_from_table(hand_made_table(names, step=0.2), template)
    assert len(result) == 2640 * 5
    assert result.loc[result["time_s"].between(1299, 1301), "phase"].eq("ClippingCutting").all()


def test_class_agnostic_case_says_which_tools_are_missing(template):
    times = np.arange(0.0, 120.0, 0.2)
    detections = pd.DataFrame({"time_s": times, "label": "instrument", "score": 0.9})
    presence = presence_table(detections, times, bleeding=pd.Series(0.0, index=times))
    with pytest.raises(PhaseModelError) as info:
        recognise_phases(presence, template)
    message = str(info.value)
    assert "Grasper, Bipolar, Hook, Scissors, Clipper, Irrigator, SpecimenBag" in message
    assert "instrument" in message and "class-aware" in message


# ---------------------------------------------------------------------------------------------
# The command


def run_cli(args, capsys):
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_phases_command_writes_time_and_phase(tmp_path, capsys):
    source, target = tmp_path / "presence.csv", tmp_path / "phases.csv"
    hand_made_table({"SpecimenBag": "specimen_bag"}).to_csv(source, index=False)
    rc, out, err = run_cli(["phases", str(source), "-o", str(target)], capsys)
    assert rc == 0, err
    written = pd.read_csv(target)
    assert list(written.columns) == ["time_s", "phase"]
    assert set(written["phase"]) == set(CHOLEC80_PHASES)
    assert written.loc[written["time_s"] == 1300.0, "phase"].item() == "ClippingCutting"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.drop(columns=["Bipolar", "Irrigator"]), "no column for Bipolar, Irrigator"),
        (lambda t: t.rename(columns={"time_s": "when"}), "no 'time_s' or 'second' column"),
        (
            lambda t: t.assign(Hook=t["Hook"].astype(object).where(t.index != 5, "yes")),
            "column 'Hook' has a value that is not a number",
        ),
        (lambda t: pd.concat([t, t.iloc[:1]]), "repeats a time"),
    ],
)
def test_phases_command_bad_tables_fail_in_one_line(tmp_path, capsys, edit, message):
    source, target = tmp_path / "presence.csv", tmp_path / "phases.csv"
    edit(hand_made_table()).to_csv(source, index=False)
    rc, out, err = run_cli(["phases", str(source), "-o", str(target)], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert str(source) in err and not target.exists()


def test_phases_command_unknown_procedure_and_missing_file(tmp_path, capsys):
    rc, _, err = run_cli(
        ["phases", str(tmp_path / "none.csv"), "-o", str(tmp_path / "o.csv")], capsys
    )
    assert rc == 2 and "no such file" in err
    source = tmp_path / "p.csv"
    hand_made_table().to_csv(source, index=False)
    rc, _, err = run_cli(
        ["phases", str(source), "-o", str(tmp_path / "o.csv"), "--procedure", "appendectomy"],
        capsys,
    )
    assert rc == 2 and "no procedure 'appendectomy'" in err and "cholecystectomy" in err


def test_phases_command_with_a_rule_template(tmp_path, capsys):
    source, target = tmp_path / "p.csv", tmp_path / "o.csv"
    pd.DataFrame(
        {"time_s": np.arange(20.0), "Instrument": [0] * 10 + [1] * 10, "bleeding": 0.0}
    ).to_csv(source, index=False)
    rc, _, err = run_cli(
        ["phases", str(source), "-o", str(target), "--procedure", "generic"], capsys
    )
    assert rc == 0, err
    phases = pd.read_csv(target)["phase"].tolist()
    assert (
        phases[:10] == [bundled_templates()["generic"].default] * 10 and len(set(phases[10:])) == 1
    )


# ---------------------------------------------------------------------------------------------
# Real data


def _cholec80() -> Path:
    root = Path(os.environ.get("SCRUBLINE_DATA", REPO.parent / "shared" / "data"))
    return root / "cholec80_annotations" / "cholec80_1fps_tool_phase.csv"


@pytest.mark.parametrize("video", ["video41", "video60"])
def test_held_out_cholec80_videos_above_a_floor(video, template):
    path = _cholec80()
    if not path.is_file():
        pytest.skip(f"Cholec80 annotations not found at {path}")
    rows = pd.read_csv(path)
    rows = rows[rows["video"] == video].sort_values("second")
    table = rows[["second", *TOOLS]]
    result = phases_from_table(table, template)
    accuracy = float((result["phase"].to_numpy() == rows["phase"].to_numpy()).mean())
    # Videos 41-80 were not trained on; the model's mean over them is in its card.
    assert accuracy > 0.85, accuracy


# ---------------------------------------------------------------------------------------------
# A case file with the cholecystectomy procedure


def _case_with_tools(tmp_path: Path, tools_per_second: list[list[str]], detector_labels: list[str]):
    from scrubline.core.results import BleedingMask, FrameResult, Instrument
    from scrubline.core.store import CaseStore

    store = CaseStore(tmp_path / "c.scrub", create=True)
    store.set_meta(
        "video", {"duration_s": float(len(tools_per_second)), "width": 100, "height": 100}
    )
    store.set_meta("settings", {"fps": 1.0})
    store.set_meta("models", [{"id": "det", "task": "detector", "labels": detector_labels}])
    store.set_meta("procedure", "cholecystectomy")
    store.write_results(
        [
            FrameResult(
                i * 25,
                float(i),
                [Instrument(label, 0.9, (0, 0, 10, 10), (5, 5), 0.9, True) for label in labels],
                BleedingMask(np.zeros((4, 4), np.uint8), 0.0),
            )
            for i, labels in enumerate(tools_per_second)
        ]
    )
    return store


def test_case_with_a_class_agnostic_detector_names_the_missing_tools(tmp_path):
    from scrubline.core.case import Case
    from scrubline.core.export import case_timeline

    with _case_with_tools(tmp_path, [["instrument"]] * 60, ["instrument"]) as store:
        with pytest.raises(PhaseModelError, match="there is none for Grasper, Bipolar"):
            case_timeline(store)
        timeline, reason = Case.wrap(store).timeline_and_reason()
    assert (
        timeline.episodes_of("phase") == [] and "SpecimenBag" in reason and "instrument" in reason
    )


def test_case_with_a_class_aware_detector_gets_cholec80_phases(tmp_path):
    from scrubline.core.export import case_timeline

    table = hand_made_table()
    seconds = [[t for t in TOOLS if row[t]] for _, row in table.iterrows()]
    # The detector knows all 7 tools; 'Bipolar' etc. never seen in a stretch is not "missing".
    with _case_with_tools(tmp_path, seconds, TOOLS) as store:
        timeline = case_timeline(store)
        from scrubline.core.case import Case
        from scrubline.report import ReportOptions
        from scrubline.report.document import gather

        data = gather(Case.wrap(store), ReportOptions(), load_registry())
    # The report's model page names the phase model beside the detector.
    assert data.phase_manifest is not None and data.phase_manifest.id == "cholec80-phases"
    assert data.timeline.phase_colours["ClippingCutting"] == "#c62828"
    # The window and the report say "Clipping and cutting"; episodes keep Cholec80's label.
    assert data.timeline.phase_name("ClippingCutting") == "Clipping and cutting"
    assert data.timeline.phase_name("Preparation") == "Preparation"
    phases = timeline.episodes_of("phase")
    assert [p.label for p in phases][:3] == CHOLEC80_PHASES[:3]
    assert timeline.phase_at(1300.0) == "ClippingCutting"
    assert phases[0].start_s == 0.0 and phases[-1].end_s == pytest.approx(2640.0)


def test_analyze_with_the_cholecystectomy_procedure(clips, tmp_path, capsys):
    from scrubline.core.store import CaseStore

    case = tmp_path / "c.scrub"
    rc, _, err = run_cli(
        [
            "analyze",
            str(clips["cfr"]),
            "-o",
            str(case),
            "--fps",
            "2",
            "-q",
            "--procedure",
            "appendectomy",
        ],
        capsys,
    )
    assert rc == 2 and "no procedure 'appendectomy'" in err and not case.exists()
    rc, _, err = run_cli(
        [
            "analyze",
            str(clips["cfr"]),
            "-o",
            str(case),
            "--fps",
            "2",
            "-q",
            "--procedure",
            "cholecystectomy",
        ],
        capsys,
    )
    assert rc == 0, err
    with CaseStore(case) as store:
        assert store.get_meta("procedure") == "cholecystectomy"
    # The bundled vision model names the 7 tools: the phase model gets its presence and the
    # phases come out named (no "missing tool signals" warning).
    assert "no 'cholecystectomy' phases" not in err, err
    from scrubline.core.export import frames_dataframe
    from scrubline.core.timeline import build_timeline

    with CaseStore(case) as store:
        from scrubline.core.export import load_procedure

        timeline = build_timeline(store, None, load_procedure("cholecystectomy"))
    # (the generated clip is no surgery: the in-body gate may leave no phase at all; any phase
    # given is a Cholec80 one)
    phases = {e.label for e in timeline.episodes_of("phase")}
    assert phases <= {
        "Preparation",
        "CalotTriangleDissection",
        "ClippingCutting",
        "GallbladderDissection",
        "GallbladderPackaging",
        "CleaningCoagulation",
        "GallbladderRetraction",
    }
    columns = [c for c in frames_dataframe(timeline).columns if c.startswith("tool_")]
    assert len(columns) == 7 and "tool_specimenbag" in columns


def test_phase_manifest_needs_its_features_and_decoding_tables(tmp_path):
    from scrubline.core.models.manifest import ManifestError, load_manifest

    bundled = (REPO / "models" / "cholec80-phases.toml").read_text()
    without = bundled[: bundled.index("[decoding]")] + bundled[bundled.index("[training]") :]
    (tmp_path / "p.toml").write_text(without)
    with pytest.raises(
        ManifestError,
        match=r"a phase model needs \[input\] features, a \[features\] and a \[decoding\] table",
    ):
        load_manifest(tmp_path / "p.toml")
    # Decoding sizes that do not fit the 7 labels are refused when the model is built.
    import re

    from scrubline.core.phase_model import PhaseModel

    (tmp_path / "w.toml").write_text(re.sub(r"(?m)^priors = \[.*\]$", "priors = [1.0]", bundled))
    with pytest.raises(PhaseModelError, match="sizes do not match the 7 phase labels"):
        PhaseModel(load_manifest(tmp_path / "w.toml"))
