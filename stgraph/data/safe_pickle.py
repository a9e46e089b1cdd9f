"""Restricted unpickling of array files (e.g. DCRNN's ``adj_mx.pkl``): never ``pickle.load``.

A pickle can call any importable function while loading. :func:`load_restricted` resolves only
the few NumPy globals needed to rebuild arrays and dtypes; every other global (``os.system``,
``builtins.eval``, ...) is refused with a ``ValueError`` before anything runs.
``_codecs.encode`` (how Python 3 writes ``bytes`` into protocol-2 pickles) is the only
non-NumPy function allowed; it just encodes a string.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

#: ``(module, name)`` pairs a pickle may reference (plain containers need no globals).
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # how Python 3 protocol-2 pickles store bytes (pure function)
    }
)


def _numpy_global(module: str, name: str) -> Any:
    """Resolve an allowed global without importing the deprecated ``numpy.core``."""
    if module == "_codecs":
        return codecs.encode
    if module == "numpy":
        return getattr(np, name)
    core = getattr(np, "_core", None) or getattr(np, "core")  # noqa: B009  (numpy 1 vs 2)
    return getattr(core.numeric if module.endswith("numeric") else core.multiarray, name)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed global, refuse every other."""
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed (only NumPy arrays/dtypes are)"
            )
        return _numpy_global(module, name)


def load_restricted(path: str | Path, encoding: str = "latin1") -> Any:
    """Unpickle ``path`` allowing only plain containers, strings, numbers and NumPy arrays.

    Args:
        path: the pickle file.
        encoding: how Python 2 ``str`` objects are decoded (``latin1`` reads Python 2 NumPy
            pickles, as shipped by DCRNN).

    Raises:
        ValueError: the file references a forbidden global, or is not a valid pickle.
    """
    p = Path(path)
    data = p.read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
    except pickle.UnpicklingError as e:
        raise ValueError(f"{p}: refused or invalid pickle ({e})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise ValueError(f"{p}: not a valid array pickle ({type(e).__name__}: {e})") from None
