"""A GUI-thread latency probe: how long is the window's event loop ever blocked?

`measure_ui_stall(video_path, seconds)` opens the real main window (offscreen when there is no
display), starts a fresh analysis of the video into a temporary case, and scrubs the playhead
the way a surgeon drags the scrubber (jumps across the video mixed with small moves) while a
5 ms precise timer records the largest gap between its ticks. The stall is that gap minus the
timer interval: the longest time the GUI thread could not react. `scrubline bench` reports it
as `ui_max_stall_ms` (issue target: 50 ms). `probe_ui` returns the detail as well: stall
percentiles, how many scrub requests were answered, and request-to-frame latency.

Nothing of the user's is touched: cases go to a temporary folder and settings to a temporary
file, both removed afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class UiProbeResult:
    max_stall_ms: float  # the longest the GUI thread was blocked beyond the timer interval
    p99_stall_ms: float
    ticks: int  # probe timer ticks observed
    scrub_requests: int  # playhead moves made
    frames_shown: int  # exact frames delivered to the screen meanwhile
    frame_latency_ms_p50: float  # request -> exact frame on screen, for the frames shown
    frame_latency_ms_p95: float
    analysed_frames: int  # frames the background analysis finished meanwhile
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_ui(video_path: str | Path, seconds: float = 10.0, *, registry: Any = None,
             models_dirs: list[Path] | None = None, interval_ms: int = 5, scrub_hz: float = 25.0,
             analyse: bool = True, seed: int = 0) -> UiProbeResult:
    """Open the window on `video_path`, analyse and scrub for `seconds`, measure the event loop."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from scrubline.core.analysis import AnalysisSettings
    from scrubline.ui.app import ensure_application
    from scrubline.ui.main_window import MainWindow
    from scrubline.ui.settings import SETTINGS_ENV

    app = ensure_application()
    with tempfile.TemporaryDirectory(prefix="scrubline-probe-") as folder:
        previous_settings = os.environ.get(SETTINGS_ENV)
        os.environ[SETTINGS_ENV] = str(Path(folder) / "settings.ini")
        window = MainWindow(registry=registry, models_dirs=models_dirs, case_dir=Path(folder))
        try:
            window.resize(1280, 800)
            window.show()
            loop = QEventLoop()
            window.video_ready.connect(loop.quit)
            window.loader.open_failed.connect(lambda *_: loop.quit())
            window.open_video(video_path)
            QTimer.singleShot(300_000, loop.quit)
            loop.exec()
            if window.info is None:
                raise RuntimeError(f"the window could not open {video_path}: {'; '.join(window.errors)}")
            if analyse:
                window.start_analysis(AnalysisSettings(fps=5.0), fresh=True)

            gaps: list[float] = []
            last = [time.perf_counter()]

            def tick() -> None:
                now = time.perf_counter()
                gaps.append(now - last[0])
                last[0] = now

            rng = np.random.default_rng(seed)
            count = window.state.frame_count
            requests = [0]
            shown_before = len(window.frame_latencies)

            def scrub() -> None:
                # Mostly small drags, sometimes a long jump, as a hand on a scrubber does.
                if rng.random() < 0.3:
                    target = int(rng.integers(0, count))
                else:
                    target = window.state.frame + int(rng.integers(-15, 16))
                window.state.scrubbing = True
                window.state.set_frame(target)
                requests[0] += 1

            probe = QTimer()
            probe.setTimerType(Qt.TimerType.PreciseTimer)
            probe.timeout.connect(tick)
            mover = QTimer()
            mover.setTimerType(Qt.TimerType.PreciseTimer)
            mover.timeout.connect(scrub)
            finished = QEventLoop()
            last[0] = time.perf_counter()
            probe.start(interval_ms)
            mover.start(max(1, int(1000 / scrub_hz)))
            QTimer.singleShot(int(seconds * 1000), finished.quit)
            finished.exec()
            probe.stop()
            mover.stop()
            analysed = window.store.frame_count() if window.store is not None else 0
            latencies = np.asarray(window.frame_latencies[shown_before:], dtype=float) * 1000.0
            stalls = np.maximum(np.asarray(gaps, dtype=float) * 1000.0 - interval_ms, 0.0)
            return UiProbeResult(
                max_stall_ms=round(float(stalls.max()) if stalls.size else 0.0, 1),
                p99_stall_ms=round(float(np.percentile(stalls, 99)) if stalls.size else 0.0, 1),
                ticks=len(gaps),
                scrub_requests=requests[0],
                frames_shown=int(latencies.size),
                frame_latency_ms_p50=round(float(np.percentile(latencies, 50)), 1) if latencies.size else float("nan"),
                frame_latency_ms_p95=round(float(np.percentile(latencies, 95)), 1) if latencies.size else float("nan"),
                analysed_frames=int(analysed),
                seconds=float(seconds),
            )
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()
            if previous_settings is None:
                os.environ.pop(SETTINGS_ENV, None)
            else:
                os.environ[SETTINGS_ENV] = previous_settings


def measure_ui_stall(video_path: str | Path, seconds: float = 10.0, *, registry: Any = None,
                     models_dirs: list[Path] | None = None) -> float:
    """The longest GUI-thread stall (ms) while the real window analyses `video_path` in the
    background and its playhead is scrubbed for `seconds`."""
    return probe_ui(video_path, seconds, registry=registry, models_dirs=models_dirs).max_stall_ms
