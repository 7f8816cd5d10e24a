"""What is published: the sdist carries the tests and their fixtures and the licence; the wheel
carries the bundled models, fonts and phase templates as package data, so that every install
layout (`pip install --user`, `--target`) finds them, not only a virtual environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Building the sdist and the wheel sets up two isolated build environments (about a minute here,
# several on a loaded machine); the module-scoped fixture's time counts against the first test.
BUILD_TIMEOUT_S = 900
BUNDLED_MODEL_IDS = sorted(p.stem for p in (ROOT / "models").glob("*.toml"))


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from it (what `python -m build` and pip from PyPI do)."""
    pytest.importorskip("build", reason="the `build` package (dev extra) builds the distributions")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {
        "sdist": next(out.glob("scrubline-*.tar.gz")),
        "wheel": next(out.glob("scrubline-*.whl")),
    }


@pytest.mark.timeout(BUILD_TIMEOUT_S)
def test_sdist_holds_the_tests_their_fixtures_and_the_licence(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")}
    expected |= {
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "setup.py",
        "resources/fonts/LICENSE-DejaVu.txt",
    }
    expected |= {f"models/{i}.{ext}" for i in BUNDLED_MODEL_IDS for ext in ("toml", "onnx", "md")}
    assert expected <= names, sorted(expected - names)
    assert not [
        n for n in names if "__pycache__" in n or n.startswith(("resources/screenshots", ".venv"))
    ]


@pytest.mark.timeout(BUILD_TIMEOUT_S)
def test_wheel_carries_the_bundled_data_and_licences(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    bundled = "scrubline/_bundled/"
    assert {
        f"{bundled}models/{i}.{ext}" for i in BUNDLED_MODEL_IDS for ext in ("toml", "onnx", "md")
    } <= names
    assert {
        f"{bundled}resources/phases/{p.name}"
        for p in (ROOT / "resources" / "phases").glob("*.toml")
    } <= names
    assert {
        f"{bundled}resources/fonts/{p.name}" for p in (ROOT / "resources" / "fonts").glob("*.ttf")
    } <= names
    assert {
        f"{bundled}resources/icons/{p.name}" for p in (ROOT / "resources" / "icons").iterdir()
    } <= names
    assert not [
        n for n in names if n.startswith(("tests/", "models/", "resources/")) or "screenshots" in n
    ]
    assert (
        "License-Expression: Apache-2.0 AND CC-BY-NC-4.0 AND CC-BY-NC-SA-4.0 AND Bitstream-Vera"
        in metadata
    )
    assert "License-File: LICENSE" in metadata


def dependencies_without_scrubline(tmp_path: Path) -> Path:
    """This environment's installed packages minus scrubline itself, as one folder for
    PYTHONPATH: the installs under test get their dependencies from it but their scrubline only
    from where they put it."""
    farm = tmp_path / "deps"
    farm.mkdir()
    for site in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]):
        for entry in Path(site).iterdir():
            if "scrubline" not in entry.name.lower() and not (farm / entry.name).exists():
                (farm / entry.name).symlink_to(entry)
    return farm


def base_python() -> str:
    """The interpreter this environment was made from: `--user` installs are invisible in a venv."""
    return getattr(sys, "_base_executable", sys.executable)


def run_installed(
    python: str, env: dict[str, str], cwd: Path
) -> tuple[dict[str, str], list[dict[str, str]]]:
    where = subprocess.run(
        [
            python,
            "-c",
            "import json, scrubline; from scrubline.core.paths import bundled_dir, resources_dir; "
            "print(json.dumps({'package': scrubline.__file__, 'models': "
            "str(bundled_dir('models')), 'fonts': sorted(p.name for p in (resources_dir() / "
            "'fonts').glob('*.ttf')), 'phases': sorted(p.name for p in (resources_dir() / "
            "'phases').glob('*.toml')), 'icons': sorted(p.name for p in (resources_dir() / "
            "'icons').iterdir())}))",
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert where.returncode == 0, where.stderr
    models = subprocess.run(
        [python, "-m", "scrubline", "models", "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert models.returncode == 0, models.stderr
    return json.loads(where.stdout), json.loads(models.stdout)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "SCRUBLINE_MODELS", "PIP_"))
    }
    env.update(extra)
    return env


def assert_finds_its_bundled_data(
    found: dict[str, str], rows: list[dict[str, str]], install_root: Path
) -> None:
    assert Path(found["package"]).resolve().is_relative_to(install_root.resolve()), found["package"]
    assert Path(found["models"]).resolve().is_relative_to(install_root.resolve()), found["models"]
    assert sorted(r["id"] for r in rows) == BUNDLED_MODEL_IDS
    assert all(Path(r["source"]).resolve().is_relative_to(install_root.resolve()) for r in rows)
    assert found["fonts"] == sorted(p.name for p in (ROOT / "resources" / "fonts").glob("*.ttf"))
    assert found["phases"] == sorted(p.name for p in (ROOT / "resources" / "phases").glob("*.toml"))
    assert found["icons"] == sorted(p.name for p in (ROOT / "resources" / "icons").iterdir())


@pytest.mark.timeout(BUILD_TIMEOUT_S)
@pytest.mark.skipif(os.name != "posix", reason="the dependency folder is made of symbolic links")
def test_user_install_finds_its_models(dists: dict[str, Path], tmp_path: Path) -> None:
    user_base = tmp_path / "userbase"
    python = base_python()
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--user",
            "--no-deps",
            "--no-warn-script-location",
            str(dists["wheel"]),
        ],
        env=clean_env(PYTHONUSERBASE=str(user_base)),
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0 and "No module named pip" in install.stderr:
        pytest.skip(f"{python} has no pip")
    assert install.returncode == 0, install.stderr
    env = clean_env(
        PYTHONUSERBASE=str(user_base), PYTHONPATH=str(dependencies_without_scrubline(tmp_path))
    )
    found, rows = run_installed(python, env, tmp_path)
    assert_finds_its_bundled_data(found, rows, user_base)


@pytest.mark.timeout(BUILD_TIMEOUT_S)
@pytest.mark.skipif(os.name != "posix", reason="the dependency folder is made of symbolic links")
def test_target_install_finds_its_models(dists: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "target"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(dists["wheel"]),
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    env = clean_env(
        PYTHONPATH=os.pathsep.join([str(target), str(dependencies_without_scrubline(tmp_path))])
    )
    found, rows = run_installed(base_python(), env, tmp_path)
    assert_finds_its_bundled_data(found, rows, target)


def spdx_of(licence: str) -> str:
    """The SPDX id a manifest's licence text starts with: "CC BY-NC 4.0 (...)" -> CC-BY-NC-4.0."""
    return licence.split(" (")[0].split(";")[0].strip().replace("CC BY", "CC-BY").replace(" ", "-")


def test_every_bundled_models_licence_is_in_the_metadata_and_the_readme() -> None:
    expression = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "license"
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "models").glob("*.toml")):
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
        assert spdx_of(manifest["licence"]) in expression.split(" AND "), path.name
        assert (
            f"| `models/{manifest['file']}` ({manifest['id']}) | {manifest['licence']} |" in readme
        ), path.name
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
