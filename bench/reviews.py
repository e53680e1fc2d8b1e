"""Review posting through HTTP (issue 5), beside a reference measured in the same run.

The service runs under uvicorn with 2 workers on SQLite (WAL, synchronous=FULL: every acknowledged
review is on disk) with the rate limits raised out of the way; wrk posts reviews of the demo lot
from 64 connections, each one unique (thread and counter in its text), and every answer must be
201. The reference is a plain FastAPI endpoint, also 2 workers, that parses the same JSON and
inserts it into its own SQLite table with the same durability, one transaction per request.
Target: at least 1,000 durable reviews per second.

Run alone: ``python bench/reviews.py [--quick]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx2 as httpx
from common import Result, median, print_machine, print_results, scratch_dir, sqlite_url
from http_api import serve

from api.demo import GTIN_BAG

LOT = f"01/{GTIN_BAG}/10/R-2026-112"

POST_LUA = """
local counter = 0
local threads = {}
id = 0  -- a global: setup() sets it in each thread's own Lua state
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"item": "%s", "kind": "experience", "rating": 4, "title": "Bench", '
    .. '"text": "Review %d from thread %d of the benchmark run %s"}', ITEM, counter, id, RUN)
  return wrk.format("POST", PATH, nil, body)
end
"""

PLAIN_APP = """
import os, sqlite3, threading
from fastapi import FastAPI
from pydantic import BaseModel
app = FastAPI()
local = threading.local()
def db():
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(os.environ["PLAIN_DB"], isolation_level=None, timeout=60)
        local.db.execute("PRAGMA journal_mode=WAL")
        local.db.execute("PRAGMA synchronous=FULL")
        local.db.execute("CREATE TABLE IF NOT EXISTS review (id INTEGER PRIMARY KEY, body TEXT)")
    return local.db
class Review(BaseModel):
    item: str
    kind: str
    rating: int | None = None
    title: str
    text: str
@app.post("/plain", status_code=201)
def plain(review: Review) -> dict[str, int]:
    cursor = db().execute("INSERT INTO review (body) VALUES (?)", (review.model_dump_json(),))
    return {"id": cursor.lastrowid or 0}
"""


def wrk_post(url: str, path: str, seconds: int, run: str, script_dir: Path) -> float:
    """Reviews per second wrk gets answered with 2xx (any other answer fails the run)."""
    script = script_dir / f"post-{run}.lua"
    script.write_text(f'ITEM = "{LOT}"\nPATH = "{path}"\nRUN = "{run}"\n' + POST_LUA)
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if rate is None or re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    return float(rate.group(1))


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one each")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    runs, seconds = (1, 3) if args.quick else (3, 10)
    print_machine()
    ours, reference = [], []
    with scratch_dir("reviews") as scratch:
        env = {
            "PROVENANCE_DATABASE_URL": sqlite_url(scratch / "reviews.db"),
            "PROVENANCE_KEYS_DIR": str(scratch / "keys"),
            "PROVENANCE_REVIEW_BURST_PER_CLIENT": "100000000",
            "PROVENANCE_REVIEW_BURST_PER_ITEM": "100000000",
        }
        command = [sys.executable, "-m", "api", "--workers", "2", "--log-level", "warning"]
        plain_dir = Path(tempfile.mkdtemp(prefix="provenance-bench-plain-"))
        (plain_dir / "plain_reviews.py").write_text(PLAIN_APP)
        plain_command = [
            *(sys.executable, "-m", "uvicorn", "plain_reviews:app", "--workers", "2"),
            *("--log-level", "warning", "--app-dir", str(plain_dir)),
        ]
        with (
            serve(command, env, "/") as base,
            serve(plain_command, {"PLAIN_DB": str(scratch / "plain.db")}, "/docs") as plain,
        ):
            before = int(httpx.get(base + "/").json()["size"])
            for run in range(runs):
                ours.append(wrk_post(base, "/api/v1/reviews", seconds, f"r{run}", scratch))
                reference.append(wrk_post(plain, "/plain", seconds, f"p{run}", scratch))
            appended = int(httpx.get(base + "/").json()["size"]) - before
    target = 1000.0
    results = [
        Result("reviews", "durable reviews/s through HTTP", median(ours), median(reference),
               "reviews/s", median(ours) / median(reference), "≥ 1,000 reviews/s",
               median(ours) >= target,
               f"{appended} reviews appended; reference: plain FastAPI + one durable SQLite insert"),
    ]  # fmt: skip
    print_results(results, "Reviews")
    return results


if __name__ == "__main__":
    main()
