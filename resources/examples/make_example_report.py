"""Regenerate the example debrief of the generated demo case (never real footage):

    python resources/examples/make_example_report.py [-o resources/examples]

Renders the demo clip, analyses it with the bundled models into a scratch case (not the user's
cache), adds the two bookmarks the example shows, writes `demo-report.pdf`, and page 1 as
`demo-report-page1.png` when `pdftoppm` (poppler-utils) is installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOOKMARKS = [
    (11.6, "teaching point", "suction before the field fills"),
    (14.6, "complication", "peak of the bleed"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=HERE)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["SCRUBLINE_HOME"] = str(Path(scratch) / "home")
        from scrubline.core.analysis import analyse_video
        from scrubline.core.demo import ensure_demo_video
        from scrubline.core.store import CaseStore
        from scrubline.core.video import VideoSource
        from scrubline.report import ReportOptions, write_report

        video = ensure_demo_video()
        case = Path(scratch) / "demo.scrub"
        analyse_video(video, case)
        with VideoSource(video) as source, CaseStore(case) as store:
            for time_s, category, note in BOOKMARKS:
                store.add_bookmark(time_s, source.index_at(time_s), note, category)
            args.output.mkdir(parents=True, exist_ok=True)
            pdf = write_report(
                store,
                args.output / "demo-report.pdf",
                ReportOptions(
                    label="Scrubline demo case (synthetic)",
                    procedure="Synthetic demo scene",
                    reviewer="Scrubline maintainers",
                    video_path=video,
                ),
            )
    print(pdf)
    if shutil.which("pdftoppm"):
        stem = args.output / "demo-report-page1"
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(pdf),
                str(stem),
            ],
            check=True,
        )
        print(f"{stem}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
