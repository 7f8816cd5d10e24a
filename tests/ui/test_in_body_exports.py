"""Privacy of the picture exports: out-of-body frames (a menu, the operating room) are blurred in
PNG and MP4 exports and in the report's key frames by default, and shown as they are when the
person exporting turns it off.

The out-of-body frames here are a fine white grid on black (dark enough for the tiny gate to call
them out of body, full of edges), so "blurred" is measured: the grid's edge energy (variance of
the Laplacian) all but disappears."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.demo import write_clip
from scrubline.core.models import load_registry
from scrubline.core.overlay import OverlayFlags
from scrubline.core.pictures import ClipPlan, export_clip_mp4, export_frame_png
from scrubline.core.store import CaseStore
from tests import tiny_models

FPS = 10
OUT_FRAMES = range(10, 20)


def _scene(index: int, t: float) -> np.ndarray:
    if index in OUT_FRAMES:  # a "screen": thin white lines on black, mean brightness ~0.12
        image = np.zeros((96, 128, 3), np.uint8)
        image[::16] = 255
        image[:, ::16] = 255
        return image
    image = np.full((96, 128, 3), (200, 120, 110), np.uint8)
    image[40:56, 10:80] = (20, 20, 20)
    return image


def _edges(rgb: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("gated")
    video = write_clip(
        folder / "gated.mp4", 30, fps=FPS, size=(128, 96), draw=_scene, codec="libx264"
    )
    models = folder / "models"
    tiny_models.segmenter_folder(models)
    tiny_models.gate_folder(models)
    case = folder / "gated.scrub"
    analyse_video(
        video,
        case,
        AnalysisSettings(fps=FPS, scrub_proxy=False),
        registry=load_registry([models], include_bundled=False),
    )
    with CaseStore(case, readonly=True) as store:
        assert store.result_at(15).in_body is False  # type: ignore[union-attr]
    return video, case


def _read_png(path: Path) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_png_of_an_out_of_body_frame_is_blurred_by_default(
    gated: tuple[Path, Path], tmp_path: Path
) -> None:
    video, case = gated
    blurred = _read_png(export_frame_png(video, case, 15, tmp_path / "b.png", OverlayFlags()))
    plain = _read_png(
        export_frame_png(
            video, case, 15, tmp_path / "p.png", OverlayFlags(), blur_out_of_body=False
        )
    )
    # Below the label strip at the top, the grid is gone when blurred and intact when not.
    assert _edges(plain[30:]) > 50 * max(_edges(blurred[30:]), 1.0)
    # Blurring keeps the frame's overall colour (it is not a black box).
    assert abs(float(blurred[30:].mean()) - float(plain[30:].mean())) < 12
    # An in-body frame is never blurred.
    inside = _read_png(export_frame_png(video, case, 5, tmp_path / "i.png", OverlayFlags()))
    assert _edges(inside) > 10


def test_mp4_blurs_out_of_body_frames_and_the_frames_around_them(
    gated: tuple[Path, Path], tmp_path: Path
) -> None:
    import av

    video, case = gated
    path = export_clip_mp4(
        video, case, ClipPlan(5, 25, 0.5, 2.6), tmp_path / "clip.mp4", OverlayFlags()
    )
    assert path is not None
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 21
    for offset, picture in enumerate(frames):
        source = 5 + offset
        if source in OUT_FRAMES:
            assert _edges(picture[30:]) < 20, source
    unblurred = export_clip_mp4(
        video,
        case,
        ClipPlan(12, 14, 1.2, 1.5),
        tmp_path / "plain.mp4",
        OverlayFlags(),
        blur_out_of_body=False,
    )
    assert unblurred is not None
    with av.open(str(unblurred)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert _edges(first[30:]) > 500


def test_report_key_frame_of_an_out_of_body_bookmark_is_blurred(
    gated: tuple[Path, Path], tmp_path: Path
) -> None:
    import cv2

    from scrubline.core.case import Case
    from scrubline.report.keyframes import FrameSource, KeyFrame

    video, case = gated
    key = KeyFrame("Bookmark 1", 15, 1.5, "note")
    with Case.open(case) as store:
        pictures = {}
        for blur in (True, False):
            source = FrameSource(store, video, blur_out_of_body=blur)
            try:
                picture = source.picture(key)
            finally:
                source.close()
            assert picture is not None
            decoded = cv2.imdecode(np.frombuffer(picture.jpeg, np.uint8), cv2.IMREAD_COLOR)
            pictures[blur] = decoded
    top = pictures[True].shape[0] // 5  # below the "out of body" label
    assert _edges(pictures[False][top:]) > 20 * max(_edges(pictures[True][top:]), 1.0)


def test_report_names_the_out_of_body_time(gated: tuple[Path, Path], tmp_path: Path) -> None:
    from pypdf import PdfReader

    from scrubline.report import ReportOptions, write_report

    _, case = gated
    with CaseStore(case, readonly=True) as store:
        path = write_report(store, tmp_path / "r.pdf", ReportOptions())
    text = " ".join(page.extract_text() for page in PdfReader(str(path)).pages)
    assert "Out of body" in text
    assert "out of body (no results)" in text  # the timeline figure's legend


@pytest.mark.parametrize(("flag", "blur"), [([], True), (["--no-blur-out-of-body"], False)])
def test_report_command_blurs_unless_told_not_to(
    gated: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
    blur: bool,
) -> None:
    import scrubline.report
    from scrubline.cli import main

    seen = []
    real = scrubline.report.write_report

    def spy(store, path, options, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(options.blur_out_of_body)
        return real(store, path, options, **kwargs)

    monkeypatch.setattr(scrubline.report, "write_report", spy)
    _, case = gated
    assert main(["report", str(case), "-o", str(tmp_path / "r.pdf"), *flag]) == 0
    assert seen == [blur]


def test_window_hatches_out_of_body_and_its_export_option_blurs(  # type: ignore[no-untyped-def]
    qtbot, window, gated: tuple[Path, Path], case_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from scrubline.ui.export_controller import BLUR_SETTING

    video, case = gated
    with CaseStore(case, readonly=True) as store:
        fingerprint = store.video["fingerprint"]
    case_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(case, case_dir / f"{fingerprint}.scrub")
    with qtbot.waitSignal(window.case_refreshed, timeout=30_000):
        window.open_video(video)
    spans = window.timeline_view.timeline.episodes_of("out_of_body")
    assert [(e.start_s, e.end_s) for e in spans] == [pytest.approx((1.0, 2.0))]
    for item in window.timeline_view.out_of_body_spans.values():
        assert not item.boundingRect().isEmpty()  # hatched on every row
    assert window.exports.blur_action.isChecked()  # blurring is the default
    window.seek_frame(15)
    with qtbot.waitSignal(window.exports.finished, timeout=30_000) as done:
        assert window.exports.frame(tmp_path / "blurred.png")
    blurred = _read_png(done.args[0][2][0])
    window.exports.blur_action.setChecked(False)
    assert window.settings.value(BLUR_SETTING) in (False, "false")
    with qtbot.waitSignal(window.exports.finished, timeout=30_000) as done:
        assert window.exports.frame(tmp_path / "plain.png")
    plain = _read_png(done.args[0][2][0])
    assert _edges(plain[30:]) > 50 * max(_edges(blurred[30:]), 1.0)
    assert not window.errors
