"""The product's promises, each stated the way a user would and each made to fail by the one-line
bug that would break it (issue 17 planted these bugs in a copy of the code; every one survived
the suite then). Each test names, in its docstring, the bug it exists to catch."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.core.demo import read_frame_code, write_clip
from scrubline.core.export import export_case, frames_dataframe
from scrubline.core.outcome import FEATURES, detect_event_start, sequence_features
from scrubline.core.phases import smooth_segments
from scrubline.core.results import FrameResult, Instrument
from scrubline.core.store import CaseStore, StoreError
from scrubline.core.timeline import build_timeline
from scrubline.core.video import VideoSource
from tests.tip_rules_helper import validate_tools

# ---------------------------------------------------------------------------------------------
# A case belongs to one video, whatever the files are called


def _two_videos_with_one_name(folder: Path) -> tuple[Path, Path]:
    """Two different recordings that are both called `case.mp4` (two theatres, one naming
    scheme): same name, same codec, same frame size; different content."""
    first = write_clip(folder / "theatre1" / "case.mp4", 40, fps=25, gop=20)
    second = write_clip(folder / "theatre2" / "case.mp4", 41, fps=25, gop=20)
    return first, second


def test_a_case_made_for_video_a_is_refused_for_a_different_video_with_a_s_name(
    tmp_path: Path,
) -> None:
    """Catches: the case accepted because the video's *name* matches although its fingerprint
    differs (the wrong patient's results would be shown)."""
    video_a, video_b = _two_videos_with_one_name(tmp_path)
    case = tmp_path / "case.scrub"
    with VideoSource(video_a) as a, CaseStore.for_video(a.info, case) as store:
        store.write_results([FrameResult(0, 0.0)])
    with VideoSource(video_b) as b:
        assert b.info.name == "case.mp4"
        with pytest.raises(StoreError, match="belongs to another video"):
            CaseStore.for_video(b.info, case)
        # Nor does B silently pick up A's case from the default location.
        with CaseStore.for_video(b.info) as own:
            assert own.frame_count() == 0


def test_a_renamed_or_moved_video_finds_its_case(tmp_path: Path) -> None:
    """Catches: the fingerprint made to depend on the file name or folder (a renamed video would
    lose its case and be analysed again)."""
    original = write_clip(tmp_path / "or1-2024-03-01.mp4", 40, fps=25, gop=20)
    with VideoSource(original) as video, CaseStore.for_video(video.info) as store:
        store.write_results([FrameResult(0, 0.0), FrameResult(5, 0.2)])
        first_case = store.path
    renamed = tmp_path / "archive" / "cholecystectomy.mp4"
    renamed.parent.mkdir()
    shutil.move(original, renamed)
    with VideoSource(renamed) as video, CaseStore.for_video(video.info) as store:
        assert store.path == first_case
        assert store.analysed_frames().tolist() == [0, 5]


# ---------------------------------------------------------------------------------------------
# Exported numbers are the stored numbers


def test_frames_csv_counts_each_hidden_tip_in_tips_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches: `tips_visible` and `tips_hidden` swapped in frames.csv (or in the store). The
    three tools' tip rules are validated, and samples 1 s apart are not smoothed, so every
    stored tip is counted as stored."""

    def tool(label: str, visible: bool) -> Instrument:
        return Instrument(label, 0.9, (0, 0, 10, 10), (5, 5), 0.9 if visible else 0.1, visible)

    case = tmp_path / "tips.scrub"
    with CaseStore(case, create=True) as store:
        store.set_meta("video", {"duration_s": 1.0, "width": 100, "height": 100})
        store.write_results(
            [
                FrameResult(
                    0, 0.0, [tool("grasper", True), tool("hook", True), tool("clipper", False)]
                ),
                FrameResult(
                    25, 1.0, [tool("grasper", False), tool("hook", False), tool("clipper", False)]
                ),
                FrameResult(50, 2.0, [tool("grasper", True)]),
            ]
        )
        assert store.frames_table()[["tips_visible", "tips_hidden"]].values.tolist() == [
            [2, 1],
            [0, 3],
            [1, 0],
        ]
        validate_tools(
            monkeypatch,
            tmp_path / "models",
            store,
            {"grasper": True, "hook": True, "clipper": True},
        )
        table = frames_dataframe(build_timeline(store))
        assert table[["tips_visible", "tips_hidden"]].values.tolist() == [[2, 1], [0, 3], [1, 0]]
        export_case(store, tmp_path / "out")
    written = pd.read_csv(tmp_path / "out" / "frames.csv")
    assert written[["frame", "n_instruments", "tips_visible", "tips_hidden"]].values.tolist() == [
        [0, 3, 2, 1],
        [25, 3, 0, 3],
        [50, 1, 1, 0],
    ]


# ---------------------------------------------------------------------------------------------
# Phases


def test_phase_smoothing_merges_the_shortest_phase_first() -> None:
    """Catches: smoothing that walks left to right instead of merging the shortest phase first.

    1 s of `z` sits between 2 s of `y` and 10 s of `w`. Shortest first, `z` joins `w`, then the
    still-short `y` joins the longer `w` (11 s against `x`'s 10 s). Left to right, `y` would be
    swallowed by `x` first and `z` would follow it."""
    segs = [["x", 0.0, 10.0], ["y", 10.0, 12.0], ["z", 12.0, 13.0], ["w", 13.0, 23.0]]
    assert smooth_segments(segs, 3.0) == [["x", 0.0, 10.0], ["w", 10.0, 23.0]]
    # The input is not modified.
    assert segs[1] == ["y", 10.0, 12.0]


# ---------------------------------------------------------------------------------------------
# Bleeding event start


def test_bleeding_event_starts_where_the_rise_begins_not_where_it_crosses_the_threshold() -> None:
    """Catches: event-start detection without its step-back rule (the event would start when the
    area crosses 3 %, two seconds after the bleeding visibly began).

    One sample per second: nothing until 40 s, then the area grows by one point a second."""
    times = np.arange(0.0, 80.0)
    fraction = np.clip((times - 40.0) * 0.01, 0.0, 0.15)
    assert detect_event_start(times, fraction) == 41.0  # 1 % at 41 s; 3 % only at 43 s
    # The step back stops at the baseline: a bleed that starts abruptly is not moved earlier.
    abrupt = np.where(times >= 40.0, 0.2, 0.0)
    assert detect_event_start(times, abrupt) == 40.0


# ---------------------------------------------------------------------------------------------
# Outcome features


def test_spread_measures_instruments_apart_vertically_as_well_as_horizontally() -> None:
    """Catches: the `spread` feature ignoring the vertical axis."""
    times = np.arange(0.0, 60.0, 0.5)

    def boxes(centres: list[tuple[float, float]]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                (t, "instrument", 0.9, cx - 50, cy - 50, cx + 50, cy + 50)
                for t in times
                for cx, cy in centres
            ],
            columns=["time_s", "label", "score", "x1", "y1", "x2", "y2"],
        )

    column = FEATURES.index("spread")
    side_by_side = sequence_features(
        boxes([(50, 500), (950, 500)]), (1000, 1000), 0.0, analysed_times=times
    )
    one_above_other = sequence_features(
        boxes([(500, 50), (500, 950)]), (1000, 1000), 0.0, analysed_times=times
    )
    diagonal = sequence_features(
        boxes([(50, 50), (950, 950)]), (1000, 1000), 0.0, analysed_times=times
    )
    np.testing.assert_allclose(one_above_other[:, column], 0.45 / math.sqrt(2.0), rtol=1e-4)
    np.testing.assert_allclose(one_above_other[:, column], side_by_side[:, column], rtol=1e-6)
    np.testing.assert_allclose(diagonal[:, column], 0.45, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# Frame-exact access where the container's timestamps cannot be trusted


@pytest.fixture(scope="module")
def untrusted_avi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 with B-frames in AVI: the container carries no presentation times, so decoded
    frames come out with timestamps that do not describe display order (the kind of file the
    EndoVis recordings are). Six groups of pictures, so seeks have key frames to land on."""
    return write_clip(
        tmp_path_factory.mktemp("avi") / "untrusted.avi",
        150,
        fps=25,
        codec="libx264",
        gop=25,
        bframes=2,
    )


def test_the_generated_avi_really_has_untrusted_timestamps(untrusted_avi: Path) -> None:
    """Guards the tests below: they only cover the untrusted-timestamp path if the clip takes it."""
    with VideoSource(untrusted_avi) as video:
        assert video._ordinal  # counted in decode order from key frames, not looked up by timestamp
        assert video.frame_count == 150 and len(video._index.keyframes) == 6


def test_every_frame_of_an_untrusted_timestamp_file_is_the_one_asked_for(
    untrusted_avi: Path,
) -> None:
    """Catches: the exact-seek path for files with untrusted timestamps returning a neighbour
    (before, only a test on ../shared/data covered it; a fresh clone had nothing)."""
    with VideoSource(untrusted_avi) as video:
        n = video.frame_count
        backward = list(range(n - 1, -1, -7))
        forward = list(range(0, n, 5))
        shuffled = np.random.default_rng(11).permutation(n)[:40].tolist()
        for index in backward + forward + shuffled:
            frame = video.read(index)
            assert (frame.index, frame.exact) == (index, True)
            assert read_frame_code(frame.rgb()) == index, f"asked for {index}"
        video.forget()
        for index in (149, 100, 75, 74, 26, 25, 24, 0):  # either side of key frames, cold
            video.forget()
            assert read_frame_code(video.read(index).rgb()) == index, f"cold read of {index}"


def test_sampling_an_untrusted_timestamp_file_gives_the_sampled_frames(untrusted_avi: Path) -> None:
    with VideoSource(untrusted_avi) as video:
        wanted = [3, 30, 31, 77, 140]  # the 30 -> 77 gap crosses key frames: a seek in between
        got = [(f.index, read_frame_code(f.rgb())) for f in video.iter_frames(wanted)]
    assert got == [(i, i) for i in wanted]
