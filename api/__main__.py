"""``python -m api``: run the service (what ``make run`` does), printing where it listens."""

from __future__ import annotations

import argparse
import os

import uvicorn

from api.app import create_app
from api.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo supply chain")
    args = parser.parse_args()
    overrides: dict[str, object] = {"demo": not args.no_demo}
    if "PROVENANCE_BASE_URL" not in os.environ:
        overrides["base_url"] = f"http://{args.host}:{args.port}"
    settings = Settings(**overrides)  # type: ignore[arg-type]
    print(f"Provenance ledger: {settings.base_url}/  (data: {settings.database_url})", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
