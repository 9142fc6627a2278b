"""The package's layers: no wing imports upward, no import cycles, optional extras stay optional.

Every module's imports are read with ``ast`` (function-local imports included,
relative imports resolved), so an import hidden inside a function counts as
much as one at the top. The wings, lowest first::

    errors  <  core  <  engine, optim, io  <  training  <  simulate  <  cli
                                             training  <  plotting

- ``core`` imports only ``errors``; ``engine``, ``optim`` and ``io`` import only
  ``core`` and ``errors`` (never each other: ``io`` stays numba-free and the
  optimizers know nothing of the network); ``training`` imports anything but
  ``cli``, ``plotting`` and ``simulate``; ``simulate`` (the forward solver)
  imports ``training`` (for ``TrainingData``), ``core`` and ``errors``, and only
  ``cli`` imports it; nothing imports ``cli`` but ``__main__``.
- No cycle between modules.
- Third-party imports: numpy everywhere, numba only in the engine, optim,
  simulate and ``core.jit``, msgpack only in io, mpi4py only in ``training.distributed``,
  matplotlib only in ``plotting``; nothing else outside the standard library.

:func:`check_tree` takes the package directory and a function mapping a module
name to its wing, so the same rules can be run over another tree.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "pinnlite"

# wing -> the wings it may import (itself included)
ALLOWED = {
    "errors": {"errors"},
    "testing": {"testing", "errors"},
    "core": {"core", "errors"},
    "engine": {"engine", "core", "errors"},
    "optim": {"optim", "core", "errors"},
    "io": {"io", "core", "errors", "package"},
    "training": {"training", "engine", "optim", "io", "core", "errors", "package"},
    "plotting": {"plotting", "training", "engine", "io", "core", "errors"},
    "simulate": {"simulate", "core", "errors", "training"},
    "cli": {"cli", "plotting", "simulate", "training", "engine", "optim", "io", "core", "errors", "testing",
            "package"},
    "package": {"package"},  # pinnlite/__init__.py: lazy re-exports only, it imports nothing eagerly
    "main": {"cli"},
}
# third-party module -> the modules allowed to import it (prefix match on the module name)
THIRD_PARTY = {
    "numpy": ("pinnlite",),
    "numba": ("pinnlite.core.jit", "pinnlite.engine", "pinnlite.optim", "pinnlite.simulate"),
    "msgpack": ("pinnlite.io",),
    "mpi4py": ("pinnlite.training.distributed",),
    "matplotlib": ("pinnlite.plotting",),
    "tomli": ("pinnlite.training.config", "pinnlite.training.config_format"),  # TOML before Python 3.11
}


def wing_of(module):
    """The wing of a module of this tree (``pinnlite.engine.loss`` -> ``engine``)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in ("core", "engine", "optim", "io", "training", "simulate"):
        return parts[1]
    return {"__main__": "main"}.get(parts[1], parts[1])


def modules(root):
    """Dict module name -> path of every .py file of the package at ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(module, path, is_package, known):
    """What ``module`` imports, anywhere in its body: (absolute name, line) pairs.

    ``from a.b import c`` names the module ``a.b.c`` when that is a module of
    ``known`` and ``a.b`` (an attribute of it) otherwise.
    """
    tree = ast.parse(path.read_text(), str(path))
    base = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = ".".join(base[: len(base) - node.level + 1])
                target = f"{parent}.{node.module}" if node.module else parent
            else:
                target = node.module
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((sub if sub in known else target, node.lineno))
    return found


def resolve(name, known):
    """The longest module of ``known`` that ``name`` is or lies in, or None (third party)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in known:
            return candidate
    return None


def graph(root):
    """Dict module -> set of (package module, line) it imports, and the third-party imports."""
    mods = modules(root)
    edges, external = {}, []
    for mod, path in mods.items():
        edges[mod] = set()
        for name, line in imports(mod, path, path.name == "__init__.py", mods):
            target = resolve(name, mods)
            if target is None:
                external.append((mod, name.split(".")[0], line))
            elif target != mod:
                edges[mod].add((target, line))
    return mods, edges, external


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(max(1000, 4 * len(edges)))

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w, _ in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def upward(edges, wing):
    """Every import of a wing it may not import: (module, line, imported module)."""
    bad = []
    for mod, targets in sorted(edges.items()):
        for target, line in sorted(targets):
            if wing(target) not in ALLOWED[wing(mod)]:
                bad.append((mod, line, target))
    return bad


def misplaced_extras(external):
    """Third-party imports outside the modules allowed to make them: (module, line, package)."""
    stdlib = sys.stdlib_module_names
    bad = []
    for mod, top, line in external:
        if top in stdlib or top == "__future__":
            continue
        allowed = THIRD_PARTY.get(top)
        if allowed is None or not any(mod == a or mod.startswith(a + ".") for a in allowed):
            bad.append((mod, line, top))
    return bad


def check_tree(root, wing=wing_of):
    """All violations of the rules above in the package at ``root``, as readable lines."""
    _, edges, external = graph(root)
    lines = [f"{m}:{line} imports {t} ({wing(m)} -> {wing(t)})" for m, line, t in upward(edges, wing)]
    lines += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    lines += [f"{m}:{line} imports {p}, an optional or unknown package" for m, line, p in misplaced_extras(external)]
    return lines


def test_no_wing_imports_upward_and_no_cycles():
    assert check_tree(ROOT) == []


def test_every_module_has_a_wing():
    for mod in modules(ROOT):
        assert wing_of(mod) in ALLOWED, f"{mod} lies in no known wing; add it to ALLOWED"


def test_one_import_style_inside_the_package():
    """Absolute imports everywhere: a relative one hides which wing a name comes from."""
    relative = []
    for mod, path in modules(ROOT).items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                relative.append(f"{mod}:{node.lineno}")
    assert relative == []


def test_the_checker_sees_what_it_must(tmp_path):
    """A hidden upward import, a cycle and an optional extra in a small tree are all reported."""
    pkg = tmp_path / "pinnlite"
    for sub in ("core", "engine", "io", "training"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "io" / "reader.py").write_text("def f():\n    from pinnlite.engine import kernels\n")
    (pkg / "engine" / "kernels.py").write_text("import torch\n")
    (pkg / "training" / "a.py").write_text("from pinnlite.training import b\n")
    (pkg / "training" / "b.py").write_text("def g():\n    from . import a\n")
    found = check_tree(pkg)
    assert "pinnlite.io.reader:2 imports pinnlite.engine.kernels (io -> engine)" in found
    assert "import cycle: pinnlite.training.a -> pinnlite.training.b" in found
    assert "pinnlite.engine.kernels:1 imports torch, an optional or unknown package" in found
    assert len(found) == 3


@pytest.mark.parametrize("module", ["pinnlite.io.checkpoint", "pinnlite.io.container", "pinnlite.core.arch"])
def test_numba_free_modules_import_without_numba(module):
    """The reader side never reaches numba, however deep the import chain."""
    mods, edges, external = graph(ROOT)
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += [t for t, _ in edges[m]]
        # a package's __init__ runs before any of its modules
        parent = m.rsplit(".", 1)[0]
        if parent in mods and parent != m:
            todo.append(parent)
    assert not [(m, p) for m, p, _ in external if m in seen and p == "numba"]


def test_the_package_lists_each_name_once_however_many_were_looked_up():
    """A name looked up lands in the module's globals and was listed twice by dir()."""
    code = ("import pinnlite; pinnlite.Config; pinnlite.problems; d = dir(pinnlite); "
            "print(len(d) == len(set(d)) and {'Config', 'Trainer', 'problems', 'simulate'} <= set(d))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
