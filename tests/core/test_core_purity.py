"""The core imports only the standard library (import-linter checks ours; this checks everything)."""

import ast
import sys
from pathlib import Path

import stretchbox.core

CORE = Path(stretchbox.core.__file__).parent


def test_core_imports_only_the_standard_library_and_itself():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: must stay inside core
                    if node.level > 1:
                        offenders.append(f"{path.name}: from {'.' * node.level}{node.module or ''}")
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "__future__":
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
    assert len(list(CORE.rglob("*.py"))) >= 5


def test_every_module_of_the_package_is_in_a_layer_of_the_import_contract():
    """import-linter checks only the modules its layers name: a module outside all of them is unchecked."""
    import pkgutil
    import tomllib

    import stretchbox

    config = tomllib.loads((Path(stretchbox.__file__).parents[2] / "pyproject.toml").read_text())
    layers = next(c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    names = [name.strip() for layer in layers for name in layer.split("|")]
    modules = [m.name for m in pkgutil.walk_packages(stretchbox.__path__, "stretchbox.")]
    outside = [m for m in modules if not any(m == n or m.startswith(n + ".") for n in names)]
    assert "stretchbox.app" in modules and outside == []
