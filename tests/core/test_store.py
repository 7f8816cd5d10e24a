"""The case file: fingerprint refusal, incremental results, bookmarks, and clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore, StoreError, default_case_path
from scrubline.core.video import VideoSource


def _jpeg(grey: int) -> bytes:
    import cv2

    return bytes(cv2.imencode(".jpg", np.full((8, 8, 3), grey, np.uint8))[1])


def _result(frame: int, fraction: float = 0.1) -> FrameResult:
    mask = np.zeros((24, 32), np.uint8)
    mask[:, : int(32 * fraction)] = 255
    return FrameResult(
        frame=frame,
        time_s=frame / 25,
        instruments=[
            Instrument("grasper", 0.9, (1, 2, 30, 40), (30, 40), 0.8, True),
            Instrument("grasper", 0.7, (50, 60, 90, 100), (55, 65), 0.1, False),
        ],
        bleeding=BleedingMask(mask, fraction),
        scores={"phase:dissection": 0.7},
    )


def test_round_trip_and_default_location(clips: dict[str, Path]) -> None:
    with VideoSource(clips["cfr"]) as video:
        info = video.info
    with CaseStore.for_video(info) as store:
        assert store.path == default_case_path(info.fingerprint)
        store.write_results(
            [_result(0), _result(5, 0.25)], [(0, 0.0, _jpeg(10)), (5, 0.2, _jpeg(200))]
        )
        assert [store.thumbnail(f)[0] for f in (0, 2, 3, 4, 99)] == [0, 0, 5, 5, 5]
        assert store.thumbnail(4)[1].mean() > 150
        assert store.analysed_frames().tolist() == [0, 5]
        back = store.result_at(5)
        assert back is not None and back.time_s == pytest.approx(0.2)
        assert [i.tip_visible for i in back.instruments] == [True, False]
        assert back.bleeding is not None and back.bleeding.fraction == pytest.approx(0.25)
        assert back.bleeding.mask.shape == (24, 32)
        assert back.scores == {"phase:dissection": 0.7}
        assert store.nearest_analysed(3) == 5 and store.nearest_analysed(2) == 0
        frames = store.frames_table()
        assert frames["tips_hidden"].tolist() == [1, 1]
        detections = store.detections_table()
        assert len(detections) == 4 and detections["tip_visible"].dtype == bool
    # Re-opening finds what was written.
    with CaseStore.for_video(info) as again:
        assert again.frame_count() == 2
        assert again.video["name"] == "cfr.mp4"


def test_frames_with_and_without_scores(tmp_path: Path) -> None:
    with CaseStore(tmp_path / "s.scrub", create=True) as store:
        store.write_results([_result(0), FrameResult(frame=9, time_s=0.36)])  # NULL beside JSON
        assert store.frames_table()["scores"].tolist() == [{"phase:dissection": 0.7}, None]


def test_rewriting_a_frame_replaces_its_instruments(tmp_path: Path, clips: dict[str, Path]) -> None:
    with (
        VideoSource(clips["cfr"]) as video,
        CaseStore.for_video(video.info, tmp_path / "c.scrub") as store,
    ):
        store.write_results([_result(3)])
        store.write_results([_result(3)])
        assert len(store.detections_table()) == 2


def test_wrong_video_is_refused(tmp_path: Path, clips: dict[str, Path]) -> None:
    """Another video under the same file name is refused: the name proves nothing."""
    case = tmp_path / "case.scrub"
    with VideoSource(clips["cfr"]) as video:
        CaseStore.for_video(video.info, case).close()
    impostor = tmp_path / "elsewhere" / clips["cfr"].name
    impostor.parent.mkdir()
    impostor.write_bytes(clips["long_gop"].read_bytes())
    with (
        VideoSource(impostor) as other,
        pytest.raises(StoreError, match="belongs to another video"),
    ):
        CaseStore.for_video(other.info, case)


def test_bookmarks(tmp_path: Path, clips: dict[str, Path]) -> None:
    with (
        VideoSource(clips["cfr"]) as video,
        CaseStore.for_video(video.info, tmp_path / "c.scrub") as store,
    ):
        first = store.add_bookmark(2.0, 50, "clip placed", "good technique")
        store.add_bookmark(1.0, 25, "bleeder", "complication")
        assert [b.note for b in store.bookmarks()] == ["bleeder", "clip placed"]
        store.update_bookmark(first, note="clip placed well", category="teaching point")
        assert store.bookmarks()[1].category == "teaching point"
        store.delete_bookmark(first)
        assert len(store.bookmarks()) == 1
        with pytest.raises(StoreError, match="unknown bookmark category"):
            store.add_bookmark(1.0, 1, "x", "gossip")


def test_not_a_case_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.scrub"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a Scrubline case file"):
        CaseStore(bogus)
    with pytest.raises(StoreError, match="does not exist"):
        CaseStore(tmp_path / "missing.scrub")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.scrub"
    CaseStore(path, create=True).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer Scrubline"):
        CaseStore(path)


def test_full_disk_keeps_earlier_batches(
    tmp_path: Path, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        VideoSource(clips["cfr"]) as video,
        CaseStore.for_video(video.info, tmp_path / "c.scrub") as store,
    ):
        store.write_results([_result(0)])

        def full(*_: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        real = store._db

        # A connection proxy whose writes fail the way SQLite fails on a full disk.
        class FullDisk:
            def __getattr__(self, name: str) -> object:
                return getattr(real, name)

            def __enter__(self) -> object:
                return self

            def __exit__(self, *exc: object) -> None:
                real.rollback()

            executemany = execute = staticmethod(full)

        monkeypatch.setattr(store, "_db", FullDisk())
        with pytest.raises(StoreError, match="disk is full; results saved so far are kept"):
            store.write_results([_result(5)])
        monkeypatch.setattr(store, "_db", real)
        assert store.analysed_frames().tolist() == [0]
