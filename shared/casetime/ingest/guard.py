"""Bodies checked before FastAPI reads them: JSON, bounded, well formed, an object."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import status
from fastapi.responses import JSONResponse

from casetime.errors import error_answer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class GuardedBodies:
    """ASGI middleware in front of the POST routes: the body must be JSON (415), no larger than
    ``max_bytes`` (413, read no further), well-formed UTF-8 JSON (422) and an object (422), each
    answered in the error model, before FastAPI parses anything."""

    def __init__(self, app: ASGIApp, max_bytes: int, on_reject: Callable[[], None]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refuse_headers(headers)
        body = b""
        if refusal is None:
            body, refusal = await self._read(receive)
        if refusal is None:
            refusal = self._refuse_body(body)
        if refusal is not None:
            self.on_reject()
            await refusal(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _refuse_headers(self, headers: dict[str, str]) -> JSONResponse | None:
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return error_answer(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "content-type",
                "the body must be JSON, sent with Content-Type: application/json",
                "unsupported_media_type",
            )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            return self._too_large()
        return None

    def _too_large(self) -> JSONResponse:
        return error_answer(
            status.HTTP_413_CONTENT_TOO_LARGE,
            "body",
            f"the body is larger than {self.max_bytes} bytes; send fewer events per batch",
            "too_large",
        )

    async def _read(self, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    @staticmethod
    def _refuse_body(body: bytes) -> JSONResponse | None:
        try:
            parsed = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            return error_answer(422, "body", "the body is not UTF-8 text", "json_invalid")
        except json.JSONDecodeError as exc:
            reason = (
                f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            )
            return error_answer(422, "body", reason, "json_invalid")
        except RecursionError:
            return error_answer(422, "body", "the body is nested too deeply", "json_invalid")
        if not isinstance(parsed, dict):
            kind = "null" if parsed is None else type(parsed).__name__
            reason = (
                f'the body must be a JSON object (an event, or {{"events": [...]}}), not {kind}'
            )
            return error_answer(422, "body", reason, "model_type")
        return None
