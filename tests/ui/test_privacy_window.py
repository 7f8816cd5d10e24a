"""The window's side of privacy: recent files can be cleared and never reach a report or an
export; the log folder is one menu item away, and an error box says where the log is."""

from __future__ import annotations

import shutil
from pathlib import Path

from pypdf import PdfReader

from scrubline.ui.settings import read_float, read_list

TIMEOUT = 30_000
PATIENT_FOLDER = "Ward7 Doe-Jane"
PATIENT_FILE = "Doe_Jane_MRN4471.mp4"


def _menu_action(window, text: str):  # type: ignore[no-untyped-def]
    for action in window.findChildren(type(window.menuBar().actions()[0])):
        if action.text().replace("&", "") == text:
            return action
    raise AssertionError(f"no menu item '{text}'")


def test_recent_files_stay_out_of_exports_and_can_be_cleared(
    qtbot,
    with_case,
    window,
    demo_clip: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    # The same video under a name that identifies a patient (the case is found by content).
    video = tmp_path / PATIENT_FOLDER / PATIENT_FILE
    video.parent.mkdir()
    shutil.copy(demo_clip, video)
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(video)
    assert str(video.resolve()) in read_list(window.settings, "recent")

    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT) as done:
        assert window.exports.tables(tmp_path / "out")
    written = list(done.args[0][2])
    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT):
        assert window.exports.report(tmp_path / "out" / "debrief.pdf")
    texts = {p.name: p.read_text(encoding="utf-8") for p in written}
    texts["debrief.pdf"] = "\n".join(
        page.extract_text() for page in PdfReader(tmp_path / "out" / "debrief.pdf").pages
    )
    for name, text in texts.items():
        for word in ("Doe_Jane", "MRN4471", "Ward7", "Doe-Jane", str(tmp_path)):
            assert word not in text, f"{name} names '{word}'"
    assert not window.errors

    window.settings.setValue("paths/export_dir", str(tmp_path / PATIENT_FOLDER))
    window.settings.setValue("recent_cases", [str(tmp_path / PATIENT_FOLDER / "Doe_Jane.scrub")])
    window.settings.setValue("playback/speed", 2.0)
    _menu_action(window, "Clear recent files").trigger()
    assert (
        read_list(window.settings, "recent") == []
        and read_list(window.settings, "recent_cases") == []
    )
    assert read_float(window.settings, "playback/speed", 1.0) == 2.0  # other settings are kept
    window.settings.sync()
    stored = Path(window.settings.fileName()).read_text(encoding="utf-8")
    assert "Doe_Jane" not in stored and "Doe-Jane" not in stored
    window.cases.fill_recent_menu()
    assert [a.text() for a in window.recent_menu.actions()] == ["(none)"]


def test_help_opens_the_log_folder(window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QDesktopServices

    from scrubline.core.paths import log_dir

    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True
    )
    _menu_action(window, "Open log folder").trigger()
    assert opened == [str(log_dir())] and log_dir().is_dir()


def test_error_box_says_where_the_log_is(window) -> None:  # type: ignore[no-untyped-def]
    from scrubline.core.logfile import install_log_file, remove_log_file

    log_file = install_log_file()
    try:
        window.report_error("Cannot open the video", "the file is damaged")
        box = window._error_boxes[-1]
        assert str(log_file) in box.informativeText()
        box.close()
    finally:
        remove_log_file()
    assert "Cannot open the video: the file is damaged" in log_file.read_text(encoding="utf-8")


def test_settings_live_in_the_config_folder_and_earlier_ones_are_kept(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from scrubline.core.paths import config_dir
    from scrubline.ui import settings

    monkeypatch.delenv(settings.SETTINGS_ENV)
    earlier = tmp_path / "Qt" / "Scrubline.ini"
    earlier.parent.mkdir()
    earlier.write_text("[playback]\nspeed=2\n", encoding="utf-8")
    monkeypatch.setattr(settings, "earlier_settings_file", lambda: earlier)
    store = settings.app_settings()
    assert Path(store.fileName()) == config_dir() / "settings.ini"
    assert settings.read_float(store, "playback/speed", 1.0) == 2.0
    store.setValue("playback/speed", 0.5)
    store.sync()
    # Copied once: the new file wins from then on, and the earlier file is left as it was.
    assert settings.read_float(settings.app_settings(), "playback/speed", 1.0) == 0.5
    assert earlier.read_text(encoding="utf-8") == "[playback]\nspeed=2\n"


def test_qt_warnings_reach_the_log_file(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import qInstallMessageHandler, qWarning

    from scrubline.core.logfile import install_log_file, remove_log_file
    from scrubline.ui.app import route_qt_messages_to_log

    log_file = install_log_file()
    route_qt_messages_to_log()
    try:
        qWarning("QImage::scaled: Image is a null image (from /home/jo/Ward7 Doe-Jane/clip.mp4)")
    finally:
        qInstallMessageHandler(None)
        remove_log_file()
    text = log_file.read_text(encoding="utf-8")
    assert "WARNING qt: QImage::scaled: Image is a null image" in text
    assert "Doe-Jane" not in text and "/home/jo" not in text
