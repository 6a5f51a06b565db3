"""Locating, verifying and loading registered artifacts, and the one cache of loaded models.

Why verification is here and not only in :mod:`candor.registry.artifact`: the registry records the
manifest's SHA-256 when a version is registered, and every later read (validate, compare, load)
pins the artifact to that hash, so an artifact edited in ``mlartifacts`` after registration — or
swapped on a tracking server — is refused before anything is unpickled.

Functions take the MLflow client and the download folder, not the :class:`Registry`, so this
module sits below it (no import cycle).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from candor.data.datasets import dataset_for
from candor.errors import RegistryError
from candor.registry.artifact import MANIFEST_FILE, CandorModel, load_model, sha256_file, verify_artifact
from candor.registry.common import MANIFEST_SHA
from candor.records.manifest import Manifest


def local_path(source: str) -> Path | None:
    """The filesystem path of a ``file://`` or plain-path artifact source, else None."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and source[1:3] in (":\\", ":/")):
        return Path(source)
    return None


def check_logged_copy(source: str, manifest_sha256: str) -> None:
    """Refuse to register when the run's logged model is missing or differs from the artifact."""
    path = local_path(source)
    if path is None:
        return  # remote artifact store: verified on every download instead
    manifest = path / MANIFEST_FILE
    if not manifest.exists():
        raise RegistryError(f"the run has no logged model at {source}; log it with "
                            "candor.registry.tracking.log_training.")
    if sha256_file(manifest) != manifest_sha256:
        raise RegistryError(f"the run's logged model at {source} differs from the artifact being registered.")


def artifact_path(client: Any, mv: Any, download_dir: Path | None = None) -> Path:
    """Where the version's artifact is on disk: in place for a local store, else downloaded."""
    path = local_path(mv.source)
    if path is not None:
        if not path.exists():
            raise RegistryError(f"artifact of {mv.name} version {mv.version} is missing at {path}.")
        return path
    base = download_dir or Path(tempfile.mkdtemp(prefix="candor-model-"))
    target = base / mv.name / str(mv.version)
    target.mkdir(parents=True, exist_ok=True)
    return Path(client.download_artifacts(mv.run_id, "model", str(target)))


def expected_sha(mv: Any) -> str:
    """The manifest SHA-256 recorded at registration; a version without one is refused."""
    sha = mv.tags.get(MANIFEST_SHA)
    if not sha:
        raise RegistryError(f"{mv.name} version {mv.version} has no {MANIFEST_SHA} tag; it was not registered "
                            "by candor and cannot be verified — refusing to load it.")
    return str(sha)


def verified_manifest(client: Any, mv: Any, download_dir: Path | None = None) -> Manifest:
    """The version's manifest after checking every file against the hash recorded at registration."""
    return verify_artifact(artifact_path(client, mv, download_dir), expected_sha(mv))


class ModelCache:
    """Verified models by (name, version, manifest SHA-256): one per registry, shared by threads.

    Why keyed by the hash too: a version number alone could be re-created with other contents on
    a reset tracking store; the recorded hash pins what was verified. A long-running scheduler or
    web service then pays the hash check and the unpickling once per version, not per request.
    """

    def __init__(self) -> None:
        self._models: dict[tuple[str, str, str], CandorModel] = {}
        self._lock = threading.Lock()

    def load(self, client: Any, mv: Any, download_dir: Path | None = None, *, lazy: bool = False) -> CandorModel:
        """The verified model of ``mv``, from the cache or hash-checked and unpickled now (``lazy``:
        on the first use of its estimator, :func:`~candor.registry.artifact.load_model`)."""
        key = (str(mv.name), str(mv.version), expected_sha(mv))
        with self._lock:
            model = self._models.get(key)
        if model is None:
            model = load_model(artifact_path(client, mv, download_dir), key[2], lazy=lazy)
            with self._lock:
                model = self._models.setdefault(key, model)
        return model

    def manifest(self, client: Any, mv: Any, download_dir: Path | None = None) -> Manifest:
        """``mv``'s verified manifest: the cached model's when it is loaded (verified then, under the
        same recorded hash), else checked now."""
        with self._lock:
            model = self._models.get((str(mv.name), str(mv.version), expected_sha(mv)))
        return model.manifest if model is not None else verified_manifest(client, mv, download_dir)

    def __len__(self) -> int:
        return len(self._models)


def train_hint(symbol: str, timeframe: str, horizon: int | None = None) -> str:
    """The retraining command for a series: ``--dataset NAME`` when it is an embedded dataset."""
    name = dataset_for(symbol, timeframe)
    source = f"--dataset {name}" if name else f"--data PATH --symbol {symbol} --timeframe {timeframe}"
    return f"candor train {source}{'' if horizon is None else f' --horizon {horizon}'} --promote"
