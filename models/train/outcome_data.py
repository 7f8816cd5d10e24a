"""Read the SOCAL trial tables into the shapes Scrubline's runtime uses.

The training and evaluation scripts (`models/train/outcome.py`) and the phase validation read the
public tables from the shared data folder (never copied into the repository): located by
`--data`, else the environment variable `SCRUBLINE_DATA`, else `../shared/data` beside the
checkout. Each trial becomes a detections table with the columns the app stores
(`time_s, label, score, x1, y1, x2, y2`), the list of analysed times (every annotated frame, with
or without tools), the frame size and its outcome.

SOCAL facts relied on here (see the data README): frames are 1 fps and frame_number 1 is the
first second of the trial video, which starts at the carotid injury, so the event starts at 0 s;
trials split over two videos are stitched by `frame_to_trial_mapping.csv`; the outcome columns
`cottonoid`, `muscle` and `tth` are event times after the first minute and are never read as
predictors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# SOCAL labels that are instruments a class-agnostic instrument detector would box. Cottonoid,
# muscle patch and string (the cottonoid's tail) are materials, not instruments.
SOCAL_INSTRUMENTS = ("suction", "grasper", "drill", "scalpel", "tool")
SOCAL_LABELS = ("suction", "grasper", "cottonoid", "muscle", "string", "drill", "scalpel", "tool")
DEFAULT_SIZE = (1920, 1080)


def data_root(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("SCRUBLINE_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class Trial:
    trial_id: str
    participant_id: int
    detections: pd.DataFrame  # time_s, label, score, x1, y1, x2, y2
    analysed_times: np.ndarray
    frame_size: tuple[int, int]
    blood_loss_ml: float
    success: int


def _frame_sizes(outcomes: pd.DataFrame) -> dict[str, tuple[int, int]]:
    sizes = {}
    for row in outcomes.itertuples():
        w, h = row.trial_video_width, row.trial_video_height
        sizes[row.trial_id] = (int(w), int(h)) if pd.notna(w) and pd.notna(h) else DEFAULT_SIZE
    return sizes


def load_socal(root: Path, source: str = "truth") -> dict[str, Trial]:
    """Every SOCAL trial with annotations and an outcome.

    source "truth": the hand-drawn boxes (score 1). source "yolov4": the published YOLOv4
    detections (`yolov4_socal_detections_4.7_fixed.csv`, 23 trials only); every annotated frame
    of those trials counts as analysed.
    """
    socal = root / "socal"
    outcomes = pd.read_csv(socal / "SOCAL_Trial_outcomes_condensed.csv", encoding="utf-8-sig")
    mapping = pd.read_csv(socal / "frame_to_trial_mapping.csv")
    mapping["time_s"] = mapping["frame_number"].astype(float) - 1.0
    sizes = _frame_sizes(outcomes)

    if source == "truth":
        boxes = pd.read_csv(
            socal / "socal.csv", header=None, names=["frame", "x1", "y1", "x2", "y2", "label"]
        )
        boxes = boxes.merge(mapping[["frame", "trial_id", "time_s"]], on="frame", how="inner")
        boxes = boxes.dropna(subset=["label"])
        boxes["score"] = 1.0
    elif source == "yolov4":
        boxes = pd.read_csv(socal / "yolov4_socal_detections_4.7_fixed.csv")
        boxes = boxes.rename(columns={"trial": "trial_id"})
        boxes["time_s"] = boxes["frame"].astype(float) - 1.0
    else:
        raise ValueError(f"unknown source {source!r}")
    boxes["label"] = boxes["label"].astype(str).str.strip().str.lower()

    trials: dict[str, Trial] = {}
    by_trial = dict(tuple(boxes.groupby("trial_id")))
    times_by_trial = mapping.groupby("trial_id")["time_s"].apply(np.asarray)
    for row in outcomes.itertuples():
        tid = row.trial_id
        if tid not in times_by_trial.index:
            continue
        if source == "yolov4" and tid not in by_trial:
            continue
        det = by_trial.get(
            tid, pd.DataFrame(columns=["time_s", "label", "score", "x1", "y1", "x2", "y2"])
        )
        det = det[["time_s", "label", "score", "x1", "y1", "x2", "y2"]].reset_index(drop=True)
        trials[tid] = Trial(
            trial_id=tid,
            participant_id=int(row.participant_id),
            detections=det,
            analysed_times=np.sort(times_by_trial[tid]),
            frame_size=sizes[tid],
            blood_loss_ml=float(row.blood_loss),
            success=int(row.success),
        )
    return trials


def class_agnostic_nms(det: pd.DataFrame, iou: float = 0.5) -> pd.DataFrame:
    """Per frame, drop boxes overlapping a higher-scoring box by more than `iou` whatever their
    labels: YOLOv4 often boxes one tool under two labels, and a class-agnostic detector would
    report it once."""
    kept = []
    for _, frame in det.sort_values("score", ascending=False).groupby("time_s", sort=False):
        boxes = frame[["x1", "y1", "x2", "y2"]].to_numpy(float)
        keep: list[int] = []
        for i in range(len(boxes)):
            ok = True
            for j in keep:
                ix = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
                iy = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
                inter = ix * iy
                a = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
                b = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
                if inter / max(a + b - inter, 1e-9) > iou:
                    ok = False
                    break
            if ok:
                keep.append(i)
        kept.append(frame.iloc[keep])
    if not kept:
        return det.iloc[0:0]
    return pd.concat(kept).sort_values("time_s").reset_index(drop=True)
