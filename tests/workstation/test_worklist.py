"""Worklist: rows, time left, sorting (keys and header click), filtering, opening a case."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.workstation.fakes import fake_services, settings_for, settle, worklist_server
from workstation.app import make_app
from workstation.screens.reading import ReadingScreen
from workstation.screens.worklist import WorklistScreen
from workstation.worklist import SortKey

pytestmark = pytest.mark.anyio
SIZE = (160, 50)


async def _started(tmp_path: Path, server=None):
    server = server or worklist_server()
    services = fake_services(server, token=server.issue_token())
    app = make_app(settings_for(tmp_path, token=services.client.token), services)
    return app, server, services


def _ids(screen: WorklistScreen) -> list[str]:
    return [case.id for case in screen.table.visible_cases]


async def test_rows_sorted_by_priority_then_due(tmp_path: Path) -> None:
    app, _, _ = await _started(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorklistScreen)
        assert _ids(screen) == ["RR-0000000B", "RR-0000000C", "RR-0000000A"]
        overdue = screen.table.get_cell_at((0, 1))
        assert str(overdue) == "-3h 00m"
        assert "red" in str(overdue.style)


async def test_sort_by_keys_and_header_click(tmp_path: Path) -> None:
    app, _, _ = await _started(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("8")  # images
        assert screen.table.sort_key is SortKey.IMAGES
        assert _ids(screen) == ["RR-0000000A", "RR-0000000B", "RR-0000000C"]
        await pilot.press("8")  # again: descending
        assert _ids(screen) == ["RR-0000000C", "RR-0000000A", "RR-0000000B"]
        await pilot.press("s")  # cycle to the next column (priority, after images)
        assert screen.table.sort_key is SortKey.PRIORITY
        await pilot.click("#worklist", offset=(31, 0))  # a header cell: body part
        await pilot.pause()
        assert screen.table.sort_key is SortKey.BODY_PART
        assert _ids(screen) == ["RR-0000000B", "RR-0000000A", "RR-0000000C"]


async def test_filter(tmp_path: Path) -> None:
    app, _, _ = await _started(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"liver")
        assert _ids(screen) == ["RR-0000000B"]
        await pilot.press("escape")
        assert len(_ids(screen)) == 3


async def test_enter_opens_the_case_and_prefetches_the_next(tmp_path: Path) -> None:
    app, server, services = await _started(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")  # sort by study: CT ABDOMEN..., CT CHEST..., MR BRAIN
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReadingScreen)
        assert app.screen.case.id == "RR-0000000B"
        assert "POST /cases/RR-0000000B/open" in server.calls
        # the next case on the list (RR-0000000A) is prefetched in the background
        assert services.volumes.wait_idle()
        next_study = server.studies[server.cases[0]["study_instance_uid"]]
        for uid in {str(ds.SeriesInstanceUID) for ds in next_study}:
            assert uid in services.volumes


async def test_case_locked_by_someone_else_is_a_notification(tmp_path: Path) -> None:
    app, server, _ = await _started(tmp_path)
    server.held_by_other.add("RR-0000000B")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert any("another radiologist" in n.message for n in app._notifications)


async def test_server_gone_during_poll_is_one_notification(tmp_path: Path) -> None:
    app, server, _ = await _started(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        server.down = True
        for _ in range(3):
            await pilot.press("r")
            await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert messages.count("Cannot reach the server at http://readroom.test.") == 1
        assert isinstance(app.screen, WorklistScreen)
