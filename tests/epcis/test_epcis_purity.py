"""The EPCIS package stays pure: no web framework, no HTTP client, not the reference implementation."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "fastapi",
    "starlette",
    "httpx",
    "requests",
    "epcis_event_hash_generator",
    "pyld",
    "dateutil",
    "api",
    "web",
)


def test_importing_provenance_epcis_pulls_in_nothing_forbidden() -> None:
    code = (
        "import sys, provenance.epcis\n"
        "from provenance.epcis import document, event_hash, identifiers, mapping\n"
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
