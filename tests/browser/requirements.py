"""What the browser tests need on the machine. `.ci/run` installs Debian's Chromium; PostgreSQL and Redis
run there. Locally a test skips, naming what is missing; under CI=true it fails instead."""

import importlib.util
import os

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def browser_requirements_missing() -> str:
    """What the browser tests lack on this machine, as a phrase ('' when nothing is missing)."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        missing.append("PostgreSQL (DATABASE_URL)")
    if not os.environ.get("REDIS_URL"):
        missing.append("Redis (REDIS_URL)")
    return ", ".join(missing)
