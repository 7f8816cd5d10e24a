"""`scrubline self-check`: does this installation work, end to end, on this machine?

A packaged build (PyInstaller) or an unusual install can lose a native library, a model file or a
font without any test noticing, and then fail only when a surgeon opens a real case. This runs
the same code paths on generated data, in a temporary folder, and says which step failed:

1. imports     the native pieces: NumPy, PyAV (FFmpeg), OpenCV, onnxruntime, pandas, reportlab
2. models      every bundled model loads and its ONNX graph matches its manifest
3. decoding    a generated clip with its frame number drawn into every frame (H.264, B-frames,
               long GOP) is read out of order and every frame is the one asked for
4. inference   the generated demo scene is analysed by the bundled models into a case file
5. report      the PDF debrief of that case is written and is a PDF

It sits above `scrubline.report` (it writes a report) and below the CLI, Qt-free like both: the
GUI's own check (can Qt start here?) is the CLI's business. Nothing is written outside a
temporary folder, and nothing leaves the machine.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The order a person reads the report in; a later step is skipped when one it needs failed.
NATIVE_MODULES = ("numpy", "av", "cv2", "onnxruntime", "pandas", "reportlab")
CLIP_FRAMES = 48
CLIP_FPS = 24.0
READ_ORDER = (47, 3, 30, 12, 0, 25, 26, 11, 46, 1)  # backwards, across key frames, and steps
DEMO_SECONDS = 3.0
DEMO_FPS = 10.0
DEMO_SIZE = (320, 180)
ANALYSIS_FPS = 2.0


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class SelfCheckReport:
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.ok]

    def lines(self) -> list[str]:
        return [
            f"{'ok  ' if r.ok else 'FAIL'} {r.name:<10} {r.detail} ({r.seconds:.1f} s)"
            for r in self.results
        ]


class CheckFailed(Exception):
    """One step did not do what it must; the message says what, in words."""


def check_imports() -> str:
    versions = []
    for name in NATIVE_MODULES:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # an ImportError, or a native library that fails to load
            raise CheckFailed(f"cannot import {name}: {exc}") from exc
        versions.append(f"{name} {getattr(module, '__version__', '?')}")
    return ", ".join(versions)


def check_models(registry: Any) -> str:
    from scrubline.core.models.wrappers import load_model

    if registry.problems:
        raise CheckFailed("; ".join(registry.problems))
    if not registry.manifests:
        raise CheckFailed("no models found")
    if not registry.frame_models():
        raise CheckFailed("no image model (segmenter, detector or classifier) found")
    loaded = []
    for manifest in sorted(registry.manifests.values(), key=lambda m: m.id):
        try:
            load_model(manifest)  # opens the ONNX file and checks it against the manifest
        except Exception as exc:
            raise CheckFailed(str(exc)) from exc
        loaded.append(f"{manifest.id} {manifest.version}")
    return f"{len(loaded)} loaded and match their manifests ({', '.join(loaded)})"


def check_decoding(folder: Path) -> str:
    from scrubline.core.demo import read_frame_code, write_clip
    from scrubline.core.video import VideoSource

    clip = write_clip(
        folder / "numbered.mp4", CLIP_FRAMES, fps=CLIP_FPS, codec="libx264", gop=16, bframes=2
    )
    with VideoSource(clip) as source:
        if source.frame_count != CLIP_FRAMES:
            raise CheckFailed(
                f"the generated clip has {CLIP_FRAMES} frames, {source.frame_count} were indexed"
            )
        wrong = []
        for index in READ_ORDER:
            frame = source.read(index)
            number = read_frame_code(frame.rgb())
            if not frame.exact or frame.index != index or number != index:
                wrong.append(f"asked for {index}, got {number}")
    if wrong:
        raise CheckFailed("frames are not exact: " + "; ".join(wrong))
    return (
        f"{len(READ_ORDER)} frames read out of order from an H.264 clip with B-frames, each exact"
    )


def check_inference(folder: Path, registry: Any) -> tuple[str, Path]:
    from scrubline.core.analysis import AnalysisSettings, analyse_video
    from scrubline.core.case import Case
    from scrubline.core.demo import render_demo_clip

    video = render_demo_clip(
        folder / "demo.mp4", seconds=DEMO_SECONDS, fps=DEMO_FPS, size=DEMO_SIZE
    )
    settings = AnalysisSettings(fps=ANALYSIS_FPS, scrub_proxy=False)
    report = analyse_video(video, folder / "demo.scrub", settings, registry=registry)
    if not report.complete or report.done_now == 0:
        raise CheckFailed(
            f"the analysis stopped after {report.done_now} of {report.planned} frames"
        )
    with Case.open(report.case_path) as case:
        stored = case.frame_count()
    if stored != report.planned:
        raise CheckFailed(f"{report.planned} frames analysed but {stored} stored in the case file")
    models = len(registry.frame_models())
    return (
        f"{stored} frames analysed by {models} image model(s) in {report.elapsed_s:.1f} s",
        report.case_path,
    )


def check_report(folder: Path, case_path: Path, registry: Any) -> str:
    from scrubline.core.case import Case
    from scrubline.report import ReportOptions, write_report

    target = folder / "self-check.pdf"
    with Case.open(case_path) as case:
        write_report(case, target, ReportOptions(label="Self-check"), registry=registry)
    data = target.read_bytes() if target.exists() else b""
    if not data.startswith(b"%PDF") or b"%%EOF" not in data[-1024:]:
        raise CheckFailed("the report written is not a complete PDF")
    return f"a {len(data) // 1024} KiB PDF debrief written"


def run_self_check(
    registry: Any = None,
    *,
    progress: Callable[[CheckResult], None] | None = None,
) -> SelfCheckReport:
    """Run every step (skipping those whose prerequisite failed) and report each."""
    report = SelfCheckReport()

    def step(name: str, action: Callable[[], Any]) -> Any:
        started = time.monotonic()
        value: Any = None
        try:
            value = action()
            detail = value[0] if isinstance(value, tuple) else str(value)
            result = CheckResult(name, True, detail, time.monotonic() - started)
        except Exception as exc:  # every failure is reported, not raised: later steps still run
            result = CheckResult(
                name, False, str(exc) or type(exc).__name__, time.monotonic() - started
            )
            value = None
        report.results.append(result)
        if progress is not None:
            progress(result)
        return value

    def skipped(name: str, because: str) -> None:
        result = CheckResult(name, False, f"skipped: {because} failed", 0.0)
        report.results.append(result)
        if progress is not None:
            progress(result)

    imports_ok = step("imports", check_imports) is not None
    if registry is None and imports_ok:
        from scrubline.core.models import load_registry

        registry = load_registry()
    models_ok = imports_ok and step("models", lambda: check_models(registry)) is not None
    if not imports_ok:
        skipped("models", "imports")
    with tempfile.TemporaryDirectory(prefix="scrubline-self-check-") as temporary:
        folder = Path(temporary)
        if imports_ok:
            step("decoding", lambda: check_decoding(folder))
        else:
            skipped("decoding", "imports")
        inferred = (
            step("inference", lambda: check_inference(folder, registry)) if models_ok else None
        )
        if not models_ok:
            skipped("inference", "models")
        if inferred is not None:
            step("report", lambda: check_report(folder, inferred[1], registry))
        else:
            skipped("report", "inference")
    return report
