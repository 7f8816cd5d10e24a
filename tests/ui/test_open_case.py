"""Opening a `.scrub` case file directly (issue 12 item 5): the case `scrubline analyze VIDEO -o
CASE.scrub` wrote opens in the window without a second analysis, from the command line's path, a
drop, File → Open Recent; its video is found beside the case by content (also when renamed), or
asked for, and a video whose content differs is refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from scrubline.cli import main as cli_main
from scrubline.ui import case_controller as case_controller_module
from scrubline.ui.settings import app_settings, read_list

TIMEOUT = 60_000


def analysed_frames(case: Path) -> int:
    with sqlite3.connect(case) as db:
        return int(db.execute("SELECT COUNT(*) FROM frames").fetchone()[0])


@pytest.fixture
def cli_case(demo_clip: Path, tiny_registry, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """A study folder with a video and the case `scrubline analyze VIDEO -o CASE.scrub` wrote."""
    folder = tmp_path / "study"
    folder.mkdir()
    video = shutil.copy(demo_clip, folder / "theatre-3.mp4")
    case = folder / "debrief.scrub"
    models = Path(tiny_registry.get("tiny-seg").source).parent
    assert (
        cli_main(
            [
                "analyze",
                str(video),
                "-o",
                str(case),
                "--models",
                str(models),
                "--model",
                "tiny-seg",
                "--fps",
                "5",
                "-q",
            ]
        )
        == 0
    )
    return Path(video), case


def never_ask(*args: object) -> None:
    raise AssertionError("the window asked for the video although it is beside the case")


def open_and_wait(qtbot, window, action) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignals([window.video_ready, window.case_refreshed], timeout=TIMEOUT):
        action()


def test_the_window_opens_a_case_the_cli_wrote_without_analysing_again(
    qtbot, window, cli_case, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    video, case = cli_case
    before = analysed_frames(case)
    monkeypatch.setattr(case_controller_module, "ask_case_video", never_ask)
    open_and_wait(
        qtbot, window, lambda: window.open_video(str(case))
    )  # what `scrubline CASE.scrub` calls
    assert window.case_path == case and window.video_path == video
    assert len(window.timeline.times) == before == 150
    assert (
        not window.analysis.running() and not window.banner.isVisible()
    )  # complete: nothing offered
    qtbot.waitUntil(lambda: window.outcome is not None, timeout=TIMEOUT)
    assert window.windowTitle().startswith("theatre-3.mp4")
    assert analysed_frames(case) == before
    assert not (window.case_dir).exists()  # no second case was made in the per-user folder
    # Bookmarks go into the case that was opened.
    window.seek_time(4.0)
    assert window.add_bookmark("from the opened case") is not None
    with sqlite3.connect(case) as db:
        assert db.execute("SELECT note FROM bookmarks").fetchall() == [("from the opened case",)]
    assert read_list(app_settings(), "recent")[0] == str(case.resolve())


def test_a_renamed_video_beside_the_case_is_found_by_its_content(
    qtbot, window, cli_case, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    video, case = cli_case
    # Checked first (sorted), same size, other content: the fingerprint decides, not the size.
    video.with_name("another-video.mp4").write_bytes(b"\0" * video.stat().st_size)
    renamed = video.rename(video.with_name("zz-renamed.mkv"))
    monkeypatch.setattr(case_controller_module, "ask_case_video", never_ask)
    open_and_wait(qtbot, window, lambda: window.open_case(case))
    assert window.video_path == renamed and window.case_path == case


def test_a_missing_video_is_asked_for_and_a_different_one_refused(
    qtbot, window, cli_case, make_clip, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    video, case = cli_case
    moved = video.rename(video.parent.parent / "elsewhere.mp4")
    other = make_clip(30)
    answers = iter([None, other, moved])
    asked: list[tuple[str, str]] = []

    def ask(parent, case_name, video_name, start_dir):  # type: ignore[no-untyped-def]
        asked.append((case_name, video_name))
        return next(answers)

    monkeypatch.setattr(case_controller_module, "ask_case_video", ask)
    assert (
        window.open_case(case) is False
    )  # cancelled: nothing opened, nothing reported as an error
    assert window.video_path is None and not window.errors
    assert window.open_case(case) is False  # another video: refused, saying why
    assert window.video_path is None
    assert (
        "is not the video of debrief.scrub" in window.errors[-1]
        and "theatre-3.mp4" in window.errors[-1]
    )
    open_and_wait(qtbot, window, lambda: window.open_case(case))
    assert window.video_path == moved and len(window.timeline.times) == 150
    assert asked == [("debrief.scrub", "theatre-3.mp4")] * 3
    # Remembered: the next time (here from File → Open Recent) it is not asked again.
    monkeypatch.setattr(case_controller_module, "ask_case_video", never_ask)
    window.open_video(video.parent.parent / "elsewhere.mp4")  # something else in between
    qtbot.waitUntil(lambda: window.info is not None, timeout=TIMEOUT)
    window.cases.fill_recent_menu()
    entries = {a.text(): a for a in window.recent_menu.actions()}
    assert list(entries)[:2] == ["elsewhere.mp4", "debrief.scrub (case)"]
    open_and_wait(qtbot, window, entries["debrief.scrub (case)"].trigger)
    assert window.case_path == case and window.video_path == moved
    # "Clear recent files" forgets where the video was too (a full path).
    window.clear_recent_files()
    assert "case_videos" not in app_settings().childGroups() and not read_list(
        app_settings(), "recent"
    )


def test_drop_a_case_and_refuse_a_file_that_is_not_one(
    qtbot, window, cli_case, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    video, case = cli_case
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(case))])
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    open_and_wait(qtbot, window, lambda: window.dropEvent(drop))
    assert window.case_path == case

    fake = tmp_path / "notes.scrub"
    fake.write_text("not a database")
    assert window.open_case(fake) is False
    assert window.errors[-1].startswith("Cannot open notes.scrub:")
    assert window.case_path == case  # what was open stays open
