"""Sign-in: good, wrong password, locked account, unreachable server, remembered token, expiry."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input, Label

from tests.workstation.fakes import (
    PASSWORD,
    TOTP,
    FakeServer,
    case_json,
    fake_services,
    settings_for,
    settle,
    worklist_server,
)
from workstation.app import make_app
from workstation.screens.login import LoginScreen
from workstation.screens.reading import ReadingScreen
from workstation.screens.worklist import WorklistScreen

pytestmark = pytest.mark.anyio
SIZE = (160, 50)


async def _fill(pilot, username: str = "drsmith", password: str = PASSWORD, code: str = TOTP):
    screen = pilot.app.screen
    assert isinstance(screen, LoginScreen)
    screen.query_one("#username", Input).value = username
    screen.query_one("#password", Input).value = password
    screen.query_one("#totp", Input).value = code
    await pilot.click("#sign-in")
    await settle(pilot)


def _message(app) -> str:
    return str(app.screen.query_one("#message", Label).render())


async def test_good_login_opens_the_worklist(tmp_path: Path) -> None:
    server = FakeServer()
    services = fake_services(server)
    app = make_app(settings_for(tmp_path), services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        await _fill(pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert services.client.token in server.tokens
        assert services.tokens.load("http://readroom.test") is None  # not remembered


async def test_wrong_password_is_shown_inline(tmp_path: Path) -> None:
    app = make_app(settings_for(tmp_path), fake_services(FakeServer()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _fill(pilot, password="wrong")
        assert isinstance(app.screen, LoginScreen)
        assert "Wrong username, password or code" in _message(app)


async def test_locked_account_is_shown_inline(tmp_path: Path) -> None:
    app = make_app(settings_for(tmp_path), fake_services(FakeServer(locked={"drsmith"})))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _fill(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert "Too many failed sign-ins" in _message(app)


async def test_unreachable_server_is_shown_inline(tmp_path: Path) -> None:
    app = make_app(settings_for(tmp_path), fake_services(FakeServer(down=True)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _fill(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert "Cannot reach the server" in _message(app)


async def test_remembered_token_skips_login(tmp_path: Path) -> None:
    server = FakeServer()
    services = fake_services(server)
    app = make_app(settings_for(tmp_path), services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.query_one("#remember", Checkbox).value = True
        await _fill(pilot)
        assert services.tokens.load("http://readroom.test") in server.tokens

    again = make_app(settings_for(tmp_path), fake_services(server))
    again.services.tokens = services.tokens
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(again.screen, WorklistScreen)


async def test_expired_saved_token_asks_to_sign_in(tmp_path: Path) -> None:
    services = fake_services(FakeServer())
    services.tokens.save("http://readroom.test", "stale")
    app = make_app(settings_for(tmp_path), services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert "expired" in _message(app)
        assert services.tokens.load("http://readroom.test") is None


async def test_token_from_settings_skips_login(tmp_path: Path) -> None:
    server = FakeServer()
    token = server.issue_token()
    app = make_app(settings_for(tmp_path, token=token), fake_services(server))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)


async def test_expiry_mid_session_signs_in_again_over_the_screen(tmp_path: Path) -> None:
    server = FakeServer()
    token = server.issue_token()
    app = make_app(settings_for(tmp_path, token=token), fake_services(server))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        worklist = app.screen
        assert isinstance(worklist, WorklistScreen)
        server.expire_all()
        server.cases.append(case_json("RR-AAAA0001"))
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert "session has ended" in _message(app)
        await _fill(pilot)
        await settle(pilot)
        assert app.screen is worklist  # the same screen, not a new one
        assert [c.id for c in worklist.table.cases] == ["RR-AAAA0001"]  # the poll was retried


async def test_expiry_while_reading_keeps_the_case_open(tmp_path: Path) -> None:
    server = worklist_server()
    token = server.issue_token()
    app = make_app(settings_for(tmp_path, token=token), fake_services(server))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        reading = app.screen
        assert isinstance(reading, ReadingScreen)
        await pilot.press("home", "down", "down", "l")
        server.expire_all()
        reading._heartbeat()  # what the heartbeat timer does
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        await _fill(pilot)
        assert app.screen is reading
        assert reading.viewport.slice_index == 2
        assert reading.viewport.window.name == "Lung"
        heartbeats = [c for c in server.calls if c.endswith("/heartbeat")]
        assert len(heartbeats) == 2  # the failed one, then the retry
