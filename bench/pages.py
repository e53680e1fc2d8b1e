"""Consumer page benchmarks (issue 4), each beside its reference measured in the same run.

A blended coffee whose lot page draws on 50 upstream entries (12 farms' origins and shipments, six
washing stations with their footprints and shipments, certifications, a blend, a roast, the bag's
footprint, declaration and product statement) is served by uvicorn with 2 workers on SQLite.

1. Item page requests per second (wrk, 2 threads, 64 connections, ``Accept: text/html``) against a
   plain FastAPI endpoint that renders a Jinja2 template of the same size on every request, also
   under uvicorn with 2 workers. Target: at least 50%. Repeat views of one page are answered from
   the page cache (the log did not grow); the same with ``If-None-Match`` gets 304.
2. Latency at a steady 500 requests per second (wrk, 50 connections each paced to 10 requests per
   second by a Lua ``delay``): p50 and p99. Target: p99 under 50 ms.
3. A first (uncached) render after the log grew: median of several, in milliseconds.
4. Page weight: HTML + CSS + script of the page, in KB. Target: under 100 KB.

Run alone: ``python bench/pages.py [--quick]``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2 as httpx
from common import (
    Result,
    median,
    print_machine,
    print_results,
    rate_result,
    scratch_dir,
    sqlite_url,
)
from http_api import ADMIN, ledger_server, serve

from provenance.keys import generate_private_key, public_key_bytes
from provenance.statements import sign_statement

GS1 = "https://id.gs1.org/01"
CHERRY, GREEN, BLEND, BAG = "09506000134352", "09506000134369", "09506000134383", "09506000134376"
BAG_LOT = f"/01/{BAG}/10/BLEND-1"
HTML = {"Accept": "text/html"}
PACE_LUA = "function delay() return 100 end\n"  # each connection: one request per 100 ms

PLAIN_APP = """
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Environment
env = Environment(autoescape=True)
template = env.from_string('''<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title></head><body><main><h1>{{ title }}</h1>
{% for c in claims %}<article class="claim"><dl><dt>Place</dt><dd>{{ c.place }}</dd>
<dt>Producer</dt><dd>{{ c.producer }}</dd><dt>Date</dt><dd>{{ c.date }}</dd></dl>
<p class="signed" data-claim="{{ c.index }}">Signed by <a href="/parties/{{ c.by }}">{{ c.by }}</a>
 · entry #{{ c.index }} · <span class="claim-check"><a href="/api/v1/log/entries/{{ c.index }}">proof</a>
</span></p></article>{% endfor %}<pre>{{ padding }}</pre></main></body></html>''')
CLAIMS = [dict(index=i, by=f"farm-{i % 12}", place="Huila, CO", producer=f"Finca {i}",
               date="2026-07-14") for i in range(50)]
PADDING = "x" * int(__import__("os").environ.get("PLAIN_PADDING", "0"))
app = FastAPI()
@app.get("/plain")
def plain() -> HTMLResponse:
    return HTMLResponse(template.render(title="A product", claims=CLAIMS, padding=PADDING))
"""


def register(base: str, party: str, role: str = "supplier") -> object:
    """Register ``party`` with a new key; return the key."""
    key = generate_private_key()
    public = base64.b64encode(public_key_bytes(key)).decode()
    response = httpx.post(
        base + "/api/v1/parties",
        headers={"Authorization": f"Bearer {ADMIN}"},
        json={"id": party, "role": role, "name": party.title(), "keys": [public]},
    )
    response.raise_for_status()
    return key


def post(base: str, key: object, body: dict[str, Any]) -> None:
    response = httpx.post(base + "/api/v1/statements", content=sign_statement(body, [key]))  # type: ignore[list-item]
    response.raise_for_status()


def build_chain(base: str) -> int:
    """Register the parties and submit a chain whose final lot has 50 upstream entries."""
    keys: dict[str, object] = {}
    parties = [(f"farm-{i}", "supplier") for i in range(12)]
    parties += [(f"mill-{i}", "supplier") for i in range(6)]
    parties += [("roaster", "brand"), ("cert", "certifier")]
    for party, role in parties:
        keys[party] = register(base, party, role)
    upstream = 0

    def say(by: str, **body: Any) -> None:
        nonlocal upstream
        post(base, keys[by], {"by": by, **body})
        upstream += 1

    greens = []
    for mill in range(6):
        green = f"{GS1}/{GREEN}/10/G-{mill}"
        greens.append(green)
        cherries = []
        for farm in (2 * mill, 2 * mill + 1):
            cherry = f"{GS1}/{CHERRY}/10/C-{farm}"
            cherries.append(cherry)
            say(f"farm-{farm}", type="origin", items=[cherry], producer=f"Finca {farm}",
                place={"country": "CO", "region": "Huila"}, date="2026-07-14",
                method="hand-picked", quantity={"value": 500, "unit": "kg"})  # fmt: skip
            say(f"farm-{farm}", type="custody", items=[cherry], event="shipping",
                to=f"mill-{mill}", date="2026-07-15", **{"from": f"farm-{farm}"})  # fmt: skip
        say(f"mill-{mill}", type="transformation", process="washed",
            inputs=[{"item": c, "quantity": {"value": 500, "unit": "kg"}} for c in cherries],
            outputs=[{"item": green, "quantity": {"value": 200, "unit": "kg"}}],
            date="2026-08-01")  # fmt: skip
        say(f"mill-{mill}", type="footprint", items=[green], unit="kg", per="kg",
            figures={"kg_co2e": 3.0, "water_l": 400}, method="ISO 14067",
            scope="cradle-to-gate")  # fmt: skip
        say(f"mill-{mill}", type="custody", items=[green], event="shipping", to="roaster",
            date="2026-08-20", **{"from": f"mill-{mill}"})  # fmt: skip
    for farm in range(3):
        say("cert", type="certification", subject={"party": f"farm-{farm}"}, standard="Fairtrade",
            certificate=f"FT-{farm}", valid_from="2026-01-01", valid_until="2027-12-31")  # fmt: skip
    blend = f"{GS1}/{BLEND}/10/BL-1"
    say("roaster", type="transformation", process="blended",
        inputs=[{"item": g, "quantity": {"value": 200, "unit": "kg"}} for g in greens],
        outputs=[{"item": blend, "quantity": {"value": 1200, "unit": "kg"}}],
        date="2026-09-01")  # fmt: skip
    bags = f"{GS1}/{BAG}/10/BLEND-1"
    say("roaster", type="transformation", process="roasted and packed",
        inputs=[{"item": blend, "quantity": {"value": 1200, "unit": "kg"}}],
        outputs=[{"item": bags, "quantity": {"value": 4000, "unit": "bag"}}],
        date="2026-09-05")  # fmt: skip
    say("roaster", type="footprint", items=[bags], unit="bag", per="250 g bag",
        figures={"kg_co2e": 0.4}, method="ISO 14067", scope="gate-to-gate")  # fmt: skip
    say("roaster", type="declaration", items=[bags], risks=["caffeine"], benefits=["shade"])
    say("roaster", type="product", items=[f"{GS1}/{BAG}"], name="House blend, whole bean")
    return upstream


def wrk(url: str, seconds: int, headers: dict[str, str], script: Path | None = None,
        connections: int = 64) -> tuple[float, dict[str, float]]:  # fmt: skip
    """Requests per second and latency percentiles (ms) that wrk measures against ``url``."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if rate is None or re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    percentiles = {}
    for label, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s)$", out, re.M):
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        percentiles[label] = float(value) * scale
    return float(rate.group(1)), percentiles


def first_render_ms(base: str, runs: int) -> float:
    """A page's first render after the log grew (so no cache can answer), median of ``runs``."""
    times = []
    for n in range(runs):
        register(base, f"grow-{n}")  # the log grows: every cached answer is for an older size
        for _ in range(2):  # both workers see the new size; time each one's first render
            start = time.perf_counter()
            httpx.get(base + BAG_LOT, headers={**HTML, "Accept-Language": "es"}).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return median(times)


def demo_page_weight() -> tuple[int, int]:
    """The demo lot's page plus its CSS and scripts, in bytes: as served, and gzipped."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            database_url=sqlite_url(Path(scratch) / "demo.db"), keys_dir=Path(scratch) / "keys",
            demo=True,
        )  # fmt: skip
        with TestClient(create_app(settings)) as client:
            page = client.get(f"/01/{BAG}/10/R-2026-112", headers=HTML)
            assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
            plain = len(page.content) + sum(len(client.get(a).content) for a in assets)
            zipped = len(gzip.compress(page.content)) + sum(
                len(gzip.compress(client.get(a).content)) for a in assets
            )
    return plain, zipped


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one each")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    runs, seconds = (1, 3) if args.quick else (3, 10)
    print_machine()
    results: list[Result] = []
    with (
        scratch_dir("pages") as scratch,
        ledger_server(sqlite_url(scratch / "pages.db"), scratch) as base,
    ):
        upstream = build_chain(base)
        page = httpx.get(base + BAG_LOT, headers=HTML)
        page.raise_for_status()
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        weight = len(page.content) + sum(len(httpx.get(base + a).content) for a in assets)
        etag = page.headers["etag"]
        plain_dir = Path(tempfile.mkdtemp(prefix="provenance-bench-plain-"))
        (plain_dir / "plain_app.py").write_text(PLAIN_APP)
        plain_command = [
            *(sys.executable, "-m", "uvicorn", "plain_app:app", "--workers", "2"),
            *("--log-level", "warning", "--app-dir", str(plain_dir)),
        ]
        probe_env = {"PLAIN_PADDING": "0"}
        with serve(plain_command, probe_env, "/plain") as plain:
            bare = len(httpx.get(plain + "/plain").content)
        padding = {"PLAIN_PADDING": str(max(0, len(page.content) - bare))}
        pace = scratch / "pace.lua"
        pace.write_text(PACE_LUA)
        mine, cached_304, reference, p50, p99 = [], [], [], [], []
        with serve(plain_command, padding, "/plain") as plain:
            plain_size = len(httpx.get(plain + "/plain").content)
            for _ in range(runs):
                mine.append(wrk(base + BAG_LOT, seconds, HTML)[0])
                cached_304.append(wrk(base + BAG_LOT, seconds, {**HTML, "If-None-Match": etag})[0])
                reference.append(wrk(plain + "/plain", seconds, HTML)[0])
                # Paced as phones are: every browser asks for gzip, which the page cache keeps.
                gzip_html = {**HTML, "Accept-Encoding": "gzip"}
                _, paced = wrk(base + BAG_LOT, seconds, gzip_html, pace, connections=50)
                p50.append(paced["50"])
                p99.append(paced["99"])
        first = first_render_ms(base, 3 if args.quick else 9)
        zipped = httpx.get(base + BAG_LOT, headers={**HTML, "Accept-Encoding": "gzip"})
        transfer = int(zipped.headers["content-length"])  # .content would be the decoded bytes
    demo_weight, demo_transfer = demo_page_weight()
    note = f"reference: plain FastAPI + Jinja2 page of {plain_size} B (ours {len(page.content)} B)"
    results.append(rate_result("pages", f"item page req/s ({upstream} upstream entries)",
                               mine, reference, "req/s", 0.5, note))  # fmt: skip
    results.append(rate_result("pages", "item page 304 req/s (If-None-Match)",
                               cached_304, reference, "req/s", 0.5, note))  # fmt: skip
    results += [
        Result("pages", "item page p99 at 500 req/s", median(p99), None, "ms", None,
               "p99 < 50 ms", median(p99) < 50, f"p50 {median(p50):.2f} ms; wrk, 50 paced connections"),
        Result("pages", "item page first render after the log grew", first, None, "ms", None,
               "report", None, "no cache can answer: story, evidence and template"),
        Result("pages", "demo item page weight (HTML + CSS + scripts)", demo_weight / 1024, None,
               "KB", None, "< 100 KB", demo_weight < 100 * 1024,
               f"{demo_transfer / 1024:.1f} KB over the wire with gzip; no request to another host"),
        Result("pages", "50-upstream page weight (HTML + CSS + scripts)", weight / 1024, None,
               "KB", None, "report", None,
               f"HTML alone {transfer / 1024:.1f} KB gzipped; most of it is the evidence bundle"),
    ]  # fmt: skip
    print_results(results, "Consumer pages")
    return results


if __name__ == "__main__":
    main()
