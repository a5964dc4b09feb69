"""The shape of the package: a small public face over a private core that knows no models,
data, plotting, widgets or command line; `import eomlib` loads no plotting or widget code."""

import ast
import importlib
import inspect
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "eomlib"
PUBLIC_MODULES = ["eomlib", "eomlib.invariance", "eomlib.momentum", "eomlib.sgd", "eomlib.breakdown",
                  "eomlib.spectra", "eomlib.trees", "eomlib.models", "eomlib.data",
                  "eomlib.book.plots", "eomlib.book.players", "eomlib.book.widgets", "eomlib.book.toys",
                  "eomlib.reproduce"]
OUTSIDE_CORE = {"models", "data", "book", "reproduce", "__main__"}
# The chapters' figure modules: documented like the public modules, not on the API page.
FIGURE_MODULES = sorted(f"eomlib.book.figures.{p.stem}" for p in (PACKAGE / "book" / "figures").glob("*.py")
                        if p.stem != "__init__")


def imported_modules(path: pathlib.Path) -> set:
    """Absolute names of the eomlib modules a source file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return {n for n in names if n.split(".")[0] == "eomlib"}


def test_import_eomlib_loads_no_plotting_widgets_or_progress_bars():
    code = ("import sys, eomlib; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'matplotlib', 'IPython', 'ipywidgets', 'tqdm'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("path", sorted((PACKAGE / "_core").glob("*.py")), ids=lambda p: p.name)
def test_the_core_imports_no_models_data_book_or_cli(path):
    for name in imported_modules(path):
        parts = name.split(".")
        assert parts[1] == "_core" if len(parts) > 1 else False, (path.name, name)


@pytest.mark.parametrize("path", sorted((PACKAGE / "reproduce").glob("*.py")), ids=lambda p: p.name)
def test_reproduce_uses_only_the_public_api(path):
    assert not any("_core" in name for name in imported_modules(path)), path.name


def public_callables():
    for module_name in PUBLIC_MODULES + FIGURE_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [
            n for n, o in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(o) or inspect.isclass(o)) and o.__module__ == module_name]
        for name in names:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{module_name}.{name}", obj


@pytest.mark.parametrize("name,obj", list(public_callables()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_public_function_documents_its_arguments(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    if inspect.isfunction(obj) and inspect.signature(obj).parameters:
        assert "Args:" in doc, f"{name}: no Args: section"
        missing = [p for p in inspect.signature(obj).parameters
                   if p not in doc and p.lstrip("*") not in doc]
        assert not missing, f"{name}: arguments not documented: {missing}"


def test_the_api_page_documents_only_public_names():
    page = (ROOT / "book" / "api.md").read_text()
    assert "_core" not in page.replace("eomlib._core` is\nprivate", "")
    for module_name in PUBLIC_MODULES[1:]:
        assert module_name in page, module_name
    top = importlib.import_module("eomlib")
    for name in top.__all__:
        assert f"eomlib.{name}" in page, name
