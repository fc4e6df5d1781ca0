"""Numba compilation policy and the few LLVM intrinsics the kernels need.

Every kernel is compiled lazily (on first call), without ``parallel=True``
and without ``fastmath``: the kernels are serial, release the GIL, and are
launched over chunks from a thread pool (see ``_engines.launch``).

Compiled code is cached on disk where users expect compiled artefacts, never
inside the installed package (files pip never recorded there outlived an
uninstall and then shadowed the next install as an empty namespace package;
a read-only environment could not cache at all): ``NUMBA_CACHE_DIR`` if set
and writable, else the per-user cache directory (:func:`user_cache_root`).
Only fastglorot's dispatchers use these locations: :func:`njit_cached` and
:func:`cuda_cached` give each one a cache object whose locators are
fastglorot's, and numba's global locator list is left as it is.  With no
writable location, functions compile in memory instead.

numba invalidates a cache entry when the source file of the function
changes, not when the helpers inlined into it (other modules) do, so
fastglorot's entries also carry a digest of all the package's sources
(:func:`package_digest`): any change, an upgrade or an edit, recompiles.

The intrinsics exist because numba lowers ``math.sqrt`` on float32 to a libm
call (which blocks loop vectorization) and has no scalar bit casts.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading

from typing import (TYPE_CHECKING, Any, Callable, List, Literal, Optional, Set, Tuple, TypedDict, TypeVar, Union,
                    cast, overload)

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import caching
from numba.extending import intrinsic

if TYPE_CHECKING:
    from numba.core.base import BaseContext
    from numba.core.dispatcher import Dispatcher
    from numba.core.typing.context import BaseContext as TypingContext
    from numba.core.typing.templates import Signature

__all__ = ["njit_cached", "cuda_cached", "kernel", "inline", "intrinsic_as", "ieee_sqrt", "float_bits",
           "float32_from_bits", "float64_from_bits", "announce_compile", "cached_on_disk", "cache_directory",
           "user_cache_root", "cache_roots", "package_digest"]

F = TypeVar("F", bound=Callable[..., Any])
_FloatT = TypeVar("_FloatT", bound=Union[float, np.floating[Any]])

Codegen = Callable[["BaseContext", ir.IRBuilder, "Signature", Tuple[ir.Value, ...]], ir.Value]
"""Lowering of an intrinsic: LLVM IR for the call, from the lowered arguments."""

IntrinsicTyping = Optional[Tuple["Signature", Codegen]]
"""What an intrinsic's typing function returns: the signature and its lowering,
or ``None`` for argument types it does not accept."""


class _KernelOptions(TypedDict):
    nogil: bool
    error_model: Literal["numpy"]


_KERNEL_OPTIONS: _KernelOptions = {"nogil": True, "error_model": "numpy"}


APP_NAME = "fastglorot"
"""The per-user cache directory's name."""


def user_cache_root() -> Optional[str]:
    """fastglorot's per-user cache directory, or None when this user has none.

    The platform's convention, as numba's own user-wide cache finds it
    (appdirs): ``$XDG_CACHE_HOME/fastglorot``, else ``~/.cache/fastglorot``
    on Linux and other POSIX systems; ``~/Library/Caches/fastglorot`` on
    macOS; ``%LOCALAPPDATA%\\fastglorot\\Cache`` on Windows.
    """
    from numba.misc import appdirs  # untyped

    path = str(cast(Any, appdirs).user_cache_dir(APP_NAME, appauthor=False))
    if not os.path.isabs(path):  # XDG_CACHE_HOME empty or relative: the XDG spec says to ignore it
        path = os.path.join(os.path.expanduser("~"), ".cache", APP_NAME)
    return path if os.path.isabs(path) else None  # no home directory


def _numba_cache_dir() -> Optional[str]:
    """``NUMBA_CACHE_DIR`` as numba read it (None when unset)."""
    # numba.config sets its options as module attributes at import: invisible to mypy.
    path = getattr(numba.config, "CACHE_DIR")
    return path or None


def cache_roots() -> List[Tuple[str, str]]:
    """``(directory, what it is)`` where fastglorot caches compiled code, in order of preference.

    The first writable one is used; each holds one subdirectory per
    installed copy of the package (numba's naming: ``fastglorot_<hash of
    its path>``).
    """
    roots = []
    requested = _numba_cache_dir()
    if requested:
        roots.append((requested, f"NUMBA_CACHE_DIR={requested}"))
    user = user_cache_root()
    if user:
        roots.append((user, f"the user cache directory {user}"))
    return roots


@functools.lru_cache(maxsize=None)
def package_digest() -> str:
    """SHA-256 of the package's modules (names and contents): part of every cache entry's source stamp.

    The jitted functions inline helpers from other modules; any change to
    any module (an upgrade, a reinstall of other sources to the same path, an
    edit of a checkout) makes the cached code stale.  They are read once per
    process, when the first jitted function is created (numba is loading
    anyway).
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # fastglorot/, above _engines/
    sources = sorted(os.path.relpath(os.path.join(folder, name), package)
                     for folder, _, names in os.walk(package) for name in names if name.endswith(".py"))
    digest = hashlib.sha256()
    for relative in sources:  # fastglorot/x.py and the layers' modules, _engines/kernels.py, ...
        with open(os.path.join(package, relative), "rb") as source:
            data = source.read()
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


class _Location:
    """What fastglorot's cache locators add to numba's source-file locators: where, and the source stamp.

    Mixed into subclasses of numba's ``_SourceFileBackedLocatorMixin`` and
    ``_CacheLocator`` (numba's for the CPU, numba-cuda's for CUDA), which
    check that the directory is writable and name the files.
    """

    _py_file: str
    _lineno: int
    _cache_path: str

    @staticmethod
    def _root() -> Optional[str]:
        raise NotImplementedError

    def __init__(self, py_func: Callable[..., Any], py_file: str) -> None:
        root = self._root()
        assert root is not None  # from_function returns None first
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))  # type: ignore[attr-defined]

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> Any:
        return super().get_source_stamp(), package_digest()  # type: ignore[misc]

    @classmethod
    def from_function(cls, py_func: Callable[..., Any], py_file: str) -> Any:
        if cls._root() is None:
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]


def _locator_classes(module: Any) -> List[Any]:
    """fastglorot's locators, in order, built on the locator classes of numba's caching ``module``."""
    bases = (module._SourceFileBackedLocatorMixin, module._CacheLocator)
    requested = type("_NumbaCacheDirLocator", (_Location, *bases),
                     {"_root": staticmethod(_numba_cache_dir), "__module__": __name__})
    user = type("_UserCacheLocator", (_Location, *bases),
                {"_root": staticmethod(user_cache_root), "__module__": __name__})
    return [requested, user]


class _CompileResultCacheImpl(caching.CompileResultCacheImpl):
    # numba's CacheImpl still prefers NUMBA_CACHE_LOCATOR_CLASSES when a user sets it (their explicit choice).
    _locator_classes = _locator_classes(caching)


class _FunctionCache(caching.FunctionCache):
    """numba's function cache, in fastglorot's locations."""

    _impl_class = _CompileResultCacheImpl


def njit_cached(**options: Any) -> Callable[[F], Dispatcher[F]]:
    """``numba.njit(**options)`` with a disk cache in fastglorot's location, or without one where none is writable.

    numba's ``cache=True`` would pick numba's locators (``__pycache__``
    inside the installed package first); this gives the dispatcher what
    ``Dispatcher.enable_caching`` would, with fastglorot's locators.  With no
    writable location (numba raises ``RuntimeError("cannot cache function
    ...")``), the function compiles in memory: a read-only install still works.
    """

    def decorate(py_func: F) -> Dispatcher[F]:
        dispatcher = numba.njit(**options)(py_func)
        try:
            dispatcher._cache = cast(Any, _FunctionCache)(py_func)  # numba's classes are untyped
        except (RuntimeError, OSError):  # no writable location, or unreadable sources to stamp entries with
            pass  # keeps numba's NullCache
        return cast("Dispatcher[F]", dispatcher)

    return decorate


@functools.lru_cache(maxsize=None)
def _cuda_cache_class() -> type:
    """numba-cuda's kernel cache in fastglorot's locations (numba.cuda is imported by the caller already)."""
    from numba.cuda.dispatcher import CUDACache, CUDACacheImpl

    try:
        from numba.cuda.core import caching as cuda_caching  # numba-cuda: its own locator classes
    except ImportError:
        cuda_caching = caching  # numba's deprecated built-in CUDA target uses numba's
    impl = type("_CUDACacheImpl", (CUDACacheImpl,), {"_locator_classes": _locator_classes(cuda_caching),
                                                     "__module__": __name__})
    return type("_CUDACache", (CUDACache,), {"_impl_class": impl, "__module__": __name__})


def cuda_cached(dispatcher: F) -> F:
    """Give a numba-cuda kernel (``cuda.jit(py_func)``) a disk cache in the CPU kernels' location.

    What ``cuda.jit(cache=True)`` does, with fastglorot's locators; without
    a writable location the kernel compiles in memory.  (A copy of a kernel
    specialized for a launch configuration would get numba-cuda's default
    cache; numba-cuda makes one only for kernels that ask for it, which
    fastglorot's never do.)
    """
    try:
        dispatcher._cache = _cuda_cache_class()(dispatcher.py_func)  # type: ignore[attr-defined]
    except (RuntimeError, OSError):  # as in njit_cached
        pass
    return dispatcher


def kernel(py_func: F) -> Dispatcher[F]:
    """Decorate a kernel called from Python: lazy, GIL-free, disk-cached.

    ``error_model="numpy"`` keeps division branch-free (no ZeroDivisionError
    checks), which loop vectorization needs.
    """
    return njit_cached(**_KERNEL_OPTIONS)(py_func)


def inline(py_func: F) -> F:
    """Decorate a helper that is inlined into kernels at numba-IR level.

    Typed as returning ``py_func`` itself: helpers are only called from
    jitted code, with ``py_func``'s signature.
    """
    return cast(F, numba.njit(inline="always", error_model="numpy")(py_func))


def intrinsic_as(signature: F) -> Callable[[Callable[..., IntrinsicTyping]], F]:
    """``numba.extending.intrinsic``, typed as ``signature`` for its callers.

    An intrinsic is called (from jitted code only) without the typing
    context its typing function takes first; ``signature`` is a stub that
    states the call's argument and result types.  It is never run.
    """

    def decorate(typing_function: Callable[..., IntrinsicTyping]) -> F:
        return cast(F, intrinsic(typing_function))

    return decorate


def _same_float(x: _FloatT, /) -> _FloatT:
    """Signature of :func:`ieee_sqrt`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@overload
def _float_bits(x: np.float32, /) -> np.int32: ...


@overload
def _float_bits(x: Union[float, np.float64], /) -> np.int64: ...


def _float_bits(x: Union[float, np.float32, np.float64], /) -> Union[np.int32, np.int64]:
    """Signature of :func:`float_bits`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


def _float64_from_int64(x: Union[int, np.int64], /) -> np.float64:
    """Signature of :func:`float64_from_bits`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_same_float)
def ieee_sqrt(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Correctly rounded square root (``llvm.sqrt``); vectorizes."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        fn = builder.module.declare_intrinsic("llvm.sqrt", [args[0].type])
        return builder.call(fn, [args[0]])

    return x(x), codegen


@intrinsic_as(_float_bits)
def float_bits(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Reinterpret a float32 as int32 or a float64 as int64."""
    result: types.Integer[np.signedinteger[Any]]
    if x == types.float32:
        result, width = types.int32, 32
    elif x == types.float64:
        result, width = types.int64, 64
    else:
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return builder.bitcast(args[0], ir.IntType(width))

    return result(x), codegen


@intrinsic_as(_float64_from_int64)
def float64_from_bits(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Reinterpret an int64 as float64."""
    # numba sets Integer.bitwidth in __init__; its type stubs leave it out.
    if not (isinstance(x, types.Integer) and x.bitwidth == 64):  # type: ignore[attr-defined]
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(x), codegen


def _float32_from_int32(x: Union[int, np.int32], /) -> np.float32:
    """Signature of :func:`float32_from_bits`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_float32_from_int32)
def float32_from_bits(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Reinterpret an int32 as float32."""
    # numba sets Integer.bitwidth in __init__; its type stubs leave it out.
    if not (isinstance(x, types.Integer) and x.bitwidth == 32):  # type: ignore[attr-defined]
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(x), codegen


def cached_on_disk(dispatcher: Any) -> bool:
    """Whether the disk cache has current entries for ``dispatcher`` (it will load, not compile).

    An index written for other sources or another numba reads as empty.
    """
    cache_file: Any = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    if not (isinstance(index, str) and os.path.exists(index)):
        return False
    try:
        return bool(cache_file._load_index())
    except Exception:  # unreadable or corrupt: numba would compile too
        return False


def cache_directory(dispatcher: Any) -> Optional[str]:
    """The directory the disk cache of ``dispatcher`` lives in, or None when it compiles in memory only.

    The first writable one of :func:`cache_roots`: ``NUMBA_CACHE_DIR``, then
    the user cache directory; with neither writable, :func:`njit_cached`
    compiles without a cache.  An unwritable ``NUMBA_CACHE_DIR`` is passed
    over silently (as numba does), so callers that promise a cache there
    compare it with this.
    """
    path = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
    return path if isinstance(path, str) else None


_announce_lock = threading.Lock()
_announced: Set[int] = set()
"""``id`` of each dispatcher whose compile notice this process has printed."""


def announce_compile(dispatcher: Any, what: str) -> None:
    """One line on stderr before ``dispatcher`` compiles for the first time on this machine.

    First use of a kernel takes seconds (numba typing and LLVM); the line says
    why, once per kernel and process (also when several threads need the
    kernel at once: they wait for one compile), and only when numba's disk
    cache has no entry for it.  ``FASTGLOROT_QUIET=1`` silences it.
    """
    if dispatcher.signatures or os.environ.get("FASTGLOROT_QUIET", "") not in ("", "0"):
        return
    with _announce_lock:
        if id(dispatcher) in _announced or cached_on_disk(dispatcher):
            return
        _announced.add(id(dispatcher))  # dispatchers live as long as the process: ids are never reused
    print(f"fastglorot: compiling the {what} kernel (first use on this machine, a few seconds; cached on disk "
          "afterwards). 'fastglorot warmup' compiles all kernels ahead of time; FASTGLOROT_QUIET=1 hides this.",
          file=sys.stderr, flush=True)
