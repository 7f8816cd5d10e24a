"""Re-plant the one-line bugs of issue 17 and check that the default suite catches each.

Each bug is applied to a throw-away copy of the checkout (never to the working tree), the named
test files are run there without the shared data (`SCRUBLINE_DATA=/nonexistent`, as on a fresh
clone), and the tests that failed are listed. A bug that no test catches is a "survivor" and
makes the script exit 1.

    python tests/mutation/replant.py            # every bug
    python tests/mutation/replant.py tips-swapped spread-horizontal-only
    python tests/mutation/replant.py --list
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_TESTS = (
    "tests/core/test_promises.py",
    "tests/core/test_store.py",
    "tests/core/test_video.py",
    "tests/core/test_timeline.py",
    "tests/core/test_phases.py",
    "tests/core/test_outcome.py",
    "tests/core/test_export.py",
    "tests/core/test_properties.py",
    "tests/core/test_timeline_rules.py",
    "tests/core/test_rotation.py",
    "tests/core/test_phases_rules.py",
)


@dataclass(frozen=True)
class Bug:
    name: str
    file: str  # relative to app/scrubline
    old: str
    new: str
    what: str
    tests: tuple[str, ...] = CORE_TESTS


BUGS = (
    Bug(
        "case-by-name",
        "core/store.py",
        'elif known.get("fingerprint") != video_info.fingerprint:',
        'elif known.get("name") != video_info.name:',
        "a case is accepted when the video's name matches but its fingerprint differs",
    ),
    Bug(
        "fingerprint-has-name",
        "core/video.py",
        "digest.update(str(size).encode())",
        "digest.update(f'{size}{path.name}'.encode())",
        "the fingerprint includes the file name (a renamed video loses its case)",
    ),
    Bug(
        "tips-swapped",
        "core/export.py",
        '"tips_visible": timeline.tips_visible,\n        "tips_hidden": timeline.tips_hidden,',
        '"tips_visible": timeline.tips_hidden,\n        "tips_hidden": timeline.tips_visible,',
        "tips_visible and tips_hidden swapped in frames.csv",
    ),
    Bug(
        "smoothing-left-to-right",
        "core/phases.py",
        "i = int(np.argmin(durations))",
        "i = next((j for j, d in enumerate(durations) if d < min_phase_s), 0)",
        "phase smoothing merges left to right instead of shortest first",
    ),
    Bug(
        "no-step-back",
        "core/outcome.py",
        "while j > lo and values[j - 1] < values[j]",
        "while False and values[j - 1] < values[j]",
        "bleeding-event start detection without its step-back rule",
    ),
    Bug(
        "timestamps-always-trusted",
        "core/video.py",
        "if not self._timestamps_trustworthy():",
        "if False:",
        "untrusted container timestamps (AVI) are used as if they were presentation times",
    ),
    Bug(
        "ordinal-count-from-zero",
        "core/video.py",
        "self._next_ordinal = keyframe_index",
        "self._next_ordinal = 0 if keyframe_index else keyframe_index",
        "after a seek, an untrusted-timestamp file counts frames from 0 instead of the key frame",
    ),
    Bug(
        "spread-horizontal-only",
        "core/outcome.py",
        '"var": (g["cx2"].mean() - g["cx"].mean() ** 2) + (g["cy2"].mean() - g["cy"].mean() ** 2),',
        '"var": (g["cx2"].mean() - g["cx"].mean() ** 2) * 2,',
        "the outcome feature `spread` ignores the vertical axis",
    ),
    # Planted for the helpers who own these fixes; listed so that one command checks them all.
    Bug(
        "later-frame-is-exact",
        "core/video.py",
        "if position == index:\n                return self._frame(index, av_frame, True)",
        "if position >= index:\n                return self._frame(index, av_frame, True)",
        "the exact-frame decode accepts a later frame as the requested one",
    ),
    Bug(
        "cancel-ignored",
        "core/analysis.py",
        "                if state.cancelled():\n                    report.cancelled = True\n     "
        "               return",
        "                if False:\n                    report.cancelled = True\n                 "
        "   return",
        "the analysis loop ignores a cancel (only the decoder stops)",
        ("tests/core/test_analysis.py", "tests/core/test_proxy.py"),
    ),
)


def _copy_checkout(target: Path) -> None:
    for name in ("app", "models", "resources", "tests"):
        shutil.copytree(
            ROOT / name,
            target / name,
            ignore=shutil.ignore_patterns("__pycache__", "runs", "cache"),
        )
    shutil.copy2(ROOT / "pyproject.toml", target / "pyproject.toml")


def plant(bug: Bug, checkout: Path) -> None:
    path = checkout / "app" / "scrubline" / bug.file
    text = path.read_text()
    if text.count(bug.old) != 1:
        raise SystemExit(
            f"{bug.name}: the line to change is not in {bug.file} exactly once; update this script"
        )
    path.write_text(text.replace(bug.old, bug.new))


def run(bug: Bug, quiet: bool) -> list[str]:
    """The tests that fail with `bug` planted (empty: the bug survived)."""
    with tempfile.TemporaryDirectory(prefix=f"replant-{bug.name}-") as folder:
        checkout = Path(folder)
        _copy_checkout(checkout)
        plant(bug, checkout)
        tests = [t for t in bug.tests if (checkout / t.split("::")[0]).exists()]
        env = {
            **os.environ,
            "PYTHONPATH": str(checkout / "app"),
            "SCRUBLINE_DATA": "/nonexistent",
            "QT_QPA_PLATFORM": "offscreen",
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                *tests,
            ],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if not quiet and done.returncode not in (0, 1):
            print(done.stdout[-3000:], done.stderr[-3000:])
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE)
        if done.returncode != 0 and not failed:
            failed = [f"(pytest exit {done.returncode})"]
        return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bugs", nargs="*", help="names of bugs to plant (default: all)")
    parser.add_argument("--list", action="store_true", help="list the bugs and exit")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for bug in BUGS:
            print(f"{bug.name:28} {bug.what}")
        return 0
    chosen = [b for b in BUGS if not args.bugs or b.name in args.bugs]
    unknown = set(args.bugs) - {b.name for b in BUGS}
    if unknown:
        parser.error(f"unknown bug(s): {', '.join(sorted(unknown))}")
    survivors = 0
    for bug in chosen:
        failed = run(bug, args.quiet)
        survivors += not failed
        verdict = f"caught by {len(failed)} test(s)" if failed else "SURVIVED"
        print(f"{bug.name}: {verdict}", flush=True)
        for test in failed:
            print(f"    {test}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
