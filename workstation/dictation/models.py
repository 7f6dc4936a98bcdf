"""Vosk model discovery, loading and installation.

A model is a directory with ``am/``, ``conf/`` and ``graph/``. It is found, in
order, at ``READROOM_VOSK_MODEL``, the configured path, or
``user_data_dir("readroom")/models/<name>``. Installing unpacks a zip or tar
archive (local file or http(s) URL) into a temporary directory beside the
models and renames it into place, so a half-installed model never exists.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from platformdirs import user_data_dir

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_URL",
    "ENV_MODEL",
    "InstalledModel",
    "ModelError",
    "ModelNotFoundError",
    "cached_model",
    "check_model_dir",
    "install_model",
    "list_models",
    "load_model",
    "models_dir",
    "resolve_model_path",
]

ENV_MODEL = "READROOM_VOSK_MODEL"
DEFAULT_MODEL_NAME = "vosk-model-small-en-us-0.15"
DEFAULT_MODEL_URL = f"https://alphacephei.com/vosk/models/{DEFAULT_MODEL_NAME}.zip"
REQUIRED_DIRS = ("am", "conf", "graph")
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip")
CHUNK = 1 << 20

#: progress(done_bytes, total_bytes or None)
Progress = Callable[[int, int | None], None]


class ModelError(Exception):
    """A model cannot be installed or loaded; the message says what to do."""


class ModelNotFoundError(ModelError):
    """No model is installed or configured."""


INSTALL_HINT = (
    f"install one with: readroom model install {DEFAULT_MODEL_URL} "
    f"(or set {ENV_MODEL} to a Vosk model directory)"
)


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """A model directory under :func:`models_dir`."""

    name: str
    path: Path
    size_bytes: int


def models_dir() -> Path:
    """Where ``readroom model install`` puts models."""
    return Path(user_data_dir("readroom")) / "models"


def check_model_dir(path: Path) -> None:
    """Raise :class:`ModelError` unless ``path`` looks like a Vosk model."""
    if not path.is_dir():
        raise ModelError(f"{path} is not a directory")
    missing = [name for name in REQUIRED_DIRS if not (path / name).is_dir()]
    if missing:
        raise ModelError(
            f"{path} is not a Vosk model: missing {', '.join(f'{m}/' for m in missing)}"
        )


def _is_model(path: Path) -> bool:
    return all((path / name).is_dir() for name in REQUIRED_DIRS)


def list_models(root: Path | None = None) -> list[InstalledModel]:
    """Installed models, by name."""
    root = root or models_dir()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and _is_model(path):
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            found.append(InstalledModel(path.name, path, size))
    return found


def resolve_model_path(configured: str | Path | None = None, name: str | None = None) -> Path:
    """The model to load: ``READROOM_VOSK_MODEL``, then ``configured``, then the data directory."""
    for origin, value in ((ENV_MODEL, os.environ.get(ENV_MODEL)), ("config", configured)):
        if value:
            path = Path(value).expanduser()
            try:
                check_model_dir(path)
            except ModelError as error:
                raise ModelNotFoundError(f"{error} (from {origin}); {INSTALL_HINT}") from None
            return path
    installed = list_models()
    wanted = name or DEFAULT_MODEL_NAME
    for model in installed:
        if model.name == wanted:
            return model.path
    if installed and name is None:
        return installed[0].path
    raise ModelNotFoundError(f"no Vosk speech model {wanted!r} in {models_dir()}; {INSTALL_HINT}")


@functools.lru_cache(maxsize=2)
def cached_model(path: Path) -> Any:
    """:func:`load_model`, once per process and path (a model takes ~500 MB)."""
    return load_model(path)


def load_model(path: Path) -> Any:
    """Load a ``vosk.Model`` quietly (Vosk logs to stderr, where Textual draws)."""
    check_model_dir(path)
    import vosk

    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(str(path))
    except Exception as error:
        raise ModelError(f"cannot load the Vosk model at {path}: {error}") from None


# --- install -----------------------------------------------------------------


def _archive_name(source: str) -> str:
    name = PurePosixPath(source.split("?", 1)[0]).name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _download(url: str, target: Path, progress: Progress | None) -> None:
    import httpx

    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=30.0) as response:
            response.raise_for_status()
            total = (
                int(response.headers["content-length"])
                if "content-length" in response.headers
                else None
            )
            done = 0
            with target.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    except httpx.HTTPError as error:
        raise ModelError(f"cannot download {url}: {error}") from None


def _sha256(path: Path, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def _unpack(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            bad = [n for n in zf.namelist() if not _safe_member(n)]
            if bad:
                raise ModelError(f"unsafe path in archive: {bad[0]}")
            zf.extractall(into)  # noqa: S202 - every member name checked above
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            try:
                tf.extractall(into, filter="data")
            except tarfile.FilterError as error:
                raise ModelError(f"unsafe entry in archive: {error}") from None
        return
    raise ModelError(f"{archive.name} is neither a zip nor a tar archive")


def _model_root(unpacked: Path) -> Path:
    if _is_model(unpacked):
        return unpacked
    entries = [p for p in unpacked.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir() and _is_model(entries[0]):
        return entries[0]
    raise ModelError(
        "the archive is not a Vosk model: expected am/, conf/ and graph/ (optionally in one folder)"
    )


def install_model(
    source: str,
    *,
    sha256: str | None = None,
    name: str | None = None,
    root: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Verify and unpack a model archive (path or http(s) URL) into ``root``; returns its path."""
    root = root or models_dir()
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".install-", dir=root))
    try:
        if source.startswith(("http://", "https://")):
            archive = work / "download"
            _download(source, archive, progress)
        else:
            archive = Path(source).expanduser()
            if not archive.is_file():
                raise ModelError(f"no such archive: {source}")
        if sha256 is not None:
            actual = _sha256(archive, None if archive.parent == work else progress)
            if actual.lower() != sha256.strip().lower():
                raise ModelError(
                    f"sha256 mismatch: expected {sha256.strip().lower()}, got {actual}"
                )
        unpacked = work / "unpacked"
        unpacked.mkdir()
        _unpack(archive, unpacked)
        model_root = _model_root(unpacked)
        final_name = name or (model_root.name if model_root != unpacked else _archive_name(source))
        if not final_name or final_name.startswith(".") or "/" in final_name:
            raise ModelError(f"invalid model name: {final_name!r}")
        target = root / final_name
        if target.exists():
            if not force:
                raise ModelError(
                    f"model {final_name!r} is already installed at {target} (use --force)"
                )
            retired = work / "previous"
            target.rename(retired)
        model_root.rename(target)  # atomic within one file system
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def timed_load(path: Path) -> tuple[Any, float]:
    """Load a model and return it with the seconds it took (benchmarks)."""
    started = time.perf_counter()
    model = load_model(path)
    return model, time.perf_counter() - started
