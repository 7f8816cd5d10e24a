"""The engine on real footage from ../shared/data (skipped when the data is absent): every kind
of file there opens, random access agrees with sequential decoding, and a real clip analyses into
a case that exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from scrubline.cli import main
from scrubline.core.video import VideoSource


def _videos(root: Path) -> list[Path]:
    return (
        sorted(root.glob("cholec80_clips/*/*.mp4"))[:2]
        + sorted(root.glob("endovis15/robotic_testing/Dataset*/Video.avi"))[:2]
        + sorted(root.glob("endovis17_sample/*.mp4"))
    )


def test_random_access_matches_sequential_decoding(real_data: Path) -> None:
    videos = _videos(real_data)
    assert videos, "expected real clips in the data folder"
    rng = np.random.default_rng(3)
    for path in videos:
        with VideoSource(path) as video:
            wanted = sorted(
                rng.choice(
                    video.frame_count, size=min(8, video.frame_count), replace=False
                ).tolist()
            )
            sequential = {
                f.index: f.rgb((160, 90))
                for f in video.iter_frames(range(video.frame_count))
                if f.index in wanted
            }
            for index in reversed(wanted):
                frame = video.read(index)
                assert frame.exact and frame.index == index, path.name
                assert np.array_equal(frame.rgb((160, 90)), sequential[index]), (
                    f"{path.name} frame {index}"
                )


def test_real_clip_analyses_and_exports(real_data: Path, tmp_path: Path) -> None:
    clip = sorted(real_data.glob("cholec80_clips/g19/*.mp4"))[0]
    case = tmp_path / "real.scrub"
    assert main(["analyze", str(clip), "-o", str(case), "--fps", "1", "-q"]) == 0
    assert main(["export", str(case), "-o", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["analysis"]["analysed_frames"] == 32
    assert summary["video"]["width"] == 854 and summary["video"]["codec"] == "h264"
    assert "name" not in summary["video"] and clip.stem not in json.dumps(summary)
