"""The window's start-up check: a platform that cannot start is one `error:` line naming the
missing system libraries and the command that installs them, exit 2, never Qt's abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scrubline import gui_probe
from scrubline.gui_probe import (
    ProbeResult,
    explain,
    install_command,
    not_found_in_ldd,
    probe_platform,
)

# `ldd` on Qt 6.11's xcb plugin on a machine without libxcb-icccm4 and libxcb-keysyms1.
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007fd878caf000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007fd878be1000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007fd878b3d000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007fd878b35000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007fd878cb1000)
"""  # noqa: E501  (ldd's output as it is)


def without_display() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"  # what a Linux desktop uses; it cannot start here
    return env


def test_ldd_output_gives_each_missing_library_once() -> None:
    assert not_found_in_ldd(LDD_OUTPUT) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


@pytest.mark.parametrize(
    ("manager", "command"),
    [
        ("apt", "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0"),
        ("dnf", "sudo dnf install xcb-util-wm xcb-util-keysyms xcb-util-cursor"),
        ("pacman", "sudo pacman -S xcb-util-wm xcb-util-keysyms xcb-util-cursor"),
        (
            None,
            "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 (or) "
            "sudo dnf install xcb-util-wm xcb-util-keysyms xcb-util-cursor",
        ),
    ],
)
def test_install_command_per_package_manager(manager: str | None, command: str) -> None:
    libraries = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"]
    assert install_command(libraries, manager) == command


def test_explain_names_the_missing_libraries_not_qts_guess(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(gui_probe, "platform_plugin", lambda name: tmp_path / "libqxcb.so")
    monkeypatch.setattr(
        gui_probe,
        "missing_libraries",
        lambda plugin, name: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"],
    )
    monkeypatch.setattr(gui_probe, "package_manager", lambda: "apt")
    qt_messages = [
        "qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb "
        "platform plugin."
    ]
    message = explain(
        ProbeResult(ok=False, platform="xcb", messages=qt_messages), env={"DISPLAY": ":0"}
    )
    assert message == (
        "the desktop window cannot start: Qt's 'xcb' platform needs libxcb-icccm.so.4, "
        "libxcb-keysyms.so.1, which this machine lacks; install them with: sudo apt-get install "
        "libxcb-icccm4 libxcb-keysyms1"
    )


def test_explain_without_missing_libraries_and_without_display(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gui_probe, "missing_libraries", lambda plugin, name: [])
    monkeypatch.setattr(sys, "platform", "linux")
    message = explain(
        ProbeResult(
            ok=False, platform="xcb", messages=["qt.qpa.xcb: could not connect to display"]
        ),
        env={},
    )
    assert "there is no display" in message and "scrubline --help" in message


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not shutil.which("gcc") or not shutil.which("ldd"),
    reason="needs Linux with gcc and ldd",
)
def test_a_plugin_linked_to_an_absent_library_is_diagnosed(tmp_path: Path) -> None:
    """A real shared object whose dependency was removed after linking, as a plugin on a machine
    that lacks one of its libraries."""
    (tmp_path / "dep.c").write_text("int scrubline_dep(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text(
        "int scrubline_dep(void);\nint plugin(void) { return scrubline_dep(); }\n"
    )
    dep = tmp_path / "libscrublinegone.so.1"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-Wl,-soname,libscrublinegone.so.1",
            "-o",
            str(dep),
            str(tmp_path / "dep.c"),
        ],
        check=True,
    )
    (tmp_path / "libscrublinegone.so").symlink_to(dep.name)
    plugin = tmp_path / "libqfake.so"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-o",
            str(plugin),
            str(tmp_path / "plugin.c"),
            f"-L{tmp_path}",
            "-lscrublinegone",
        ],
        check=True,
    )
    dep.unlink()
    assert gui_probe.missing_libraries(plugin, "fake") == ["libscrublinegone.so.1"]


def test_offscreen_platform_starts() -> None:
    result = probe_platform(env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.ok and result.platform == "offscreen"


def test_window_that_cannot_start_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    """Without a display (and here perhaps without the xcb libraries too) Qt would abort with a
    core dump; the command says why in one line instead, whichever of the two it is."""
    result = subprocess.run(
        [sys.executable, "-m", "scrubline"],
        env=without_display(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the desktop window cannot start: "), (
        result.stderr
    )
    assert ("install them with: " in lines[0]) or ("there is no display" in lines[0])
    assert not list(tmp_path.glob("core*"))


def test_readme_names_every_xcb_package_the_check_can_ask_for() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    words = {
        system: set(
            next(line for line in readme.splitlines() if line.startswith(f"| {system}"))
            .strip("|` ")
            .split()
        )
        for system in ("Debian", "Fedora", "Arch")
    }
    for soname, packages in gui_probe.SYSTEM_PACKAGES.items():
        if soname.startswith(("libxcb-", "libxkbcommon-x11")):
            assert packages["apt"] in words["Debian"], soname
            assert packages["dnf"] in words["Fedora"], soname
            assert packages["pacman"] in words["Arch"], soname
