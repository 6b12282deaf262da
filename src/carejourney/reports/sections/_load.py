"""Imports every section module so each registers itself (order is set by ``@section``)."""

import importlib
import pkgutil

from .. import sections as _pkg

for _m in pkgutil.iter_modules(_pkg.__path__):
    if not _m.name.startswith("_") and _m.name != "base":
        importlib.import_module(f"{_pkg.__name__}.{_m.name}")
