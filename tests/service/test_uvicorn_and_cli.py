"""The real thing: the service under uvicorn on 127.0.0.1, and a supplier using `provenance keys new`
and `provenance submit` against it, from key to a verified receipt, as the tutorial tells it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.__main__ import DEMO_LOT
from factories import b64key
from live_fixtures import start_service, stop_service
from provenance.cli import main
from provenance.keys import load_private_key

ADMIN_TOKEN = "uvicorn-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PROVENANCE_DATABASE_URL": db_url,
        "PROVENANCE_KEYS_DIR": str(tmp_path / "keys"),
        "PROVENANCE_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port), "--no-demo"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"the service did not start:\n{output}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


def post_json(url: str, body: object, token: str | None = None) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, object] = json.loads(response.read())
        return answer


def test_supplier_from_key_to_verified_receipt(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "farm.key"
    assert main(["keys", "new", str(key_file)]) == 0
    public = b64key(load_private_key(key_file))
    party = {"id": "farm", "role": "supplier", "name": "Farm", "country": "CO", "keys": [public]}
    post_json(server + "/api/v1/parties", party, ADMIN_TOKEN)
    statement = tmp_path / "origin.json"
    statement.write_text(
        json.dumps(
            {
                "type": "origin",
                "items": ["https://id.gs1.org/01/09506000134352/10/H-2026-07"],
                "place": {"country": "CO", "region": "Huila"},
                "producer": "Farm",
                "date": "2026-07-14",
            }
        )
    )
    capsys.readouterr()
    code = main(["submit", str(statement), "--key", str(key_file), "--by", "farm", "--url", server])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["index"] == 2
    assert "receipt verified: entry 2" in err
    epcis = Path(__file__).parents[1] / "vectors" / "epcis" / "Example_9.6.1-ObjectEvent.jsonld"
    code = main(["submit", str(epcis), "--epcis", "--key", str(key_file), "--url", server])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["events"]
    code = main(["submit", str(statement), "--key", str(tmp_path / "farm.key"), "--by", "mill",
                 "--url", server])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert "403" in err
    assert "not-authorized" in err


def test_a_forwarded_for_header_is_believed_only_when_the_settings_say_so(tmp_path: Path) -> None:
    """uvicorn's own X-Forwarded-For handling is off: otherwise any local process could claim a
    new address per request and escape the per-client review limit. With PROVENANCE_TRUSTED_PROXY
    false, two reviews "forwarded for" two addresses come from one client, the socket's peer."""
    service = start_service(
        tmp_path, extra_env={"PROVENANCE_REVIEW_BURST_PER_CLIENT": "1",
                             "PROVENANCE_REVIEWS_PER_MINUTE_PER_CLIENT": "0.01"},
    )  # fmt: skip
    try:
        statuses = []
        for n, address in enumerate(["198.51.100.1", "198.51.100.2"]):
            body = {"item": DEMO_LOT, "kind": "question", "title": "Origin?",
                    "text": f"Which farm grew lot {n}?"}  # fmt: skip
            request = urllib.request.Request(
                service.base + "/api/v1/reviews", data=json.dumps(body).encode(), method="POST",
                headers={"Content-Type": "application/json", "X-Forwarded-For": address},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
        assert statuses == [201, 429]
    finally:
        stop_service(service)
