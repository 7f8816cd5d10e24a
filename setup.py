"""Build hook: the wheel carries the bundled models, fonts and phase templates inside the package
(`scrubline/_bundled/`), where `importlib.resources` finds them under every install layout
(`pip install`, `--user`, `--target`, a distribution's system pip).

They stay at the top of the checkout (`models/`, `resources/`), where an editable install reads
them directly; so the copy is made only when a wheel is built, not in editable mode. Everything
else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# Folder in the checkout (and in the sdist) -> the file patterns the installed app reads from it.
BUNDLED = {
    "models": ["*.onnx", "*.toml", "*.md"],
    "models/tip-rules": ["*.toml"],
    "resources/phases": ["*.toml", "*.md"],
    "resources/fonts": ["*.ttf", "*.txt"],
    "resources/icons": ["*.svg", "*.png", "*.ico", "*.icns"],
}


class BuildPyWithBundledData(build_py):
    """build_py that also copies the bundled data into `scrubline/_bundled/` of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        for folder, patterns in BUNDLED.items():
            sources = sorted(
                {path for pattern in patterns for path in (root / folder).glob(pattern)}
            )
            if not sources:
                raise SystemExit(f"error: {folder}/ has no {', '.join(patterns)} to bundle")
            target = Path(self.build_lib, "scrubline", "_bundled", folder)
            self.mkpath(str(target))
            for source in sources:
                self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildPyWithBundledData})
