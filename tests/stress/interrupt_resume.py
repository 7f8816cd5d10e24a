"""Interrupt `scrubline analyze` at random moments and check that nothing is lost or mixed.

Outside the quick suite (it takes minutes): run it by hand or before a release,

    python tests/stress/interrupt_resume.py               # 30 rounds, seed 0
    python tests/stress/interrupt_resume.py --rounds 60 --seed 3

One uninterrupted analysis of a generated clip is exported as the reference. Then, each round,
a fresh case is analysed and killed after a random delay with SIGKILL, SIGTERM or SIGINT (chosen
at random), sometimes twice in a row, and resumed with the same command until it finishes. Its
export (frames.csv, detections.csv, episodes.csv, summary.json) must be byte-identical to the
reference. The interrupted process must end as documented: SIGKILL -9, SIGTERM 143 (or 0 if it
had already finished), SIGINT 130 (or 0). Exit status 0 when every round matched, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPORT_FILES = ("frames.csv", "detections.csv", "episodes.csv", "summary.json")
# How an interrupted `analyze` may end: by the signal's own code while it is still starting
# (nothing is written before the handlers are in place), with the documented code once it runs,
# or with 0 when the signal came after it finished.
SIGNALS = {
    "SIGKILL": (signal.SIGKILL, {-9, 0}),
    "SIGTERM": (signal.SIGTERM, {-15, 143, 0}),
    "SIGINT": (signal.SIGINT, {-2, 130, 0}),
}


def scrubline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrubline", *args],
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )


def analyse_command(clip: Path, case: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scrubline",
        "analyze",
        str(clip),
        "-o",
        str(case),
        "--fps",
        "5",
        "--batch",
        "2",
    ]


def export(case: Path, folder: Path, env: dict[str, str]) -> dict[str, bytes]:
    result = scrubline("export", str(case), "-o", str(folder), env=env)
    if result.returncode != 0:
        raise SystemExit(f"export of {case} failed: {result.stderr.strip()}")
    return {name: (folder / name).read_bytes() for name in EXPORT_FILES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the generated clip")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    options = parser.parse_args(argv)

    from scrubline.core.demo import DEMO_SIZE, demo_frame_drawer, write_clip

    work = Path(tempfile.mkdtemp(prefix="scrubline-interrupt-"))
    env = dict(os.environ, SCRUBLINE_HOME=str(work / "home"))
    rng = random.Random(options.seed)
    try:
        clip = write_clip(
            work / "clip.mp4",
            int(options.seconds * 25),
            fps=25,
            size=DEMO_SIZE,
            codec="libx264",
            gop=50,
            draw=demo_frame_drawer(*DEMO_SIZE),
        )
        reference_case = work / "reference.scrub"
        started = time.monotonic()
        done = subprocess.run(
            analyse_command(clip, reference_case),
            env=env,
            text=True,
            capture_output=True,
            check=False,
        )
        full_run = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"the uninterrupted analysis failed: {done.stderr.strip()}")
        reference = export(reference_case, work / "reference-export", env)
        print(f"reference: uninterrupted analysis {full_run:.1f} s; {options.rounds} rounds follow")

        failures = 0
        for round_number in range(1, options.rounds + 1):
            case = work / f"round{round_number}.scrub"
            interruptions = []
            for _ in range(rng.choice((1, 1, 2))):
                name = rng.choice(sorted(SIGNALS))
                signum, expected = SIGNALS[name]
                delay = rng.uniform(0.2, full_run * 1.1)
                process = subprocess.Popen(
                    analyse_command(clip, case),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                time.sleep(delay)
                process.send_signal(signum)
                _, stderr = process.communicate(timeout=120)
                interruptions.append(f"{name}@{delay:.1f}s→{process.returncode}")
                if process.returncode not in expected:
                    failures += 1
                    print(
                        f"round {round_number}: {name} ended with {process.returncode}, "
                        f"expected one of {sorted(expected)}: {stderr.strip()[-300:]}"
                    )
            resumed = subprocess.run(
                analyse_command(clip, case), env=env, text=True, capture_output=True, check=False
            )
            if resumed.returncode != 0:
                failures += 1
                print(
                    f"round {round_number}: resume failed ({resumed.returncode}): "
                    f"{resumed.stderr.strip()[-300:]}"
                )
                continue
            exported = export(case, work / f"round{round_number}-export", env)
            different = [name for name in EXPORT_FILES if exported[name] != reference[name]]
            verdict = "identical" if not different else "DIFFERENT: " + ", ".join(different)
            failures += bool(different)
            print(f"round {round_number:2d}: {' then '.join(interruptions)}; export {verdict}")
        print(
            f"{options.rounds - failures} of {options.rounds} rounds gave exports byte-identical "
            "to the uninterrupted run"
            if not failures
            else f"{failures} problems"
        )
        return 0 if failures == 0 else 1
    finally:
        if options.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
