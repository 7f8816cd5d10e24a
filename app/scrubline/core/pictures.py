"""Pictures for teaching, with the overlays burned in: one frame as PNG, a short range as MP4.

Qt-free: frames come from a `VideoSource`, overlays from the Qt-free renderer
`scrubline.core.overlay.draw_overlays` (the same one the PDF report uses, so every picture that
leaves the app looks alike), and clips are encoded with PyAV's H.264 encoder the way
`scrubline.core.demo.write_clip` does. The window runs these on its export worker thread (and
batch runs may call them directly); the clip export reports progress and stops when cancelled.
Files appear complete or not at all (written under a temporary name, then renamed). The results
drawn are read through `Case`, so a reviewer's corrections are in the pictures, by
`core.nearest`'s rule.

Out-of-body frames are blurred by default (`blur_out_of_body`; the Export menu's "Blur
out-of-body frames" turns it off): operating-room views can show staff and the patient. For
privacy the rule is wider than the nearest-sample rule of the overlays: a frame between two
analysed samples is blurred when either of them is out of body, so the frames where the camera
leaves or enters the body are blurred too.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from scrubline.core.case import Case
from scrubline.core.drawings import Drawing, draw_drawings, shown_at
from scrubline.core.nearest import ResultsNear, within
from scrubline.core.overlay import OverlayFlags
from scrubline.core.results import FrameResult
from scrubline.core.tips import TipRules
from scrubline.core.video import VideoSource


@dataclass(frozen=True)
class ClipPlan:
    """The frames of a clip: `first..last` (inclusive) and their times."""

    first: int
    last: int  # inclusive
    start_s: float
    end_s: float

    @property
    def frames(self) -> int:
        return self.last - self.first + 1


class _Results:
    """The results that describe each exported frame: `scrubline.core.nearest`'s rule, the one
    the window's overlays follow."""

    def __init__(self, case: Path | None) -> None:
        # Read through Case, so a reviewer's corrections are drawn into exported pictures too.
        self.case = Case.open(case) if case is not None and Path(case).exists() else None
        self._near = ResultsNear(self.case) if self.case is not None else None
        self.drawings = self.case.drawings() if self.case is not None else []
        from scrubline.core.tips import NO_RULES, rules_for_models

        # The same rule as the window and the report: a badge only for validated tool classes.
        self.tip_rules = rules_for_models(self.case.models) if self.case is not None else NO_RULES
        self._neighbours: dict[int, FrameResult | None] = {}

    def drawings_at(self, frame: int, time_s: float) -> list[Drawing]:
        """The teaching drawings on screen with this frame (as the window shows them)."""
        return shown_at(self.drawings, frame, time_s)

    def _result(self, frame: int) -> FrameResult | None:
        assert self.case is not None
        if frame not in self._neighbours:
            self._neighbours[frame] = self.case.result_at(frame)
        return self._neighbours[frame]

    def near(self, frame: int, time_s: float) -> FrameResult | None:
        return self._near.near(frame, time_s) if self._near is not None else None

    def for_picture(self, frame: int, time_s: float) -> FrameResult | None:
        """What to draw on `frame`: the nearest result, or the out-of-body neighbour when either
        analysed sample around the frame (within the rule's distance) is out of body."""
        result = self.near(frame, time_s)
        if self.case is None or self._near is None:
            return result
        if result is not None and result.out_of_body:
            return result
        for neighbour in self.case.analysed_around(frame):
            if neighbour is None:
                continue
            other = self._result(neighbour)
            if (
                other is not None
                and other.out_of_body
                and within(other.time_s, time_s, self._near.period_s)
            ):
                return other
        return result

    def close(self) -> None:
        if self.case is not None:
            self.case.close()


def _draw(
    rgb: np.ndarray,
    result: FrameResult | None,
    source_size: tuple[int, int],
    flags: OverlayFlags,
    drawings: list[Drawing] | None = None,
    tip_rules: TipRules | None = None,
    blur_out_of_body: bool = True,
) -> np.ndarray:
    from scrubline.core.overlay import draw_overlays

    drawn = draw_overlays(
        rgb,
        result,
        source_size=source_size,
        boxes=flags.boxes,
        tips=flags.tips,
        bleeding=flags.bleeding,
        badge=flags.badge,
        tip_rules=tip_rules,
        blur_out_of_body=blur_out_of_body,
    )
    return draw_drawings(drawn, drawings) if drawings else drawn


def export_frame_png(
    video: Path,
    case: Path | None,
    frame: int,
    path: Path,
    flags: OverlayFlags,
    blur_out_of_body: bool = True,
) -> Path:
    """The frame at full resolution with its overlays, as PNG (blurred when out of body)."""
    import cv2

    results = _Results(case)
    try:
        with VideoSource(video) as source:
            shown = source.read(frame)
            rgb = shown.rgb()
            size = (source.info.width, source.info.height)
        picture = _draw(
            rgb,
            results.for_picture(shown.index, shown.time_s),
            size,
            flags,
            results.drawings_at(shown.index, shown.time_s),
            results.tip_rules,
            blur_out_of_body,
        )
    finally:
        results.close()
    temporary = path.with_name(path.name + ".part.png")
    if not cv2.imwrite(str(temporary), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    temporary.replace(path)
    return path


def _even(value: int) -> int:
    return max(2, value - value % 2)


def export_clip_mp4(
    video: Path,
    case: Path | None,
    plan: ClipPlan,
    path: Path,
    flags: OverlayFlags,
    state: Any = None,
    max_width: int = 1920,
    blur_out_of_body: bool = True,
) -> Path | None:
    """Frames `plan.first..plan.last` with overlays burned in, as H.264 MP4 at the video's own
    timing (variable frame rate kept), out-of-body frames blurred unless `blur_out_of_body` is
    False. None when cancelled (nothing is left behind)."""
    import av

    results = _Results(case)
    temporary = path.with_name(path.name + ".part.mp4")
    finished = False
    try:
        with VideoSource(video) as source, av.open(str(temporary), mode="w") as container:
            info = source.info
            scale = min(1.0, max_width / max(info.width, 1))
            width, height = _even(int(info.width * scale)), _even(int(info.height * scale))
            rate = Fraction(info.fps if info.fps > 0 else 25.0).limit_denominator(1001)
            try:
                stream = container.add_stream("libx264", rate=rate)
                stream.codec_context.options = {"preset": "veryfast", "crf": "20"}
            except (av.error.FFmpegError, ValueError):  # a build without x264
                stream = container.add_stream("mpeg4", rate=rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = Fraction(1, 1000)
            start = float(source.times[plan.first])
            total = plan.frames
            last_pts = -1
            for done, frame in enumerate(
                source.iter_frames(list(range(plan.first, plan.last + 1)))
            ):
                if state is not None and state.cancelled():
                    return None
                rgb = frame.rgb((width, height))
                picture = _draw(
                    rgb,
                    results.for_picture(frame.index, frame.time_s),
                    (info.width, info.height),
                    flags,
                    results.drawings_at(frame.index, frame.time_s),
                    results.tip_rules,
                    blur_out_of_body,
                )
                encoded = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
                pts = max(int(round((frame.time_s - start) * 1000)), last_pts + 1)
                encoded.pts = last_pts = pts
                for packet in stream.encode(encoded):
                    container.mux(packet)
                if state is not None and (done % 10 == 0 or done + 1 == total):
                    state.progress((done + 1) / total, f"frame {done + 1} of {total}")
            for packet in stream.encode():
                container.mux(packet)
        temporary.replace(path)
        finished = True
        return path
    finally:
        results.close()
        if not finished:
            temporary.unlink(missing_ok=True)
