"""The model registry: every manifest in the bundled models folder, with a user's folder merged
over it (a user model with the same id replaces the bundled one).

A user's model that cannot be used (a manifest that fails validation, or one whose ONNX file is
missing) is skipped and listed in `Registry.problems`, which every command prints as a warning
naming the file and the field: one bad file in a user's folder must not stop the bundled models
from working. A bad *bundled* manifest is a broken installation, not a user's mistake, and is
raised as `ManifestError` so that it is fixed rather than worked around."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from scrubline.core.models.manifest import Manifest, ManifestError, load_manifest
from scrubline.core.paths import bundled_dir

log = logging.getLogger("scrubline.models")

USER_MODELS_ENV = "SCRUBLINE_MODELS"


def bundled_models_dir() -> Path:
    return bundled_dir("models")


@dataclass
class Registry:
    manifests: dict[str, Manifest] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # user models skipped, with the reason

    def by_task(self, task: str) -> list[Manifest]:
        return [m for m in self.manifests.values() if m.task == task]

    def get(self, model_id: str) -> Manifest:
        try:
            return self.manifests[model_id]
        except KeyError:
            known = ", ".join(sorted(self.manifests)) or "none"
            raise KeyError(f"no model with id '{model_id}' (known: {known})") from None

    def frame_models(self) -> list[Manifest]:
        """The image models the analysis runs by default: all but sequence and phase models
        (they read the analysis's results, not frames), and a model that another declares it
        supersedes is left out."""
        chosen = [m for m in self.manifests.values() if m.task not in ("sequence", "phase")]
        superseded = {s for m in chosen for s in m.extra.get("supersedes", [])}
        return [m for m in chosen if m.id not in superseded]


def _checked(path: Path) -> Manifest:
    manifest = load_manifest(path)
    if not manifest.file.exists():
        raise ManifestError(
            f"{path}: field 'file': {manifest.file.name} does not exist beside the manifest"
        )
    if not manifest.file.is_file():
        raise ManifestError(
            f"{path}: field 'file': {manifest.file.name} is a folder, not an ONNX file"
        )
    return manifest


def scan(folder: Path, into: Registry, *, bundled: bool = False) -> None:
    """Add every manifest in `folder`; a bad one is skipped with a problem listed, or raised
    when the folder is the bundled one."""
    if not folder.is_dir():
        if bundled:
            raise ManifestError(
                f"{folder}: the bundled models folder is missing (reinstall Scrubline)"
            )
        into.problems.append(f"{folder}: models folder does not exist")
        return
    seen_here: dict[str, Path] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            manifest = _checked(path)
        except ManifestError as exc:
            if bundled:
                raise ManifestError(f"bundled model broken (reinstall Scrubline): {exc}") from None
            into.problems.append(f"{exc}; model skipped")
            continue
        if manifest.id in seen_here:
            # Two manifests in one folder with one id: which one runs would hang on file names.
            other = seen_here[manifest.id].name
            problem = f"{path}: field 'id': '{manifest.id}' is also the id of {other}"
            if bundled:
                raise ManifestError(f"bundled model broken (reinstall Scrubline): {problem}")
            into.problems.append(f"{problem}; model skipped")
            continue
        seen_here[manifest.id] = path
        if manifest.id in into.manifests:
            log.info(
                "model '%s' from %s replaces %s",
                manifest.id,
                path,
                into.manifests[manifest.id].source,
            )
        into.manifests[manifest.id] = manifest


def load_registry(user_dirs: list[Path] | None = None, include_bundled: bool = True) -> Registry:
    registry = Registry()
    if include_bundled:
        scan(bundled_models_dir(), registry, bundled=True)
    dirs = list(user_dirs or [])
    env = os.environ.get(USER_MODELS_ENV)
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    for folder in dirs:
        scan(folder, registry)
    return registry
