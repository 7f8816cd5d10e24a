"""Phase rules at their edges (each test kills mutants that survived `tests/mutation/run.sh
phases`): hysteresis exactly at the off level, dropout bridging exactly at `hold_s`, `after`
meaning strictly later, repeated labels, `all` with `any`, ties in smoothing, phase boundaries,
and scores exactly at the minimum."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scrubline.core.phases import (
    Phase,
    PhaseRule,
    PhaseTemplate,
    Signal,
    TemplateError,
    _switch,
    parse_template,
    phase_at,
    presence_table,
    raw_labels,
    smooth_segments,
)


def _switched(values: list[float], signal: Signal, step: float = 0.5) -> list[bool]:
    return _switch(np.asarray(values, float), np.arange(len(values)) * step, signal).tolist()


def test_hysteresis_stays_on_at_exactly_the_off_level() -> None:
    signal = Signal("s", "s", on=0.5, off=0.3)
    assert _switched([0.6, 0.3, 0.29, 0.3, 0.5], signal) == [True, True, False, False, True]


def test_a_dropout_of_exactly_hold_s_is_bridged_and_a_longer_one_is_not() -> None:
    signal = Signal("s", "s", on=0.5, off=0.5, hold_s=1.0)
    # Samples every 0.5 s: on, on, off, on -> from the last on (0.5 s) to the next (1.5 s) is 1.0 s.
    assert _switched([1, 1, 0, 1], signal) == [True] * 4
    # Two samples off: 0.5 s -> 2.0 s is 1.5 s, longer than hold_s.
    assert _switched([1, 1, 0, 0, 1], signal) == [True, True, False, False, True]
    # Leading and trailing gaps are not dropouts between two on-runs.
    assert _switched([0, 1, 0], signal) == [False, True, False]
    # Without hold_s nothing is bridged, not even a single sample.
    assert _switched([1, 0, 1], Signal("s", "s")) == [True, False, True]


def _template(*rules: PhaseRule, signals: tuple[str, ...] = ("a", "b")) -> PhaseTemplate:
    return PhaseTemplate(
        "t", "T", {name: Signal(name, name) for name in signals}, rules, default="idle"
    )


def _frame(**columns: list[int]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.Index(np.arange(n, dtype=float), name="time_s"))


def test_after_means_strictly_after_the_first_moment_of_that_phase() -> None:
    template = _template(
        PhaseRule("closing", all_of=("b",), after="opening"), PhaseRule("opening", all_of=("a",))
    )
    labels = raw_labels(_frame(a=[0, 1, 0, 0], b=[1, 1, 1, 0]), template).tolist()
    # At 1 s both hold, but "closing" may only follow a moment of "opening": it starts at 2 s.
    assert labels == ["idle", "opening", "closing", "idle"]
    never = raw_labels(_frame(a=[0, 0], b=[1, 1]), template).tolist()
    assert never == ["idle", "idle"]  # "opening" never held: no "closing" either


def test_a_label_given_by_two_rules_holds_when_either_does() -> None:
    template = _template(PhaseRule("busy", all_of=("a",)), PhaseRule("busy", all_of=("b",)))
    assert raw_labels(_frame(a=[1, 0, 0], b=[0, 1, 0]), template).tolist() == [
        "busy",
        "busy",
        "idle",
    ]


def test_all_and_any_must_both_hold() -> None:
    template = _template(PhaseRule("x", all_of=("a",), any_of=("b", "c")), signals=("a", "b", "c"))
    labels = raw_labels(_frame(a=[1, 1, 0, 1], b=[0, 1, 1, 0], c=[0, 0, 1, 1]), template)
    assert labels.tolist() == ["idle", "x", "idle", "x"] and labels.name == "phase"
    assert labels.index.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_short_phase_between_two_equally_long_ones_joins_the_earlier() -> None:
    segs = [["a", 0.0, 10.0], ["b", 10.0, 11.0], ["c", 11.0, 21.0]]
    assert smooth_segments(segs, 3.0) == [["a", 0.0, 11.0], ["c", 11.0, 21.0]]


def test_phase_at_includes_the_start_and_excludes_the_end() -> None:
    phases = [Phase("a", 0.0, 2.0), Phase("b", 2.0, 4.0)]
    assert phase_at(phases, np.array([0.0, 1.99, 2.0, 3.99, 4.0]), default="-").tolist() == [
        "a",
        "a",
        "b",
        "b",
        "-",
    ]
    assert phase_at(phases, np.array([5.0])).tolist() == [None]
    assert Phase("a", 1.0, 2.5).as_dict() == {"label": "a", "start_s": 1.0, "end_s": 2.5}


def test_presence_counts_boxes_at_exactly_the_minimum_score_and_takes_the_nearest_bleeding() -> (
    None
):
    detections = pd.DataFrame(
        {
            "time_s": [0.0, 0.0, 1.0, 2.0],
            "label": ["g", "g", "g", "h"],
            "score": [0.5, 0.49, 0.7, 0.9],
        }
    )
    bleeding = pd.Series([0.1, 0.4], index=[0.9, 2.2])  # measured on other frames than the boxes
    table = presence_table(
        detections,
        np.array([0.0, 1.0, 2.0, 3.0]),
        bleeding=bleeding,
        labels=["g", "h", "k"],
        min_score=0.5,
    )
    assert table.index.name == "time_s" and table.index.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert table["g"].tolist() == [1.0, 1.0, 0.0, 0.0]  # 0.5 counts, 0.49 does not
    assert table["h"].tolist() == [0.0, 0.0, 1.0, 0.0] and table["k"].tolist() == [0.0] * 4
    assert table["bleeding"].tolist() == [0.1, 0.1, 0.4, 0.4]
    assert table.columns.name is None


def test_a_template_keeps_its_optional_fields_and_names_the_phase_in_errors() -> None:
    data = {
        "template": {"id": "t", "name": "T"},
        "signals": {"a": {}},
        "phases": [
            {"label": "work", "any": ["a"], "description": "hands busy", "colour": "#123456"},
            {"label": "rest", "none": ["a"], "only": True},
        ],
    }
    template = parse_template(data, "t.toml")
    assert template.default == "idle" and template.min_phase_s == 0.0
    work, rest = template.phases
    assert (work.any_of, work.description, work.colour, work.only) == (
        ("a",),
        "hands busy",
        "#123456",
        False,
    )
    assert (rest.none_of, rest.only, rest.description, rest.colour) == (("a",), True, "", None)
    data["phases"][1]["any"] = ["b"]
    with pytest.raises(
        TemplateError,
        match=r"t\.toml \[\[phases\]\] #2 \('rest'\): signal 'b' is not declared \(declared: a\)",
    ):
        parse_template(data, "t.toml")
    data["phases"][1]["any"] = "a"
    with pytest.raises(
        TemplateError, match=r"#2 \('rest'\): 'any' should be a list of signal names"
    ):
        parse_template(data, "t.toml")
