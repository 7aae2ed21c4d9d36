"""Whether a Prefect API is configured for flow runs to report to. Without one, `reconcile` and `provision` run
their work in this process: no temporary Prefect server (it takes seconds to start), and, when nothing could
configure an API, not even an import of Prefect (about two seconds on a small machine)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def prefect_api_configured() -> bool:
    """True when a Prefect API (PREFECT_API_URL: in the environment, the active profile or a settings file) is
    set. Prefect itself answers whenever something could set one; only then is it imported."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    if "prefect" not in sys.modules and not _may_configure_prefect():
        return False
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _may_configure_prefect() -> bool:
    """Whether a source Prefect reads its settings from besides the environment (see prefect/settings/sources.py)
    could set an API: a chosen profile, a profiles file that names one, or settings files in this directory."""
    if os.environ.get("PREFECT_PROFILE") or os.environ.get("PREFECT_PROFILES_PATH"):
        return True
    if Path("prefect.toml").exists() or _mentions(Path(".env"), "PREFECT_") \
            or _mentions(Path("pyproject.toml"), "tool.prefect"):
        return True
    home = Path(os.environ["PREFECT_HOME"]) if os.environ.get("PREFECT_HOME") else Path.home() / ".prefect"
    return _mentions(home / "profiles.toml", "PREFECT_API_URL")


def _mentions(path: Path, text: str) -> bool:
    try:
        return text in path.read_text(encoding="utf-8", errors="replace")
    except OSError:  # absent or unreadable: it sets nothing
        return False
