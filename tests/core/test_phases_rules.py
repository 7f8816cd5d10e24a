"""Phase rules at their edges (each test kills mutants that survived `tests/mutation/run.sh
phases`): hysteresis exactly at the off level, dropout bridging exactly at `hold_s`, `after`
meaning strictly later, repeated labels, `all` with `any`, ties in smoothing, phase boundaries,
and scores exactly at the minimum."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    signal_states,
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


def _rule_data() -> dict:
    return {
        "template": {"id": "t", "name": "T", "default": "idle", "min_phase_s": 0},
        "signals": {"a": {}, "b": {"column": "grasper"}},
        "phases": [{"label": "work", "all": ["a"]}, {"label": "close", "any": ["b"]}],
    }


def _learned_data() -> dict:
    return {
        "template": {"id": "t", "name": "T", "model": "m"},
        "phases": [{"label": "P1", "colour": "#112233"}, {"label": "P2"}],
    }


def _set(path: str, value: object) -> Callable[[dict], None]:
    """Set (or with DELETE, remove) one value of the template, addressed as 'a.b.0.c'."""

    def change(data: dict) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key: Any = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value

    return change


DELETE = object()
RULES = "t.toml"
_KNOWN_TEMPLATE = "default, default_colour, description, id, min_phase_s, model, name"
_KNOWN_PHASE = "after, all, any, colour, description, label, name, none, only"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set("template", DELETE),
            "t.toml: missing the [template] table (id, name, default, min_phase_s)",
        ),
        (
            _set("template.colour", "red"),
            f"t.toml [template]: unknown key(s) 'colour' (known: {_KNOWN_TEMPLATE})",
        ),
        (_set("template.id", " "), "t.toml [template]: missing required text field 'id'"),
        (_set("template.name", 3), "t.toml [template]: missing required text field 'name'"),
        (_set("template.default", " "), "t.toml [template]: 'default' should be a phase label"),
        (_set("template.default", 1), "t.toml [template]: 'default' should be a phase label"),
        (
            lambda data: data.update(extra={}, more={}),
            "t.toml: unknown table(s) 'extra', 'more' (a template has [template], "
            "[signals.<name>] and [[phases]])",
        ),
        (
            _set("signals", {}),
            "t.toml: no [signals.<name>] tables: a template must say which columns it reads",
        ),
        (_set("signals.a", 1), "t.toml [signals.a]: should be a table"),
        (
            lambda data: (_set("signals.a.of", 1)(data), _set("signals.a.at", 2)(data)),
            "t.toml [signals.a]: unknown key(s) 'at', 'of' (known: column, hold_s, off, on)",
        ),
        (_set("signals.b.column", ""), "t.toml [signals.b]: 'column' should be a column name"),
        (_set("signals.b.column", 2), "t.toml [signals.b]: 'column' should be a column name"),
        (_set("signals.a.on", "high"), "t.toml [signals.a]: 'on' should be a number, got 'high'"),
        (_set("signals.a.on", True), "t.toml [signals.a]: 'on' should be a number, got True"),
        (_set("signals.a.hold_s", -1), "t.toml [signals.a]: 'hold_s' must not be negative, got -1"),
        (
            _set("signals.a.off", 0.6),
            "t.toml [signals.a]: 'off' (0.6) must not exceed 'on' (0.5) -- hysteresis switches "
            "off lower than on",
        ),
        (
            _set("phases", []),
            "t.toml: no [[phases]]: a template needs at least one phase rule",
        ),
        (_set("phases.1", "close"), "t.toml [[phases]] #2: should be a table"),
        (
            _set("phases.1.al", ["a"]),
            f"t.toml [[phases]] #2: unknown key(s) 'al' (known: {_KNOWN_PHASE})",
        ),
        (_set("phases.1.label", " "), "t.toml [[phases]] #2: missing required text field 'label'"),
        (
            _set("phases.1.any", ["b", ""]),
            "t.toml [[phases]] #2 ('close'): 'any' should be a list of signal names, got ['b', '']",
        ),
        (
            _set("phases.1.none", [1]),
            "t.toml [[phases]] #2 ('close'): 'none' should be a list of signal names, got [1]",
        ),
        (
            _set("phases.0.all", ["c"]),
            "t.toml [[phases]] #1 ('work'): signal 'c' is not declared (declared: a, b)",
        ),
        (
            _set("phases.1.only", 1),
            "t.toml [[phases]] #2 ('close'): 'only' should be true or false",
        ),
        (
            _set("phases.1.any", []),
            "t.toml [[phases]] #2 ('close'): a rule with no 'all', 'any' or 'none' would hold "
            "everywhere; make it the template's 'default' instead",
        ),
        (
            _set("phases.1.after", 1),
            "t.toml [[phases]] #2 ('close'): 'after' should be a phase label",
        ),
        (
            _set("phases.1.name", 1),
            "t.toml [[phases]] #2 ('close'): 'name' should be text (the phase's display name)",
        ),
        (
            _set("phases.1.after", "start"),
            "t.toml: phase 'close' is 'after' unknown phase 'start'",
        ),
        (
            lambda data: (
                _set("phases.0.after", "close")(data),
                _set("phases.1.after", "work")(data),
            ),
            "t.toml: phase 'work' is 'after' 'close', which is itself 'after' another phase",
        ),
        (
            _set("template.min_phase_s", -2),
            "t.toml [template]: 'min_phase_s' must not be negative, got -2",
        ),
    ],
)
def test_each_template_mistake_is_named_with_its_file_table_and_phase(
    change: Callable[[dict], None], message: str
) -> None:
    data = _rule_data()
    change(data)
    with pytest.raises(TemplateError) as refused:
        parse_template(data, RULES)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("template.model", " "), "t.toml [template]: 'model' should be a phase model id"),
        (
            lambda data: data.update(signals={"a": {}}, rules=[]),
            "t.toml: unknown table(s) 'rules', 'signals' (a template with a learned 'model' has "
            "[template] and [[phases]] only)",
        ),
        (
            _set("phases", []),
            "t.toml: no [[phases]]: list the model's phase labels with their colours",
        ),
        (_set("phases.1", "P2"), "t.toml [[phases]] #2: should be a table"),
        (
            _set("phases.1.all", ["a"]),
            "t.toml [[phases]] #2 (the learned model decides the phase, not rules): unknown "
            "key(s) 'all' (known: colour, description, label, name)",
        ),
        (_set("phases.1.label", ""), "t.toml [[phases]] #2: missing required text field 'label'"),
        (
            _set("phases.1.name", ["x"]),
            "t.toml [[phases]] #2: 'name' should be text (the phase's display name)",
        ),
        (
            _set("template.min_phase_s", "long"),
            "t.toml [template]: 'min_phase_s' should be a number, got 'long'",
        ),
    ],
)
def test_each_learned_template_mistake_is_named_with_its_file_and_phase(
    change: Callable[[dict], None], message: str
) -> None:
    data = _learned_data()
    change(data)
    with pytest.raises(TemplateError) as refused:
        parse_template(data, RULES)
    assert str(refused.value) == message


def test_a_rule_template_reads_every_field_as_written() -> None:
    data = _rule_data()
    data["template"].update(
        {
            "id": " t ",
            "name": " Test ",
            "default": " waiting ",
            "default_colour": "#000000",
            "min_phase_s": 4,
            "description": "for tests",
        }
    )
    data["signals"]["a"] = {"on": 0.7, "hold_s": 2}
    data["phases"][1].update({"none": ["a"], "only": True, "after": "work", "name": " Closing "})
    template = parse_template(data, RULES)
    assert (template.id, template.name, template.default) == ("t", "Test", "waiting")
    assert (template.default_colour, template.min_phase_s, template.description) == (
        "#000000",
        4.0,
        "for tests",
    )
    assert template.source == Path("t.toml") and template.model is None
    assert template.signals == {
        "a": Signal("a", "a", on=0.7, off=0.7, hold_s=2.0),  # 'off' defaults to 'on'
        "b": Signal("b", "grasper", on=0.5, off=0.5, hold_s=0.0),
    }
    assert template.phases[1] == PhaseRule(
        "close", any_of=("b",), none_of=("a",), only=True, after="work", name="Closing"
    )
    assert template.labels == ("work", "close", "waiting")
    assert template.name_of("close") == "Closing" and template.name_of("work") == "work"
    assert template.colour_of("waiting") == "#000000" and template.colour_of("work") is None
    plain = parse_template(_rule_data(), Path("plain.toml"))
    assert (plain.default, plain.description, plain.default_colour) == ("idle", "", None)
    assert plain.source == Path("plain.toml")


def test_a_learned_template_reads_every_field_as_written() -> None:
    data = _learned_data()
    data["template"].update(
        {"id": " t ", "name": " T ", "model": " m ", "min_phase_s": 30, "description": "d"}
    )
    data["phases"][1].update({"name": " Phase two ", "description": "second"})
    template = parse_template(data, RULES)
    assert (template.id, template.name, template.model) == ("t", "T", "m")
    assert (template.min_phase_s, template.description, template.default) == (30.0, "d", "")
    assert template.source == Path("t.toml") and template.signals == {}
    assert template.phases == (
        PhaseRule("P1", colour="#112233"),
        PhaseRule("P2", description="second", name="Phase two"),
    )
    assert template.labels == ("P1", "P2")  # a learned model labels every moment: no default
    assert template.colour_of("P1") == "#112233" and template.colour_of("") is None
    plain = parse_template(_learned_data(), Path("l.toml"))
    assert (plain.min_phase_s, plain.description, plain.default) == (0.0, "", "")


def _own_table(**columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(columns)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            _own_table(t=[0, 1], a=[1, 0], grasper=[0, 1]),
            "own.csv: no 'time_s' or 'second' column (columns: t, a, grasper)",
        ),
        (
            _own_table(time_s=[0, 1], a=[1, 0]),
            "own.csv: no column for grasper (the 't' procedure needs a, grasper; names are "
            "matched ignoring case, spaces and underscores; columns found: time_s, a)",
        ),
        (
            _own_table(time_s=[0, 1, 2], a=[1, "x", 0], grasper=[0, 1, 1]),
            "own.csv: column 'a' has a value that is not a number ('x', data row 2)",
        ),
        (
            _own_table(time_s=[0, 1, 2], a=[1, 0, 0], grasper=[0, 1, None]),
            "own.csv: column 'grasper' has an empty cell (data row 3)",
        ),
        (
            _own_table(Second=[0, -1], a=[1, 0], grasper=[0, 1]),
            "own.csv: 'Second' has negative times",
        ),
        (
            _own_table(time_s=[0, 1, 1], a=[1, 0, 0], grasper=[0, 1, 1]),
            "own.csv: 'time_s' repeats a time; one row per time is expected",
        ),
    ],
)
def test_a_researchers_own_table_is_refused_naming_the_file_column_and_row(
    table: pd.DataFrame, message: str
) -> None:
    from scrubline.core.phases import phases_from_table

    with pytest.raises(TemplateError) as refused:
        phases_from_table(table, parse_template(_rule_data(), RULES), where="own.csv")
    assert str(refused.value) == message


def test_a_researchers_own_table_gets_one_phase_per_row_in_time_order() -> None:
    from scrubline.core.phases import phases_from_table

    table = _own_table(
        Time_S=[3.0, 0.0, 1.0, 2.0], A=[0, 1, 1, 0], tool_grasper=[1, 0, 0, 0], other=["x"] * 4
    )
    result = phases_from_table(table, parse_template(_rule_data(), RULES))
    assert result.to_dict("list") == {
        "time_s": [0.0, 1.0, 2.0, 3.0],
        "phase": ["work", "work", "idle", "close"],
    }
    with pytest.raises(TemplateError, match=r"^the table: no 'time_s'"):
        phases_from_table(_own_table(a=[1]), parse_template(_rule_data(), RULES))


def test_a_bad_off_level_is_named_with_its_signal() -> None:
    data = _rule_data()
    data["signals"]["a"]["off"] = "low"
    with pytest.raises(TemplateError) as refused:
        parse_template(data, RULES)
    assert str(refused.value) == "t.toml [signals.a]: 'off' should be a number, got 'low'"


def test_a_learned_template_keeps_its_default_label() -> None:
    data = _learned_data()
    data["template"]["default"] = "unlabelled"
    assert parse_template(data, RULES).default == "unlabelled"


def test_presence_matches_detections_to_analysed_times_to_the_microsecond() -> None:
    """Times a fraction of a second apart stay apart; a detection stored to the microsecond
    (1/3 s as 0.333333) is counted at the analysed time it belongs to, and so is a bleeding
    sample."""
    third = 1 / 3
    detections = pd.DataFrame({"time_s": [0.2, 0.333333, 0.4], "label": ["g", "g", "h"]})
    bleeding = pd.Series([0.1, 0.2, 0.3], index=[0.2, 0.333333, 0.4])
    table = presence_table(detections, np.array([0.2, third, 0.4]), bleeding=bleeding)
    assert table.index.tolist() == [0.2, 0.333333, 0.4]
    assert table["g"].tolist() == [1.0, 1.0, 0.0] and table["h"].tolist() == [0.0, 0.0, 1.0]
    assert table["bleeding"].tolist() == [0.1, 0.2, 0.3]
    # The other way round: a detection at 1/3 s, the analysed time stored as 0.333333.
    exact = pd.DataFrame({"time_s": [third], "label": ["g"]})
    assert presence_table(exact, np.array([0.333333]))["g"].tolist() == [1.0]
    # Boxes from a table without scores all count, whatever the minimum score.
    assert presence_table(detections, np.array([0.4]), min_score=0.5)["h"].tolist() == [1.0]
    # A bleeding series with no sample at all: no bleeding, not unknown.
    none = presence_table(detections, np.array([0.2, 0.4]), bleeding=pd.Series([], dtype=float))
    assert none["bleeding"].tolist() == [0.0, 0.0]


def test_an_unmeasured_or_unreadable_value_is_a_signal_off_and_states_keep_their_times() -> None:
    template = _template(PhaseRule("x", all_of=("a",)))
    presence = pd.DataFrame(
        {"a": [1.0, np.nan, "n/a", 1.0], "b": [0, 0, 0, 0]},
        index=pd.Index([0.5, 1.0, 1.5, 2.0], name="time_s"),
    )
    states = signal_states(presence, template)
    assert states["a"].tolist() == [True, False, False, True]
    assert states.index.tolist() == [0.5, 1.0, 1.5, 2.0]
    labels = raw_labels(presence, template)
    assert labels.index.tolist() == [0.5, 1.0, 1.5, 2.0]
    assert labels.tolist() == ["x", "idle", "idle", "x"]


# ---------------------------------------------------------------------------------------------
# Learned templates: the model asked for, from where it was asked


def _cholecystectomy() -> PhaseTemplate:
    from scrubline.core.phases import bundled_templates

    return bundled_templates()["cholecystectomy"]


def test_a_learned_template_uses_the_models_it_is_given_and_names_them() -> None:
    from scrubline.core.models import Registry
    from scrubline.core.phase_model import PhaseModelError
    from scrubline.core.phases import phases_from_table, recognise_phases

    template = _cholecystectomy()
    source = template.source
    tools = pd.DataFrame({"Grasper": [1.0, 1.0]}, index=pd.Index([0.0, 1.0], name="time_s"))
    empty = Registry()
    others = Registry(manifests={"b-model": object(), "a-model": object()})  # type: ignore[dict-item]
    not_installed = (
        f"{source}: the phase model 'cholec80-phases' is not installed (models found: none)"
    )
    for call in (
        lambda: recognise_phases(tools, template, empty),
        lambda: recognise_phases(tools.iloc[:0], template, empty),  # no frame in body
        lambda: phases_from_table(tools.reset_index(), template, registry=empty),
    ):
        with pytest.raises(PhaseModelError) as refused:
            call()
        assert str(refused.value) == not_installed
    with pytest.raises(PhaseModelError) as refused:
        recognise_phases(tools, template, others)
    assert str(refused.value) == (
        f"{source}: the phase model 'cholec80-phases' is not installed "
        "(models found: a-model, b-model)"
    )


def test_a_learned_template_missing_two_of_its_models_phases_names_both() -> None:
    from scrubline.core.phases import learned_model

    data = {
        "template": {"id": "short", "name": "Short", "model": "cholec80-phases"},
        "phases": [{"label": p} for p in _cholecystectomy().labels[:-2]],
    }
    with pytest.raises(TemplateError) as refused:
        learned_model(parse_template(data, "short.toml"))
    assert str(refused.value) == (
        "short.toml: the model 'cholec80-phases' also names the phase(s) CleaningCoagulation, "
        "GallbladderRetraction, which the template's [[phases]] do not list"
    )


def test_no_frame_in_body_still_names_the_tools_a_learned_model_lacks() -> None:
    from scrubline.core.phase_model import PhaseModelError, missing_tools_message
    from scrubline.core.phases import recognise_phases

    presence = pd.DataFrame(
        {"instrument": [], "bleeding": []}, index=pd.Index([], name="time_s", dtype=float)
    )
    with pytest.raises(PhaseModelError) as refused:
        recognise_phases(presence, _cholecystectomy())
    tools = ["Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag"]
    assert str(refused.value) == missing_tools_message(
        "cholec80-phases", tools, ["instrument", "bleeding"]
    )
    assert "Grasper, Bipolar" in str(refused.value) and "instrument, bleeding" in str(refused.value)


def test_a_phase_model_is_loaded_once_per_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same model id installed in another folder is that folder's model, not the one
    loaded first; each is loaded once and reused."""
    import shutil

    from scrubline.core import phases
    from scrubline.core.models import load_registry

    monkeypatch.setattr(phases, "_MODELS", {})
    bundled = load_registry(include_bundled=True)
    manifest = bundled.manifests["cholec80-phases"]
    for name in ("cholec80-phases.toml", manifest.file.name, "cholec80-phases.md"):
        if (manifest.source.parent / name).exists():  # type: ignore[union-attr]
            shutil.copy(manifest.source.parent / name, tmp_path / name)  # type: ignore[union-attr]
    copy = load_registry([tmp_path], include_bundled=False)
    template = _cholecystectomy()
    first = phases.learned_model(template, bundled)
    other = phases.learned_model(template, copy)
    assert first is not other and other.manifest.source == tmp_path / "cholec80-phases.toml"
    assert phases.learned_model(template, bundled) is first
    assert phases.learned_model(template, copy) is other
    assert list(first.labels) == list(template.labels)


def test_learned_phases_start_where_the_analysis_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model labels every second from the video's start; phases begin at the first analysed
    time (2.0 s here), not at an earlier second nor at the second analysed frame."""
    from scrubline.core import phases

    class Model:
        def predict_table(self, table: pd.DataFrame) -> pd.Series:
            return pd.Series(["A", "A", "B", "B", "C"], index=[0, 1, 2, 3, 4])

    monkeypatch.setattr(phases, "learned_model", lambda template, registry=None: Model())
    template = PhaseTemplate(
        "l", "L", {}, (PhaseRule("A"), PhaseRule("B"), PhaseRule("C")), model="m"
    )
    presence = pd.DataFrame({"Grasper": [1.0] * 5}, index=[2.0, 2.5, 3.0, 3.5, 4.0])
    assert phases.recognise_phases(presence, template) == [
        Phase("B", 2.0, 4.0),
        Phase("C", 4.0, 5.0),
    ]
    late = presence.set_axis([2.4, 2.9, 3.0, 3.5, 4.0])
    assert phases.recognise_phases(late, template)[0] == Phase("B", 2.4, 4.0)


def test_a_researchers_table_is_read_with_the_models_given_never_the_installed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`scrubline phases --models DIR`: the phase model of DIR decides the phases too, not only
    which columns are needed (the installed models are never looked up)."""
    from scrubline.core import models
    from scrubline.core.phases import phases_from_table

    given = models.load_registry()

    def installed(*args: object, **kwargs: object) -> None:
        raise AssertionError("the installed models were looked up")

    monkeypatch.setattr(models, "load_registry", installed)
    tools = ["Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag"]
    table = pd.DataFrame({"time_s": np.arange(0.0, 30.0), **{tool: 0 for tool in tools}})
    result = phases_from_table(table, _cholecystectomy(), registry=given)
    assert len(result) == 30 and result["phase"].isin(_cholecystectomy().labels).all()
