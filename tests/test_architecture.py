"""The package's layers and its internal import graph (issue #29, "Folders that show the layers").

Data flows one way: ``_validate`` (argument checks) -> ``_format`` (what the
bits are) -> ``_interop`` (optional packages) -> ``_engines.dispatch`` (how a fill runs)
-> ``_api`` and the package's ``__init__`` (the public functions) -> the
adapters (``torch``, ``io``, ``dask``, ``jax``, ``keras``, ``numba``) -> the
tools (``_cli``, ``_codegen``, ``benchmarks``).  A module imports its own
layer or lower ones only, so there are no cycles between layers either.

A cycle means two modules each need the other, usually because one of them
does two jobs; it also makes import order matter (a partly initialised module
is seen).  The graph is read from the source with :mod:`ast`, not by
importing: every ``import fastglorot.x``, ``from fastglorot.x import y``,
``from . import x`` and ``from .x import y`` counts, at module level and
inside functions (a lazy import is still a dependency, only a later one).
Imports of third-party modules are not edges: only modules of this package are
nodes.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

import fastglorot

PACKAGE = "fastglorot"
ROOT = Path(fastglorot.__file__).resolve().parent

# Each layer, lowest first: (module or package prefix, rank).  The longest matching prefix names a module's layer.
LAYERS = {
    "fastglorot._validate": 0,
    "fastglorot._format": 1,
    "fastglorot._interop": 2,
    "fastglorot._engines": 3,
    "fastglorot._api": 4, "fastglorot": 4,
    "fastglorot.torch": 5, "fastglorot.io": 5, "fastglorot.dask": 5, "fastglorot.jax": 5, "fastglorot.keras": 5,
    "fastglorot.numba": 5,
    "fastglorot._cli": 6, "fastglorot._codegen": 6, "fastglorot.benchmarks": 6, "fastglorot.__main__": 6,
}
MAX_ROOT_PRIVATE_MODULES = 10
MAX_LINES = 500  # hand-read modules; _api/generated.py is generated (python -m fastglorot._codegen)


def _modules() -> Dict[str, Path]:
    """Dotted name -> source file, for every module of the package."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([PACKAGE, *parts])] = path
    return found


def _targets(name: str, path: Path, node: ast.AST, modules: Dict[str, Path]) -> Set[str]:
    """The package's modules that import statement ``node`` in module ``name`` loads."""
    is_package = path.name == "__init__.py"
    out: Set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                out.add(alias.name)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            # Relative: level 1 is the module's own package.
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
            if source != PACKAGE and not source.startswith(PACKAGE + "."):
                return out
        for alias in node.names:
            if f"{source}.{alias.name}" in modules:  # ``from package import submodule``: the submodule
                out.add(f"{source}.{alias.name}")
            else:  # a name defined in ``source`` itself
                out.add(source)
    return {target for target in out if target in modules and target != name}


def import_graph() -> Dict[str, Set[str]]:
    modules = _modules()
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: Set[str] = set()
        for node in ast.walk(tree):  # every import, module-level or inside a function
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(name, path, node, modules)
        graph[name] = edges
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[Tuple[str, ...]]:
    """One cycle per strongly connected component of more than one module (Tarjan), as its sorted members."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[Tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_graph_sees_known_edges():
    """The reader finds relative, absolute and lazy imports (else "no cycles" would prove nothing)."""
    graph = import_graph()
    assert "fastglorot._format.tables" in graph["fastglorot._api.buffers"]  # module-level ``from ._formats import``
    assert "fastglorot._engines.cuda" in graph["fastglorot._api.sampling"]  # inside a function
    assert "fastglorot.io._spec" in graph["fastglorot.io._writers"]  # relative, inside a subpackage
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles in the package (strongly connected modules):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def layer(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def test_imports_flow_down_the_layers():
    """No module imports a higher layer: the format knows no engine, the engines no public function, ..."""
    upward = sorted(f"{source} ({layer(source)}) imports {target} ({layer(target)})"
                    for source, targets in import_graph().items() for target in targets
                    if layer(target) > layer(source))
    assert not upward, "\n".join(upward)
    assert layer("fastglorot._format.philox") < layer("fastglorot._engines.kernels") < layer("fastglorot._api.sampling")


def test_the_root_holds_few_private_modules_and_no_long_hand_read_module():
    private = sorted(p.name for p in ROOT.glob("_*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(private) <= MAX_ROOT_PRIVATE_MODULES, private
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
            and not p.read_text(encoding="utf-8").startswith("# Code generated by")}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_folder_of_the_package_is_installed():
    """pyproject.toml lists the packages explicitly: a new layer folder missing there would not be in the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join([PACKAGE, *p.parent.relative_to(ROOT).parts]) for p in ROOT.rglob("__init__.py")}
    assert listed == folders


def test_io_reaches_the_torch_adapter_through_one_facade():
    """``io`` uses the adapter's ``_checkpoint`` facade (or its public module), never its other private modules."""
    reached = {target for source, targets in import_graph().items() if source.startswith(f"{PACKAGE}.io")
               for target in targets if target.startswith(f"{PACKAGE}.torch")}
    assert reached <= {f"{PACKAGE}.torch", f"{PACKAGE}.torch._checkpoint"}, reached
    assert f"{PACKAGE}.torch._checkpoint" in reached
