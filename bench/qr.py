"""QR code benchmarks (issue: QR codes and labels), each beside its reference measured in the same run.

1. A first render: the PNG (512 pixels) of the QR code of a Digital Link URL never drawn before in
   the process, from the item path to the encoded bytes (``item_url`` and ``render``), median over
   distinct serials; against the ``qrcode`` package's own way for the same URL, level and border
   (``make``, ``make_image``, PNG ``save``) at the same pixels a module. Target: under 10 ms. The
   same for the SVG, against ``qrcode``'s ``SvgPathImage``, as a report.
2. Cached PNG responses per second: ``/qr/png/<path>`` under uvicorn with 2 workers, measured with
   wrk (2 threads, 64 connections), against a plain FastAPI endpoint that returns the same bytes,
   also under uvicorn with 2 workers. Target: at least 5,000 per second.

Run alone: ``python bench/qr.py [--quick]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import httpx2 as httpx
import qrcode
import qrcode.image.svg
from common import (
    Result,
    median,
    print_machine,
    print_results,
    rate_result,
    scratch_dir,
    spread,
    sqlite_url,
    write_json,
)
from http_api import ledger_server, serve, wrk

from web.qr import ERROR_CORRECTION, QUIET_ZONE, item_url, modules, render

BASE = "https://provenance.example.org"
LOT = "01/09506000134376/10/R-2026-112"
SIZE = 512
PLAIN_APP = """
import os
from fastapi import FastAPI
from fastapi.responses import Response
PNG = open(os.environ["BENCH_QR_PNG"], "rb").read()
app = FastAPI()
@app.get("/plain")
async def plain() -> Response:
    return Response(PNG, media_type="image/png")
"""


def reference_png(url: str, box_size: int) -> bytes:
    """The PNG the ``qrcode`` package makes for ``url`` by itself."""
    symbol = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE, box_size=box_size)
    symbol.add_data(url)
    symbol.make(fit=True)
    out = BytesIO()
    symbol.make_image().save(out)
    return out.getvalue()


def reference_svg(url: str) -> bytes:
    """The SVG (one path) the ``qrcode`` package makes for ``url`` by itself."""
    symbol = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
    symbol.add_data(url)
    symbol.make(fit=True)
    out = BytesIO()
    symbol.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()


def first_renders(run: int, count: int) -> dict[str, list[float]]:
    """Milliseconds of first renders of ``count`` new serials' codes, ours and the reference's
    interleaved URL by URL so that the machine's noise falls on both alike."""
    times: dict[str, list[float]] = {"png": [], "png ref": [], "svg": [], "svg ref": []}
    for number in range(count):
        path = f"{LOT}/21/{run:03d}{number:06d}"
        start = time.perf_counter()
        url = item_url(BASE, path)
        render(url, "png", SIZE)
        times["png"].append(time.perf_counter() - start)
        box = SIZE // len(modules(url))  # the same pixels a module as ours
        start = time.perf_counter()
        reference_png(url, box)
        times["png ref"].append(time.perf_counter() - start)

        # The SVG of another serial, so that it is a first render too.
        path = f"{LOT}/21/S{run:03d}{number:06d}"
        start = time.perf_counter()
        render(item_url(BASE, path), "svg", SIZE)
        times["svg"].append(time.perf_counter() - start)
        start = time.perf_counter()
        reference_svg(item_url(BASE, path))
        times["svg ref"].append(time.perf_counter() - start)
    return {name: [seconds * 1000 for seconds in values] for name, values in times.items()}


def bench_first_render(runs: int, count: int) -> list[Result]:
    # Tables built once a process (each version's layout) are not a first render's cost.
    render(item_url(BASE, f"{LOT}/21/WARM"), "png", SIZE)
    reference_png(item_url(BASE, f"{LOT}/21/WARM"), 11)
    medians: dict[str, list[float]] = {"png": [], "png ref": [], "svg": [], "svg ref": []}
    for run in range(runs):
        for name, values in first_renders(run, count).items():
            medians[name].append(statistics.median(values))
    for name, values in medians.items():
        print(f"  first render {name}: {spread(values)} ms (median of {count} URLs, {runs} runs)")
    ours, reference = median(medians["png"]), median(medians["png ref"])
    svg, svg_reference = median(medians["svg"]), median(medians["svg ref"])
    return [
        Result(
            "qr",
            f"first PNG render ({SIZE} px)",
            ours,
            reference,
            "ms",
            reference / ours,
            "< 10 ms",
            ours < 10,
            note="reference: qrcode make + make_image + PNG save, same URL and pixels a module",
        ),
        Result(
            "qr",
            "first SVG render",
            svg,
            svg_reference,
            "ms",
            svg_reference / svg,
            "report",
            None,
            note="reference: qrcode make + SvgPathImage",
        ),
    ]


def bench_cached(runs: int, seconds: int) -> list[Result]:
    with (
        scratch_dir("qr") as scratch,
        ledger_server(sqlite_url(scratch / "qr.db"), scratch) as base,
    ):
        url = f"{base}/qr/png/{LOT}"
        response = httpx.get(url)
        response.raise_for_status()
        (scratch / "qr.png").write_bytes(response.content)
        (scratch / "plain_app.py").write_text(PLAIN_APP)
        plain_command = [
            *(sys.executable, "-m", "uvicorn", "plain_app:app", "--workers", "2"),
            *("--log-level", "warning", "--app-dir", str(scratch)),
        ]
        env = {"BENCH_QR_PNG": str(scratch / "qr.png")}
        with serve(plain_command, env, "/plain") as plain:
            wrk(url, 1)  # every worker renders once
            ours, reference = [], []
            for _ in range(runs):
                ours.append(wrk(url, seconds))
                reference.append(wrk(plain + "/plain", seconds))
    print(f"  cached PNG: {spread(ours)} req/s; plain endpoint: {spread(reference)} req/s")
    cached = rate_result(
        "qr",
        "cached PNG req/s (2 workers)",
        ours,
        reference,
        "req/s",
        0.5,
        note="reference: plain FastAPI endpoint returning the same PNG bytes",
    )
    target = Result(
        "qr",
        "cached PNG req/s, absolute",
        cached.ours,
        None,
        "req/s",
        None,
        "≥ 5,000 req/s",
        cached.ours >= 5000,
    )
    return [cached, target]


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the cached-response benchmark: apt-get install wrk")
    runs = 1 if args.quick else 5
    count = 30 if args.quick else 200
    seconds = 3 if args.quick else 10
    print_machine()
    results = bench_first_render(runs, count)
    results += bench_cached(1 if args.quick else 3, seconds)
    print_results(results, "QR codes")
    if args.json:
        write_json(results, args.json)
    return results


if __name__ == "__main__":
    main()
