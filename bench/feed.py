"""Live feed benchmark (issue 5): 1,000 Server-Sent Events clients on one worker, beside a reference
measured in the same run.

The service runs under uvicorn with one worker on SQLite; 1,000 clients (raw asyncio sockets in this
process, reading as EventSource does) follow ``/api/v1/feed`` while signed statements are submitted
at a steady rate through the API. Each delivery's delay is the time it reached a client minus the
entry's log time (set when its batch began, so the commit is counted too). Target: p99 under 1 s.
The server's memory per client is its RSS with the clients connected minus before, over their
number.

The reference is a plain FastAPI endpoint under the same uvicorn that fans each published event out
to every client through an ``asyncio.Queue`` per client (StreamingResponse, no database): the
least an SSE broadcast costs here. Its delay is measured from the moment it made the event.

Run alone: ``python bench/feed.py [--quick] [--clients N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx2 as httpx
from common import Result, fmt, median, print_machine, print_results, scratch_dir, sqlite_url
from http_api import ADMIN, register, serve_process, statements

PARTY = "feed-farm"
FRAME_END = b"\n\n"

PLAIN_APP = """
import asyncio, json, time
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
app = FastAPI()
queues: set[asyncio.Queue[bytes]] = set()
published = 0
@app.get("/")
def root() -> dict[str, int]:
    return {"clients": len(queues)}
@app.get("/feed")
async def feed() -> StreamingResponse:
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
    queues.add(queue)
    async def events():
        try:
            yield b"retry: 2000\\n\\n"
            while True:
                yield await queue.get()
        finally:
            queues.discard(queue)
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
@app.post("/publish")
async def publish() -> dict[str, int]:
    global published
    published += 1
    data = json.dumps({"index": published, "time": int(time.time() * 1000), "kind": "origin",
                       "items": []}, separators=(",", ":"))
    frame = f"id: {published}\\nevent: entry\\ndata: {data}\\n\\n".encode()
    for queue in list(queues):
        if queue.full():
            queues.discard(queue)
        else:
            queue.put_nowait(frame)
    return {"index": published}
"""


# --- Servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A running server: where it listens and its process id (for its memory)."""

    base: str
    pid: int

    @property
    def rss_kb(self) -> int:
        """The server process's resident memory, in KB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


@contextmanager
def server(command: Sequence[str], env: dict[str, str]) -> Iterator[Server]:
    """Run one uvicorn process, wait until ``/`` answers, yield it, then stop it."""
    with serve_process(command, env, "/") as (base, process):
        yield Server(base, process.pid)


# --- Clients ------------------------------------------------------------------------------------


@dataclass
class Listeners:
    """What every client received: (index, delay in seconds) per delivery."""

    opened: int = 0
    ended: int = 0
    deliveries: list[tuple[int, float]] = field(default_factory=list)
    got: dict[int, int] = field(default_factory=dict)
    """Index -> how many clients have received it."""


async def listen(host: str, port: int, path: str, into: Listeners) -> None:
    """Follow one stream until cancelled, noting each event's index and delay."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"the stream did not open: {head[:200]!r}")
        buffer = b""
        opened = False
        while chunk := await reader.read(65536):
            now = time.time()
            buffer += chunk
            *frames, buffer = buffer.split(FRAME_END)
            if frames and not opened:
                opened = True
                into.opened += 1
            for frame in frames:
                start = frame.find(b"\ndata: ")
                if start < 0:
                    continue
                data = json.loads(frame[start + 7 :])
                into.deliveries.append((data["index"], now - data["time"] / 1000))
                into.got[data["index"]] = into.got.get(data["index"], 0) + 1
        into.ended += 1
    finally:
        writer.close()


def received_all(into: Listeners, indexes: Sequence[int], clients: int) -> bool:
    """Whether every client has received every one of ``indexes``."""
    return all(into.got.get(i) == clients for i in indexes)


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Run:
    """One server's figures: p50 and p99 delay (ms) per round, and memory per client (KB)."""

    p50: list[float]
    p99: list[float]
    memory_kb: float
    deliveries: int
    expected: int


async def measure(
    target: Server,
    path: str,
    publish: Callable[[int], Awaitable[int]],
    clients: int,
    rounds: int,
    events: int,
    rate: float,
) -> Run:
    """Connect ``clients``, then ``rounds`` times publish ``events`` at ``rate`` per second."""
    host, port = target.base.removeprefix("http://").split(":")
    into = Listeners()
    warm = asyncio.create_task(listen(host, int(port), path, into))
    await until(lambda: into.opened == 1, 10, "the first stream")
    first = await publish(0)  # the first subscriber and event warm the server up
    await until(lambda: into.got.get(first) == 1, 10, "the warm-up event")
    before = target.rss_kb
    tasks = [warm]
    opening = asyncio.Semaphore(100)  # no more half-open connections than the listen backlog holds

    async def connect() -> None:
        async with opening:
            task = asyncio.create_task(listen(host, int(port), path, into))
            tasks.append(task)
            opened = into.opened
            await until(lambda: into.opened > opened or task.done(), 30, "a stream to open")

    await asyncio.gather(*(connect() for _ in range(clients - 1)))
    await until(lambda: into.opened == clients, 60, "every stream to open")
    failed = [t for t in tasks if t.done()]
    if failed:
        raise RuntimeError(f"{len(failed)} streams ended early: {failed[0].exception()}")
    check = await publish(0)
    await until(lambda: into.got.get(check) == clients, 30, "every client to get an event")
    memory = (target.rss_kb - before) / (clients - 1)
    p50, p99, expected = [], [], 0
    for _ in range(rounds):
        into.deliveries.clear()
        published = []
        for n in range(events):
            published.append(await publish(n))
            await asyncio.sleep(1 / rate)
        expected += len(published) * clients
        await until(partial(received_all, into, published, clients), 30, "every delivery")
        wanted = set(published)
        delays = sorted(d for i, d in into.deliveries if i in wanted)
        p50.append(statistics.median(delays) * 1000)
        p99.append(delays[int(len(delays) * 0.99) - 1] * 1000)
    delivered = sum(into.got.get(i, 0) for i in into.got if i not in (first, check))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return Run(p50, p99, memory, delivered, expected)


# --- The two servers ----------------------------------------------------------------------------


async def run_ours(clients: int, rounds: int, events: int, rate: float) -> Run:
    with (
        scratch_dir("feed") as scratch,
        server(
            [sys.executable, "-m", "api", "--no-demo", "--log-level", "warning"],
            {
                "PROVENANCE_DATABASE_URL": sqlite_url(scratch / "feed.db"),
                "PROVENANCE_KEYS_DIR": str(scratch / "keys"),
                "PROVENANCE_ADMIN_TOKEN": ADMIN,
            },
        ) as target,
    ):
        key = register(target.base, PARTY)
        signed = iter(statements(key, PARTY, 0, rounds * events + 2))
        async with httpx.AsyncClient(timeout=30) as client:

            async def publish(_: int) -> int:
                answer = await client.post(target.base + "/api/v1/statements", content=next(signed))
                answer.raise_for_status()
                index: int = answer.json()["index"]
                return index

            return await measure(target, "/api/v1/feed", publish, clients, rounds, events, rate)


async def run_reference(clients: int, rounds: int, events: int, rate: float) -> Run:
    plain_dir = Path(tempfile.mkdtemp(prefix="provenance-bench-sse-"))
    (plain_dir / "plain_sse.py").write_text(PLAIN_APP)
    command = [sys.executable, "-m", "uvicorn", "plain_sse:app", "--log-level", "warning"]
    with server([*command, "--app-dir", str(plain_dir)], {}) as target:
        async with httpx.AsyncClient(timeout=30) as client:

            async def publish(_: int) -> int:
                answer = await client.post(target.base + "/publish")
                answer.raise_for_status()
                index: int = answer.json()["index"]
                return index

            return await measure(target, "/feed", publish, clients, rounds, events, rate)


def raise_file_limit(needed: int) -> None:
    """Let this process (and the servers it starts, which inherit it) hold ``needed`` sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < needed:
        raise SystemExit(f"need {needed} open files; the hard limit is {hard}")


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 clients, one short round")
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args(argv)
    clients, rounds, events, rate = (100, 1, 5, 5.0) if args.quick else (args.clients, 3, 20, 4.0)
    raise_file_limit(2 * clients + 256)
    print_machine()
    print(f"{clients} clients; {rounds} rounds of {events} events at {rate:g}/s", flush=True)
    ours = asyncio.run(run_ours(clients, rounds, events, rate))
    reference = asyncio.run(run_reference(clients, rounds, events, rate))
    for name, run in (("ours", ours), ("reference", reference)):
        print(
            f"  {name}: p50 {', '.join(fmt(x) for x in run.p50)} ms;"
            f" p99 {', '.join(fmt(x) for x in run.p99)} ms;"
            f" {run.memory_kb:.1f} KB per client; {run.deliveries}/{run.expected} delivered",
            flush=True,
        )
    p99, reference_p99 = median(ours.p99), median(reference.p99)
    note = (
        f"p50 {fmt(median(ours.p50))} ms (reference {fmt(median(reference.p50))} ms);"
        f" {clients} clients on one uvicorn worker, SQLite; {ours.deliveries:,} of"
        f" {ours.expected:,} deliveries; reference: asyncio.Queue fan-out, no database"
    )
    results = [
        Result("feed", f"delivery p99 to {clients:,} SSE clients", p99, reference_p99, "ms",
               reference_p99 / p99, "p99 < 1000 ms", p99 < 1000 and ours.deliveries == ours.expected,
               note),
        Result("feed", "server memory per connected client", ours.memory_kb,
               reference.memory_kb, "KB", reference.memory_kb / ours.memory_kb, "report", None,
               "RSS with the clients connected minus before, over their number"),
    ]  # fmt: skip
    print_results(results, "Live feed")
    return results


if __name__ == "__main__":
    main()
