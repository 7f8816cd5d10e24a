"""Model registry and wrappers: manifests are validated against the ONNX graph with messages
that name the mismatch; each task's output contract gives the expected results; a user folder
overrides the bundled one; a missing execution provider falls back visibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.models import (
    ManifestError,
    ModelError,
    load_manifest,
    load_model,
    load_registry,
)
from scrubline.core.models.session import choose_providers
from tests import tiny_models


def _frame() -> np.ndarray:
    """A grey frame with a dark bar (instrument) ending in a blue patch (tip) and a red blob."""
    frame = np.full((48, 64, 3), 200, np.uint8)
    frame[20:26, 0:40] = 20  # dark shaft from the left edge
    frame[19:27, 34:40] = (10, 10, 120)  # blue-ish, dark jaws at its end
    frame[5:15, 45:60] = (230, 20, 20)  # blood
    return frame


def test_segmenter_contract(tmp_path: Path) -> None:
    registry = load_registry([tiny_models.segmenter_folder(tmp_path)], include_bundled=False)
    model = load_model(registry.get("tiny-seg"))
    (result,) = model.predict([_frame()], frame_size=(640, 480))
    assert len(result.instruments) == 1
    inst = result.instruments[0]
    x1, y1, x2, y2 = inst.box
    assert x1 == pytest.approx(0, abs=1) and x2 == pytest.approx(400, abs=10)
    assert 180 <= y1 < y2 <= 280
    assert inst.tip_visible and inst.tip is not None
    assert 330 <= inst.tip[0] <= 410  # the jaws, scaled to the 640-wide frame
    assert result.bleeding is not None
    assert result.bleeding.fraction == pytest.approx(150 / (48 * 64), abs=0.01)
    assert result.bleeding.mask.dtype == np.uint8


def test_hidden_tip_is_estimated_at_the_far_end(tmp_path: Path) -> None:
    registry = load_registry([tiny_models.segmenter_folder(tmp_path)], include_bundled=False)
    model = load_model(registry.get("tiny-seg"))
    frame = _frame()
    frame[19:27, 34:40] = 20  # jaws no longer blue: tip map is empty
    (result,) = model.predict([frame], frame_size=(64, 48))
    inst = result.instruments[0]
    assert not inst.tip_visible
    assert inst.tip is not None and inst.tip[0] > 35  # far from the left edge where it enters


def test_detector_contract(tmp_path: Path) -> None:
    tiny_models.constant_detector(tmp_path / "det.onnx")
    tiny_models.manifest(
        tmp_path / "det.toml",
        model_id="det",
        task="detector",
        onnx_file="det.onnx",
        outputs=[
            ("boxes", "boxes"),
            ("scores", "scores"),
            ("classes", "classes"),
            ("tips", "tips"),
            ("tip_scores", "tip_scores"),
        ],
        labels=["grasper", "suction"],
    )
    model = load_model(load_manifest(tmp_path / "det.toml"))
    results = model.predict([_frame(), _frame()], frame_size=(1000, 500))
    assert len(results) == 2
    (inst,) = results[1].instruments  # the 0.2-score box is below the 0.5 threshold
    assert inst.label == "suction"
    assert inst.box == pytest.approx((100, 50, 400, 250), abs=1e-3)
    assert inst.tip == pytest.approx((400, 250), abs=1e-3) and inst.tip_visible


def test_classifier_contract(tmp_path: Path) -> None:
    tiny_models.mean_colour_classifier(tmp_path / "cls.onnx")
    tiny_models.manifest(
        tmp_path / "cls.toml",
        model_id="colour",
        task="classifier",
        onnx_file="cls.onnx",
        outputs=[("scores", "scores")],
        labels=["red", "green", "blue"],
        width=32,
        height=32,
    )
    model = load_model(load_manifest(tmp_path / "cls.toml"))
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[..., 0] = 255
    (result,) = model.predict([frame], frame_size=(32, 32))
    assert result.scores == pytest.approx(
        {"colour:red": 1.0, "colour:green": 0.0, "colour:blue": 0.0}
    )


def test_wrong_input_size_is_named(tmp_path: Path) -> None:
    tiny_models.dense_segmenter(tmp_path / "seg.onnx", width=64, height=48)
    tiny_models.manifest(
        tmp_path / "seg.toml",
        model_id="seg",
        task="segmenter",
        onnx_file="seg.onnx",
        outputs=[("bleeding", "bleeding_mask")],
        width=128,
        height=96,
    )
    with pytest.raises(
        ModelError,
        match=r"input 'image' has shape \[N, 3, 48, 64\] "
        r"but the manifest implies \[N, 3, 96, 128\]",
    ):
        load_model(load_manifest(tmp_path / "seg.toml"))


def test_missing_output_is_named(tmp_path: Path) -> None:
    tiny_models.dense_segmenter(tmp_path / "seg.onnx")
    tiny_models.manifest(
        tmp_path / "seg.toml",
        model_id="seg",
        task="segmenter",
        onnx_file="seg.onnx",
        outputs=[("blood", "bleeding_mask")],
    )
    with pytest.raises(
        ModelError,
        match=r"output 'blood' \(bleeding_mask\) is not an output.*instrument, tip, bleeding",
    ):
        load_model(load_manifest(tmp_path / "seg.toml"))


def test_classifier_label_count_mismatch(tmp_path: Path) -> None:
    tiny_models.mean_colour_classifier(tmp_path / "cls.onnx")
    tiny_models.manifest(
        tmp_path / "cls.toml",
        model_id="c",
        task="classifier",
        onnx_file="cls.onnx",
        outputs=[("scores", "scores")],
        labels=["a", "b"],
        width=32,
        height=32,
    )
    with pytest.raises(ModelError, match="3 classes but the manifest lists 2 labels"):
        load_model(load_manifest(tmp_path / "cls.toml"))


def test_not_an_onnx_file(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x00not onnx at all" * 50)
    tiny_models.manifest(
        tmp_path / "junk.toml",
        model_id="junk",
        task="segmenter",
        onnx_file="junk.onnx",
        outputs=[("bleeding", "bleeding_mask")],
    )
    with pytest.raises(ModelError, match=r"junk\.onnx is not a loadable ONNX model"):
        load_model(load_manifest(tmp_path / "junk.toml"))


def test_missing_onnx_file(tmp_path: Path) -> None:
    tiny_models.manifest(
        tmp_path / "gone.toml",
        model_id="gone",
        task="segmenter",
        onnx_file="gone.onnx",
        outputs=[("bleeding", "bleeding_mask")],
    )
    with pytest.raises(ModelError, match="does not exist"):
        load_model(load_manifest(tmp_path / "gone.toml"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id = 'x'\n", "missing required field 'task'"),
        ("id = 'x'\ntask = 'painter'\nfile = 'a.onnx'\n", "task 'painter' is not one of"),
        (
            "id = 'x'\ntask = 'segmenter'\nfile = 'a.onnx'\nlicence = 'l'\n[input]\nname = "
            "'i'\nwidth = 8\nheight = 8\n[[outputs]]\nname = 'o'\nrole = 'boxes'\n",
            "role 'boxes' is not known to task 'segmenter'",
        ),
        (
            "id = 'x'\ntask = 'detector'\nfile = 'a.onnx'\nlicence = 'l'\n[input]\nname = "
            "'i'\nwidth = 8\nheight = 8\n[[outputs]]\nname = 'o'\nrole = 'boxes'\n",
            "needs outputs with roles scores",
        ),
        (
            "id = 'x'\ntask = 'segmenter'\nfile = 'a.onnx'\nlicence = 'l'\noutputs = "
            "[]\n[input]\nname = 'i'\nwidth = 0\nheight = 8\n",
            "'width' and 'height' must be positive",
        ),
        ("this is = = not toml", "not valid TOML"),
        (
            "id = 'x'\ntask = 'segmenter'\nfile = 'a.onnx'\nlicence = 'l'\nlabels = ['a', 'b']\n"
            "[input]\nname = 'i'\nwidth = 8\nheight = 8\n"
            "[[outputs]]\nname = 'h'\nrole = 'tool_heatmap'\nshape = ['N', 3, 2, 2]\n"
            "[[outputs]]\nname = 's'\nrole = 'tool_size'\n",
            "output 'h' has 3 heatmap channels but 'labels' names 2 classes",
        ),
        (
            "id = 'x'\ntask = 'segmenter'\nfile = 'a.onnx'\nlicence = 'l'\nlabels = ['a']\n"
            "[input]\nname = 'i'\nwidth = 8\nheight = 8\n"
            "[[outputs]]\nname = 'h'\nrole = 'tool_heatmap'\n",
            "role tool_heatmap needs one with role tool_size",
        ),
        (
            "id = 'x'\ntask = 'segmenter'\nfile = 'a.onnx'\nlicence = 'l'\n"
            "[input]\nname = 'i'\nwidth = 8\nheight = 8\n"
            "[[outputs]]\nname = 'h'\nrole = 'tool_heatmap'\n"
            "[[outputs]]\nname = 's'\nrole = 'tool_size'\n",
            "a tool_heatmap output needs 'labels'",
        ),
    ],
)
def test_bad_manifests_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(ManifestError, match=message) as caught:
        load_manifest(path)
    assert str(path) in str(caught.value)


GOOD_SEGMENTER = """\
id = "seg"
task = "segmenter"
file = "seg.onnx"
licence = "test"
labels = ["instrument"]
[input]
name = "image"
width = 64
height = 48
[[outputs]]
name = "bleeding"
role = "bleeding_mask"
[thresholds]
bleeding = 0.5
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "width = 64",
            'width = "wide"',
            r"field 'input.width' should be an integer, got str \(found 'wide'\)",
        ),
        ("width = 64", "width = 64.5", r"field 'input.width' should be an integer, got float"),
        ("width = 64", "width = 100000", r"field 'input.width' should be an integer <= 8192"),
        ('labels = ["instrument"]', "labels = 5", r"field 'labels' should be a list, got int"),
        (
            "bleeding = 0.5",
            'bleeding = "high"',
            r"field 'thresholds.bleeding' should be a number from 0 to 1 \(found 'high'\)",
        ),
        (
            "bleeding = 0.5",
            "bleeding = 1.5",
            r"field 'thresholds.bleeding' should be a number from 0 to 1 \(found 1.5\)",
        ),
        (
            "bleeding = 0.5",
            "bleeding = nan",
            r"field 'thresholds.bleeding' should be a number from 0 to 1 \(found nan\)",
        ),
        (
            "bleeding = 0.5",
            "score = 0.5",
            r"\[thresholds\]: 'score' is not a threshold of a segmenter",
        ),
        (
            "[thresholds]",
            "[treshholds]",
            r"unknown field 'treshholds' \(did you mean 'thresholds'\?\)",
        ),
        (
            "width = 64",
            "widht = 64",
            r"unknown field 'widht' in \[input\] \(did you mean 'width'\?\)",
        ),
        (
            'role = "bleeding_mask"',
            'role = "bleeding_mask"\nshape = ["N", 0]',
            r"field 'outputs\[1\].shape\[2\]'",
        ),
        (
            'licence = "test"',
            'licence = "test"\nschema = 2',
            r"field 'schema' is 2; this Scrubline reads schema 1",
        ),
        ('id = "seg"', 'id = "../seg"', r"field 'id' should be text matching"),
        ('id = "seg"', "id = true", r"field 'id' should be text, got bool"),
        ('labels = ["instrument"]', 'labels = ["a", "a"]', r"'labels' lists a label twice"),
        (
            'name = "image"',
            'name = "image"\nmean = [0.5, 0.5]',
            r"field 'input.mean' should be a list of length 3",
        ),
        (
            'name = "image"',
            'name = "image"\nscale = inf',
            r"field 'input.scale' should be a number <= ",
        ),
        (
            'licence = "test"',
            'licence = "test"\nheadline_metric = "dice"',
            r"headline_metric 'dice' is not in \[metrics\]",
        ),
        (
            "bleeding = 0.5",
            "bleeding = 0.5\n[metrics]\ndice = true",
            r"field 'metrics.dice' should be a number, text",
        ),
    ],
)
def test_wrong_types_ranges_and_unknown_keys_name_the_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    """Before validation was complete, each of these broke every command with "unexpected
    failure", or (unknown keys) loaded silently with default thresholds."""
    assert old in GOOD_SEGMENTER
    path = tmp_path / "seg.toml"
    path.write_text(GOOD_SEGMENTER)
    assert load_manifest(path).thresholds == {"bleeding": 0.5}
    path.write_text(GOOD_SEGMENTER.replace(old, new, 1))
    with pytest.raises(ManifestError, match=message) as caught:
        load_manifest(path)
    assert str(caught.value).startswith(f"{path}: ") or str(caught.value).startswith(f"{path} [")


def test_a_bad_user_model_is_skipped_with_a_warning_and_the_rest_still_load(tmp_path: Path) -> None:
    folder = tiny_models.segmenter_folder(tmp_path / "models")
    (folder / "wide.toml").write_text(
        GOOD_SEGMENTER.replace('id = "seg"', 'id = "wide"').replace("width = 64", 'width = "wide"')
    )
    (folder / "gone.toml").write_text(
        GOOD_SEGMENTER.replace('id = "seg"', 'id = "gone"').replace("seg.onnx", "gone.onnx")
    )
    registry = load_registry([folder])
    assert "tiny-seg" in registry.manifests and "scrubline-vision" in registry.manifests
    assert "wide" not in registry.manifests and "gone" not in registry.manifests
    assert any(
        str(folder / "wide.toml") in p and "input.width" in p and "skipped" in p
        for p in registry.problems
    )
    assert any(
        str(folder / "gone.toml") in p and "gone.onnx does not exist" in p
        for p in registry.problems
    )


def test_a_bad_bundled_model_is_an_error_not_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrubline.core.models import registry as registry_module

    folder = tiny_models.segmenter_folder(tmp_path / "bundled")
    (folder / "tiny-seg.toml").write_text(
        (folder / "tiny-seg.toml").read_text().replace("tip = 0.5", 'tip = "high"')
    )
    monkeypatch.setattr(registry_module, "bundled_models_dir", lambda: folder)
    with pytest.raises(
        ManifestError, match=r"bundled model broken .*tiny-seg\.toml: field 'thresholds"
    ):
        load_registry()


def test_user_folder_overrides_bundled_and_bad_manifests_are_listed(tmp_path: Path) -> None:
    bundled = load_registry()
    assert "bleeding-hsv" in bundled.manifests
    folder = tiny_models.segmenter_folder(tmp_path, model_id="bleeding-hsv")
    (tmp_path / "broken.toml").write_text("id = 'broken'\n")
    merged = load_registry([folder])
    assert merged.get("bleeding-hsv").source == folder / "bleeding-hsv.toml"
    assert any("broken.toml" in p for p in merged.problems)
    with pytest.raises(KeyError, match="no model with id 'nope'"):
        merged.get("nope")


def test_device_fallback_is_announced() -> None:
    import onnxruntime as ort

    choice = choose_providers("coreml")
    if "CoreMLExecutionProvider" in ort.get_available_providers():
        pytest.skip("CoreML is really available here")
    assert choice.providers == ["CPUExecutionProvider"]
    assert choice.notice and "running on the CPU" in choice.notice
    assert choose_providers("cpu").notice is None
    with pytest.raises(ModelError, match="unknown device"):
        choose_providers("tpu")


def test_every_bundled_model_loads_and_matches_its_manifest() -> None:
    registry = load_registry()
    assert not registry.problems, registry.problems
    assert registry.frame_models(), "at least one image model must be bundled"
    import cv2

    from tests.models.test_vision_model import (
        SYNTHETIC_BLOOD_FRACTION,
        SYNTHETIC_SHAFT_BOX,
        _synthetic_frame,
    )

    picture = _synthetic_frame()  # 854 x 480: a grey shaft from the right edge, a pool of blood
    checked = 0
    for manifest in registry.manifests.values():
        model = load_model(manifest)
        assert model.manifest.licence
        if manifest.task in ("sequence", "phase"):
            continue
        roles = {o.role for o in manifest.outputs}
        frame = cv2.resize(
            picture, (manifest.input.width, manifest.input.height), interpolation=cv2.INTER_AREA
        )
        (result,) = model.predict([frame], frame_size=(854, 480))
        if "bleeding_mask" in roles:
            assert result.bleeding is not None, manifest.id
            assert result.bleeding.fraction == pytest.approx(SYNTHETIC_BLOOD_FRACTION, abs=0.01), (
                manifest.id
            )
            checked += 1
        if "instrument_mask" in roles and "tool_heatmap" in roles:
            # Class-aware tools are checked on frames of the tools they name (the vision
            # model's tests); a grey line is no Cholec80 tool, but the instrument map holds it.
            prob = model._run(model.to_tensor([frame]))["instrument_mask"][0, 0]
            ys, xs = np.nonzero(prob >= manifest.threshold("instrument", 0.5))
            sx = 854 / prob.shape[1]
            sy = 480 / prob.shape[0]
            x1, y1, x2, y2 = xs.min() * sx, ys.min() * sy, (xs.max() + 1) * sx, (ys.max() + 1) * sy
            sx1, sy1, sx2, sy2 = SYNTHETIC_SHAFT_BOX
            assert x1 <= sx1 + 60 and x2 >= sx2 - 30 and y1 <= sy1 + 30 and y2 >= sy2 - 30, (
                manifest.id
            )
            checked += 1
        elif "instrument_mask" in roles:
            assert result.instruments, f"{manifest.id} finds no instrument in the synthetic frame"
            x1, y1, x2, y2 = result.instruments[0].box
            sx1, sy1, sx2, sy2 = SYNTHETIC_SHAFT_BOX
            assert x1 <= sx1 + 60 and x2 >= sx2 - 30 and y1 <= sy1 + 30 and y2 >= sy2 - 30, (
                manifest.id
            )
            checked += 1
    assert checked >= 2, "no bundled model was checked against the synthetic frame"


def test_tip_point_is_the_far_end_of_a_tip_map_that_covers_the_shaft(tmp_path: Path) -> None:
    registry = load_registry([tiny_models.segmenter_folder(tmp_path)], include_bundled=False)
    model = load_model(registry.get("tiny-seg"))
    frame = _frame()
    frame[20:26, 0:40] = (10, 10, 120)  # the whole shaft looks like jaws to the tip map
    (result,) = model.predict([frame], frame_size=(64, 48))
    inst = result.instruments[0]
    assert inst.tip_visible and inst.tip is not None
    assert inst.tip[0] > 34  # at the end away from the left edge, not the middle (~20)
