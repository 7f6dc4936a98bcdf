"""SVG snapshots of the worklist and the reading screen (synthetic patients, fixed clock and size).

Update after a deliberate visual change with ``pytest --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

from tests.workstation.fakes import fake_services, settings_for, settle, worklist_server
from workstation.app import make_app
from workstation.screens.reading import ReadingScreen

SIZE = (160, 50)


def _app(tmp_path: Path, **settings):
    server = worklist_server()
    services = fake_services(server, token=server.issue_token())
    return make_app(settings_for(tmp_path, token=services.client.token, **settings), services)


def test_worklist(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=settle)


def test_worklist_light_theme(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(_app(tmp_path, theme="light"), terminal_size=SIZE, run_before=settle)


def test_reading_screen(snap_compare, tmp_path: Path) -> None:
    async def open_case(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, ReadingScreen)
        pilot.app.services.volumes.wait_idle()
        screen._collect_thumbnails()  # what the 1 s timer would do
        await pilot.press("l")
        await settle(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=open_case)


def test_login(snap_compare, tmp_path: Path) -> None:
    server = worklist_server()
    app = make_app(settings_for(tmp_path), fake_services(server))

    async def typed(pilot) -> None:
        await pilot.pause()
        await pilot.press(*"drsmith")

    assert snap_compare(app, terminal_size=SIZE, run_before=typed)
