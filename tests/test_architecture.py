"""The layout the design card asks for: no import cycle, layers import only
downward, method packages are independent, small files, documented
sub-packages, and a documented layout (docs/layout.md) that matches the tree."""

import ast
import graphlib
import os
import re
import subprocess
import sys

import grimp
import pytest

# One worker runs this file and builds its fixture once (pytest-xdist: a module
# fixture is torn down whenever a worker waits for more tests, so it is session-scoped).
pytestmark = pytest.mark.xdist_group("test_architecture")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("common", "agnet", "fsa", "distraction", "fam")
METHODS = PACKAGES[1:]
# common's layers, highest first; a module may import only from lower layers.
COMMON_LAYERS = (
    grimp.Layer("train", "explain", "evaluate", "report"),  # the commands
    grimp.Layer("training", "commandline", independent=False),  # harness, CLI, callbacks
    grimp.Layer("classifier", "data", "saving", independent=True),
    grimp.Layer("cam", "losses", "layers", "backbones", independent=True),
    grimp.Layer("io", "errors", "keras_compat", "lazy", independent=True),
)


@pytest.fixture(scope="session")
def graph():
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _tracked(pattern):
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          pattern], cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def test_no_import_cycle(graph):
    sorter = graphlib.TopologicalSorter()
    for module in graph.modules:
        sorter.add(module, *graph.find_modules_directly_imported_by(module))
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_common_layers_import_only_downward(graph):
    illegal = graph.find_illegal_dependencies_for_layers(COMMON_LAYERS, containers={"common"})
    assert not illegal, [(d.importer, d.imported, [r.heads for r in d.routes])
                         for d in illegal]


def test_methods_import_common_never_each_other(graph):
    for method in METHODS:
        for other in PACKAGES:
            if other == method:
                continue
            chain = graph.find_shortest_chain(importer=other, imported=method,
                                              as_packages=True)
            assert chain is None, f"{other} imports {method}: {chain}"


def test_every_module_imports_in_a_fresh_interpreter():
    modules = [path[:-3].replace("/", ".").removesuffix(".__init__")
               for path in _tracked("*.py") if path.split("/")[0] in PACKAGES]
    done = subprocess.run([sys.executable, "-c", "\n".join(f"import {m}" for m in modules)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_files_are_small():
    long = {}
    for path in _tracked("*.py"):
        with open(os.path.join(ROOT, path)) as handle:
            lines = sum(1 for _ in handle)
        if lines > 300:
            long[path] = lines
    assert not long, long


def test_every_common_subpackage_has_a_one_line_docstring():
    for folder, _, files in os.walk(os.path.join(ROOT, "common")):
        if "__init__.py" not in files or "__pycache__" in folder:
            continue
        with open(os.path.join(folder, "__init__.py")) as handle:
            doc = ast.get_docstring(ast.parse(handle.read()))
        assert doc, folder
        assert doc.split("\n\n")[0].count(".") >= 1, (folder, doc)


def _documented_layout():
    with open(os.path.join(ROOT, "docs", "layout.md")) as handle:
        text = handle.read()
    block = re.search(r"## Layout\n.*?```text\n(.*?)```", text, flags=re.S)
    assert block, "docs/layout.md has no '## Layout' section with a text block"
    paths, stack = set(), []
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        indent = (len(line) - len(line.lstrip())) // 2
        name = line.split()[0]
        stack = stack[:indent] + [name.rstrip("/")]
        if not name.endswith("/"):
            paths.add("/".join(stack))
    return paths


def test_documented_layout_matches_the_tree():
    listed = {p for p in _documented_layout() if p.endswith(".py")}
    tracked = {p for p in _tracked("*.py") if p.split("/")[0] in PACKAGES}
    assert listed == tracked, {"missing from docs/layout.md": sorted(tracked - listed),
                               "not in the tree": sorted(listed - tracked)}


def test_the_core_names_no_guide():
    """HNC is a guide like the others (#39): the guided classifier, the
    harness and the command line name none."""
    for path in ("common/classifier.py", "common/training/harness.py",
                 "common/training/cli.py"):
        with open(os.path.join(ROOT, path), encoding="utf-8") as file:
            assert "hnc" not in file.read().lower(), path


def test_common_names_no_method_module():
    """#39: common reaches the method packages only through entry points
    (guides, Keras objects, CAM sources, input makers) and the packages make
    their own console scripts: no "package.module" string or module name of
    a method package anywhere in common's code or docstrings."""
    names = "|".join(METHODS)
    pattern = re.compile(rf"\b(?:{names})\.(?!md\b)[a-z_]+\b|\bimport (?:{names})\b")
    found = {}
    for path in _tracked("common/*.py"):
        with open(os.path.join(ROOT, path), encoding="utf-8") as file:
            hits = pattern.findall(file.read())
        if hits:
            found[path] = hits
    assert not found


def test_trainers_build_the_guided_classifier_not_a_method_model():
    """#39 item 1: methods are presets of guides; FsaModel, DistractionModel
    and FamModel stay only to load files saved before."""
    legacy = re.compile(r"\b(?:FsaModel|DistractionModel|FamModel)\b")
    for method in METHODS:
        with open(os.path.join(ROOT, method, "trainer.py"), encoding="utf-8") as file:
            text = file.read()
        # its own build_model builds a GuidedClassifier, or it keeps the base's
        assert not legacy.search(text) and ("GuidedClassifier(" in text
                                            or "def build_model" not in text), method
    with open(os.path.join(ROOT, "common", "training", "trainer.py"), encoding="utf-8") as file:
        assert "return GuidedClassifier(network, guides=self.guides(args, data))" in file.read()


# The commands: they speak in flags. Everything else is library code.
COMMAND_CODE = re.compile(r"^(?:common/(?:training|commandline)/.*|common/(?:explain|evaluate|"
                          r"report|report_evaluations|console|guide_registry|train)\.py|"
                          r"[a-z]+/(?:train|trainer|predict|evaluate)\.py)$")


def _raised_text(node):
    """The literal text at the start of a raised exception's message."""
    if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
        return ""
    first = node.exc.args[0]
    if isinstance(first, ast.JoinedStr) and first.values:
        first = first.values[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value,
                                                                          str) else ""


def test_library_errors_name_arguments_not_flags():
    """#39 item 4: an error raised by library code starts with what the
    caller passed (``data: ...``, ``path: ...``), never with a flag; the
    commands say the flag instead (``common.errors.named_by``)."""
    flagged = {}
    for path in _tracked("*.py"):
        if path.split("/")[0] not in PACKAGES or COMMAND_CODE.match(path):
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8") as file:
            tree = ast.parse(file.read())
        hits = [node.lineno for node in ast.walk(tree) if _raised_text(node).startswith("--")]
        if hits:
            flagged[path] = hits
    assert not flagged, flagged
