"""The core stays pure: importing it pulls in no web framework, template engine or HTTP client."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "jinja2", "httpx", "uvicorn", "api", "web")


def test_core_imports_no_web_framework() -> None:
    code = (
        "import sys, pkgutil, importlib, provenance\n"
        "for m in pkgutil.walk_packages(provenance.__path__, 'provenance.'):\n"
        "    if '.migrations' not in m.name: importlib.import_module(m.name)\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"provenance imports {result.stdout.strip()}"
