"""Take the README's screenshots of the real window: at rest, mid-analysis, timeline zoomed.

    xvfb-run -s "-screen 0 1600x1000x24" \
        python resources/screenshots/make_screenshots.py [VIDEO] [-o DIR]

Without VIDEO it uses the generated demo clip (what is committed here); the case is analysed
afresh in a temporary folder with the bundled models, and nothing of the user's is touched.
Screenshots of licensed footage must not be committed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("video", nargs="?", help="a video (default: the generated demo clip)")
    parser.add_argument("-o", "--output", type=Path, default=HERE, help="folder for the PNGs")
    parser.add_argument("--prefix", default="", help="file name prefix")
    parser.add_argument("--size", default="1600x1000", help="window size")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="scrubline-shots-") as folder:
        os.environ["SCRUBLINE_SETTINGS"] = str(Path(folder) / "settings.ini")
        from PySide6.QtCore import QEventLoop, QTimer

        from scrubline.core.analysis import AnalysisSettings
        from scrubline.core.demo import ensure_demo_video
        from scrubline.ui.app import ensure_application
        from scrubline.ui.main_window import MainWindow

        app = ensure_application()
        video = Path(args.video) if args.video else ensure_demo_video()
        window = MainWindow(case_dir=Path(folder))
        width, height = (int(v) for v in args.size.split("x"))
        window.resize(width, height)
        window.show()

        def run_for(ms: int, signal: object = None) -> None:
            loop = QEventLoop()
            if signal is not None:
                signal.connect(loop.quit)  # type: ignore[attr-defined]
            QTimer.singleShot(ms, loop.quit)
            loop.exec()

        def shoot(name: str) -> None:
            run_for(400)  # let the last frame and the timeline paint
            app.processEvents()
            path = args.output / f"{args.prefix}{name}.png"
            window.grab().save(str(path))
            print(path)

        args.output.mkdir(parents=True, exist_ok=True)
        window.open_video(video)
        run_for(120_000, window.video_ready)
        if window.info is None:
            print("could not open", video, window.errors, file=sys.stderr)
            return 2
        window.start_analysis(AnalysisSettings(fps=5.0), fresh=True)
        # Mid-analysis: once about 40% is done, on an analysed frame near the front of it.
        deadline = time.monotonic() + 600
        while (
            window.progress.value() < 400
            and window.analysis.running()
            and time.monotonic() < deadline
        ):
            run_for(200)
        window.refresh_case()
        run_for(5_000, window.case_refreshed)
        if window.timeline is not None and len(window.timeline.times):
            window.seek_time(float(window.timeline.times[int(len(window.timeline.times) * 0.8)]))
        run_for(5_000, window.frame_shown)
        shoot("mid-analysis")

        if window.analysis.running():
            run_for(1_800_000, window.analysis_finished)
        run_for(10_000, window.outcome_refreshed)
        timeline = window.timeline
        moment = (
            float(timeline.times[int(timeline.bleeding.argmax())])
            if timeline is not None and len(timeline.times)
            else 0.0
        )
        window.seek_time(max(0.0, moment - 3.0))
        window.add_bookmark("suction before the field fills", "teaching point")
        window.seek_time(moment)
        window.add_bookmark("peak of the bleed", "complication")
        run_for(5_000, window.frame_shown)
        window.timeline_view.hover_label.setText(
            __import__("scrubline.ui.navigation", fromlist=["describe_at"]).describe_at(
                timeline, moment, window.bookmarks
            )
        )
        shoot("at-rest")

        window.timeline_view.set_x_range(max(0.0, moment - 6.0), moment + 6.0)
        window.state.set_selection((max(0.0, moment - 2.0), moment + 2.0))
        shoot("timeline-zoomed")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
