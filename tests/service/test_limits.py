"""Request bodies over the limit are refused with 413 before a route reads them."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from api.limits import BodyLimitMiddleware


def echo_app(limit: int) -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyLimitMiddleware, limit=limit)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    return app


def test_body_at_the_limit_passes_and_over_it_is_refused() -> None:
    client = TestClient(echo_app(100))
    assert client.post("/echo", content=b"x" * 100).json() == {"received": 100}
    response = client.post("/echo", content=b"x" * 101)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "100 bytes" in response.json()["detail"]


def test_chunked_body_is_counted_as_it_streams() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 30

    response = TestClient(echo_app(100)).post("/echo", content=chunks())
    assert response.status_code == 413
