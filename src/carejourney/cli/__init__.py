"""The ``carejourney`` command line (Typer + Rich).

Each command group lives in its own ``cmd_<name>.py`` module exposing ``register(app)``;
this package discovers them, so a new command is one new file. Commands are thin: load the
project, call the library, print. User mistakes (:class:`CarejourneyError`) print a clear
message and exit non-zero — never a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from ..errors import CarejourneyError
from .common import app, console_err

__all__ = ["app", "main"]

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _mod.name.startswith("cmd_"):
        importlib.import_module(f"{__name__}.{_mod.name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int):  # typer.Exit(code) in non-standalone mode
            return rv
    except CarejourneyError as exc:
        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except SystemExit as exc:  # typer/click exit with a code
        return int(exc.code or 0)
    except KeyboardInterrupt:
        console_err.print("interrupted; the store is unchanged by the step that was running")
        return 130
    except Exception as exc:
        # Usage errors (bad option values, unknown commands). Typer may raise its own bundled
        # click's exceptions rather than click's, so recognise them by shape, not by class.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        if type(exc).__name__ == "Abort":
            return 1
        raise
    return 0


def _entry() -> None:  # pragma: no cover - console script
    sys.exit(main())
