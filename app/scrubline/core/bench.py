"""`scrubline bench`: speed and memory, each figure beside the physical limit measured in the same
run, so the numbers mean something on any machine.

Without a video it generates its clips (cached per user): 1080p 30 fps H.264 with a 250-frame GOP
at 4 Mbit/s (the kind of file recorders write), a short 4K clip and a 480p clip. Every generated
frame carries its number as a block code, so seeks are checked for exactness, not only timed —
including OpenCV's naive `CAP_PROP_POS_FRAMES` seek, measured as the baseline.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scrubline.core.models import Registry, load_registry

Log = Callable[[str], None] | None

CLIPS_FULL = {"1080p": ((1920, 1080), 60.0), "4k": ((3840, 2160), 6.0), "480p": ((854, 480), 30.0)}
CLIPS_QUICK = {"1080p": ((1920, 1080), 12.0), "4k": ((3840, 2160), 2.0), "480p": ((854, 480), 6.0)}
BENCH_CLIP_VERSION = 2  # bump when the generated content changes
OPEN_CASE_HOURS = 1.0  # the target: an analysed 1-hour case opens to its first frame in ≤ 1 s
BITRATES = {"1080p": 4_000_000, "4k": 12_000_000, "480p": 1_500_000}


def _say(log: Log, text: str) -> None:
    if log:
        log(text)


def bench_dir() -> Path:
    from scrubline.core.paths import cache_dir

    return cache_dir() / "bench"


def generated_clip(name: str, size: tuple[int, int], seconds: float, log: Log = None) -> Path:
    """A cached generated clip: the demo scene with sensor-like grain and the frame code."""
    from scrubline.core.demo import demo_frame_drawer, draw_frame_code, write_clip

    path = bench_dir() / f"{name}-{int(seconds)}s-v{BENCH_CLIP_VERSION}.mp4"
    if path.exists():
        return path
    _say(log, f"generating {path.name} (once) ...")
    scene = demo_frame_drawer(*size)
    rng = np.random.default_rng(0)
    grain = [rng.integers(-6, 7, (size[1], size[0], 1), dtype=np.int16) for _ in range(5)]

    def draw(index: int, t: float) -> np.ndarray:
        image = scene(index, t).astype(np.int16) + grain[index % len(grain)]
        image = np.clip(image, 0, 255).astype(np.uint8)
        draw_frame_code(image, index)
        return image

    partial = path.with_suffix(".part.mp4")
    write_clip(
        partial,
        int(seconds * 30),
        fps=30.0,
        size=size,
        codec="libx264",
        gop=250,
        bframes=2,
        draw=draw,
        bit_rate=BITRATES.get(name),
    )
    partial.replace(path)
    return path


def decode_only(path: Path) -> tuple[int, float]:
    """Frames and seconds to decode the whole file sequentially with no conversion: the limit."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        started = time.perf_counter()
        count = sum(1 for _ in container.decode(stream))
        return count, time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def seek_latencies(
    path: Path, rng: np.random.Generator, samples: int, display: tuple[int, int]
) -> dict[str, Any]:
    """Exact full-resolution seeks with VideoSource: cold (nothing near in the cache) and warm
    (within a second of a frame seen just before), each checked against the frame code."""
    from scrubline.core.demo import read_frame_code
    from scrubline.core.video import VideoSource

    cold, warm, wrong = [], [], 0
    with VideoSource(path) as video:
        count = video.frame_count
        for target in rng.integers(0, count, samples):
            video.forget()  # cold: nothing decoded before
            started = time.perf_counter()
            frame = video.read(int(target))
            frame.rgb(display)
            cold.append((time.perf_counter() - started) * 1000)
            wrong += read_frame_code(frame.rgb()) != target  # checked at full size, untimed
            for offset in rng.integers(-30, 31, 3):
                near = int(np.clip(target + offset, 0, count - 1))
                started = time.perf_counter()
                frame = video.read(near)
                frame.rgb(display)
                warm.append((time.perf_counter() - started) * 1000)
                wrong += read_frame_code(frame.rgb()) != near
    return {"cold": cold, "warm": warm, "wrong": int(wrong)}


def proxy_latencies(
    proxy_folder: Path, count: int, rng: np.random.Generator, samples: int
) -> dict[str, Any]:
    from scrubline.core.demo import read_frame_code
    from scrubline.core.proxy import ScrubProxy

    proxy = ScrubProxy(proxy_folder, open_segments=1)
    cold, warm, wrong = [], [], 0
    try:
        covered = [i for i in rng.integers(0, count, samples * 3) if proxy.covers(int(i))][:samples]
        for target in covered:
            proxy.close()  # cold: no segment open, nothing cached
            started = time.perf_counter()
            image = proxy.read(int(target))
            cold.append((time.perf_counter() - started) * 1000)
            wrong += image is None or read_frame_code(image) != target
            for offset in rng.integers(-30, 31, 3):
                near = int(target + offset)
                if not proxy.covers(near):
                    continue
                started = time.perf_counter()
                image = proxy.read(near)
                warm.append((time.perf_counter() - started) * 1000)
                wrong += image is None or read_frame_code(image) != near
    finally:
        proxy.close()
    return {"cold": cold, "warm": warm, "wrong": int(wrong), "covered_frames": len(proxy)}


def opencv_naive_seek(path: Path, rng: np.random.Generator, samples: int) -> dict[str, Any]:
    """The baseline from the issue: `set(CAP_PROP_POS_FRAMES)` + `read()`; also counts how often
    it lands on the wrong frame."""
    import cv2

    from scrubline.core.demo import read_frame_code

    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    times, wrong = [], 0
    for target in rng.integers(0, count, samples):
        started = time.perf_counter()
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(target))
        ok, image = capture.read()
        times.append((time.perf_counter() - started) * 1000)
        wrong += (not ok) or read_frame_code(image) != target
    capture.release()
    return {"times": times, "wrong": int(wrong)}


def model_latencies(registry: Registry, repeats: int) -> dict[str, dict[str, Any]]:
    from scrubline.core.models import load_model

    found = {}
    for manifest in registry.frame_models():
        model = load_model(manifest)
        frame = np.random.default_rng(0).integers(
            0, 255, (manifest.input.height, manifest.input.width, 3), dtype=np.uint8
        )
        model.predict([frame], (1920, 1080))
        started = time.perf_counter()
        for _ in range(repeats):
            model.predict([frame], (1920, 1080))
        single = (time.perf_counter() - started) / repeats * 1000
        started = time.perf_counter()
        for _ in range(max(1, repeats // 4)):
            model.predict([frame] * 4, (1920, 1080))
        batched = (time.perf_counter() - started) / max(1, repeats // 4) / 4 * 1000
        found[manifest.id] = {
            "ms_per_frame_batch1": round(single, 2),
            "ms_per_frame_batch4": round(batched, 2),
            "input": f"{manifest.input.width}x{manifest.input.height}",
        }
    return found


def write_synthetic_results(
    store: Any, hours: float, fps: float = 5.0, first_frame: int = 0, source_fps: float = 30.0
) -> None:
    """`hours` of results at `fps` (one or two instruments, a bleeding mask per frame), as a
    long real case holds them, from source frame `first_frame` on."""
    from scrubline.core.results import BleedingMask, FrameResult, Instrument

    rng = np.random.default_rng(1)
    count = int(hours * 3600 * fps)
    step = max(1, int(round(source_fps / fps)))
    start_s = first_frame / source_fps
    batch = []
    mask = np.zeros((96, 128), np.uint8)
    for i in range(count):
        t = start_s + i / fps
        bleeding = max(0.0, np.sin(t / 600.0)) * 0.2
        mask[:, :] = 0
        mask[: int(96 * bleeding), :64] = 200
        batch.append(
            FrameResult(
                frame=first_frame + i * step,
                time_s=t,
                instruments=[
                    Instrument(
                        "instrument",
                        0.9,
                        (100.0, 200.0, 600.0, 900.0),
                        (600.0, 300.0),
                        0.8,
                        bool(i % 7),
                    ),
                    Instrument(
                        "instrument",
                        0.7,
                        (1000.0, 100.0, 1800.0, 700.0),
                        (1100.0, 500.0),
                        0.3,
                        False,
                    ),
                ][: 1 + int(rng.random() < 0.6)],
                bleeding=BleedingMask(mask.copy(), bleeding),
            )
        )
        if len(batch) == 500:
            store.write_results(batch)
            batch = []
    if batch:
        store.write_results(batch)


def synthetic_case(path: Path, hours: float, fps: float = 5.0) -> None:
    """A case with `hours` of results at `fps`, attached to a made-up 1080p 30 fps video."""
    from scrubline.core.store import CaseStore

    count = int(hours * 3600 * fps)
    with CaseStore(path, create=True) as store:
        store.set_meta(
            "video",
            {
                "name": "synthetic",
                "frame_count": int(hours * 3600 * 30),
                "fps": 30.0,
                "duration_s": hours * 3600,
                "width": 1920,
                "height": 1080,
                "fingerprint": "synthetic",
            },
        )
        store.set_meta("settings", {"fps": fps})
        store.set_meta("planned_frames", list(range(0, count * 6, 6)))
        write_synthetic_results(store, hours, fps)


_MEMORY_PROBE = """
import json, sys
from pathlib import Path
from scrubline.core.bench import peak_rss_mb
from scrubline.core.store import CaseStore
from scrubline.core.export import case_timeline, export_case
store = CaseStore(sys.argv[1])
timeline = case_timeline(store)
export_case(store, Path(sys.argv[2]))
try:
    from scrubline.report import ReportOptions, write_report
    write_report(store, Path(sys.argv[2]) / "report.pdf", ReportOptions())
    reported = True
except ImportError:
    reported = False
print(json.dumps({"rss_mb": peak_rss_mb(), "report": reported}))
"""


def peak_rss_mb() -> float | None:
    """This process's peak resident memory. On Linux from VmHWM, which starts afresh at exec;
    `ru_maxrss` there carries the parent's peak into a child started from it, so a child of a
    big bench process would report the bench's memory, not its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource  # not on Windows
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # macOS counts bytes


def peak_memory_long_case(hours: float, log: Log) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        case = Path(folder) / "long.scrub"
        started = time.perf_counter()
        synthetic_case(case, hours)
        _say(
            log, f"  wrote a {hours:g}-hour synthetic case in {time.perf_counter() - started:.1f} s"
        )
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(case), folder],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            return {
                "rss_mb": None,
                "error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed",
            }
        return json.loads(result.stdout.strip().splitlines()[-1])


def lengthened_case(
    case: Path, video_frames: int, video_fps: float, hours: float, folder: Path, fps: float = 5.0
) -> Path:
    """A copy of an analysed case with results appended after the clip's own until it holds
    `hours` of them: the open-case timing then pays for a long case's timeline, while the first
    frame still comes from the real video with its saved frame index."""
    import sqlite3

    from scrubline.core.store import CaseStore

    longer = folder / f"{case.stem}-{hours:g}h.scrub"
    source, copy = sqlite3.connect(case), sqlite3.connect(longer)
    try:
        source.backup(copy)  # the write-ahead log included
    finally:
        source.close()
        copy.close()
    with CaseStore(longer) as store:
        held = len(store.analysed_frames())
        extra_hours = max(0.0, hours - held / fps / 3600)
        write_synthetic_results(
            store, extra_hours, fps, first_frame=video_frames, source_fps=video_fps
        )
    return longer


def open_case_first_frame(video: Path, case: Path) -> float:
    """Seconds from opening an analysed case to its first frame with overlays drawn, the way the
    window does it (saved frame index, timeline, nearest result, decode, draw)."""
    from scrubline.core.analysis import FRAME_INDEX_KEY
    from scrubline.core.export import case_timeline
    from scrubline.core.nearest import ResultsNear
    from scrubline.core.overlay import draw_overlays
    from scrubline.core.store import CaseStore
    from scrubline.core.video import VideoSource

    gc.collect()
    started = time.perf_counter()
    with (
        CaseStore(case) as store,
        VideoSource(video, index=store.get_blob(FRAME_INDEX_KEY)) as source,
    ):
        case_timeline(store)
        frame = source.read(0)
        result = ResultsNear(store).near(frame.index, frame.time_s)
        draw_overlays(frame.rgb(), result)
    return time.perf_counter() - started


def ui_stall(video: Path, seconds: float) -> tuple[float | None, str]:
    code = (
        "import sys\nfrom scrubline.ui.probe import measure_ui_stall\n"
        "print(measure_ui_stall(sys.argv[1], float(sys.argv[2])))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", code, str(video), str(seconds)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["failed"])[-1]
        return None, last
    return float(result.stdout.strip().splitlines()[-1]), ""


def run_bench(
    video: Path | None = None,
    quick: bool = False,
    registry: Registry | None = None,
    log: Log = print,
) -> dict[str, Any]:
    from scrubline.core.analysis import AnalysisSettings, analyse_video
    from scrubline.core.cpus import usable_cpus
    from scrubline.core.proxy import proxy_dir_for
    from scrubline.core.video import VideoSource

    registry = registry or load_registry()
    rng = np.random.default_rng(42)
    clips = CLIPS_QUICK if quick else CLIPS_FULL
    results: dict[str, Any] = {
        "machine": {"cpus": usable_cpus(), "python": sys.version.split()[0]},
        "quick": quick,
        "date": time.strftime("%Y-%m-%d"),
    }
    if video is None:
        paths = {
            name: generated_clip(name, size, seconds, log)
            for name, (size, seconds) in clips.items()
        }
        main = paths["1080p"]
    else:
        main = Path(video)
        paths = {"video": main}
    with VideoSource(main) as source:
        info = source.info
    results["video"] = {
        "name": info.name,
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 3),
        "frames": info.frame_count,
        "duration_s": round(info.duration_s, 2),
        "codec": info.codec,
        "bit_rate_mbps": round(info.size_bytes * 8 / max(info.duration_s, 1e-9) / 1e6, 2),
    }

    # 1. Decode-only throughput: the limit everything else is compared with.
    _say(log, "decode-only throughput ...")
    # Timings on a shared 2-core machine wander by ±15 % from run to run, so the full bench times
    # decode-only and the main analysis twice each and keeps the faster of each (same rule for
    # both).
    repeats = 1 if quick else 2
    main_name = "1080p" if video is None else "video"
    decode = {}
    for name, path in paths.items():
        runs = [decode_only(path) for _ in range(repeats if name == main_name else 1)]
        frames, seconds = min(runs, key=lambda r: r[1])
        decode[name] = {"fps": round(frames / seconds, 1), "seconds": seconds, "frames": frames}
    results["decode_fps"] = decode[main_name]["fps"]
    results["decode_fps_by_clip"] = {k: v["fps"] for k, v in decode.items()}

    # 2. Full analysis at the default sampling, all bundled image models.
    _say(log, "full analysis at 5 fps sampling ...")
    with tempfile.TemporaryDirectory() as folder:
        reports = []
        for attempt in range(repeats):
            case = Path(folder) / f"bench-{attempt}.scrub"
            reports.append(analyse_video(main, case, AnalysisSettings(), registry=registry))
        report = min(reports, key=lambda r: r.elapsed_s)
        wall = report.elapsed_s
        results["timing_rule"] = f"best of {repeats}" if repeats > 1 else "single run"
        results["analysis_fps"] = round(report.done_now / wall, 2)
        results["analysis_realtime_factor"] = round(info.duration_s / wall, 2)
        results["analysis_vs_decode_ratio"] = round(wall / decode[main_name]["seconds"], 2)
        results["analysis_models"] = [m.id for m in registry.frame_models()]
        per_clip = {}
        if video is None:
            for name in ("4k", "480p"):
                other = analyse_video(
                    paths[name],
                    Path(folder) / f"{name}.scrub",
                    AnalysisSettings(fps=5.0),
                    registry=registry,
                )
                per_clip[name] = {
                    "analysis_fps": round(other.done_now / other.elapsed_s, 2),
                    "realtime_factor": round(clips[name][1] / other.elapsed_s, 2),
                    "vs_decode_ratio": round(other.elapsed_s / decode[name]["seconds"], 2),
                }
        results["analysis_by_clip"] = per_clip
        results["model_latency_ms"] = model_latencies(registry, 10 if quick else 40)

        # 3. Seeks: exact frames at full resolution, from the scrub proxy, and OpenCV's naive seek.
        _say(log, "random seeks ...")
        samples = 15 if quick else 40
        full = seek_latencies(main, rng, samples, (960, 540))
        proxy = proxy_latencies(proxy_dir_for(case), info.frame_count, rng, samples)
        naive = opencv_naive_seek(main, rng, samples)
        scrub = proxy if proxy["cold"] else full
        results["seek_path"] = (
            "scrub proxy (exact frame, ~480 px)" if proxy["cold"] else "full resolution"
        )
        results["seek_ms_p50_cold"] = round(_percentile(scrub["cold"], 50), 1)
        results["seek_ms_p95_cold"] = round(_percentile(scrub["cold"], 95), 1)
        results["seek_ms_p95_warm"] = round(_percentile(scrub["warm"], 95), 1)
        results["seek_full_ms_p50_cold"] = round(_percentile(full["cold"], 50), 1)
        results["seek_full_ms_p95_cold"] = round(_percentile(full["cold"], 95), 1)
        results["seek_full_ms_p95_warm"] = round(_percentile(full["warm"], 95), 1)
        results["seek_wrong_frames"] = full["wrong"] + proxy["wrong"]
        results["opencv_naive_seek_ms_p50"] = round(_percentile(naive["times"], 50), 1)
        results["opencv_naive_seek_ms_p95"] = round(_percentile(naive["times"], 95), 1)
        results["opencv_naive_wrong_frames"] = (
            f"{naive['wrong']}/{samples}" if video is None else None
        )
        results["proxy_covered_frames"] = proxy["covered_frames"]

        # 4. Opening an analysed case to its first frame with overlays.
        _say(log, "open analysed case ...")
        long_case = lengthened_case(case, info.frame_count, info.fps, OPEN_CASE_HOURS, Path(folder))
        results["open_case_first_frame_s"] = round(
            min(open_case_first_frame(main, long_case) for _ in range(3)), 3
        )
        results["open_case_hours"] = OPEN_CASE_HOURS

    # 5. Peak memory for three hours of results (a separate process: its own peak RSS).
    _say(log, "peak memory for a 3-hour case ...")
    memory = peak_memory_long_case(0.25 if quick else 3.0, log)
    results["peak_rss_mb_3h"] = round(memory["rss_mb"], 1) if memory.get("rss_mb") else None
    results["peak_rss_case_hours"] = 0.25 if quick else 3.0
    if quick:
        results["peak_rss_note"] = (
            "quick mode measures a 15-minute case; run without --quick for 3 hours"
        )

    # 6. The window's event loop during analysis and scrubbing.
    _say(log, "UI event-loop stalls ...")
    stall, why = ui_stall(main, 5.0 if quick else 15.0)
    results["ui_max_stall_ms"] = round(stall, 1) if stall is not None else None
    if stall is None:
        results["ui_max_stall_note"] = why
    bench_peak = peak_rss_mb()
    results["peak_rss_mb_bench"] = round(bench_peak, 1) if bench_peak is not None else None
    if log:
        log(format_table(results))
    return results


def format_table(r: dict[str, Any]) -> str:
    limit = r["decode_fps"]
    rows = [
        (
            "video",
            f"{r['video']['width']}x{r['video']['height']} {r['video']['codec']} "
            f"{r['video']['fps']} fps, {r['video']['duration_s']} s, {r['video']['bit_rate_mbps']} "
            "Mbit/s",
            "",
        ),
        (
            "decode-only (the limit)",
            f"{limit} frames/s",
            f"1.00 × limit; timings: {r.get('timing_rule', 'single run')}",
        ),
        (
            "analysis (5 fps sampling)",
            f"{r['analysis_fps']} analysed frames/s",
            f"{r['analysis_realtime_factor']} × real time; wall {r['analysis_vs_decode_ratio']} × "
            "decode-only",
        ),
    ]
    for model, figures in r["model_latency_ms"].items():
        rows.append(
            (
                f"  model {model}",
                f"{figures['ms_per_frame_batch1']} ms/frame ({figures['input']})",
                f"{figures['ms_per_frame_batch4']} ms/frame in batches of 4",
            )
        )
    rows += [
        (
            f"seek, {r['seek_path']}",
            f"cold p50 {r['seek_ms_p50_cold']} / p95 {r['seek_ms_p95_cold']} ms",
            f"warm p95 {r['seek_ms_p95_warm']} ms; {1000 / limit:.1f} ms = one frame's decode",
        ),
        (
            "seek, full resolution",
            f"cold p50 {r['seek_full_ms_p50_cold']} / p95 {r['seek_full_ms_p95_cold']} ms",
            f"warm p95 {r['seek_full_ms_p95_warm']} ms; wrong frames {r['seek_wrong_frames']}",
        ),
        (
            "seek, OpenCV naive (baseline)",
            f"p50 {r['opencv_naive_seek_ms_p50']} / p95 {r['opencv_naive_seek_ms_p95']} ms",
            f"wrong frames {r['opencv_naive_wrong_frames']}",
        ),
        (
            f"open analysed {r.get('open_case_hours', 1):g}-hour case → first frame",
            f"{r['open_case_first_frame_s']} s",
            "results of the clip, lengthened with synthetic ones",
        ),
        (f"peak RSS, {r['peak_rss_case_hours']:g} h case", f"{r['peak_rss_mb_3h']} MB", ""),
        ("UI max event-loop stall", f"{r['ui_max_stall_ms']} ms", r.get("ui_max_stall_note", "")),
    ]
    width = max(len(a) for a, _, _ in rows)
    return "\n".join(f"{a:<{width}}  {b:<42} {c}" for a, b, c in rows)
