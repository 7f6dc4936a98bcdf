"""The app shell: factory, config keymap, themes, command palette, demo sign-in, sign-out,
the one failure handler, and the ``readroom`` entry point."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from textual.worker import Worker, WorkerFailed

from tests.workstation.fakes import (
    PASSWORD,
    FakeServer,
    fake_services,
    settings_for,
    settle,
    worklist_server,
)
from workstation import cli
from workstation.app import DARK_THEME, LIGHT_THEME, ReadroomApp, make_app
from workstation.screens.login import LoginScreen
from workstation.screens.reading import ReadingScreen
from workstation.screens.worklist import WorklistScreen
from workstation.viewer.presets import WindowPreset

pytestmark = pytest.mark.anyio
SIZE = (160, 50)


def _signed_in_app(tmp_path: Path, **settings) -> ReadroomApp:
    server = worklist_server()
    services = fake_services(server, token=server.issue_token())
    return make_app(settings_for(tmp_path, token=services.client.token, **settings), services)


async def test_theme_from_config_and_toggle(tmp_path: Path) -> None:
    app = _signed_in_app(tmp_path, theme="light")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == LIGHT_THEME
        await pilot.press("f2")
        assert app.theme == DARK_THEME


async def test_keys_remapped_from_config(tmp_path: Path) -> None:
    keys = {"reading.lung": "g", "app.toggle_theme": "f3", "reading.next_series": "j"}
    app = _signed_in_app(tmp_path, keys=keys)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        assert app.theme == LIGHT_THEME
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReadingScreen)
        await pilot.press("g")
        assert screen.viewport.window == WindowPreset.LUNG.window
        await pilot.press("j")
        assert screen.series_index == 2
        shown = {b.binding.key for b in screen.active_bindings.values()}
        assert "g" in shown


async def test_palette_lists_the_screens_bindings(tmp_path: Path) -> None:
    app = _signed_in_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Lung (5, l)" in titles
        assert any(t.startswith("Tags (t)") for t in titles)
        assert any(t.startswith("Sign out") for t in titles)


async def test_demo_credentials_sign_in_without_the_form(tmp_path: Path) -> None:
    secret = pyotp.random_base32()
    server = FakeServer(totp_secret=secret)
    settings = settings_for(tmp_path, username="drsmith", password=PASSWORD, totp_secret=secret)
    app = make_app(settings, fake_services(server))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert app.user is not None
        assert app.user.username == "drsmith"


async def test_sign_out_forgets_the_token(tmp_path: Path) -> None:
    app = _signed_in_app(tmp_path)
    app.services.tokens.save("http://readroom.test", app.services.client.token or "")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert app.services.tokens.load("http://readroom.test") is None
        assert app.services.client.token is None


async def test_unexpected_worker_error_is_a_notification_without_its_text(
    tmp_path: Path,
) -> None:
    app = _signed_in_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def boom() -> None:
            raise ValueError("SYNTHETIC^PATIENT leaked")

        worker: Worker[None] = app.screen.run_worker(boom, thread=True, exit_on_error=False)
        with pytest.raises(WorkerFailed):
            await worker.wait()
        await pilot.pause()
        assert worker.error is not None
        messages = [n.message for n in app._notifications]
        assert "Something went wrong (ValueError)." in messages
        assert not any("SYNTHETIC" in m for m in messages)
        assert app.is_running


def test_cli_without_subcommand_runs_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import workstation.app

    monkeypatch.setattr(workstation.app, "run", lambda: 0)
    assert cli.main([]) == 0


def test_bad_config_is_one_line_and_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workstation.app import run

    (tmp_path / "config.toml").write_text('theme = "pink"\n')
    monkeypatch.setenv("READROOM_CONFIG", str(tmp_path / "config.toml"))
    assert run() == 2
    err = capsys.readouterr().err
    assert err.startswith("readroom: theme")
    assert err.count("\n") == 1


def test_the_heap_is_frozen_after_start_up_but_not_in_headless_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr("workstation.heap.settle", lambda: calls.append("settle"))
    app = _signed_in_app(tmp_path)
    monkeypatch.setattr(ReadroomApp, "is_headless", property(lambda self: True))
    app._freeze_heap()
    assert calls == []
    assert not app.manages_heap
    monkeypatch.setattr(ReadroomApp, "is_headless", property(lambda self: False))
    app._freeze_heap()
    assert calls == ["settle"]
    assert app.manages_heap


def test_heap_settle_collects_then_freezes(monkeypatch: pytest.MonkeyPatch) -> None:
    from workstation import heap

    calls: list[str] = []
    for name in ("unfreeze", "collect", "freeze"):
        monkeypatch.setattr(f"workstation.heap.gc.{name}", lambda n=name: calls.append(n))
    heap.settle()
    heap.freeze_new()
    assert calls == ["unfreeze", "collect", "freeze", "freeze"]


async def test_reading_freezes_frames_and_settles_on_close_when_it_manages_the_heap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr("workstation.heap.settle", lambda: calls.append("settle"))
    monkeypatch.setattr("workstation.heap.freeze_new", lambda: calls.append("freeze_new"))
    app = _signed_in_app(tmp_path)
    monkeypatch.setattr(ReadroomApp, "manages_heap", property(lambda self: True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReadingScreen)
        assert screen.viewport.freeze_frames
        assert "freeze_new" in calls  # the first frame was built
        calls.clear()
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert "settle" in calls
