"""HTTP benchmarks of the service (issue 3), each beside its reference measured in the same run.

1. Batch submission: presigned statements posted in batches of 1,000 to ``/api/v1/statements/batch``
   (uvicorn, 2 workers, every signature verified) against the raw Ed25519 verify rate of the library
   the ledger uses (PyNaCl) times the 2 cores. Target: at least 50%.
2. Single submissions from 64 concurrent clients: throughput with no pacing, then latency paced at
   500 submissions per second (p50, p99; target p99 under 50 ms).
3. Reads (checkpoint, inclusion proof, item) measured with wrk against a plain FastAPI endpoint that
   returns a small JSON object, both under uvicorn with 2 workers. Target: at least 50%.

Run alone: ``python bench/http_api.py [--quick] [--database sqlite|postgresql|both]
[--parts batch,single,reads]``. Reads alone first append 2,000 statements so that the item and the
proof have a log of some size to answer from.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import nacl.signing
from common import (
    Result,
    postgres_reachable,
    postgres_schema,
    print_machine,
    print_results,
    rate_result,
    scratch_dir,
    sqlite_url,
    write_json,
)

from provenance.keys import generate_private_key, public_key_bytes
from provenance.statements import sign_statement

ADMIN = "bench-admin-token"
REPO = Path(__file__).parents[1]
PLAIN_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/plain")
def plain() -> dict[str, object]:
    return {"origin": "bench.example/log", "size": 1000, "hashes": ["x" * 44] * 4}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(command: Sequence[str], env: dict[str, str], probe: str) -> Iterator[str]:
    """Run a server command, wait until ``probe`` answers, yield its base URL, then stop it."""
    with serve_process(command, env, probe) as (base, _process):
        yield base


@contextmanager
def serve_process(
    command: Sequence[str], env: dict[str, str], probe: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """:func:`serve`, yielding the server process too (to read its memory, say)."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + probe, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()  # reading stderr of a live process would block forever
                    process.wait(timeout=30)
                    raise RuntimeError(
                        f"server did not start: {process.stderr.read() if process.stderr else ''}"
                    ) from None
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


@contextmanager
def ledger_server(url: str, scratch: Path) -> Iterator[str]:
    env = {
        "PROVENANCE_DATABASE_URL": url,
        "PROVENANCE_KEYS_DIR": str(scratch / "keys"),
        "PROVENANCE_ADMIN_TOKEN": ADMIN,
    }
    command = [sys.executable, "-m", "api", "--workers", "2", "--no-demo", "--log-level", "warning"]
    with serve_process(command, env, "/") as (base, process):
        SERVER_PID[:] = [process.pid]
        try:
            yield base
        finally:
            SERVER_PID.clear()


SERVER_PID: list[int] = []
"""The running ledger server's process (its workers are its children), for CPU accounting."""


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # it exited meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pending += [int(c) for c in children]
    return total


def register(base: str, party: str) -> nacl.signing.SigningKey:
    key = generate_private_key()
    public = base64.b64encode(public_key_bytes(key)).decode()
    body = {"id": party, "role": "supplier", "name": party, "keys": [public]}
    response = httpx.post(
        base + "/api/v1/parties", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    response.raise_for_status()
    return key  # type: ignore[return-value]


def statements(key: object, party: str, start: int, count: int) -> list[bytes]:
    out = []
    for n in range(start, start + count):
        body = {
            "type": "origin", "by": party, "n": n,
            "items": [f"https://id.gs1.org/01/09506000134352/10/H-{n % 1000:03d}"],
            "place": {"country": "CO", "region": "Huila"}, "producer": "Finca", "date": "2026-07-14",
            "quantity": {"value": 1200, "unit": "kg"},
        }  # fmt: skip
        out.append(sign_statement(body, [key]))  # type: ignore[list-item]
    return out


def raw_verify_rate(messages: list[bytes], seconds: float = 2.0) -> float:
    """Single-core PyNaCl verifications per second over real statement signatures."""
    from provenance.dsse import Envelope, pae

    envelopes = [Envelope.from_json(m) for m in messages[:2000]]
    # What the ledger verifies per statement: the PAE message, the signature, the party's key.
    jobs = []
    for envelope in envelopes:
        jobs.append((pae(envelope.payload_type, envelope.payload), envelope.signatures[0].sig))
    done = 0
    start = time.perf_counter()
    verify_key = VERIFY_KEY[0]
    while time.perf_counter() - start < seconds:
        for message, signature in jobs:
            verify_key.verify(message, signature)
        done += len(jobs)
    return done / (time.perf_counter() - start)


VERIFY_KEY: list[nacl.signing.VerifyKey] = []

PARTS = ("batch", "single", "reads")


class RawPoster:
    """A minimal HTTP/1.1 client that posts prebuilt bodies on one kept-alive connection.

    The load generator shares the service's 2 cores: httpx spends about 15 µs of CPU per statement
    sending a 700 KB batch and reading its 900 KB answer, which this spends in a few system calls.
    It understands exactly what uvicorn sends back: a status line, headers, a Content-Length body.
    """

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host = host
        self.socket = socket.create_connection((host, int(port)), timeout=120)
        self.buffer = b""

    def __enter__(self) -> RawPoster:
        return self

    def __exit__(self, *_: object) -> None:
        self.socket.close()

    def post(
        self, path: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """Post ``body`` to ``path``; return the answer's status and body."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.socket.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head_bytes, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._receive()
        answer, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, answer

    def _receive(self) -> None:
        chunk = self.socket.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk


BATCH_COUNTS = re.compile(rb'\{"appended":(\d+),"refused":(\d+),')


def post_batches(base: str, bodies: list[bytes], clients: int = 4) -> float:
    """Post every batch body from ``clients`` threads; return the seconds it took."""
    pending = list(bodies)
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with RawPoster(base) as client:
            while True:
                with lock:
                    if not pending:
                        return
                    body = pending.pop()
                status, answer = client.post("/api/v1/statements/batch", body)
                # The answer's counts come first; parsing the ~900 KB of receipts after them would
                # cost the load generator more CPU (on the service's 2 cores) than anything else.
                counts = BATCH_COUNTS.match(answer)
                if status != 200 or counts is None or int(counts[2]):
                    errors.append(answer[:300].decode(errors="replace"))

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return time.perf_counter() - start


def batch_bodies(signed: list[bytes]) -> list[bytes]:
    """Request bodies of 1,000 envelopes each."""
    return [
        json.dumps({"envelopes": [json.loads(s) for s in signed[i : i + 1000]]}).encode()
        for i in range(0, len(signed), 1000)
    ]


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks, from /proc/stat."""
    fields = [float(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


class CpuUse:
    """How busy the machine was, and how much CPU this process (the load generator) used, over a
    block: the batch figure only means something if both cores were busy with the service."""

    def __enter__(self) -> CpuUse:
        self._machine = machine_cpu()
        self._own = time.process_time()
        self._server = tree_cpu(SERVER_PID[0]) if SERVER_PID else 0.0
        return self

    def __exit__(self, *_: object) -> None:
        busy, total = machine_cpu()
        self.busy = (busy - self._machine[0]) / max(total - self._machine[1], 1.0)
        self.client_seconds = time.process_time() - self._own
        self.server_seconds = (tree_cpu(SERVER_PID[0]) if SERVER_PID else 0.0) - self._server


def bench_batch(
    base: str, key: object, runs: int, per_run: int, details: dict[str, object] | None = None
) -> tuple[list[float], list[float]]:
    ours, reference = [], []
    busy, client, server = [], [], []
    for run in range(runs):
        signed = statements(key, "farm", run * per_run, per_run)
        bodies = batch_bodies(signed)
        with CpuUse() as use:
            ours.append(per_run / post_batches(base, bodies))
        busy.append(round(use.busy, 3))
        client.append(round(use.client_seconds / per_run * 1e6, 1))
        server.append(round(use.server_seconds / per_run * 1e6, 1))
        reference.append(raw_verify_rate(signed) * 2)
    if details is not None:
        details["machine busy"] = busy
        details["load generator CPU µs/statement"] = client
        details["server CPU µs/statement"] = server
    return ours, reference


SUBMIT_LUA = """
-- Posts presigned envelopes, one per line of the file named by the first argument, each once:
-- thread t of T (the third argument) sends lines t, t + T, t + 2T... The second argument paces
-- every connection: that many milliseconds between a response and its next request.
local next_thread = 0
function setup(thread)
  thread:set("id", next_thread)
  next_thread = next_thread + 1
end
function init(args)
  bodies = {}
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  pace = tonumber(args[2] or "0")
  position = id
  stride = tonumber(args[3])
end
function request()
  local body = bodies[position % #bodies + 1]
  position = position + stride
  return wrk.format("POST", "/api/v1/statements", {["Content-Type"] = "application/json"}, body)
end
function delay()
  return pace
end
"""


def wrk_submit(
    base: str, bodies: Path, seconds: float, connections: int, pace_ms: float, script: Path
) -> tuple[float, dict[str, float]]:
    """Post the presigned envelopes in ``bodies`` with wrk (2 threads); return the rate and the
    latency percentiles (ms). Any answer but 201 fails the run."""
    threads = 2
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    command += ["--latency", "--timeout", "30s", "-s", str(script), base]
    command += ["--", str(bodies), str(pace_ms), str(threads)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if rate is None or re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    percentiles = {}
    for label, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s)$", out, re.M):
        percentiles[label] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return float(rate.group(1)), percentiles


def bench_single_wrk(
    base: str, key: object, clients: int, seconds: float, paced_rate: float, scratch: Path
) -> dict[str, float]:
    """Single submissions from ``clients`` wrk connections: unpaced, then each connection paced
    so that together they send about ``paced_rate`` per second. Every request carries a distinct
    presigned envelope (presigned before the clock starts), as the Python clients' did."""
    script = scratch / "submit.lua"
    script.write_text(SUBMIT_LUA)
    # Enough for ~3,000/s unpaced: a body sent twice would be a cheap duplicate, not a submission.
    unpaced_file, paced_file = scratch / "unpaced.jsonl", scratch / "paced.jsonl"
    unpaced_file.write_bytes(b"\n".join(statements(key, "farm", 10_000_000, int(3000 * seconds))))
    paced_file.write_bytes(
        b"\n".join(statements(key, "farm", 20_000_000, int(paced_rate * seconds * 1.5)))
    )
    throughput, _ = wrk_submit(base, unpaced_file, seconds, clients, 0, script)
    # Each connection waits between its response and its next request: 64 connections at 500/s
    # send every 128 ms, less the answer's own latency, which a short first run measures.
    interval = clients / paced_rate * 1000
    calibration = scratch / "calibration.jsonl"
    calibration.write_bytes(
        b"\n".join(statements(key, "farm", 30_000_000, int(paced_rate * 3 * 1.5)))
    )
    _, first = wrk_submit(base, calibration, 3, clients, interval, script)
    pace = max(interval - first["50"], 0.0)
    rate, percentiles = wrk_submit(base, paced_file, seconds, clients, pace, script)
    return {
        "throughput": throughput,
        "failed": 0,
        "paced_rate": rate,
        "p50_ms": percentiles["50"],
        "p99_ms": percentiles["99"],
    }


def bench_single(
    base: str, key: object, clients: int, seconds: float, paced_rate: float
) -> dict[str, float]:
    """:func:`bench_single_wrk` with 64 Python threads as clients (httpx): the load generator of
    session 1, kept for comparison. It costs more CPU than the service on the same 2 cores."""
    signed = iter(statements(key, "farm", 10_000_000, int(paced_rate * seconds * 1.2) + 20_000))
    lock = threading.Lock()

    def take() -> bytes:
        with lock:
            return next(signed)

    def run(paced: bool) -> tuple[int, list[float], float]:
        latencies: list[float] = []
        failures = [0]
        stop = time.perf_counter() + seconds
        interval = clients / paced_rate

        def client_loop(offset: int) -> None:
            with httpx.Client(timeout=30) as client:
                next_at = time.perf_counter() + offset * interval / clients
                while True:
                    if paced:
                        delay = next_at - time.perf_counter()
                        if delay > 0:
                            time.sleep(delay)
                        next_at += interval
                    if time.perf_counter() >= stop:
                        return
                    body = take()
                    sent = time.perf_counter()
                    response = client.post(base + "/api/v1/statements", content=body)
                    took = time.perf_counter() - sent
                    if response.status_code != 201:
                        failures[0] += 1
                    latencies.append(took)

        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return failures[0], latencies, time.perf_counter() - start

    failed, latencies, elapsed = run(paced=False)
    throughput = len(latencies) / elapsed
    failed_paced, paced, paced_elapsed = run(paced=True)
    paced.sort()
    return {
        "throughput": throughput,
        "failed": failed + failed_paced,
        "paced_rate": len(paced) / paced_elapsed,
        "p50_ms": paced[len(paced) // 2] * 1000,
        "p99_ms": paced[int(len(paced) * 0.99)] * 1000,
    }


def wrk(url: str, seconds: int) -> float:
    """Requests per second wrk measures against ``url`` (2 threads, 64 connections)."""
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if match is None or errors:
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    return float(match.group(1))


def bench_reads(
    base: str, plain: str, runs: int, seconds: int
) -> dict[str, tuple[list[float], list[float]]]:
    size = int(httpx.get(base + "/").json()["size"])
    paths = {
        "checkpoint": "/checkpoint",
        "inclusion proof": f"/api/v1/log/proof/inclusion?index={size // 2}&size={size}",
        "item": "/api/v1/items/01/09506000134352/10/H-007",
    }
    for path in paths.values():
        httpx.get(base + path).raise_for_status()
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in paths}
    for _ in range(runs):
        for name, path in paths.items():
            results[name][0].append(wrk(base + path, seconds))
            results[name][1].append(wrk(plain + "/plain", seconds))
    return results


def submission_results(
    base: str,
    key: object,
    backend: str,
    runs: int,
    per_run: int,
    seconds: int,
    details: dict[str, object],
    parts: set[str],
    scratch: Path,
    client: str = "wrk",
) -> list[Result]:
    """Run the batch and single-submission benchmarks (those among ``parts``) against one server."""
    results: list[Result] = []
    if "batch" in parts:
        cpu: dict[str, object] = {}
        ours, reference = bench_batch(base, key, runs, per_run, cpu)
        details[f"batch {backend}"] = {**cpu, "ours": ours, "reference": reference}
        results.append(
            rate_result(
                "http batch",
                f"statements/s ({backend}, 2 workers)",
                ours,
                reference,
                "stmt/s",
                0.5,
                note="reference: PyNaCl verify, one core, x 2 cores; machine busy "
                f"{cpu['machine busy']}, load generator CPU "
                f"{cpu['load generator CPU µs/statement']} µs/statement, server (uvicorn and "
                f"its workers) {cpu['server CPU µs/statement']} µs/statement",
            )
        )
    if "single" not in parts:
        return results
    if client == "wrk":
        single = bench_single_wrk(base, key, 64, seconds, 500, scratch)
    else:
        single = bench_single(base, key, 64, seconds, 500)
    details[f"single {backend} ({client} client)"] = single
    unpaced = Result(
        "http single",
        f"64 clients, unpaced ({backend}, {client} client)",
        single["throughput"],
        None,
        "stmt/s",
        None,
        "report",
        None,
    )
    paced = Result(
        "http single",
        f"p99 at {single['paced_rate']:.0f}/s paced ({backend}, {client} client)",
        single["p99_ms"],
        50.0,
        "ms",
        50.0 / single["p99_ms"],
        "p99 < 50 ms",
        single["p99_ms"] < 50 and single["failed"] == 0,
        note=f"p50 {single['p50_ms']:.1f} ms; {single['failed']:.0f} failed",
    )
    return [*results, unpaced, paced]


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated subset of {','.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk",
        help="single submissions' load generator: wrk with a Lua script (default), or the "
        "session-1 Python threads (which take more of the 2 cores than the service does)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--parts takes a subset of {','.join(PARTS)}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the read benchmarks: apt-get install wrk")
    runs = 1 if args.quick else 3
    per_run = 2000 if args.quick else 10_000
    seconds = 3 if args.quick else 10
    print_machine()
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    if "postgresql" in backends and not postgres_reachable():
        raise SystemExit("PostgreSQL is not reachable at 127.0.0.1:5432")
    results: list[Result] = []
    details: dict[str, object] = {}
    plain_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "provenance-bench-plain"
    plain_dir.mkdir(exist_ok=True)
    (plain_dir / "plain_app.py").write_text(PLAIN_APP)
    plain_command = [
        *(sys.executable, "-m", "uvicorn", "plain_app:app", "--workers", "2"),
        *("--log-level", "warning", "--app-dir", str(plain_dir)),
    ]
    for backend in backends:
        with (
            scratch_dir("http") as scratch,
            _database(backend, scratch) as url,
            ledger_server(url, scratch) as base,
        ):
            key = register(base, "farm")
            VERIFY_KEY[:] = [nacl.signing.VerifyKey(public_key_bytes(key))]  # type: ignore[arg-type]
            results += submission_results(
                base, key, backend, runs, per_run, seconds, details, parts, scratch, args.client
            )
            if "reads" in parts and backend == backends[0]:
                if not parts & {"batch", "single"}:
                    post_batches(base, batch_bodies(statements(key, "farm", 0, 2000)))
                with serve(plain_command, {}, "/plain") as plain:
                    reads = bench_reads(base, plain, runs, seconds)
                details[f"reads {backend}"] = {
                    name: {"ours": mine, "plain": plain_rates}
                    for name, (mine, plain_rates) in reads.items()
                }
                for name, (mine, plain_rates) in reads.items():
                    metric = f"{name} req/s ({backend})"
                    note = "reference: plain FastAPI JSON endpoint"
                    results.append(
                        rate_result("http reads", metric, mine, plain_rates, "req/s", 0.5, note)
                    )
    print_results(results, "HTTP service")
    if args.json:
        write_json(results, args.json, {"details": details})
    return results


@contextmanager
def _database(backend: str, scratch: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield sqlite_url(scratch / "http.db")
    else:
        with postgres_schema() as url:
            yield url


if __name__ == "__main__":
    main()
