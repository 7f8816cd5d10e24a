"""Can the desktop window start on this machine? Asked in a short-lived child process.

Qt aborts the whole process (SIGABRT, exit status 134, a core dump) when its platform plugin
cannot start: on a fresh Linux desktop because the xcb plugin's system libraries
(libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0, ...) are not installed, or on a machine without a
display. Python cannot catch that abort, and Qt's own message names the wrong library (it always
asks for xcb-cursor0). So before the window is created, `scrubline` starts a QGuiApplication in a
child process; when that fails, the parent finds out why (`ldd` on the platform plugin, plus the
libraries Qt opens at run time) and the command line prints one `error:` line naming the missing
libraries and the command that installs them.

This module never imports Qt itself: it must work where importing Qt is what fails.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Creating the application is what loads and initialises the platform plugin.
_PROBE_CODE = (
    "import sys\n"
    "from PySide6.QtGui import QGuiApplication\n"
    "app = QGuiApplication(sys.argv[:1])\n"
    "print(app.platformName())\n"
)

# Libraries Qt's xcb plugin opens at run time rather than linking (so `ldd` cannot see them).
_RUNTIME_LOADED = {"xcb": ["libxcb-cursor.so.0"]}

# soname -> package, per package manager. Debian/Ubuntu (apt), Fedora/RHEL (dnf), Arch (pacman).
SYSTEM_PACKAGES: dict[str, dict[str, str]] = {
    "libxcb-icccm.so.4": {"apt": "libxcb-icccm4", "dnf": "xcb-util-wm", "pacman": "xcb-util-wm"},
    "libxcb-keysyms.so.1": {
        "apt": "libxcb-keysyms1",
        "dnf": "xcb-util-keysyms",
        "pacman": "xcb-util-keysyms",
    },
    "libxcb-cursor.so.0": {
        "apt": "libxcb-cursor0",
        "dnf": "xcb-util-cursor",
        "pacman": "xcb-util-cursor",
    },
    "libxcb-image.so.0": {
        "apt": "libxcb-image0",
        "dnf": "xcb-util-image",
        "pacman": "xcb-util-image",
    },
    "libxcb-render-util.so.0": {
        "apt": "libxcb-render-util0",
        "dnf": "xcb-util-renderutil",
        "pacman": "xcb-util-renderutil",
    },
    "libxcb-util.so.1": {"apt": "libxcb-util1", "dnf": "xcb-util", "pacman": "xcb-util"},
    "libxcb-xkb.so.1": {"apt": "libxcb-xkb1", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-shape.so.0": {"apt": "libxcb-shape0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-randr.so.0": {"apt": "libxcb-randr0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-sync.so.1": {"apt": "libxcb-sync1", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-xfixes.so.0": {"apt": "libxcb-xfixes0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-shm.so.0": {"apt": "libxcb-shm0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb-render.so.0": {"apt": "libxcb-render0", "dnf": "libxcb", "pacman": "libxcb"},
    "libxcb.so.1": {"apt": "libxcb1", "dnf": "libxcb", "pacman": "libxcb"},
    "libX11-xcb.so.1": {"apt": "libx11-xcb1", "dnf": "libX11-xcb", "pacman": "libx11"},
    "libX11.so.6": {"apt": "libx11-6", "dnf": "libX11", "pacman": "libx11"},
    "libxkbcommon-x11.so.0": {
        "apt": "libxkbcommon-x11-0",
        "dnf": "libxkbcommon-x11",
        "pacman": "libxkbcommon-x11",
    },
    "libxkbcommon.so.0": {"apt": "libxkbcommon0", "dnf": "libxkbcommon", "pacman": "libxkbcommon"},
    "libEGL.so.1": {"apt": "libegl1", "dnf": "libglvnd-egl", "pacman": "libglvnd"},
    "libGL.so.1": {"apt": "libgl1", "dnf": "libglvnd-glx", "pacman": "libglvnd"},
    "libOpenGL.so.0": {"apt": "libopengl0", "dnf": "libglvnd-opengl", "pacman": "libglvnd"},
    "libfontconfig.so.1": {"apt": "libfontconfig1", "dnf": "fontconfig", "pacman": "fontconfig"},
    "libfreetype.so.6": {"apt": "libfreetype6", "dnf": "freetype", "pacman": "freetype2"},
    "libdbus-1.so.3": {"apt": "libdbus-1-3", "dnf": "dbus-libs", "pacman": "dbus"},
    "libglib-2.0.so.0": {"apt": "libglib2.0-0", "dnf": "glib2", "pacman": "glib2"},
    "libgthread-2.0.so.0": {"apt": "libglib2.0-0", "dnf": "glib2", "pacman": "glib2"},
    "libwayland-client.so.0": {
        "apt": "libwayland-client0",
        "dnf": "libwayland-client",
        "pacman": "wayland",
    },
    "libwayland-cursor.so.0": {
        "apt": "libwayland-cursor0",
        "dnf": "libwayland-cursor",
        "pacman": "wayland",
    },
    "libwayland-egl.so.1": {"apt": "libwayland-egl1", "dnf": "libwayland-egl", "pacman": "wayland"},
}
_INSTALL = {"apt": "sudo apt-get install", "dnf": "sudo dnf install", "pacman": "sudo pacman -S"}
_MANAGER_COMMANDS = {"apt": "apt-get", "dnf": "dnf", "pacman": "pacman"}


@dataclass(frozen=True)
class ProbeResult:
    """What the child process reported: whether the platform started, its name, Qt's messages."""

    ok: bool
    platform: str
    messages: list[str]
    timed_out: bool = False


def _limit_core_dumps() -> None:  # pragma: no cover - runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def probe_platform(timeout_s: float = 60.0, env: dict[str, str] | None = None) -> ProbeResult:
    """Start a QGuiApplication in a child process (no core file if Qt aborts there)."""
    environment = dict(os.environ if env is None else env)
    requested = environment.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    try:
        child = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE],
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            preexec_fn=_limit_core_dumps if os.name == "posix" else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ProbeResult(ok=False, platform=requested, messages=[], timed_out=True)
    messages = [line.strip() for line in child.stderr.splitlines() if line.strip()]
    if child.returncode == 0:
        return ProbeResult(ok=True, platform=child.stdout.strip() or requested, messages=messages)
    named = next(
        (m.group(1) for line in messages if (m := re.search(r'platform plugin "([\w-]+)"', line))),
        "",
    )
    return ProbeResult(
        ok=False, platform=named or requested or _default_platform(environment), messages=messages
    )


def _default_platform(env: dict[str, str]) -> str:
    if sys.platform == "darwin":
        return "cocoa"
    if sys.platform == "win32":
        return "windows"
    return (
        "wayland"
        if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY")
        else "xcb"
    )


def platform_plugin(name: str) -> Path | None:
    """The shared library of Qt's platform plugin `name` in the installed PySide6 (not imported)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"
    for candidate in (f"libq{name}.so", f"libq{name}.dylib", f"q{name}.dll"):
        if (folder / candidate).exists():
            return folder / candidate
    return None


def not_found_in_ldd(ldd_output: str) -> list[str]:
    """The libraries `ldd` reports as `not found`, each once, in the order it lists them."""
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(plugin: Path, platform: str) -> list[str]:
    """System libraries the plugin needs that this machine lacks (Linux; empty elsewhere)."""
    missing: list[str] = []
    ldd = shutil.which("ldd")
    if ldd is not None and sys.platform.startswith("linux"):
        result = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, check=False)
        missing = not_found_in_ldd(result.stdout)
    if sys.platform.startswith("linux"):
        missing += [
            lib
            for lib in _RUNTIME_LOADED.get(platform, [])
            if lib not in missing and not _loadable(lib)
        ]
    return missing


def package_manager() -> str | None:
    return next(
        (name for name, command in _MANAGER_COMMANDS.items() if shutil.which(command)), None
    )


def install_command(libraries: list[str], manager: str | None) -> str:
    """The command that installs `libraries`, or, without a known package manager, the apt and
    dnf commands both."""
    managers = [manager] if manager in _INSTALL else ["apt", "dnf"]
    commands = []
    for name in managers:
        packages = list(
            dict.fromkeys(SYSTEM_PACKAGES[lib][name] for lib in libraries if lib in SYSTEM_PACKAGES)
        )
        if packages:
            commands.append(f"{_INSTALL[name]} {' '.join(packages)}")
    return " (or) ".join(commands)


def explain(result: ProbeResult, env: dict[str, str] | None = None) -> str:
    """One line: why the window cannot start, and what to do about it."""
    environment = os.environ if env is None else env
    platform = result.platform or "default"
    plugin = platform_plugin(result.platform) if result.platform else None
    missing = missing_libraries(plugin, result.platform) if plugin is not None else []
    if missing:
        command = install_command(missing, package_manager())
        fix = (
            f"; install them with: {command}"
            if command
            else "; install the packages that provide them"
        )
        return (
            f"the desktop window cannot start: Qt's '{platform}' platform needs "
            f"{', '.join(missing)}, which this machine lacks{fix}"
        )
    no_display = not environment.get("DISPLAY") and not environment.get("WAYLAND_DISPLAY")
    if (
        no_display
        and sys.platform.startswith("linux")
        and platform in ("xcb", "wayland", "default")
    ):
        return (
            "the desktop window cannot start: there is no display (neither DISPLAY nor "
            "WAYLAND_DISPLAY is set); start it from a desktop session, or use the subcommands "
            "without a window (scrubline --help)"
        )
    qt_says = next(
        (line.split(": ", 1)[-1] for line in result.messages if line.startswith("qt.")), ""
    )
    qt_says = qt_says or next(iter(result.messages), "no message")
    return f"the desktop window cannot start: Qt's '{platform}' platform failed: {qt_says}"


def gui_start_problem(timeout_s: float = 60.0) -> str | None:
    """None when the window can start here, else the one-line reason with its fix. A probe that
    only ran out of time says nothing: a slow start is not a failed one."""
    result = probe_platform(timeout_s)
    if result.ok or result.timed_out:
        return None
    return explain(result)
