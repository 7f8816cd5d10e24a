"""Key frames for the report: which moments (peak bleeding, the longest tip-hidden moment, every
bookmark) and their pictures with the analysis drawn on (`scrubline.core.overlay`).

With the video at hand a key frame is the exact frame, decoded at full resolution (capped so a
4K frame does not bloat the PDF); without it, the case file's stored thumbnail nearest to the
moment stands in, and the caption says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scrubline.core.case import Case, StoreError
from scrubline.core.drawings import Drawing, draw_drawings
from scrubline.core.nearest import ResultsNear, within
from scrubline.core.overlay import draw_overlays
from scrubline.core.timeline import Timeline
from scrubline.report.text import clock, percent

log = logging.getLogger("scrubline.report")

MAX_PICTURE_WIDTH = 1280  # px: sharp at the printed size, and a 4K frame stays under ~300 kB
MIN_OVERLAY_WIDTH = (
    640  # thumbnails are upscaled to this before drawing, so overlay text is legible
)
MAX_BOOKMARK_FRAMES = 24


@dataclass(frozen=True)
class KeyFrame:
    title: str
    frame: int
    time_s: float
    detail: str = ""


@dataclass
class Picture:
    jpeg: bytes
    width: int
    height: int
    source: str  # what the picture is and where it comes from, for the caption
    frame: int  # the frame the picture shows
    time_s: float


def _best_pictured(
    candidates: np.ndarray, score: np.ndarray, has_picture: np.ndarray | None, fallback: int
) -> int:
    """The best-scoring candidate row that has a stored picture of its own (so a thumbnail shows
    the moment itself, not one seconds away); `fallback` when none has, or any frame can be
    shown."""
    if has_picture is None or candidates.size == 0:
        return fallback
    pictured = candidates[has_picture[candidates]]
    if pictured.size == 0:
        return fallback
    return int(pictured[int(np.argmax(score[pictured]))])


def select_key_frames(
    store: Case, timeline: Timeline, pictured: np.ndarray | None = None
) -> tuple[list[KeyFrame], list[str]]:
    """The moments to show, and plain sentences for those that cannot be shown. `pictured`: the
    sorted frames that have a stored picture (thumbnails); None when any frame can be shown."""
    chosen: list[KeyFrame] = []
    notes: list[str] = []
    times = np.asarray(timeline.times, dtype=float)
    frames = np.asarray(timeline.frames)
    has_picture = None if pictured is None else np.isin(frames, pictured)
    if times.size == 0:
        notes.append("Nothing was analysed, so the only key frames are bookmarks.")

    bleeding_eps = timeline.episodes_of("bleeding")
    if bleeding_eps and times.size:
        values = np.nan_to_num(np.asarray(timeline.bleeding, dtype=float), nan=-1.0)
        inside = np.zeros(times.size, dtype=bool)
        for e in bleeding_eps:
            inside |= (times >= e.start_s) & (times < e.end_s)
        masked = np.where(inside, values, -1.0)
        i = int(np.argmax(masked))
        # Within 10% of the peak is as good a picture of it, and may have a thumbnail of its own.
        i = _best_pictured(np.nonzero(masked >= 0.9 * masked[i])[0], masked, has_picture, i)
        detail = f"bleeding area {percent(values[i])} of the frame"
        if masked.max() - values[i] >= 0.0005:
            peak_at = clock(float(times[int(np.argmax(masked))]))
            detail += f" (the peak, {percent(masked.max())}, is at {peak_at})"
        chosen.append(KeyFrame("Peak bleeding", int(frames[i]), float(times[i]), detail))
    elif np.isfinite(np.asarray(timeline.bleeding, dtype=float)).any():
        notes.append("No bleeding episode was found, so there is no peak-bleeding frame.")
    elif times.size:
        notes.append("Bleeding was not measured, so there is no peak-bleeding frame.")

    hidden_eps = timeline.episodes_of("tip_hidden")
    if hidden_eps and times.size:
        longest = max(hidden_eps, key=lambda e: e.duration_s)
        middle = (longest.start_s + longest.end_s) / 2
        candidates = np.nonzero(
            (times >= longest.start_s)
            & (times < longest.end_s)
            & (np.asarray(timeline.tips_hidden) > 0)
        )[0]
        if candidates.size:
            i = int(candidates[np.argmin(np.abs(times[candidates] - middle))])
            i = _best_pictured(candidates, -np.abs(times - middle), has_picture, i)
            chosen.append(
                KeyFrame(
                    "Longest tip-hidden moment",
                    int(frames[i]),
                    float(times[i]),
                    f"tip hidden for {longest.duration_s:.1f} s",
                )
            )
    elif timeline.labels:
        notes.append("No tip-hidden episode was found, so there is no tip-hidden frame.")
    elif times.size:
        notes.append("No instruments were detected, so there is no tip-hidden frame.")

    marks = store.bookmarks()
    for number, mark in enumerate(marks[:MAX_BOOKMARK_FRAMES], start=1):
        detail = mark.category + (f": {mark.note}" if mark.note else "")
        chosen.append(KeyFrame(f"Bookmark {number}", int(mark.frame), float(mark.time_s), detail))
    if len(marks) > MAX_BOOKMARK_FRAMES:
        notes.append(
            f"Pictures are shown for the first {MAX_BOOKMARK_FRAMES} of {len(marks)} bookmarks; "
            "the bookmark table lists them all."
        )
    return chosen, notes


class FrameSource:
    """Pictures for key frames: from the video when it is given and matches the case, else from
    the stored thumbnails. `note` says (without naming any file) which, and why."""

    def __init__(
        self,
        store: Case,
        video_path: Path | None,
        timeline: Timeline | None = None,
        blur_out_of_body: bool = True,
    ) -> None:
        self.store = store
        self._near: ResultsNear | None = None
        self._drawings: list[Drawing] | None = None
        self.timeline = timeline
        self.blur_out_of_body = blur_out_of_body
        video = store.video
        self.source_size = (int(video.get("width") or 0), int(video.get("height") or 0))
        self.video: Any = None
        self.note = (
            "Key frames are the stored thumbnails nearest to each moment (the video was not given)."
        )
        if video_path is not None:
            self._open_video(Path(video_path), video.get("fingerprint"))

    def _open_video(self, path: Path, fingerprint: str | None) -> None:
        from scrubline.core.video import VideoError, VideoSource

        try:
            source = VideoSource(path)
        except (VideoError, OSError) as exc:
            log.warning("key frames from thumbnails: the video could not be opened (%s)", exc)
            self.note = "Key frames are stored thumbnails: the video given could not be opened."
            return
        if fingerprint and source.info.fingerprint != fingerprint:
            source.close()
            self.note = (
                "Key frames are stored thumbnails: the video given is not the one this case "
                "was analysed from (its fingerprint differs)."
            )
            return
        self.video = source
        if not all(self.source_size):
            self.source_size = (source.info.width, source.info.height)
        self.note = "Key frames are exact video frames at full resolution."

    def _time_of(self, frame: int, key: KeyFrame) -> float:
        """The time of a stored (analysed) frame, from the timeline; else from the frame rate."""
        if self.timeline is not None and len(self.timeline.frames):
            frames = np.asarray(self.timeline.frames)
            i = int(np.searchsorted(frames, frame))
            if i < frames.size and frames[i] == frame:
                return float(self.timeline.times[i])
        fps = float(self.store.video.get("fps") or 0.0)
        return frame / fps if fps > 0 else key.time_s

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
            self.video = None

    def picture(self, key: KeyFrame) -> Picture | None:
        import cv2

        rgb: np.ndarray | None = None
        shown, shown_time, source = key.frame, key.time_s, ""
        if self.video is not None:
            try:
                frame = self.video.read(key.frame)
                rgb = frame.rgb()
                shown, shown_time = frame.index, frame.time_s
                source = "video frame" if frame.exact else "nearest decodable video frame"
            except Exception as exc:  # a damaged stretch of video: fall back to the thumbnail
                log.warning(
                    "frame %d could not be decoded (%s); using its thumbnail", key.frame, exc
                )
                rgb = None
        if rgb is None:
            found = self.store.thumbnail(key.frame)
            if found is None:
                return None
            shown, rgb = found
            shown_time = self._time_of(shown, key)
            source = "stored thumbnail"
        source += f" at {clock(shown_time, decimals=1)} (frame {shown})"
        gap = abs(shown_time - key.time_s)
        if gap >= 0.5:
            source += f", {gap:.1f} s from the moment"
        # The rule of every picture of a case (`scrubline.core.nearest`): the nearest analysed
        # frame, within the gap limit of the case's sampling rate.
        if self._near is None:
            self._near = ResultsNear(self.store)
        try:
            nearest = self._near.nearest(shown)
        except StoreError as exc:  # a damaged stored mask: show the picture without overlays
            log.warning("results near frame %s could not be read (%s)", shown, exc)
            nearest = None
        result = (
            nearest
            if nearest is not None and within(nearest.time_s, shown_time, self._near.period_s)
            else None
        )
        if result is not None and result.frame != shown:
            source += (
                f"; overlay from the analysed frame {abs(result.time_s - shown_time):.1f} s away"
            )
        if nearest is None:
            source += "; no analysis results to draw"
        elif result is None:
            source += (
                f"; not analysed here (the nearest analysed frame is "
                f"{abs(nearest.time_s - shown_time):.1f} s away)"
            )

        height, width = rgb.shape[:2]
        if width > MAX_PICTURE_WIDTH:
            f = MAX_PICTURE_WIDTH / width
            rgb = cv2.resize(
                rgb, (MAX_PICTURE_WIDTH, round(height * f)), interpolation=cv2.INTER_AREA
            )
        elif width < MIN_OVERLAY_WIDTH:
            f = MIN_OVERLAY_WIDTH / width
            rgb = cv2.resize(
                rgb, (MIN_OVERLAY_WIDTH, round(height * f)), interpolation=cv2.INTER_CUBIC
            )
        height, width = rgb.shape[:2]
        size = self.source_size if all(self.source_size) else (width, height)
        # Printed about 8 cm wide: text half again as large as on screen stays legible.
        drawn = draw_overlays(
            rgb,
            result,
            source_size=size,
            text_scale=1.6,
            tip_rules=self.timeline.tip_rules if self.timeline is not None else None,
            blur_out_of_body=self.blur_out_of_body,
        )
        # A teacher's drawings on this frame (kept with its bookmark) go on the picture too.
        if self._drawings is None:
            self._drawings = self.store.drawings()
        on_frame = [d for d in self._drawings if d.frame == shown]
        if on_frame:
            drawn = draw_drawings(drawn, on_frame)
            source += f"; {len(on_frame)} teaching drawing{'s' if len(on_frame) > 1 else ''}"
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
        )
        if not ok:
            return None
        return Picture(bytes(data), width, height, source, shown, shown_time)
