"""Writing what leaves a case (PDF reports, export tables) without ever losing or mixing files.

A report or export appears complete or not at all: each file is written under a temporary name
in the target's own folder (so the final rename stays on one file system) and moved into place
with `os.replace`; a multi-file export is written into a temporary folder first and swapped in
whole. On any failure the temporary files are removed and the earlier output is untouched.

Outputs never overwrite the case they come from or its video: a target that is the case file,
its WAL or lock files, or the video, is refused, as is a report target that exists and is not a
PDF (a mistyped `-o` naming a video must not destroy it).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scrubline.core.store import storage_problem


class OutputError(Exception):
    """An output that must not or cannot be written; the message names the file and why."""


def case_files(case_path: Path) -> list[Path]:
    """The files that make up a case on disk (none of them may be overwritten by an output)."""
    name = case_path.name
    return [case_path] + [
        case_path.with_name(name + s) for s in ("-wal", "-shm", ".lock", ".lock-info")
    ]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_protected(target: Path, protected: Iterable[Path | None], what: str = "output") -> None:
    """Raise `OutputError` if writing `target` would overwrite one of `protected`."""
    for keep in protected:
        if keep is None:
            continue
        if _same(target, keep) or Path(os.path.abspath(target)) == Path(os.path.abspath(keep)):
            raise OutputError(
                f"refusing to write the {what} over {keep}: it is the case or its video"
            )


def _temporary_name(target: Path, suffix: str = ".part") -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _failure(target: Path, exc: OSError) -> OutputError:
    return OutputError(
        f"cannot write {target}: {storage_problem(target, exc)}; nothing was changed"
    )


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; when the block ends without error it replaces
    `target` in one rename, otherwise it is removed and `target` is left as it was."""
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a folder")
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {target}: its folder does not exist")
    temporary = _temporary_name(target)
    try:
        yield temporary
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _failure(target, exc) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(target: Path, names: Iterable[str]) -> Iterator[Path]:
    """Yield a temporary folder beside `target` to write the files `names` into; then swap it in.

    When `target` does not exist, or holds nothing but files of these names (an earlier export),
    the whole folder is swapped: a reader sees the old set or the new set, never a mix. When it
    holds other files too (a shared folder), only these files are moved in, each with one rename,
    after all of them were written completely."""
    target = Path(target)
    names = list(names)
    if target.exists() and not target.is_dir():
        raise OutputError(f"cannot write the export into {target}: it is a file, not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = _temporary_name(target, ".part")
        staging.mkdir()
    except OSError as exc:
        raise _failure(target, exc) from exc
    try:
        yield staging
        missing = [n for n in names if not (staging / n).is_file()]
        if missing:
            raise OutputError(
                f"the export to {target} is incomplete (missing {', '.join(missing)})"
            )
        existing = {p.name for p in target.iterdir()} if target.exists() else set()
        if not existing - set(names):
            old = _temporary_name(target, ".old") if target.exists() else None
            if old is not None:
                os.replace(target, old)
            try:
                os.replace(staging, target)
            except OSError:
                if old is not None:
                    os.replace(old, target)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            for name in names:
                if (target / name).is_dir():
                    raise OutputError(f"cannot write {target / name}: it is a folder")
            for name in names:
                os.replace(staging / name, target / name)
    except OSError as exc:
        raise _failure(target, exc) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def is_pdf(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(5) == b"%PDF-"
    except OSError:
        return False
