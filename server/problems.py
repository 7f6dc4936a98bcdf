"""RFC 9457 problem details: domain errors and the handlers that turn them into responses.

Services raise :class:`Problem` subclasses and know nothing of HTTP; the app
registers :func:`install_problem_handlers` once, so every error body has the
same shape: ``type``, ``title``, ``status``, ``detail`` and, where a field is
at fault, ``field`` (plus ``errors`` listing every invalid field).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldError:
    """One invalid input field and what is wrong with it, in words a patient understands."""

    field: str
    message: str


class Problem(Exception):
    """A domain error that maps onto one HTTP status."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = errors or ([FieldError(field, detail)] if field else [])
        self.headers = headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://readroom.example/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return body


class BadRequest(Problem):
    pass


class Unauthorized(Problem):
    status, title, slug = 401, "Not signed in", "unauthorized"


class Forbidden(Problem):
    status, title, slug = 403, "Not allowed", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(Problem):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(Problem):
    status, title, slug = 413, "Too large", "too-large"


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class Invalid(Problem):
    status, title, slug = 422, "Invalid input", "invalid"

    @classmethod
    def from_errors(cls, errors: list[FieldError]) -> Invalid:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return cls(detail, field=errors[0].field if errors else None, errors=errors)


class Locked(Problem):
    status, title, slug = 423, "Locked", "locked"


class TooManyRequests(Problem):
    status, title, slug = 429, "Too many requests", "too-many-requests"


class FieldErrorBody(BaseModel):
    field: str = Field(description="the input at fault, dotted for nested fields")
    message: str = Field(description="what is wrong with it, in plain words")


class ProblemBody(BaseModel):
    """The body of every error response (RFC 9457 problem details)."""

    type: str = Field(description="a URI naming the kind of problem")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong this time, in plain words")
    field: str | None = Field(default=None, description="the first input at fault, if any")
    errors: list[FieldErrorBody] | None = Field(default=None, description="every input at fault")


PROBLEM_SCHEMA_NAME = "Problem"
_PROBLEM_REF = f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"
_PROBLEM_CLASSES: tuple[type[Problem], ...] = (
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Invalid,
    Locked,
    TooManyRequests,
)


def _problem_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_REF}}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting problem bodies for ``statuses``.

    ``APIRouter(responses=problem_responses(401, 403, 422))`` documents a router's errors;
    any status left out is still covered by the ``default`` problem response that
    :func:`install_problem_handlers` adds to every operation.
    """
    titles = {cls.status: cls.title for cls in _PROBLEM_CLASSES}
    return {status: _problem_doc(titles.get(status, "Problem")) for status in statuses}


def _document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document tell the truth about errors: every operation answers
    problem bodies (``application/problem+json``), including its 422s."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components[PROBLEM_SCHEMA_NAME] = problem_schema
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            default_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
            if default_422.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                responses["422"] = _problem_doc(Invalid.title)
            responses.setdefault("default", _problem_doc("Problem"))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                    servers=app.servers,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def _readable(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(_field_name(tuple(e["loc"])), _readable(e)) for e in exc.errors()]
    return problem_response(Invalid.from_errors(errors))


async def _problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


_HTTP_PROBLEMS: dict[int, type[Problem]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


async def _http_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cls = _HTTP_PROBLEMS.get(exc.status_code)
    if cls is None:
        problem = Problem(str(exc.detail))
        problem.status = exc.status_code
        problem.title = str(exc.detail)
        problem.slug = f"http-{exc.status_code}"
    else:
        problem = cls(str(exc.detail), headers=getattr(exc, "headers", None))
    return problem_response(problem)


async def _unexpected_handler(_request: Request, exc: Exception) -> JSONResponse:
    # The exception type only: messages may carry patient data.
    log.error("unhandled %s", type(exc).__name__, exc_info=False)
    # The server closes the connection after an unhandled error (the error is raised on
    # to it once this answer is sent): say so, or a client would send its next request
    # down the closed connection (RFC 9112 §9.6).
    problem = Problem(
        "The server failed; the request was not applied.", headers={"Connection": "close"}
    )
    problem.status, problem.title, problem.slug = 500, "Internal error", "internal"
    return problem_response(problem)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
    _install_openapi(app)
