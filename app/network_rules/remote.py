"""What this resource does on its servers: default steps, script parameters, results.

See `app.actions.builtins`; `register()` is called by `app.registrations.register_all`.
"""

from __future__ import annotations

from app.core.settings import Settings


def register(settings: Settings) -> None:
    """Nothing yet."""
