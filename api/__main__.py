"""``python -m api``: run the service (what ``make run`` does), printing where it listens.

With ``--workers N`` (N > 1) uvicorn starts N worker processes, each building its own app through
:func:`api.app.create_app` from the same environment; the log's append lock keeps them in order.

uvicorn's own reading of ``X-Forwarded-For`` is off: it would believe any local process that sets
it. Whether the header is believed is the ``PROVENANCE_TRUSTED_PROXY`` setting's decision alone
(:func:`api.ratelimit.client_address`).
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from api.app import create_app
from api.demo import GTIN_BAG
from api.settings import Settings

DEMO_LOT = f"01/{GTIN_BAG}/10/R-2026-112"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo supply chain")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    os.environ.setdefault("PROVENANCE_BASE_URL", f"http://{args.host}:{args.port}")
    os.environ["PROVENANCE_DEMO"] = "false" if args.no_demo else "true"
    settings = Settings()
    print(f"Provenance ledger: {settings.base_url}/  (data: {settings.database_url})", flush=True)
    if settings.demo:
        print(f"Demo coffee, as its QR code opens it: {settings.base_url}/{DEMO_LOT}", flush=True)
    if args.workers > 1:
        # Create the keys, found the log and load the demo once, here, so workers do not race.
        prepare_once(settings)
        os.environ["PROVENANCE_DEMO"] = "false"
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            proxy_headers=False,
        )
    else:
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            proxy_headers=False,
        )


def prepare_once(settings: Settings) -> None:
    """Open the ledger once in this process (keys, founding entry, demo if asked), then close it."""
    from api.demo import load_demo
    from provenance.bootstrap import open_ledger

    ledger, keys = open_ledger(settings.core())
    if settings.demo:
        load_demo(ledger, keys, settings.keys_dir / "demo")
    ledger.close()
    ledger.log.store.close()


if __name__ == "__main__":
    main()
