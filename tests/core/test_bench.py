"""`scrubline bench`: its seeks are checked for exactness, its memory probe measures the probe
and not the process that started it, and one quick run on a given video reports every figure the
speed issue asks for."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scrubline.cli import main
from scrubline.core.bench import opencv_naive_seek, peak_rss_mb, seek_latencies

REQUIRED_KEYS = (
    "decode_fps",
    "analysis_fps",
    "analysis_realtime_factor",
    "analysis_vs_decode_ratio",
    "seek_ms_p50_cold",
    "seek_ms_p95_cold",
    "seek_ms_p95_warm",
    "open_case_first_frame_s",
    "peak_rss_mb_3h",
    "ui_max_stall_ms",
)


def test_seeks_land_on_the_asked_frame(clips: dict[str, Path]) -> None:
    found = seek_latencies(clips["long_gop"], np.random.default_rng(3), 6, (160, 120))
    assert found["wrong"] == 0
    assert len(found["cold"]) == 6 and len(found["warm"]) == 18
    assert all(t > 0 for t in found["cold"] + found["warm"])


def test_opencv_baseline_is_timed_and_checked(
    make_clip: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every frame a key frame: OpenCV's frame seek lands right, so nothing is counted wrong...
    intra = make_clip(40, fps=25.0, codec="mpeg4", gop=1, bframes=0)  # type: ignore[operator]
    found = opencv_naive_seek(intra, np.random.default_rng(3), 5)
    assert len(found["times"]) == 5 and all(t > 0 for t in found["times"])
    assert found["wrong"] == 0
    # ...and each seek that shows another frame's number is counted.
    import scrubline.core.demo

    monkeypatch.setattr(scrubline.core.demo, "read_frame_code", lambda image: -1)
    assert opencv_naive_seek(intra, np.random.default_rng(3), 5)["wrong"] == 5


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the inherited-peak quirk is Linux's"
)
def test_child_peak_memory_is_its_own() -> None:
    ballast = np.ones(300 << 20, np.uint8)  # 300 MB touched in this process
    assert peak_rss_mb() > 300
    code = "from scrubline.core.bench import peak_rss_mb; print(peak_rss_mb())"
    child = float(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    assert 0 < child < 250, child
    del ballast


def test_quick_bench_on_a_given_video_reports_every_figure(
    make_clip: object, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(150, fps=30.0, size=(320, 240), codec="libx264", gop=60, bframes=2)  # type: ignore[operator]
    assert main(["bench", str(clip), "--quick", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    for key in REQUIRED_KEYS:
        assert key in results, key
    assert results["video"]["frames"] == 150
    assert results["decode_fps"] > 0 and results["analysis_fps"] > 0
    # 25 frames sampled from 5 s of video in the same wall time: real-time factor = fps × 5 / 25.
    assert math.isclose(
        results["analysis_realtime_factor"], results["analysis_fps"] * 5 / 25, rel_tol=0.1
    )
    assert results["analysis_vs_decode_ratio"] > 0
    assert results["seek_wrong_frames"] == 0
    assert results["seek_ms_p95_cold"] >= results["seek_ms_p50_cold"] > 0
    assert results["open_case_hours"] == 1.0 and 0 < results["open_case_first_frame_s"] < 10
    assert results["peak_rss_mb_3h"] is not None and 0 < results["peak_rss_mb_3h"] < 1536
    assert results["ui_max_stall_ms"] is not None and results["ui_max_stall_ms"] >= 0, results.get(
        "ui_max_stall_note"
    )
