"""The HTTP client without a server: problem bodies to exceptions, multipart parsing."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.workstation.fakes import FakeServer, small_study
from workstation.client import (
    AccountLocked,
    CaseLocked,
    LoginRefused,
    NotSignedIn,
    ProblemError,
    ReadroomClient,
    ServerUnreachable,
    parse_multipart_related,
)


def _client(handler) -> ReadroomClient:
    return ReadroomClient("http://x.test", token="t", transport=httpx.MockTransport(handler))


def _problem(status: int, detail: str = "detail") -> httpx.Response:
    return httpx.Response(status, json={"type": "about:blank", "title": "t", "status": status,
                                        "detail": detail})  # fmt: skip


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, NotSignedIn),
        (409, CaseLocked),
        (423, AccountLocked),
        (404, ProblemError),
        (500, ProblemError),
    ],
)
def test_problem_statuses(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        _client(lambda request: _problem(status)).worklist()


def test_login_errors_keep_the_servers_detail() -> None:
    client = _client(lambda request: _problem(401, "Wrong username, password or code."))
    with pytest.raises(LoginRefused, match="Wrong username"):
        client.login("a", "b", "123456")
    client = _client(lambda request: _problem(429, "Too many attempts."))
    with pytest.raises(AccountLocked, match="Too many"):
        client.login("a", "b", "123456")


def test_non_json_error_body_and_unexpected_answer() -> None:
    with pytest.raises(ProblemError, match="502"):
        _client(lambda request: httpx.Response(502, text="<html>bad gateway</html>")).worklist()
    with pytest.raises(ProblemError, match="unexpected answer"):
        _client(lambda request: httpx.Response(200, json=[{"id": 1}])).worklist()


def test_transport_errors_are_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ServerUnreachable, match="Cannot reach"):
        _client(refuse).me()
    with pytest.raises(ServerUnreachable, match="did not answer"):
        _client(slow).me()


def test_retrieve_series_parses_multipart() -> None:
    server = FakeServer()
    study_uid = server.add_study(small_study(slices=3))
    token = server.issue_token()
    client = ReadroomClient("http://x.test", token=token, transport=httpx.MockTransport(server))
    series = client.series(study_uid)
    assert [s.image_count for s in series] == [1, 3, 3]
    datasets = client.retrieve_series(study_uid, series[1].series_instance_uid)
    assert len(datasets) == 3
    assert all(d.pixel_array.shape == (64, 64) for d in datasets)


def test_multipart_with_quoted_boundary() -> None:
    body = b"--b1\r\nContent-Type: application/dicom\r\n\r\nAAA\r\n--b1\r\n\r\nBB\r\n--b1--\r\n"
    parts = parse_multipart_related(
        'multipart/related; type="application/dicom"; boundary="b1"', body
    )
    assert parts == [b"AAA", b"BB"]


def test_headless_modules_do_not_import_textual() -> None:
    modules = ["workstation.client", "workstation.config", "workstation.credentials",
               "workstation.services", "workstation.session", "workstation.worklist"]  # fmt: skip
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
