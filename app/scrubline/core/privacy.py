"""What may leave a case: the words that identify it are only those the user typed.

Surgical recorders name files after patients, record numbers and dates, and a path can carry a
person's user name or a ward's folder. So nothing Scrubline writes for others to read (exports,
reports, the log file) carries a path or a video's file name. `scrub_text` takes them out of free
text such as error messages, which can quote either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# An absolute path (POSIX, Windows drive or UNC) with at least one separator after the root; not
# one that follows a kept folder's placeholder (`<log>/scrubline.log`).
PATH_PATTERN = re.compile(r"(?<![>])(?:[A-Za-z]:[\\/]|\\\\|/)[^\s'\"(),;]*[\\/][^\s'\"(),;]*")
_ROOT = r"(?:[A-Za-z]:[\\/]|\\\\|/)"
# Folders of a path, each of which may hold spaces (`Ward 7/`).
_FOLDERS = r"(?:[^\\/'\"\n;:,<>]*[\\/])*"
# A quoted absolute path (Python's error messages quote them), spaces and all.
QUOTED_PATH_PATTERN = re.compile(r"(?<![>\w])(['\"])" + _ROOT + r"[^'\"\n]*\1")
# A bare media or case file name (not part of a path that was kept).
_FILE_SUFFIXES = (
    "mp4",
    "m4v",
    "mov",
    "avi",
    "mkv",
    "webm",
    "mpg",
    "mpeg",
    "ts",
    "wmv",
    "mts",
    "m2ts",
    "scrub",
)
FILE_NAME_PATTERN = re.compile(
    r"(?<![\w/\\.<>-])[^\s/\\'\"(),;:<>]+\.(?:" + "|".join(_FILE_SUFFIXES) + r")\b", re.IGNORECASE
)
# An absolute path to a media or case file, with spaces in its folders.
MEDIA_PATH_PATTERN = re.compile(
    r"(?<![>\w])"
    + _ROOT
    + _FOLDERS
    + r"[^\\/'\"\n;:,<>]+?\.(?:"
    + "|".join(_FILE_SUFFIXES)
    + r")\b",
    re.IGNORECASE,
)
# What is left of a path after the patterns above (`Ward 7/clip.mp4` after a space): any word with
# a separator in it that does not follow a kept folder's placeholder.
RELATIVE_PATH_PATTERN = re.compile(
    r"(?<![\w<>/\\.\-\[])(?=[^\s'\"]*[A-Za-z])[^\s<>'\"\[\]]+[\\/][^\s'\"\]]*"
)
MIN_NAME_LENGTH = 3  # shorter stems ("a", "01") would blank ordinary words and numbers


def identifying_names(
    video_name: str | None, *, more: Iterable[str | Path] = (), typed_label: str = ""
) -> tuple[str, ...]:
    """The video's file name and stem (and those of `more` paths) to take out of text; a name
    that the user typed into the label is theirs to print and is kept."""
    names: set[str] = set()
    for value in (video_name, *more):
        if not value:
            continue
        path = Path(str(value))
        names.update(n for n in (path.name, path.stem) if len(n) >= MIN_NAME_LENGTH)
    label = typed_label.lower()
    # Longest first, so a stem never leaves the tail of its file name behind.
    return tuple(sorted((n for n in names if n.lower() not in label), key=len, reverse=True))


def scrub_text(
    text: Any,
    names: Iterable[str] = (),
    *,
    keep: Mapping[str, Path] | None = None,
    file_names: bool = False,
) -> str:
    """`text` with absolute paths replaced by `[path]` and each of `names` by `[video]`.

    `keep` maps a placeholder to a folder whose paths may stay, written as `<placeholder>/...`
    (the log names Scrubline's own folders that way). `file_names` also replaces bare media and
    case file names (`[file]`), for text whose video is not known (the log).
    """
    out = str(text)
    for placeholder, folder in sorted(
        (keep or {}).items(), key=lambda item: len(str(item[1])), reverse=True
    ):
        if str(folder) not in ("", ".", "/"):
            out = out.replace(str(folder), f"<{placeholder}>")
    out = QUOTED_PATH_PATTERN.sub(r"\1[path]\1", out)
    names = tuple(names)
    for name in names:  # a path that ends in a known name, even with spaces in its folders
        out = re.sub(
            r"(?<![>\w])" + _ROOT + _FOLDERS + re.escape(name), "[path]", out, flags=re.IGNORECASE
        )
    if file_names:  # then any word with a separator in it goes, numbers like 1/30 excepted
        out = MEDIA_PATH_PATTERN.sub("[path]", out)
        out = RELATIVE_PATH_PATTERN.sub("[path]", out)
    out = PATH_PATTERN.sub("[path]", out)
    for name in names:
        out = re.sub(re.escape(name), "[video]", out, flags=re.IGNORECASE)
    if file_names:
        out = FILE_NAME_PATTERN.sub("[file]", out)
    return out


def scrub_values(value: Any, names: Iterable[str] = ()) -> Any:
    """`scrub_text` applied to every string inside nested dicts and lists."""
    names = tuple(names)
    if isinstance(value, dict):
        return {k: scrub_values(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_values(v, names) for v in value)
    if isinstance(value, str):
        return scrub_text(value, names)
    return value
