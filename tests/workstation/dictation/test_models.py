"""Model discovery, install (zip/tar, sha256, structure, atomic) and the ``readroom model`` CLI."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from workstation.cli import main
from workstation.dictation.models import (
    DEFAULT_MODEL_NAME,
    ENV_MODEL,
    ModelError,
    ModelNotFoundError,
    install_model,
    list_models,
    models_dir,
    resolve_model_path,
)

MODEL_FILES = {"am/final.mdl": b"am", "conf/model.conf": b"conf", "graph/HCLr.fst": b"graph"}


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(ENV_MODEL, raising=False)
    return tmp_path / "data"


def make_zip(path: Path, files: dict[str, bytes], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(prefix + name, data)
    return path


def make_tar(path: Path, files: dict[str, bytes], prefix: str = "") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_models_live_in_the_user_data_dir(data_home) -> None:
    assert models_dir() == data_home / "readroom" / "models"


@pytest.mark.parametrize("maker", [make_zip, make_tar])
def test_install_archive_with_a_top_level_folder(tmp_path, maker) -> None:
    archive = maker(
        tmp_path / ("m.zip" if maker is make_zip else "m.tar.gz"), MODEL_FILES, "vosk-model-x/"
    )
    path = install_model(str(archive))
    assert path == models_dir() / "vosk-model-x"
    assert (path / "am" / "final.mdl").read_bytes() == b"am"
    assert [m.name for m in list_models()] == ["vosk-model-x"]
    assert [p.name for p in models_dir().iterdir()] == ["vosk-model-x"]  # no temp left


def test_install_flat_archive_takes_the_archive_name(tmp_path) -> None:
    path = install_model(str(make_tar(tmp_path / "vosk-model-flat.tar.gz", MODEL_FILES)))
    assert path.name == "vosk-model-flat"


def test_sha256_is_checked_before_unpacking(tmp_path) -> None:
    archive = make_zip(tmp_path / "m.zip", MODEL_FILES, "m/")
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ModelError, match="sha256 mismatch"):
        install_model(str(archive), sha256="0" * 64)
    assert list(models_dir().iterdir()) == []
    assert install_model(str(archive), sha256=good.upper()).name == "m"


def test_not_a_model(tmp_path) -> None:
    archive = make_zip(tmp_path / "m.zip", {"am/x": b"", "README": b""}, "m/")
    with pytest.raises(ModelError, match=r"expected am/, conf/ and graph/"):
        install_model(str(archive))
    assert list(models_dir().iterdir()) == []


def test_not_an_archive_and_missing_file(tmp_path) -> None:
    bogus = tmp_path / "m.zip"
    bogus.write_bytes(b"hello")
    with pytest.raises(ModelError, match="neither a zip nor a tar"):
        install_model(str(bogus))
    with pytest.raises(ModelError, match="no such archive"):
        install_model(str(tmp_path / "nope.zip"))


def test_path_traversal_is_refused(tmp_path) -> None:
    with pytest.raises(ModelError, match="unsafe"):
        install_model(str(make_zip(tmp_path / "m.zip", {**MODEL_FILES, "../evil": b"x"})))
    with pytest.raises(ModelError, match="unsafe"):
        install_model(str(make_tar(tmp_path / "m.tar.gz", {**MODEL_FILES, "../evil": b"x"})))
    assert not (tmp_path / "evil").exists()


def test_reinstall_needs_force(tmp_path) -> None:
    archive = make_zip(tmp_path / "m.zip", MODEL_FILES, "m/")
    install_model(str(archive))
    with pytest.raises(ModelError, match="already installed"):
        install_model(str(archive))
    assert install_model(str(archive), force=True).name == "m"


def test_resolve_order(tmp_path, monkeypatch) -> None:
    with pytest.raises(ModelNotFoundError, match="readroom model install https://"):
        resolve_model_path()
    default = install_model(
        str(make_zip(tmp_path / "a.zip", MODEL_FILES, f"{DEFAULT_MODEL_NAME}/"))
    )
    other = install_model(str(make_zip(tmp_path / "b.zip", MODEL_FILES, "aaa-model/")))
    assert resolve_model_path() == default
    assert resolve_model_path(name="aaa-model") == other
    assert resolve_model_path(configured=other) == other
    monkeypatch.setenv(ENV_MODEL, str(default))
    assert resolve_model_path(configured=other) == default
    monkeypatch.setenv(ENV_MODEL, str(tmp_path))
    with pytest.raises(ModelNotFoundError, match=f"missing am/.*from {ENV_MODEL}"):
        resolve_model_path()


# --- CLI ----------------------------------------------------------------------


def test_cli_install_and_list(tmp_path, capsys) -> None:
    archive = make_zip(tmp_path / "m.zip", MODEL_FILES, "vosk-model-cli/")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert main(["model", "install", str(archive), "--sha256", digest]) == 0
    out, err = capsys.readouterr()
    assert "installed vosk-model-cli" in out
    assert "100%" in err  # progress bar on stderr
    assert main(["model", "list"]) == 0
    assert "vosk-model-cli" in capsys.readouterr().out


def test_cli_list_when_empty_says_how_to_install(capsys) -> None:
    assert main(["model", "list"]) == 0
    assert "readroom model install https://" in capsys.readouterr().out


def test_cli_failure_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    archive = make_zip(tmp_path / "m.zip", MODEL_FILES, "m/")
    assert main(["model", "install", str(archive), "--sha256", "ab" * 32]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("readroom: sha256 mismatch")
    assert main(["model"]) == 2


@pytest.fixture
def http_folder(tmp_path):
    """A local HTTP server over ``tmp_path/www`` (the download path, without the internet)."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_install_from_url_streams_with_progress(http_folder) -> None:
    root, base = http_folder
    archive = make_zip(root / "vosk-model-web.zip", MODEL_FILES, "vosk-model-web/")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    seen: list[tuple[int, int | None]] = []
    path = install_model(
        f"{base}/vosk-model-web.zip", sha256=digest, progress=lambda d, t: seen.append((d, t))
    )
    assert path.name == "vosk-model-web"
    assert seen[-1] == (archive.stat().st_size, archive.stat().st_size)
    with pytest.raises(ModelError, match="cannot download"):
        install_model(f"{base}/missing.zip")
