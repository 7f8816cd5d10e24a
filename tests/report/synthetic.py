"""Generated case files for report tests: written straight into a CaseStore with FrameResult
records, so every kind of case (full, partial, no bleeding, no tools, empty, 3 hours long) is a
few lines and needs no video or model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore

# A file name that identifies a patient: it must never reach a report.
VIDEO_NAME = "Doe_Jane_MRN4471_2024-03-02.mp4"
WIDTH, HEIGHT = 1280, 720

MODEL_RECORDS = [
    {
        "id": "tiny-detector",
        "version": "0.3.0",
        "task": "detector",
        "name": "Tiny instrument detector",
        "provenance": "Tiny instrument detector v0.3.0",
        "licence": "Apache-2.0 (model); data CC BY-NC-SA 4.0",
        "training": {"data": "a public instrument dataset", "split": "by video, 5 folds"},
        "metrics": {"val_map50": 0.61, "tip_visibility_f1": 0.7},
    },
    {
        "id": "tiny-bleeding",
        "version": "1.0.0",
        "task": "segmenter",
        "name": "Tiny bleeding segmenter",
        "provenance": "Tiny bleeding segmenter v1.0.0",
        "licence": "Apache-2.0",
        "training": {"data": "none"},
        "metrics": {},
    },
]


def _picture(t: float) -> np.ndarray:
    image = np.zeros((180, 320, 3), np.uint8)
    image[:] = (120, 70, 60)
    cv2.circle(image, (int(160 + 100 * np.sin(t / 7)), 90), 30, (200, 40, 40), -1)
    return image


def _jpeg(t: float) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(_picture(t), cv2.COLOR_RGB2BGR))
    assert ok
    return bytes(data)


def bleeding_curve(times: np.ndarray) -> np.ndarray:
    """Two bleeds: one controlled at 20-32 s, one from 45 s still going at the end of a minute
    (and repeating every 600 s in long cases)."""
    t = np.mod(times, 600.0)
    first = 0.12 * np.exp(-(((t - 26) / 4.0) ** 2))
    second = np.where(t >= 45, np.minimum(0.2, (t - 45) * 0.02), 0.0) * (t < 120)
    return first + second


def make_case(
    path: Path,
    *,
    seconds: float = 60.0,
    fps: float = 5.0,
    tools: bool = True,
    bleeding: bool = True,
    bleeds: bool = True,
    analysed_until: float | None = None,
    thumbnails_every_s: float = 1.0,
    bookmarks: bool = True,
    case_info: dict[str, str] | None = None,
    mask_size: tuple[int, int] = (24, 32),
    tool_names: tuple[str, str, str] = ("grasper", "hook", "clipper"),
) -> Path:
    """Write a case file and return its path."""
    frames_fps = 25.0
    step = round(frames_fps / fps)
    n_planned = int(seconds * fps)
    planned = [i * step for i in range(n_planned)]
    with CaseStore(path, create=True) as store:
        store.set_meta(
            "video",
            {
                "name": VIDEO_NAME,
                "frame_count": int(seconds * frames_fps),
                "fps": frames_fps,
                "duration_s": seconds,
                "width": WIDTH,
                "height": HEIGHT,
                "rotation": 0,
                "codec": "h264",
                "container": "mp4",
                "variable_frame_rate": False,
                "fingerprint": "f" * 24,
                "size_bytes": 1,
            },
        )
        store.set_meta(
            "settings",
            {
                "fps": fps,
                "start_s": None,
                "end_s": None,
                "device": "cpu",
                "model_ids": None,
                "batch_size": 4,
                "threads": 0,
                "thumbnail_every_s": thumbnails_every_s,
                "thumbnail_width": 320,
            },
        )
        models = [
            m
            for m in MODEL_RECORDS
            if (tools or m["task"] != "detector") and (bleeding or m["task"] != "segmenter")
        ]
        store.set_meta("models", models)
        store.set_meta("planned_frames", planned)
        if case_info:
            store.set_case_info(**case_info)
        limit = seconds if analysed_until is None else analysed_until
        done = [f for f in planned if f / frames_fps < limit]
        times = np.array([f / frames_fps for f in done])
        fractions = bleeding_curve(times) if bleeds else np.full(times.size, 0.004)
        batch: list[FrameResult] = []
        thumbs: list[tuple[int, float, bytes]] = []
        last_thumb = -1e9
        mh, mw = mask_size
        for frame, t, fraction in zip(done, times, fractions, strict=True):
            instruments = []
            if tools:
                local = t % 60
                if 3 <= local < 50:
                    hidden = 30 <= local < 36  # one 6-s tip-hidden episode per minute
                    instruments.append(
                        Instrument(
                            tool_names[0],
                            0.92,
                            (300, 200, 700, 500),
                            (700, 500),
                            0.1 if hidden else 0.9,
                            not hidden,
                        )
                    )
                if 10 <= local < 25 or 40 <= local < 55:
                    instruments.append(
                        Instrument(tool_names[1], 0.8, (600, 100, 1000, 400), (610, 110), 0.8, True)
                    )
                if 52 <= local < 53:
                    instruments.append(
                        Instrument(tool_names[2], 0.7, (100, 100, 300, 300), (300, 300), 0.2, False)
                    )
            result = FrameResult(frame=frame, time_s=float(t), instruments=instruments)
            if bleeding:
                mask = np.zeros((mh, mw), np.uint8)
                cols = int(round(mw * min(1.0, fraction * 4)))
                mask[mh // 4 : 3 * mh // 4, :cols] = 255
                result.bleeding = BleedingMask(mask, float(fraction))
            batch.append(result)
            if t - last_thumb >= thumbnails_every_s - 1e-9:
                thumbs.append((frame, float(t), _jpeg(float(t))))
                last_thumb = t
            if len(batch) >= 2000:
                store.write_results(batch, thumbs)
                batch, thumbs = [], []
        store.write_results(batch, thumbs)
        if bookmarks:
            store.add_bookmark(
                27.0, int(27 * frames_fps), "bleeding at the cystic artery", "complication"
            )
            store.add_bookmark(
                33.0, int(33 * frames_fps), "tip behind the liver edge <check>", "teaching point"
            )
    return path
