"""Typed, synchronous HTTP client of the Readroom server (accounts, cases, DICOMweb).

Runs in worker threads; never imports Textual. Every failure is one of the
:class:`ClientError` subclasses below, carrying a message fit for a
notification: the server's RFC 9457 problem ``detail`` where there is one.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pydicom
from pydantic import BaseModel, ValidationError
from pydicom.dataset import Dataset

from server.accounts.schemas import LoginResponse, UserBrief
from server.cases.schemas import ReadingCase, ReadingLockRead, WorklistItem

__all__ = [
    "AccountLocked",
    "CaseLocked",
    "ClientError",
    "LoginRefused",
    "NotSignedIn",
    "ProblemError",
    "ReadingCase",
    "ReadingLockRead",
    "ReadroomClient",
    "SeriesSummary",
    "ServerUnreachable",
    "SignIn",
    "User",
    "WorklistCase",
    "parse_multipart_related",
]

_M = TypeVar("_M", bound=BaseModel)

DICOM_JSON = "application/dicom+json"


class ClientError(Exception):
    """A call failed; ``str(error)`` is a sentence a radiologist can act on."""

    def __init__(
        self, message: str, *, status: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


class ServerUnreachable(ClientError):
    """No answer from the server (down, wrong URL, network, timeout)."""


class NotSignedIn(ClientError):
    """401 on a call that needs a token: it expired, was revoked, or there is none."""


class LoginRefused(ClientError):
    """Wrong username, password or TOTP code."""


class AccountLocked(ClientError):
    """Too many failed sign-ins: the account is locked for a while (423/429)."""


class CaseLocked(ClientError):
    """409 on opening a case: another radiologist holds its reading lock."""


class ProblemError(ClientError):
    """Any other problem response."""


#: The wire contract is the server's own pydantic models (only ``server.*.schemas``).
SignIn = LoginResponse
User = UserBrief
WorklistCase = WorklistItem


@dataclass(frozen=True)
class SeriesSummary:
    """One series of a study, from QIDO-RS (PS3.18 §10.6)."""

    study_instance_uid: str
    series_instance_uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    image_count: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dicom_json(cls, study_uid: str, data: Mapping[str, Any]) -> SeriesSummary:
        number = _dicom_value(data, "00200011")
        return cls(
            study_instance_uid=str(_dicom_value(data, "0020000D") or study_uid),
            series_instance_uid=str(_dicom_value(data, "0020000E")),
            modality=str(_dicom_value(data, "00080060") or ""),
            description=str(_dicom_value(data, "0008103E") or ""),
            number=int(number) if number is not None else None,
            image_count=int(_dicom_value(data, "00201209") or 0),
        )


def _dicom_value(data: Mapping[str, Any], tag: str) -> Any:
    """The first value of ``tag`` in a DICOM JSON object (PS3.18 §F.2), or None."""
    element = data.get(tag) or {}
    values = element.get("Value") or []
    return values[0] if values else None


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse(model: type[_M], data: Any) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ProblemError(
            f"The server sent an unexpected answer ({model.__name__}); is it the right version?"
        ) from error


def parse_multipart_related(content_type: str, body: bytes) -> list[bytes]:
    """The parts of a ``multipart/related`` body (PS3.18 §8.6.1.2), in order."""
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise ProblemError("The server sent images in an unexpected format.")
    parts: list[bytes] = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        parts.append(payload if isinstance(payload, bytes) else b"")
    return parts


class ReadroomClient:
    """The server API. Thread-safe for concurrent calls; the token may change at any time."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.token = token
        self._timeout = timeout
        self._transport = transport
        self._http = self._make_http(base_url)

    def _make_http(self, base_url: str) -> httpx.Client:
        return httpx.Client(
            base_url=base_url.rstrip("/"), timeout=self._timeout, transport=self._transport
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @base_url.setter
    def base_url(self, url: str) -> None:
        with self._lock:
            if url.rstrip("/") != self.base_url:
                old, self._http = self._http, self._make_http(url)
                old.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ----------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        headers = {"Accept": accept}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TimeoutException as error:
            raise ServerUnreachable(
                f"The server at {self.base_url} did not answer in time."
            ) from error
        except httpx.TransportError as error:
            raise ServerUnreachable(f"Cannot reach the server at {self.base_url}.") from error
        if response.status_code >= 400:
            raise self._error(response, auth=auth)
        return response

    def _error(self, response: httpx.Response, *, auth: bool) -> ClientError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        detail = str(body.get("detail") or body.get("title") or response.reason_phrase or status)
        field_name = body.get("field")
        if status == 401 and auth:
            return NotSignedIn(
                "Your session has ended; sign in again.", status=status, field=field_name
            )
        if status == 401:
            return LoginRefused(detail, status=status, field=field_name)
        if status in (423, 429):
            return AccountLocked(detail, status=status, field=field_name)
        if status == 409:
            return CaseLocked(detail, status=status, field=field_name)
        if status >= 500:
            return ProblemError(f"The server failed ({status}): {detail}", status=status)
        return ProblemError(detail, status=status, field=field_name)

    # -- accounts ----------------------------------------------------------------

    def login(self, username: str, password: str, totp_code: str) -> SignIn:
        """``POST /auth/login``; on success the client keeps the token."""
        payload = {"username": username, "password": password, "totp_code": totp_code}
        try:
            data = self._request("POST", "/auth/login", auth=False, json=payload).json()
        except ProblemError as error:
            if error.status in (400, 403, 422):
                raise LoginRefused(error.message, status=error.status, field=error.field) from None
            raise
        sign_in = _parse(LoginResponse, data)
        self.token = sign_in.token
        return sign_in

    def logout(self) -> None:
        """``POST /auth/logout``; forgets the token even if the server is gone."""
        try:
            if self.token:
                self._request("POST", "/auth/logout")
        finally:
            self.token = None

    def me(self) -> UserBrief:
        return _parse(UserBrief, self._request("GET", "/auth/me").json())

    # -- cases -------------------------------------------------------------------

    def worklist(self) -> list[WorklistItem]:
        """``GET /worklist``: the cases assigned to the signed-in radiologist."""
        data = self._request("GET", "/worklist").json()
        items = data.get("items", []) if isinstance(data, dict) else data
        return [_parse(WorklistItem, item) for item in items]

    def open_case(self, case_id: str) -> ReadingLockRead:
        """``POST /cases/{id}/open``: take the reading lock (:class:`CaseLocked` if held)."""
        return _parse(ReadingLockRead, self._request("POST", f"/cases/{case_id}/open").json())

    def heartbeat(self, case_id: str) -> None:
        """``POST /cases/{id}/heartbeat``: keep the reading lock."""
        self._request("POST", f"/cases/{case_id}/heartbeat")

    def reading(self, case_id: str) -> ReadingCase:
        """``GET /cases/{id}/reading``: what the reading screen needs (study UID, question...)."""
        return _parse(ReadingCase, self._request("GET", f"/cases/{case_id}/reading").json())

    # -- DICOMweb ----------------------------------------------------------------

    def series(self, study_uid: str) -> list[SeriesSummary]:
        """QIDO-RS ``/studies/{study}/series`` (PS3.18 §10.6), ordered by series number."""
        response = self._request("GET", f"/dicomweb/studies/{study_uid}/series", accept=DICOM_JSON)
        found = [SeriesSummary.from_dicom_json(study_uid, item) for item in response.json() or []]
        return sorted(found, key=lambda s: (s.number is None, s.number or 0))

    def series_metadata(self, study_uid: str, series_uid: str) -> list[dict[str, Any]]:
        """WADO-RS metadata of a series (PS3.18 §10.4.1.1.2), DICOM JSON per instance."""
        path = f"/dicomweb/studies/{study_uid}/series/{series_uid}/metadata"
        return self._request("GET", path, accept=DICOM_JSON).json()

    def retrieve_series(self, study_uid: str, series_uid: str) -> list[Dataset]:
        """WADO-RS ``/studies/{study}/series/{series}`` (PS3.18 §10.4): every instance."""
        return list(self.iter_series(study_uid, series_uid))

    def iter_series(self, study_uid: str, series_uid: str) -> Iterator[Dataset]:
        path = f"/dicomweb/studies/{study_uid}/series/{series_uid}"
        accept = 'multipart/related; type="application/dicom"'
        response = self._request("GET", path, accept=accept)
        for part in parse_multipart_related(
            response.headers.get("content-type", ""), response.content
        ):
            yield pydicom.dcmread(io.BytesIO(part), force=True)
