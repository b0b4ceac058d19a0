"""The import rules of docs/ARCHITECTURE.md: each package is one layer and imports only from its own
layer or those below it, lazy imports inside functions included (type-only imports under
`if TYPE_CHECKING:` excepted). A new upward import fails here with the line that made it."""

import ast
from pathlib import Path

import textrnn

ROOT = Path(textrnn.__file__).parent

# Lowest first. A module's layer is that of the longest prefix of its dotted name listed here.
LAYERS = [
    ["textrnn", "textrnn.errors", "textrnn.io_utils", "textrnn.serialization", "textrnn.naming",
     "textrnn.setting", "textrnn.keras_objects"],  # leaves
    ["textrnn.data", "textrnn.backend"],
    ["textrnn.layers"],
    ["textrnn.training"],
    ["textrnn.models"],
    ["textrnn.interop", "textrnn.keras_io", "textrnn.datasets", "textrnn.utils", "textrnn.preprocessing",
     "textrnn.optimizers", "textrnn.callbacks", "textrnn.losses", "textrnn.metrics", "textrnn.initializers",
     "textrnn.regularizers",
     "textrnn.mixed_precision", "textrnn.ops"],
    ["textrnn.app"],
    ["textrnn.cli", "textrnn.__main__"],
]
RANK = {prefix: rank for rank, prefixes in enumerate(LAYERS) for prefix in prefixes}


def layer_of(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in RANK:
            return RANK[prefix]
    raise AssertionError(f"{module} belongs to no layer of docs/ARCHITECTURE.md")


def module_name(path: Path) -> str:
    parts = ("textrnn",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only(tree: ast.AST) -> set[int]:
    """Line numbers of the imports inside `if TYPE_CHECKING:` blocks."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines |= {n.lineno for child in node.body for n in ast.walk(child) if hasattr(n, "lineno")}
    return lines


def imports_of(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only(tree)
    for node in ast.walk(tree):
        if node.lineno in skip if hasattr(node, "lineno") else False:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("textrnn"):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("textrnn"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                # `from textrnn.training import losses` imports the module textrnn.training.losses
                yield node.lineno, full if (ROOT / Path(*full.split(".")[1:])).exists() or \
                    (ROOT / (Path(*full.split(".")[1:]).as_posix() + ".py")).exists() else node.module


def test_every_import_points_down_or_sideways():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        importer = module_name(path)
        for line, imported in imports_of(path):
            if layer_of(imported) > layer_of(importer):
                upward.append(f"{path.relative_to(ROOT.parent)}:{line}: {importer} imports {imported}")
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_every_module_has_a_layer_and_a_docstring():
    for path in sorted(ROOT.rglob("*.py")):
        layer_of(module_name(path))
        if path.name != "__main__.py":
            assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path}: no docstring"
