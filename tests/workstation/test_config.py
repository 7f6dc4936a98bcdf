"""Settings from the TOML file and READROOM_* variables; the remembered-token stores."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from workstation.config import ConfigError, Settings, load_settings
from workstation.credentials import FileTokenStore


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(path=tmp_path / "missing.toml", environ={})
    assert settings == Settings(data_dir=settings.data_dir)
    assert settings.dark


def test_file_then_environment(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'server_url = "https://readroom.example/"\ntheme = "light"\npoll_interval = 15\n'
        '[keys]\n"reading.lung" = "g"\n',
    )
    settings = load_settings(path=path, environ={"READROOM_POLL_INTERVAL": "45"})
    assert settings.server_url == "https://readroom.example"
    assert not settings.dark
    assert settings.poll_interval == 45.0
    assert settings.keys == {"reading.lung": "g"}
    env = {"READROOM_SERVER_URL": "http://127.0.0.1:9000", "READROOM_TOKEN": "abc"}
    settings = load_settings(path=path, environ=env)
    assert (settings.server_url, settings.token) == ("http://127.0.0.1:9000", "abc")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('server_url = "ftp://x"', "server_url"),
        ('theme = "pink"', "theme"),
        ("poll_interval = 0.1", "poll_interval"),
        ("colour = 1", "unknown setting"),
        ("keys = 3", "[keys]"),
        ('[commands]\nsing_report = ["sing"]', "unknown action 'sing_report'"),
        ("[commands]\nnext_field = 3", "next_field: expected a list"),
        ("input_device = 1.5", "input_device"),
        ('renderer = "ascii"', "renderer: expected one of auto, halfblock, kitty, sixel"),
        ("server_url = ", "config.toml"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(path=_write(tmp_path, text), environ={})


def test_default_server_url_is_the_servers_default_port() -> None:
    from server.config import Settings as ServerSettings

    port = ServerSettings.model_fields["port"].default
    assert Settings().server_url == f"http://127.0.0.1:{port}"


def test_dictation_settings(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'vosk_model = "~/models/en"\ninput_device = 3\n'
        '[commands]\nnext_field = ["onward"]\nsign_report = "sign it"\n',
    )
    settings = load_settings(path=path, environ={})
    assert settings.vosk_model == Path("~/models/en").expanduser()
    assert settings.input_device == 3
    assert settings.commands == {"next_field": ("onward",), "sign_report": ("sign it",)}
    settings = load_settings(path=path, environ={"READROOM_INPUT_DEVICE": "USB mic"})
    assert settings.input_device == "USB mic"
    assert load_settings(path=tmp_path / "none.toml", environ={}).vosk_model is None


def test_password_not_in_repr() -> None:
    assert "hunter2" not in repr(Settings(password="hunter2", totp_secret="SECRET"))


def test_file_token_store_is_private(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "sub" / "token.json")
    assert store.load("http://a") is None
    store.save("http://a", "t1")
    store.save("http://b", "t2")
    assert (store.load("http://a"), store.load("http://b")) == ("t1", "t2")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    store.clear("http://a")
    assert store.load("http://a") is None
    assert store.load("http://b") == "t2"


def test_no_keyring_backend_falls_back_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backends import fail

    from workstation.credentials import default_store

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    store = default_store(tmp_path)
    assert isinstance(store, FileTokenStore)
    assert store.path == tmp_path / "token.json"


def test_renderer(tmp_path: Path) -> None:
    from workstation.viewer.graphics import Renderer

    assert load_settings(path=tmp_path / "none.toml", environ={}).renderer is Renderer.AUTO
    path = _write(tmp_path, 'renderer = "Kitty"\n')
    assert load_settings(path=path, environ={}).renderer is Renderer.KITTY
    settings = load_settings(path=path, environ={"READROOM_RENDERER": "halfblock"})
    assert settings.renderer is Renderer.HALFBLOCK
