"""Stable fingerprints of compiled closures, so ``cache=True`` works for built kernels.

Numba keys its on-disk cache on the function's bytecode plus a pickle of its
closure cells; a cell holding another dispatcher pickles with a random UUID,
so every process would miss the cache. :class:`StableClosureCache` replaces
that key with a hash of what the code *is*: bytecode, constants, the numeric
globals it reads, and, recursively, the functions in its closure. Editing any
core therefore invalidates every kernel built from it, which Numba's own
cache does not guarantee for callees.
"""

from __future__ import annotations

import hashlib
import types

import numpy as np
from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher


def _code_parts(code: types.CodeType, seen: set) -> list[bytes]:
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            parts.extend(_code_parts(const, seen))
        else:
            parts.append(repr(const).encode())
    return parts


def _value_parts(value, seen: set) -> list[bytes]:
    if isinstance(value, Dispatcher):
        opts = sorted((k, repr(v)) for k, v in value.targetoptions.items())
        return [b"D", repr(opts).encode(), *_function_parts(value.py_func, seen)]
    if hasattr(value, "py_func") and callable(value):  # CUDA dispatchers
        return [b"d", type(value).__name__.encode(), *_function_parts(value.py_func, seen)]
    if isinstance(value, types.FunctionType):
        return [b"F", *_function_parts(value, seen)]
    if isinstance(value, types.ModuleType):
        return [b"M", value.__name__.encode()]
    if isinstance(value, np.ndarray):
        return [b"A", str(value.dtype).encode(), repr(value.shape).encode(), value.tobytes()]
    if isinstance(value, (bool, int, float, complex, str, bytes, np.generic, type(None))):
        return [b"S", type(value).__name__.encode(), repr(value).encode()]
    if isinstance(value, (tuple, list)):
        out = [b"T"]
        for v in value:
            out.extend(_value_parts(v, seen))
        return out
    return [b"O", repr(type(value)).encode()]


def _function_parts(func: types.FunctionType, seen: set) -> list[bytes]:
    if id(func) in seen:
        return [b"<recursive>", func.__qualname__.encode()]
    seen.add(id(func))
    parts = [func.__module__.encode(), func.__qualname__.encode()]
    parts.extend(_code_parts(func.__code__, seen))
    for cell in func.__closure__ or ():
        parts.extend(_value_parts(cell.cell_contents, seen))
    for name in sorted(_global_names(func.__code__)):
        if name in func.__globals__:
            parts.append(name.encode())
            parts.extend(_value_parts(func.__globals__[name], seen))
    return parts


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def fingerprint(func: types.FunctionType) -> str:
    """sha256 over the function, its closure and the globals it reads, recursively."""
    h = hashlib.sha256()
    for part in _function_parts(func, set()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


class StableClosureCache(FunctionCache):
    """Numba's function cache with a closure-content key instead of a pickle."""

    def __init__(self, py_func, salt: str = ""):
        super().__init__(py_func)
        self._fingerprint = fingerprint(py_func) + salt

    def _index_key(self, sig, codegen):
        return (sig, codegen.magic_tuple(), self._fingerprint)


def enable_stable_cache(dispatcher: Dispatcher) -> Dispatcher:
    """Attach a :class:`StableClosureCache` to a CPU dispatcher; returns it."""
    opts = repr(sorted((k, repr(v)) for k, v in dispatcher.targetoptions.items()))
    dispatcher._cache = StableClosureCache(dispatcher.py_func, salt=opts)
    return dispatcher
