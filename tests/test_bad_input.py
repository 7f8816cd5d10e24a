"""The bad-input corpus: every kind of wrong video, case file, model, option and output place a
user can hand the command line, each run through `scrubline.cli.main` as a script would.

The contract (README, `scrubline.cli`): each one ends either in exit 0 with the right output, or
in exit 2 with exactly one `error:` line on stderr that names the file (or option) and the
problem. Never exit 1 ("unexpected failure"), never a traceback, and nothing already saved is
lost. Each entry says which of the two it must be; an entry that a fix in another part of the
code is still owed is marked `xfail(strict=True)` with the item, so it fails loudly once fixed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import wave
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from scrubline.cli import main
from scrubline.core.store import CaseStore
from tests import tiny_models


@dataclass
class Place:
    """The materials of one test: a fresh folder, the clips, and a copy of an analysed case."""

    tmp: Path
    video: Path  # the clip the case was made from
    other: Path  # another clip
    case: Path  # a fresh copy of the analysed case, free to damage

    def file(self, name: str, content: bytes | str = b"") -> Path:
        path = self.tmp / name
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    def models(
        self,
        manifest_edit: Callable[[str], str] | None = None,
        onnx: bytes | None = None,
        width: int = 64,
    ) -> Path:
        """A user models folder with the tiny segmenter, its manifest edited as asked."""
        folder = self.tmp / "models"
        folder.mkdir(exist_ok=True)
        if onnx is None:
            tiny_models.dense_segmenter(folder / "tiny.onnx", width=64, height=48)
        else:
            (folder / "tiny.onnx").write_bytes(onnx)
        path = tiny_models.manifest(
            folder / "tiny.toml",
            model_id="tiny",
            task="segmenter",
            onnx_file="tiny.onnx",
            width=width,
            outputs=[
                ("instrument", "instrument_mask"),
                ("tip", "tip_map"),
                ("bleeding", "bleeding_mask"),
            ],
            labels=["instrument"],
        )
        if manifest_edit is not None:
            path.write_text(manifest_edit(path.read_text()))
        return folder


@dataclass(frozen=True)
class Refused:
    """Exit 2, one `error:` line containing each of `says` (the file, then the problem)."""

    says: tuple[str, ...]


@dataclass(frozen=True)
class Works:
    """Exit 0; `check(place, stdout, stderr)` asserts the output is right."""

    check: Callable[[Place, str, str], None]


Expectation = Refused | Works


def refused(*says: str) -> Refused:
    return Refused(says)


# ---------------------------------------------------------------------------- materials
def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    return path


def _png(path: Path) -> Path:
    import cv2

    cv2.imwrite(str(path), np.full((48, 64, 3), 128, np.uint8))
    return path


def _damage_pages(case: Path) -> Path:
    """Overwrite the middle of every page after the first two: the header survives, the tables
    do not."""
    data = bytearray(case.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, page):
        data[start + 100 : start + 400] = b"\xff" * 300
    case.write_bytes(bytes(data))
    return case


# Each edit closes its connection: a sqlite3 connection is otherwise freed by the cyclic garbage
# collector at some later moment, and only then folds its WAL into the case file (the run in
# random order caught "a reading command changed the case" from exactly that).
def _bad_json_meta(case: Path) -> Path:
    with closing(sqlite3.connect(case)) as db, db:
        db.execute("UPDATE meta SET value = '{not json' WHERE key = 'video'")
    return case


def _foreign_sqlite(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE invoices (id INTEGER, amount REAL)")
        db.execute("INSERT INTO invoices VALUES (1, 9.5)")
    return path


def _newer_schema(case: Path) -> Path:
    with closing(sqlite3.connect(case)) as db, db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    return case


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _without(folder: Path, name: str) -> Path:
    (folder / name).unlink()
    return folder


def _copied(folder: Path, name: str, copy: str) -> Path:
    shutil.copy(folder / name, folder / copy)
    return folder


def _unreadable(path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("permissions do not stop root")
    path.chmod(0)
    return path


# ---------------------------------------------------------------------------- expected output
def _analysed(count: int) -> Callable[[Place, str, str], None]:
    def check(place: Place, out: str, err: str) -> None:
        assert f"analysed {count} frames (0 already done)" in out

    return check


def _exported_into(folder: str) -> Callable[[Place, str, str], None]:
    def check(place: Place, out: str, err: str) -> None:
        target = place.tmp / folder
        names = ["frames.csv", "detections.csv", "episodes.csv", "summary.json"]
        assert out.split() == [str(target / n) for n in names]
        summary = json.loads((target / "summary.json").read_text())
        assert summary["analysis"]["analysed_frames"] == 24

    return check


def _models_listed_without_the_bad_one(field: str) -> Callable[[Place, str, str], None]:
    """The bundled models are listed, the bad user model is not, and the warning names the
    manifest and the field."""

    def check(place: Place, out: str, err: str) -> None:
        assert "scrubline-vision" in out and "tiny" not in out.split()
        warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == 1, err
        assert str(place.tmp / "models" / "tiny.toml") in warnings[0] and field in warnings[0]
        assert "skipped" in warnings[0]

    return check


def _listed_once(model: str, file: str, problem: str) -> Callable[[Place, str, str], None]:
    def check(place: Place, out: str, err: str) -> None:
        assert (
            sum(line.startswith(f"{model} ") for line in out.splitlines()) == 1
            and "scrubline-vision" in out
        )
        warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == 1 and file in warnings[0] and problem in warnings[0], err

    return check


def _analysed_with_bundled_models_and_warned(place: Place, out: str, err: str) -> None:
    assert "analysed 24 frames" in out
    assert any(
        "tiny.toml" in line and "input.width" in line
        for line in err.splitlines()
        if line.startswith("warning: ")
    )
    with CaseStore(next(place.tmp.glob("fresh.scrub"))) as store:
        # The bundled default image models (the in-body gate among them); the vision network
        # carries the bleeding gate's head, so the separate gate is superseded and does not run.
        assert [m["id"] for m in store.models] == ["scrubline-inbody", "scrubline-vision"]


def _report_written(place: Place, out: str, err: str) -> None:
    pdf = Path(out.strip())
    assert pdf.read_bytes().startswith(b"%PDF")


def _report_says(*typed: str, width: int = 595) -> Callable[[Place, str, str], None]:
    """The PDF is written on the page size asked and carries the typed text literally."""

    def check(place: Place, out: str, err: str) -> None:
        from pypdf import PdfReader

        reader = PdfReader(out.strip())
        assert round(float(reader.pages[0].mediabox[2])) == width
        text = " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())
        for needle in typed:
            assert needle in text, needle

    return check


def _models_once(place: Place, out: str, err: str) -> None:
    with CaseStore(place.tmp / "fresh.scrub") as store:
        assert [m["id"] for m in store.models] == ["scrubline-vision"]
        once = len(store.detections_table())
    assert (
        main(
            [
                "analyze",
                str(place.video),
                "-o",
                str(place.tmp / "single.scrub"),
                "-q",
                "--model",
                "scrubline-vision",
            ]
        )
        == 0
    )
    with CaseStore(place.tmp / "single.scrub") as store:
        assert len(store.detections_table()) == once  # not every detection twice


# ---------------------------------------------------------------------------- the corpus
# (id, argv builder, expectation, marks). The argv builder gets a fresh Place.
CORPUS: list[
    tuple[str, Callable[[Place], list[str]], Expectation, tuple[pytest.MarkDecorator, ...]]
] = [
    # -- videos
    (
        "video-zero-bytes",
        lambda p: ["analyze", str(p.file("zero.mp4"))],
        refused("zero.mp4", "empty"),
        (),
    ),
    (
        "video-text-renamed",
        lambda p: ["analyze", str(p.file("notes.mp4", "surgery notes\n" * 40))],
        refused("notes.mp4", "not a video file"),
        (),
    ),
    (
        "video-truncated-mp4",
        lambda p: [
            "analyze",
            str(p.file("cut.mp4", p.video.read_bytes()[: len(p.video.read_bytes()) // 2])),
        ],
        refused("cut.mp4", "truncated or corrupt"),
        (),
    ),
    (
        "video-random-bytes",
        lambda p: ["analyze", str(p.file("noise.mp4", np.random.default_rng(1).bytes(30_000)))],
        refused("noise.mp4", "not a video file"),
        (),
    ),
    (
        "video-audio-only",
        lambda p: ["analyze", str(_wav(p.tmp / "voice.wav"))],
        refused("voice.wav", "no video stream"),
        (),
    ),
    (
        "video-is-an-image",
        lambda p: ["analyze", str(_png(p.tmp / "still.png")), "-q"],
        Works(_analysed(1)),
        (),
    ),
    (
        "video-is-a-folder",
        lambda p: ["analyze", str(_folder(p.tmp / "clip.mp4"))],
        refused("clip.mp4", "is a folder"),
        (),
    ),
    (
        "video-missing",
        lambda p: ["analyze", str(p.tmp / "gone.mp4")],
        refused("gone.mp4", "does not exist"),
        (),
    ),
    (
        "video-unreadable",
        lambda p: ["analyze", str(_unreadable(p.file("locked.mp4", p.video.read_bytes())))],
        refused("locked.mp4", "cannot be read"),
        (),
    ),
    (
        "video-bench-not-a-video",
        lambda p: ["bench", str(p.file("notes.mp4", "notes\n" * 40)), "--quick"],
        refused("notes.mp4", "not a video file"),
        (),
    ),
    (
        "video-export-never-analysed",
        lambda p: ["export", str(p.other), "-o", str(p.tmp / "out")],
        refused("mpeg4.avi", "has not been analysed yet"),
        (),
    ),
    # -- case files
    (
        "case-zero-bytes",
        lambda p: ["export", str(p.file("empty.scrub")), "-o", str(p.tmp / "out")],
        refused("empty.scrub", "empty"),
        (),
    ),
    (
        "case-not-sqlite",
        lambda p: [
            "export",
            str(p.file("text.scrub", "not a database\n")),
            "-o",
            str(p.tmp / "out"),
        ],
        refused("text.scrub", "not a Scrubline case file"),
        (),
    ),
    (
        "case-foreign-sqlite",
        lambda p: [
            "report",
            str(_foreign_sqlite(p.tmp / "ledger.scrub")),
            "-o",
            str(p.tmp / "r.pdf"),
        ],
        refused("ledger.scrub", "not a Scrubline case"),
        (),
    ),
    (
        "case-truncated",
        lambda p: [
            "export",
            str(p.file("half.scrub", p.case.read_bytes()[: len(p.case.read_bytes()) // 2])),
            "-o",
            str(p.tmp / "out"),
        ],
        refused("half.scrub", "is damaged (database disk image is malformed)"),
        (),
    ),
    (
        "case-corrupt-pages-export",
        lambda p: ["export", str(_damage_pages(p.case)), "-o", str(p.tmp / "out")],
        refused("case.scrub", "damaged"),
        (),
    ),
    (
        "case-corrupt-pages-report",
        lambda p: ["report", str(_damage_pages(p.case)), "-o", str(p.tmp / "r.pdf")],
        refused("case.scrub", "damaged"),
        (),
    ),
    (
        "case-corrupt-pages-analyze",
        lambda p: ["analyze", str(p.video), "-o", str(_damage_pages(p.case)), "-q"],
        refused("case.scrub", "damaged"),
        (),
    ),
    (
        "case-bad-json-meta",
        lambda p: ["export", str(_bad_json_meta(p.case)), "-o", str(p.tmp / "out")],
        refused("case.scrub", "damaged"),
        (),
    ),
    (
        "case-newer-schema",
        lambda p: ["export", str(_newer_schema(p.case)), "-o", str(p.tmp / "out")],
        refused("case.scrub", "newer Scrubline"),
        (),
    ),
    (
        "case-for-another-video",
        lambda p: ["analyze", str(p.other), "-o", str(p.case), "-q"],
        refused("case.scrub", "belongs to another video"),
        (),
    ),
    (
        "case-is-a-folder",
        lambda p: ["export", str(_folder(p.tmp / "dir.scrub")), "-o", str(p.tmp / "out")],
        refused("dir.scrub", "is a folder, not a case file"),
        (),
    ),
    (
        "case-missing",
        lambda p: ["report", str(p.tmp / "gone.scrub"), "-o", str(p.tmp / "r.pdf")],
        refused("gone.scrub", "does not exist"),
        (),
    ),
    # -- models
    (
        "model-width-not-a-number",
        lambda p: [
            "models",
            "--models",
            str(p.models(lambda t: t.replace("width = 64", 'width = "wide"'))),
        ],
        Works(_models_listed_without_the_bad_one("input.width")),
        (),
    ),
    (
        "model-labels-not-a-list",
        lambda p: [
            "models",
            "--models",
            str(p.models(lambda t: t.replace('labels = ["instrument"]', "labels = 5"))),
        ],
        Works(_models_listed_without_the_bad_one("'labels'")),
        (),
    ),
    (
        "model-threshold-not-a-number",
        lambda p: [
            "models",
            "--models",
            str(p.models(lambda t: t.replace("tip = 0.5", 'tip = "high"'))),
        ],
        Works(_models_listed_without_the_bad_one("thresholds.tip")),
        (),
    ),
    (
        "model-threshold-out-of-range",
        lambda p: [
            "models",
            "--models",
            str(p.models(lambda t: t.replace("tip = 0.5", "tip = 7"))),
        ],
        Works(_models_listed_without_the_bad_one("thresholds.tip")),
        (),
    ),
    (
        "model-misspelled-table",
        lambda p: [
            "models",
            "--models",
            str(p.models(lambda t: t.replace("[thresholds]", "[treshholds]"))),
        ],
        Works(_models_listed_without_the_bad_one("treshholds")),
        (),
    ),
    (
        "model-unknown-input-key",
        lambda p: [
            "models",
            "--models",
            str(p.models(lambda t: t.replace("height = 48", "hieght = 48"))),
        ],
        Works(_models_listed_without_the_bad_one("hieght")),
        (),
    ),
    (
        "model-not-toml",
        lambda p: ["models", "--models", str(p.models(lambda t: t + "\nthis is = = not toml\n"))],
        Works(_models_listed_without_the_bad_one("not valid TOML")),
        (),
    ),
    (
        "model-onnx-missing",
        lambda p: ["models", "--models", str(_without(p.models(), "tiny.onnx"))],
        Works(_models_listed_without_the_bad_one("tiny.onnx does not exist")),
        (),
    ),
    (
        "model-onnx-is-a-folder",
        lambda p: [
            "models",
            "--models",
            str(_folder(_without(p.models(), "tiny.onnx") / "tiny.onnx").parent),
        ],
        Works(_models_listed_without_the_bad_one("tiny.onnx is a folder")),
        (),
    ),
    (
        "model-id-used-twice-in-a-folder",
        lambda p: [
            "models",
            "--models",
            str(_copied(p.models(), "tiny.toml", "zz-tiny-copy.toml")),
        ],
        Works(_listed_once("tiny", "zz-tiny-copy.toml", "is also the id of tiny.toml")),
        (),
    ),
    (
        "model-bad-manifest-analysis-goes-on",
        lambda p: [
            "analyze",
            str(p.video),
            "-o",
            str(p.tmp / "fresh.scrub"),
            "-q",
            "--models",
            str(p.models(lambda t: t.replace("width = 64", "width = -4"))),
        ],
        Works(_analysed_with_bundled_models_and_warned),
        (),
    ),
    (
        "model-onnx-garbage",
        lambda p: [
            "analyze",
            str(p.video),
            "-o",
            str(p.tmp / "fresh.scrub"),
            "--model",
            "tiny",
            "--models",
            str(p.models(onnx=b"\x00garbage" * 100)),
        ],
        refused("tiny.onnx", "not a loadable ONNX model"),
        (),
    ),
    (
        "model-input-shape-mismatch",
        lambda p: [
            "analyze",
            str(p.video),
            "-o",
            str(p.tmp / "fresh.scrub"),
            "--model",
            "tiny",
            "--models",
            str(p.models(width=128)),
        ],
        refused(
            "tiny",
            "input 'image' has shape [N, 3, 48, 64] but the manifest implies [N, 3, 48, 128]",
        ),
        (),
    ),
    (
        "model-unknown-id",
        lambda p: ["analyze", str(p.video), "-o", str(p.tmp / "fresh.scrub"), "--model", "nope"],
        refused("nope", "no model with id"),
        (),
    ),
    (
        "model-folder-missing",
        lambda p: ["models", "--models", str(p.tmp / "no-models")],
        refused("no-models", "no such folder"),
        (),
    ),
    (
        "model-folder-is-a-file",
        lambda p: ["models", "--models", str(p.file("models.toml", "id = 'x'"))],
        refused("models.toml", "is not a folder"),
        (),
    ),
    # -- options, on every subcommand that takes them
    (
        "option-fps-inf",
        lambda p: ["analyze", str(p.video), "--fps", "inf"],
        refused("--fps", "'inf' is not a finite number"),
        (),
    ),
    (
        "option-fps-nan",
        lambda p: ["analyze", str(p.video), "--fps", "nan"],
        refused("--fps", "'nan' is not a finite number"),
        (),
    ),
    (
        "option-fps-zero",
        lambda p: ["analyze", str(p.video), "--fps", "0"],
        refused("--fps", "must be above 0"),
        (),
    ),
    (
        "option-fps-negative",
        lambda p: ["analyze", str(p.video), "--fps=-1"],
        refused("--fps", "must be above 0"),
        (),
    ),
    (
        "option-fps-huge",
        lambda p: ["analyze", str(p.video), "--fps", "1e12"],
        refused("--fps", "at most 1000"),
        (),
    ),
    (
        "option-demo-fps-zero",
        lambda p: ["demo", "--fps", "0"],
        refused("--fps", "must be above 0"),
        (),
    ),
    (
        "option-batch-zero",
        lambda p: ["analyze", str(p.video), "--batch", "0"],
        refused("--batch", "from 1 to 256"),
        (),
    ),
    (
        "option-batch-text",
        lambda p: ["analyze", str(p.video), "--batch", "four"],
        refused("--batch", "not a whole number"),
        (),
    ),
    (
        "option-threads-negative",
        lambda p: ["analyze", str(p.video), "--threads=-2"],
        refused("--threads", "from 0 (automatic)"),
        (),
    ),
    (
        "option-start-negative",
        lambda p: ["analyze", str(p.video), "--start=-1"],
        refused("--start", "from 0"),
        (),
    ),
    (
        "option-start-after-the-end",
        lambda p: ["analyze", str(p.video), "--start", "60"],
        refused("cfr.mp4", "starts at 60 s, after the end of the video (4.80 s)"),
        (),
    ),
    (
        "option-end-before-start",
        lambda p: ["analyze", str(p.video), "--start", "3", "--end", "2"],
        refused("--end (2 s)", "must be after --start (3 s)"),
        (),
    ),
    (
        "option-end-zero",
        lambda p: ["analyze", str(p.video), "--end", "0"],
        refused("--end (0 s)", "must be after"),
        (),
    ),
    (
        "option-device-unknown",
        lambda p: ["analyze", str(p.video), "--device", "tpu"],
        refused("--device", "invalid choice: 'tpu'"),
        (),
    ),
    (
        "option-unknown",
        lambda p: ["analyze", str(p.video), "--frobnicate"],
        refused("--frobnicate", "unrecognized arguments"),
        (),
    ),
    (
        "option-page-size",
        lambda p: ["report", str(p.case), "-o", str(p.tmp / "r.pdf"), "--page-size", "B5"],
        refused("--page-size", "invalid choice: 'B5'"),
        (),
    ),
    (
        "option-report-video-missing",
        lambda p: [
            "report",
            str(p.case),
            "-o",
            str(p.tmp / "r.pdf"),
            "--video",
            str(p.tmp / "gone.mp4"),
        ],
        refused("gone.mp4", "no such file"),
        (),
    ),
    (
        "option-report-video-another",
        lambda p: ["report", str(p.case), "-o", str(p.tmp / "r.pdf"), "--video", str(p.other)],
        refused("mpeg4.avi", "not the video this case was analysed from"),
        (),
    ),
    (
        "option-model-named-twice",
        lambda p: [
            "analyze",
            str(p.video),
            "-o",
            str(p.tmp / "fresh.scrub"),
            "-q",
            "--model",
            "scrubline-vision",
            "--model",
            "scrubline-vision",
        ],
        Works(_models_once),
        (),
    ),
    (
        "option-model-sequence-only",
        lambda p: [
            "analyze",
            str(p.video),
            "-o",
            str(p.tmp / "fresh.scrub"),
            "--model",
            "outcome-socal",
        ],
        refused("outcome-socal", "sequence model"),
        (),
    ),
    (
        "option-page-size-any-case",
        lambda p: ["report", str(p.case), "-o", str(p.tmp / "r.pdf"), "--page-size", "LETTER"],
        Works(_report_says("Untitled case", width=612)),
        (),
    ),
    (
        "option-label-with-markup",
        lambda p: [
            "report",
            str(p.case),
            "-o",
            str(p.tmp / "r.pdf"),
            "--label",
            "<b>Case & 7</b> <para>",
            "--surgeon",
            "tab\there",
        ],
        Works(_report_says("<b>Case & 7</b> <para>")),
        (),
    ),
    (
        "option-output-missing",
        lambda p: ["export", str(p.case)],
        refused("-o/--output", "required"),
        (),
    ),
    (
        "option-bench-models-missing",
        lambda p: ["bench", "--models", str(p.tmp / "none")],
        refused("none", "no such folder"),
        (),
    ),
    # -- where results go
    (
        "output-export-into-a-file",
        lambda p: ["export", str(p.case), "-o", str(p.file("taken.txt", "x"))],
        refused("taken.txt", "is a file"),
        (),
    ),
    (
        "output-export-under-a-file",
        lambda p: ["export", str(p.case), "-o", str(p.file("taken.txt", "x") / "sub")],
        refused("taken.txt", "is a file, not a folder"),
        (),
    ),
    (
        "output-export-into-a-missing-folder",
        lambda p: ["export", str(p.case), "-o", str(p.tmp / "new" / "deeper")],
        Works(_exported_into("new/deeper")),
        (),
    ),
    (
        "output-report-into-a-missing-folder",
        lambda p: ["report", str(p.case), "-o", str(p.tmp / "nowhere" / "r.pdf")],
        refused("r.pdf", "the folder"),
        (),
    ),
    (
        "output-report-is-a-folder",
        lambda p: ["report", str(p.case), "-o", str(_folder(p.tmp / "reports"))],
        refused("reports", "is a folder"),
        (),
    ),
    (
        "output-report-over-the-video",
        lambda p: [
            "report",
            str(p.case),
            "-o",
            str(shutil.copy(p.video, p.tmp / "same.mp4")),
            "--video",
            str(p.tmp / "same.mp4"),
        ],
        refused("same.mp4", "refusing to write the report over"),
        (),
    ),
    (
        "output-report-written",
        lambda p: ["report", str(p.case), "-o", str(p.tmp / "fine.pdf")],
        Works(_report_written),
        (),
    ),
    (
        "output-case-is-a-folder",
        lambda p: ["analyze", str(p.video), "-o", str(_folder(p.tmp / "cases"))],
        refused("cases", "is a folder"),
        (),
    ),
    (
        "output-case-under-a-file",
        lambda p: ["analyze", str(p.video), "-o", str(p.file("taken.txt", "x") / "c.scrub")],
        refused("taken.txt", "is a file, not a folder"),
        (),
    ),
    (
        "output-case-into-a-missing-folder",
        lambda p: ["analyze", str(p.video), "-o", str(p.tmp / "new" / "c.scrub"), "-q"],
        Works(_analysed(24)),
        (),
    ),
    (
        "output-case-is-the-video",
        lambda p: [
            "analyze",
            str(shutil.copy(p.video, p.tmp / "v.mp4")),
            "-o",
            str(p.tmp / "v.mp4"),
        ],
        refused("v.mp4", "not a Scrubline case file"),
        (),
    ),
]


@pytest.fixture(scope="module")
def analysed_case(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("corpus") / "case.scrub"
    assert (
        main(["analyze", str(clips["cfr"]), "-o", str(case), "-q"]) == 0
    )  # 4.8 s at 5 fps: 24 frames
    return case


@pytest.fixture
def place(clips: dict[str, Path], analysed_case: Path, tmp_path: Path) -> Place:
    case = tmp_path / "case.scrub"
    shutil.copy(analysed_case, case)
    return Place(tmp=tmp_path, video=clips["cfr"], other=clips["avi"], case=case)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exit
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_outcome(
    expectation: Expectation,
    place: Place,
    code: int,
    out: str,
    err: str,
    caplog: pytest.LogCaptureFixture | None = None,
) -> None:
    assert "Traceback" not in err and "unexpected failure" not in err, err
    if caplog is not None:
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if isinstance(expectation, Refused):
        assert code == 2, (code, out, err)
        assert len(errors) == 1, err
        assert all(line.startswith(("error: ", "warning: ")) for line in lines), err
        for needle in expectation.says:
            assert needle in errors[0], (needle, errors[0])
    else:
        assert code == 0, (code, out, err)
        assert not errors, err
        expectation.check(place, out, err)


@pytest.mark.parametrize(
    ("build", "expectation"),
    [
        pytest.param(build, expectation, id=name, marks=marks)
        for name, build, expectation, marks in CORPUS
    ],
)
def test_bad_input(
    build: Callable[[Place], list[str]],
    expectation: Expectation,
    place: Place,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    argv = build(place)
    before = place.case.read_bytes()
    code, out, err = run_cli(argv, capsys)
    assert_outcome(expectation, place, code, out, err, caplog)
    if argv[0] in ("export", "report", "models"):
        assert place.case.read_bytes() == before, "a reading command changed the case"


def test_the_corpus_covers_at_least_thirty_kinds_across_every_area() -> None:
    names = [name for name, *_ in CORPUS]
    assert len(set(names)) == len(names) >= 30
    for area in ("video", "case", "model", "option", "output"):
        assert sum(n.startswith(area) for n in names) >= 5, area


@pytest.mark.parametrize(
    "name",
    [
        "video-text-renamed",
        "model-threshold-not-a-number",
        "option-fps-nan",
        "case-not-sqlite",
        "output-report-into-a-missing-folder",
    ],
)
def test_the_installed_command_behaves_the_same(name: str, place: Place) -> None:
    """A few entries through a real process: the exit code and stderr are the process's own."""
    build, expectation = next((b, e) for n, b, e, _ in CORPUS if n == name)
    result = subprocess.run(
        [sys.executable, "-m", "scrubline.cli", *build(place)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SCRUBLINE_CACHE": str(place.tmp / "cache")},
    )
    assert_outcome(expectation, place, result.returncode, result.stdout, result.stderr)
