"""The scrub proxy written during analysis: every frame of the analysed range, each one the
right frame, and only whole segments left behind by an interrupted analysis."""

from __future__ import annotations

from pathlib import Path

from scrubline.core.analysis import AnalysisSettings, PlainTaskState, analyse_video
from scrubline.core.demo import read_frame_code
from scrubline.core.proxy import ScrubProxy, proxy_dir_for


def test_proxy_holds_every_frame_to_the_end(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    case = tmp_path / "c.scrub"
    analyse_video(clips["long_gop"], case, AnalysisSettings(fps=3), registry=tiny_registry)
    proxy = ScrubProxy(proxy_dir_for(case))
    try:
        assert len(proxy) == 320  # the last sample is frame 310; frames after it are in too
        assert all(proxy.covers(i) for i in range(320)) and not proxy.covers(320)
        for index in (0, 9, 10, 155, 311, 319):
            image = proxy.read(index)
            assert image is not None and read_frame_code(image) == index
    finally:
        proxy.close()


def test_proxy_stops_at_the_end_of_the_range(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    case = tmp_path / "c.scrub"
    analyse_video(
        clips["cfr"], case, AnalysisSettings(fps=10, start_s=1.0, end_s=2.0), registry=tiny_registry
    )
    proxy = ScrubProxy(proxy_dir_for(case))
    try:
        # 25 fps, key frames every 12: decoding starts at the key frame 24 before 1.0 s (frame 25)
        # and goes on to frame 50, the one on screen at 2.0 s.
        assert all(proxy.covers(i) for i in range(24, 51))
        assert not proxy.covers(23) and not proxy.covers(51)
    finally:
        proxy.close()


def test_cancelled_analysis_leaves_only_whole_segments(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    state = PlainTaskState()
    state._on_progress = lambda fraction, message: state.cancel() if fraction > 0.2 else None
    case = tmp_path / "c.scrub"
    analyse_video(
        clips["long_gop"], case, AnalysisSettings(batch_size=4), registry=tiny_registry, state=state
    )
    folder = proxy_dir_for(case)
    assert not list(folder.glob("*.part.mp4"))
    analyse_video(clips["long_gop"], case, AnalysisSettings(batch_size=4), registry=tiny_registry)
    proxy = ScrubProxy(folder)
    try:
        assert all(proxy.covers(i) for i in range(320))
        assert read_frame_code(proxy.read(200)) == 200  # type: ignore[arg-type]
    finally:
        proxy.close()
