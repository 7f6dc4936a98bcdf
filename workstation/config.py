"""Workstation settings: a TOML file in the user config directory, then ``READROOM_*`` variables.

Precedence, lowest first: the defaults below, ``config.toml``
(``platformdirs.user_config_dir("readroom")``), then the environment. The file::

    server_url = "https://readroom.example"
    theme = "dark"            # or "light"
    poll_interval = 30        # worklist refresh, seconds
    remember_token = true     # keep the token in the OS keyring between starts

    vosk_model = "~/models/vosk-model-small-en-us-0.15"   # speech model directory
    input_device = "USB"      # microphone: index or (part of) its name; default input if unset
                              # (ctrl+d on the reading screen picks one for the session)
    renderer = "auto"         # the image: "auto" (kitty or sixel graphics when the terminal
                              # answers for them at start-up, else half-blocks), "halfblock",
                              # "kitty" or "sixel" (force one)

    [keys]                    # binding id -> key(s), comma separated
    "reading.preset_lung" = "l"
    "app.toggle_theme" = "f2"

    [commands]                # more voice-command phrases per action (added to the defaults)
    next_field = ["next field", "tab"]

No Textual here: the app reads a :class:`Settings` and nothing else.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir, user_data_dir

from workstation.viewer.graphics import Renderer

__all__ = [
    "APP_NAME",
    "DEFAULT_SERVER_URL",
    "ConfigError",
    "Settings",
    "config_path",
    "load_settings",
]

APP_NAME = "readroom"
DEFAULT_SERVER_URL = "http://127.0.0.1:8750"  # the server's default port
_THEMES = {"dark", "light"}


class ConfigError(ValueError):
    """The config file or an environment variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Everything the workstation is configured with (immutable; tests build their own)."""

    server_url: str = DEFAULT_SERVER_URL
    theme: str = "dark"
    poll_interval: float = 30.0
    heartbeat_interval: float = 60.0
    request_timeout: float = 30.0
    remember_token: bool = False
    cine_fps: float = 8.0
    cache_series: int = 12
    keys: Mapping[str, str] = field(default_factory=dict)
    vosk_model: Path | None = None
    """A Vosk model directory (``READROOM_VOSK_MODEL`` overrides; else the installed one)."""
    input_device: int | str | None = None
    """The microphone: a sounddevice index or (part of) a name; None: the default input."""
    renderer: Renderer = Renderer.AUTO
    """How the viewport draws images: a terminal graphics protocol, or half-blocks."""
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Voice-command phrases per action, added to the defaults (the ``[commands]`` table)."""
    data_dir: Path = field(default_factory=lambda: Path(user_data_dir(APP_NAME)))
    # non-interactive sign-in (``make demo``): a token, or demo credentials
    token: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)

    @property
    def dark(self) -> bool:
        return self.theme != "light"

    def with_server_url(self, url: str) -> Settings:
        return replace(self, server_url=url.rstrip("/"))


def config_path() -> Path:
    """Where the config file lives (``READROOM_CONFIG`` overrides)."""
    override = os.environ.get("READROOM_CONFIG")
    return Path(override) if override else Path(user_config_dir(APP_NAME)) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error


def _as_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _as_float(name: str, value: object, *, minimum: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    return number


_ENV = {
    "READROOM_SERVER_URL": "server_url",
    "READROOM_THEME": "theme",
    "READROOM_POLL_INTERVAL": "poll_interval",
    "READROOM_HEARTBEAT_INTERVAL": "heartbeat_interval",
    "READROOM_REQUEST_TIMEOUT": "request_timeout",
    "READROOM_REMEMBER_TOKEN": "remember_token",
    "READROOM_CINE_FPS": "cine_fps",
    "READROOM_CACHE_SERIES": "cache_series",
    "READROOM_DATA_DIR": "data_dir",
    "READROOM_INPUT_DEVICE": "input_device",
    "READROOM_RENDERER": "renderer",
    "READROOM_TOKEN": "token",
    "READROOM_USERNAME": "username",
    "READROOM_PASSWORD": "password",
    "READROOM_TOTP_SECRET": "totp_secret",
}


def load_settings(
    *, path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from the config file at ``path`` (default :func:`config_path`) and ``environ``."""
    environ = os.environ if environ is None else environ
    raw = _read_toml(path or config_path())
    keys = raw.pop("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError("[keys] must be a table of binding id = key")
    commands = _commands(raw.pop("commands", {}))
    values: dict[str, Any] = {k: v for k, v in raw.items() if k in Settings.__dataclass_fields__}
    unknown = sorted(set(raw) - set(values))
    if unknown:
        raise ConfigError(f"unknown setting(s) in config file: {', '.join(unknown)}")
    for env_name, attr in _ENV.items():
        if environ.get(env_name):
            values[attr] = environ[env_name]
    return _validated(values, {str(k): str(v) for k, v in keys.items()}, commands)


def _commands(table: object) -> dict[str, tuple[str, ...]]:
    """The ``[commands]`` table: action name -> list of phrases (names checked here)."""
    from workstation.dictation.commands import Action

    if not isinstance(table, dict):
        raise ConfigError("[commands] must be a table of action = [phrases]")
    out: dict[str, tuple[str, ...]] = {}
    for name, phrases in table.items():
        if name not in {a.value for a in Action}:
            known = ", ".join(a.value for a in Action)
            raise ConfigError(f"[commands]: unknown action {name!r} (known: {known})")
        if isinstance(phrases, str):
            phrases = [phrases]
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise ConfigError(f"[commands] {name}: expected a list of phrases")
        out[name] = tuple(phrases)
    return out


def _validated(
    values: dict[str, Any],
    keys: dict[str, str],
    commands: dict[str, tuple[str, ...]] | None = None,
) -> Settings:
    out: dict[str, Any] = dict(values)
    out["keys"] = keys
    out["commands"] = commands or {}
    if "server_url" in out:
        url = str(out["server_url"]).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"server_url: expected http(s)://…, got {url!r}")
        out["server_url"] = url
    if "theme" in out:
        out["theme"] = str(out["theme"]).lower()
        if out["theme"] not in _THEMES:
            raise ConfigError(f"theme: expected dark or light, got {out['theme']!r}")
    for name, minimum in (
        ("poll_interval", 2.0),
        ("heartbeat_interval", 5.0),
        ("request_timeout", 1.0),
        ("cine_fps", 1.0),
    ):
        if name in out:
            out[name] = _as_float(name, out[name], minimum=minimum)
    if "cache_series" in out:
        out["cache_series"] = int(_as_float("cache_series", out["cache_series"], minimum=1))
    if "remember_token" in out:
        out["remember_token"] = _as_bool("remember_token", out["remember_token"])
    if "data_dir" in out:
        out["data_dir"] = Path(out["data_dir"]).expanduser()
    if out.get("vosk_model"):
        out["vosk_model"] = Path(str(out["vosk_model"])).expanduser()
    else:
        out.pop("vosk_model", None)
    if "input_device" in out:
        device = out["input_device"]
        if isinstance(device, bool) or not isinstance(device, int | str):
            raise ConfigError(f"input_device: expected an index or a name, got {device!r}")
        text = str(device).strip()
        out["input_device"] = int(text) if text.isdigit() else (text or None)
    if "renderer" in out:
        text = str(out["renderer"]).strip().lower()
        try:
            out["renderer"] = Renderer(text)
        except ValueError:
            known = ", ".join(r.value for r in Renderer)
            raise ConfigError(f"renderer: expected one of {known}, got {text!r}") from None
    return Settings(**out)
