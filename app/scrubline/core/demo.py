"""Generated media: the demo case and the numbered test clips.

Everything here is drawn by this module (numpy + OpenCV) and encoded with PyAV's bundled FFmpeg,
so the demo and the tests never need footage from anywhere else.

- `write_clip` encodes frames with a chosen codec, key-frame interval (GOP) and, optionally,
  irregular timestamps (variable frame rate). Every frame carries its number as a block code in
  its top strip that survives compression, so tests can check that "frame 1234" really is.
- `render_demo_clip` draws a short synthetic laparoscopic-looking scene: tissue, two
  instruments that come and go, a tip that slips behind tissue, and a bleed that grows and is
  suctioned away. It exists so the app shows something meaningful with no video given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

CODE_BITS = 16
CODE_HEIGHT_FRACTION = 0.04  # of the frame height: the code reads the same at any scale


def _code_strip(height: int) -> int:
    return max(4, round(height * CODE_HEIGHT_FRACTION))


def draw_frame_code(image: np.ndarray, number: int) -> None:
    """Write `number` as CODE_BITS black/white blocks across the top strip (in place)."""
    height, width = image.shape[:2]
    block = width // CODE_BITS
    strip = _code_strip(height)
    for bit in range(CODE_BITS):
        value = 255 if (number >> bit) & 1 else 0
        image[:strip, bit * block : (bit + 1) * block] = value


def read_frame_code(image: np.ndarray) -> int:
    """Read the number `draw_frame_code` wrote (RGB or grey image, at the drawn size or scaled)."""
    grey = image.mean(axis=2) if image.ndim == 3 else image
    height, width = grey.shape
    block = width // CODE_BITS
    strip = _code_strip(height)
    number = 0
    for bit in range(CODE_BITS):
        # Sample the block's centre: edges blur under compression and scaling.
        cell = grey[
            strip // 4 : max(strip // 4 + 1, 3 * strip // 4),
            bit * block + block // 4 : bit * block + max(block // 4 + 1, 3 * block // 4),
        ]
        if cell.mean() > 127:
            number |= 1 << bit
    return number


def write_clip(
    path: Path,
    frames: int | Sequence[float],
    *,
    fps: float = 30.0,
    size: tuple[int, int] = (320, 240),
    codec: str = "libx264",
    gop: int = 30,
    bframes: int = 2,
    draw: Callable[[int, float], np.ndarray] | None = None,
    rotation: int = 0,
    bit_rate: int | None = None,
) -> Path:
    """Encode a clip. `frames` is a count (constant rate `fps`) or a list of presentation times
    in seconds (variable frame rate). `draw(index, time_s)` returns an RGB frame; by default a
    numbered grey pattern."""
    import av

    times = [i / fps for i in range(frames)] if isinstance(frames, int) else list(frames)
    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        rate = Fraction(fps).limit_denominator(1001)
        stream: Any = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if isinstance(frames, int):
            stream.codec_context.time_base = 1 / rate
        else:
            stream.codec_context.time_base = Fraction(1, 1000)
        options = {"g": str(gop)}
        if codec in ("libx264", "libx265"):
            options.update(
                {
                    "keyint_min": str(gop),
                    "sc_threshold": "0",
                    "bf": str(bframes),
                    "preset": "veryfast",
                }
            )
            if codec == "libx265":
                options["x265-params"] = (
                    f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:log-level=error"
                )
        elif codec == "mpeg4":
            options.update({"bf": str(bframes), "qscale": "3"})
        if bit_rate:
            stream.bit_rate = bit_rate
            options.update({"maxrate": str(bit_rate), "bufsize": str(bit_rate * 2)})
        stream.codec_context.options = options
        if rotation:
            stream.set_display_rotation(rotation)
        for index, time_s in enumerate(times):
            image = draw(index, time_s) if draw else _numbered_pattern(index, width, height)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            if isinstance(frames, int):
                frame.pts = index
            else:
                frame.pts = int(round(time_s * 1000))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _numbered_pattern(index: int, width: int, height: int) -> np.ndarray:
    import cv2

    image = np.full((height, width, 3), 96, np.uint8)
    # A moving gradient so consecutive frames differ (as real video does) and P-frames carry data.
    ramp = ((np.arange(width) + 3 * index) % 256).astype(np.uint8)
    image[height // 3 :, :, 1] = ramp[None, :]
    draw_frame_code(image, index)
    cv2.putText(
        image, str(index), (8, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2
    )
    return image


# ---------------------------------------------------------------------------------- demo case
DEMO_VERSION = 2  # bump when the scene changes, so cached demo clips are redrawn
DEMO_SECONDS = 80.0  # long enough for the outcome model's minute after the bleed starts
DEMO_FPS = 25.0
DEMO_SIZE = (640, 360)


def _tissue(width: int, height: int, seed: int = 7) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    base = np.zeros((height * 2, width * 2, 3), np.float32)
    for scale, weight in ((64, 0.5), (16, 0.3), (4, 0.2)):
        noise = rng.random((height * 2 // scale + 2, width * 2 // scale + 2)).astype(np.float32)
        base += (
            weight
            * cv2.resize(noise, (width * 2, height * 2), interpolation=cv2.INTER_CUBIC)[..., None]
        )
    colour = np.array([238, 178, 140], np.float32)  # pale peritoneum and fat
    shade = np.array([172, 112, 80], np.float32)
    tissue = shade + (colour - shade) * np.clip(base, 0, 1)
    return tissue.clip(0, 255).astype(np.uint8)


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _draw_instrument(
    image: np.ndarray, entry: tuple[float, float], tip: tuple[float, float], jaw_open: float
) -> None:
    import cv2

    (ex, ey), (tx, ty) = entry, tip
    direction = np.array([tx - ex, ty - ey], np.float32)
    length = float(np.linalg.norm(direction)) or 1.0
    unit = direction / length
    normal = np.array([-unit[1], unit[0]])
    base = np.array([tx, ty]) - unit * 34
    cv2.line(image, (int(ex), int(ey)), (int(base[0]), int(base[1])), (70, 74, 80), 22, cv2.LINE_AA)
    cv2.line(
        image, (int(ex), int(ey)), (int(base[0]), int(base[1])), (150, 156, 165), 10, cv2.LINE_AA
    )
    for side in (-1, 1):
        jaw_tip = np.array([tx, ty]) + normal * side * (4 + 12 * jaw_open)
        cv2.line(
            image,
            (int(base[0]), int(base[1])),
            (int(jaw_tip[0]), int(jaw_tip[1])),
            (45, 45, 50),
            7,
            cv2.LINE_AA,
        )


def demo_instruments(
    t: float, width: int = DEMO_SIZE[0], height: int = DEMO_SIZE[1]
) -> list[tuple[str, tuple[float, float], tuple[float, float], float]]:
    """The demo's instruments in view at time t: (Cholec80 class name, entry point, tip, jaw
    opening). The left one is a grasper, always in view, wandering; the right one is the
    suction/irrigation cannula (Cholec80's Irrigator), in at 6-25 s and 42-66 s to work the
    bleed."""
    bleed_centre = (int(width * 0.58), int(height * 0.45))
    tip1 = (width * 0.40 + 60 * np.sin(t / 3.0), height * 0.55 + 30 * np.cos(t / 2.3))
    found = [("Grasper", (0.0, height * 0.95), tip1, 0.5 + 0.5 * float(np.sin(t * 2)))]
    presence = max(
        _smoothstep((t - 6.0) / 1.5) * (1.0 - _smoothstep((t - 24.5) / 1.5)),
        _smoothstep((t - 42.0) / 1.5) * (1.0 - _smoothstep((t - 64.5) / 1.5)),
    )
    if presence > 0.02:
        target = (bleed_centre[0] + 20 * np.sin(t), bleed_centre[1] + 10 * np.cos(t * 1.3))
        start = (width * 1.0, height * 0.15)
        tip2 = (
            start[0] + (target[0] - start[0]) * presence,
            start[1] + (target[1] - start[1]) * presence,
        )
        found.append(("Irrigator", start, tip2, 0.1))
    return [
        (n, (float(e[0]), float(e[1])), (float(p[0]), float(p[1])), float(j))
        for n, e, p, j in found
    ]


def demo_tool_boxes(
    t: float, width: int = DEMO_SIZE[0], height: int = DEMO_SIZE[1]
) -> list[tuple[str, tuple[float, float, float, float]]]:
    """The known box (x1, y1, x2, y2, pixels) of each demo instrument at time t, from the same
    drawing: the pixels it covers, whole tool, tip included (the detector's training and tests
    read these)."""
    found = []
    for name, entry, tip, jaw_open in demo_instruments(t, width, height):
        mask = np.zeros((height, width, 3), np.uint8)
        _draw_instrument(mask, entry, tip, jaw_open)
        ys, xs = np.nonzero(mask.max(axis=2) > 0)
        if len(xs) < 20:
            continue
        found.append(
            (name, (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)))
        )
    return found


def demo_frame_drawer(
    width: int = DEMO_SIZE[0], height: int = DEMO_SIZE[1]
) -> Callable[[int, float], np.ndarray]:
    """A function drawing the demo scene at time t (seconds)."""
    import cv2

    tissue = _tissue(width, height)
    ys, xs = np.mgrid[0:height, 0:width]
    radius = np.hypot((xs - width / 2) / (width * 0.62), (ys - height / 2) / (height * 0.75))
    vignette = np.clip(1.25 - radius, 0.15, 1.0)[..., None].astype(np.float32)
    bleed_centre = (int(width * 0.58), int(height * 0.45))

    def draw(index: int, t: float) -> np.ndarray:
        pan = int(12 * np.sin(t / 5.0)) + width // 2
        image = tissue[height // 2 : height // 2 + height, pan : pan + width].copy()
        # Bleeding: grows from 8 s, peaks at 14 s, suctioned away by 24 s; a smaller re-bleed
        # at 44-56 s.
        growth = _smoothstep((t - 8.0) / 6.0) * (1.0 - _smoothstep((t - 16.0) / 8.0))
        growth = max(
            growth, 0.45 * _smoothstep((t - 44.0) / 4.0) * (1.0 - _smoothstep((t - 52.0) / 4.0))
        )
        if growth > 0.01:
            radius_px = int(8 + 110 * growth)
            axes = (radius_px, int(radius_px * 0.7))
            cv2.ellipse(image, bleed_centre, axes, 15, 0, 360, (150, 12, 16), -1, cv2.LINE_AA)
            cv2.ellipse(
                image,
                bleed_centre,
                (axes[0] // 2, axes[1] // 2),
                15,
                0,
                360,
                (110, 6, 10),
                -1,
                cv2.LINE_AA,
            )
        for name, entry, tip, jaw_open in demo_instruments(t, width, height):
            _draw_instrument(image, entry, tip, jaw_open)
            if name == "Grasper" and (18.0 <= t <= 21.0 or 58.0 <= t <= 61.0):
                # its tip slips behind a tissue flap
                flap = (int(tip[0]), int(tip[1]))
                cv2.ellipse(image, flap, (42, 30), -20, 0, 360, (214, 150, 112), -1, cv2.LINE_AA)
        image = (image.astype(np.float32) * vignette).astype(np.uint8)
        cv2.putText(
            image,
            f"Scrubline demo  {t:05.1f} s  #{index}",
            (12, height - 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (235, 235, 235),
            1,
            cv2.LINE_AA,
        )
        return image

    return draw


def render_demo_clip(
    path: Path,
    seconds: float = DEMO_SECONDS,
    fps: float = DEMO_FPS,
    size: tuple[int, int] = DEMO_SIZE,
) -> Path:
    return write_clip(
        path,
        int(seconds * fps),
        fps=fps,
        size=size,
        codec="libx264",
        gop=int(fps * 2),
        draw=demo_frame_drawer(*size),
    )


def demo_video_path() -> Path:
    """Where the rendered demo clip is cached (per user; rendered once per scene version)."""
    from scrubline.core.paths import cache_dir

    return cache_dir() / "demo" / f"scrubline-demo-v{DEMO_VERSION}.mp4"


def ensure_demo_video() -> Path:
    """The demo clip, rendered first if it is not cached yet (under a temporary name, then
    renamed, so an interrupted render never leaves a half clip)."""
    path = demo_video_path()
    if not path.exists():
        partial = path.with_suffix(".part.mp4")
        render_demo_clip(partial)
        partial.replace(path)
    return path
