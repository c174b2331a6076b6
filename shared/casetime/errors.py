"""The one error model of every casetime service: each 4xx answer names the field, the reason
and the kind of error, and every operation documents it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from casetime.events import VERSIONED_MODELS

_UNION_MEMBER_NAMES = frozenset(f"{t} v{v}" for t, v in VERSIONED_MODELS) | {"datetime", "date"}


class FieldError(BaseModel):
    """One thing wrong with a request: the field (a dotted path, or ``body``), why, and the
    kind of error."""

    field: str
    reason: str
    type: str


class ErrorAnswer(BaseModel):
    """Every 4xx answer of every casetime service."""

    detail: list[FieldError]


def error_answer(status_code: int, field: str, reason: str, kind: str) -> JSONResponse:
    body = ErrorAnswer(detail=[FieldError(field=field, reason=reason, type=kind)])
    return JSONResponse(status_code=status_code, content=body.model_dump())


class RefusedError(Exception):
    """A request refused before any work: 401, 403 or 429, answered in the error model."""

    def __init__(
        self, status_code: int, field: str, reason: str, kind: str, headers: dict[str, str]
    ) -> None:
        super().__init__(reason)
        self.status_code, self.field, self.reason, self.kind = status_code, field, reason, kind
        self.headers = headers

    def answer(self) -> JSONResponse:
        response = error_answer(self.status_code, self.field, self.reason, self.kind)
        response.headers.update(self.headers)
        return response


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers an operation gives."""
    why = {
        404: "Not found.",
        413: "The body is larger than the service accepts.",
        415: "The body is not JSON (Content-Type: application/json).",
        422: "Invalid input: each bad field named, with the reason.",
        401: "No credential, or one that is unknown, revoked or expired.",
        403: "The credential does not allow this (another service, team or kind).",
        429: "Too many requests for this credential: wait for Retry-After seconds.",
    }
    return {code: {"model": ErrorAnswer, "description": why[code]} for code in codes}


def add_error_handlers(app: FastAPI, rejected: Callable[[], None] = lambda: None) -> None:
    """Validation errors and HTTP errors in the one error model (``ErrorAnswer``)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        rejected()
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": describe_errors(exc.errors())},
        )

    @app.exception_handler(RefusedError)
    async def refused(request: Request, exc: RefusedError) -> JSONResponse:
        return exc.answer()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code >= 500:
            return JSONResponse(
                status_code=exc.status_code,
                content={"detail": str(exc.detail)},
                headers=exc.headers,
            )
        response = error_answer(
            exc.status_code, "request", str(exc.detail), f"http_{exc.status_code}"
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response


def describe_errors(errors: Any) -> list[dict[str, Any]]:
    """Name each bad field as a dotted path (e.g. ``events.3.payload.outcome``) with the reason.

    A value that matched no member of a union (a date or a date-time) is one error, not one per
    member. The offending value is not echoed back: it may be personal data.
    """
    described: dict[str, dict[str, Any]] = {}
    for error in errors:
        loc = [str(part) for part in error["loc"] if part not in ("body", "query")]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found", "unknown_event_type"):
            loc.append("event_type")
        # pydantic names the union member it tried; the sender's field names don't have it
        loc = [part for part in loc if part not in _UNION_MEMBER_NAMES]
        field = ".".join(loc) or "body"
        if field in described:
            described[field]["reason"] += f"; or {error['msg'][0].lower()}{error['msg'][1:]}"
        else:
            described[field] = {"field": field, "reason": error["msg"], "type": error["type"]}
    return list(described.values())
