"""Opening a case file (`.scrub`) directly: which video it belongs to, and where that video is.

`scrubline analyze VIDEO -o CASE.scrub` writes a case wherever the user wants it; the window
opens such a file from File → Open, a drop, the command line or a double-click. A case holds its
video's content fingerprint and file name, never its path (cases travel between machines, and a
path may name a patient), so the video is looked for where people keep it: the folder the user
chose for this case last time, then beside the case under its stored name, then any video of the
same size beside the case (it may have been renamed). A video is only ever accepted when its
fingerprint matches; otherwise the window asks, and refuses a video that is not this case's.

Qt-free: the window asks (a file dialog), these functions decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scrubline.core.case import Case, StoreError
from scrubline.core.video import VIDEO_SUFFIXES, fingerprint


class CaseFileError(Exception):
    """A case file that cannot be opened, or a video that is not its video; the message says why."""


@dataclass(frozen=True)
class CaseVideo:
    """What a case file says about its video."""

    case_path: Path
    name: str  # the video's file name when it was analysed
    fingerprint: str
    size_bytes: int


def read_case_video(case_path: Path) -> CaseVideo:
    """The video a case belongs to (CaseFileError if the file is not a usable case)."""
    case_path = Path(case_path)
    try:
        with Case.open(case_path) as case:  # read-only: also on read-only storage
            video = case.video
    except StoreError as exc:
        raise CaseFileError(str(exc)) from exc
    if not video.get("fingerprint"):
        raise CaseFileError(
            f"{case_path.name} names no video: it is not a finished Scrubline case file"
        )
    return CaseVideo(
        case_path,
        str(video.get("name") or ""),
        str(video["fingerprint"]),
        int(video.get("size_bytes") or 0),
    )


def is_video_of(case: CaseVideo, path: Path) -> bool:
    """Whether `path` is the case's video: same size (cheap, checked first) and same content."""
    try:
        if not path.is_file() or (case.size_bytes and path.stat().st_size != case.size_bytes):
            return False
        return fingerprint(path) == case.fingerprint
    except OSError:
        return False


def candidate_videos(case: CaseVideo, remembered: Iterable[Path] = ()) -> list[Path]:
    """Where the case's video may be, most likely first, without duplicates."""
    folder = case.case_path.parent
    ordered = list(remembered)
    if case.name:
        ordered.append(folder / case.name)
    try:
        beside = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    except OSError:
        beside = []
    ordered.extend(beside)
    seen: set[Path] = set()
    unique = []
    for path in ordered:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


def locate_video(case: CaseVideo, remembered: Iterable[Path] = ()) -> Path | None:
    """The case's video if it is in one of the expected places, else None (then ask)."""
    return next(
        (path for path in candidate_videos(case, remembered) if is_video_of(case, path)), None
    )


def check_chosen_video(case: CaseVideo, path: Path) -> Path:
    """The video the user pointed to, if it is this case's; CaseFileError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise CaseFileError(f"{path.name}: file does not exist")
    if not is_video_of(case, path):
        stored = f" ({case.name})" if case.name else ""
        raise CaseFileError(
            f"{path.name} is not the video of {case.case_path.name}: its content differs from the "
            f"video the case was analysed from{stored}. Choose that video; a re-encoded or trimmed "
            "copy cannot be used."
        )
    return path
