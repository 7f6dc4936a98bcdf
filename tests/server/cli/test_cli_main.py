"""``main()``: how a command that fails unexpectedly ends."""

from __future__ import annotations

import argparse

import pytest

from server.cli import main, user
from tests.server.cli.conftest import Cli


def test_an_unexpected_error_is_one_line_naming_only_its_type(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(_args: argparse.Namespace) -> int:
        raise ValueError("health card 1234-567-890 for Jane Synthetic")

    monkeypatch.setattr(user, "run_list", explode)

    assert main(["user", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "readroom-server: unexpected error (ValueError)\n"


def test_a_command_needing_blobs_before_init_is_one_line(cli: Cli) -> None:
    done = cli("review", "accept", "1")
    assert done.status == 2
    assert len(done.err_lines) == 1
    assert "run 'readroom-server init' first" in done.err
