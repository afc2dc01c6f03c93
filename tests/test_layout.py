"""The layout of nncli/: data flows one way (cli -> commands -> core -> render), without cycles.

Read from the source with `ast`, so nothing is imported: every `import` counts, also the
ones inside functions (a cycle hidden in a function is still a cycle), except those under
`if TYPE_CHECKING:` (never run). Also: modules stay readable in one sitting, only render/
draws with rich, the core never touches typer, and the shared CLI options keep one short
flag each. The typer internals that keep start-up fast must still apply.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import typer

from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nncli"
MAX_LINES = 450
CLI = ("nncli.app", "nncli.cli", "nncli.__main__", "nncli.commands")   # typer lives here
DRAWING = ("nncli.render",)                                            # rich lives here


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class _Imports(ast.NodeVisitor):
    """Every module name an nncli module imports, except under `if TYPE_CHECKING:`."""

    def __init__(self, package: str) -> None:
        self.package, self.names = package, set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:                                   # relative: from . import x
            base = self.package.split(".")[:len(self.package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        # `from nncli import text` imports the module nncli.text, not a name of nncli.
        self.names.update(f"{module}.{alias.name}" for alias in node.names)
        self.names.add(module)


@cache
def imports(name: str) -> frozenset[str]:
    """All imported module names of module `name` (nncli's and third parties')."""
    path = modules()[name]
    visitor = _Imports(name if path.name == "__init__.py" else name.rpartition(".")[0])
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return frozenset(visitor.names)


def _resolve(name: str) -> str | None:
    """The nncli module an imported name means ('nncli.io.read_array' -> 'nncli.io')."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    """module -> the nncli modules it imports. A module's own enclosing packages are left
    out: they are always imported before it (a registry that looks through its package
    with pkgutil depends on nothing new)."""
    out = {}
    for name in modules():
        targets = {_resolve(n) for n in imports(name) if n == "nncli" or n.startswith("nncli.")}
        out[name] = {t for t in targets if t and t != name and not name.startswith(t + ".")}
    return out


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search, colours)."""
    state: dict[str, int] = {}                 # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


# --------------------------------------------------------------------------- the checks

def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) is None


def test_the_import_reader_sees_function_level_imports_but_not_type_checking_ones():
    visitor = _Imports("nncli.commands")
    visitor.visit(ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import nncli.model\n"
        "def f():\n    from nncli import io\n    from . import options\n"))
    assert "nncli.io" in visitor.names and "nncli.commands.options" in visitor.names
    assert "nncli.model" not in visitor.names


def test_no_import_cycle_among_nncli_modules():
    edges = graph()
    assert edges["nncli.cli"] >= {"nncli.app"}           # the graph is really read
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_data_flows_one_way():
    """The core never imports the CLI or render; render never imports the CLI."""
    edges = graph()
    for name, targets in edges.items():
        if _within(name, CLI):
            continue
        for target in targets:
            assert not _within(target, CLI), f"{name} imports {target} (the CLI layer)"
            if not _within(name, DRAWING):
                assert not _within(target, DRAWING), f"{name} (core) imports {target}"


def test_only_render_imports_rich_and_the_core_never_imports_typer():
    for name in modules():
        third = {n.split(".")[0] for n in imports(name)}
        if not _within(name, DRAWING):
            assert "rich" not in third, f"{name} imports rich: drawing belongs in nncli/render/"
        if not _within(name, CLI + DRAWING):
            assert not {"typer", "click"} & third, f"{name} (core) imports typer or click"


def test_modules_are_readable_in_one_sitting():
    too_long = {}
    for path in modules().values():
        rel = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and "/schemas/" not in rel:
            too_long[rel] = lines
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"




def test_the_readme_layout_table_matches_the_tree():
    """Every module and package directly in nncli/ is named in the first column of a row of
    the README's Layout table, and every name there exists."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("\nLayout ("):]
    table = table[:table.index("\n\n", table.index("| where |"))]
    listed = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            listed.update(n.removeprefix("nncli/") for n in re.findall(r"`([^`]+)`",
                                                                         row.split("|")[1]))
    tree = {p.name + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir()
            if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or p.is_dir())}
    assert len(listed) > 20                                     # the table was found
    assert not listed - tree, f"in the README but not in nncli/: {sorted(listed - tree)}"
    missing = tree - listed
    assert not missing, f"no README Layout row for {sorted(missing)}"


# --------------------------------------------------------------------------- shared options

SHARED_FLAGS = {"--weights": "-w", "--input": "-x", "--target": "-y", "--out": "-o",
                "--length": "-n"}


def _options():
    group = typer.main.get_command(app)
    ctx = typer.Context(group)              # typer may vendor click: use its own classes
    for name, command in group.commands.items():
        for param in command.get_params(ctx):
            if param.param_type_name == "option":
                yield name, param


def test_shared_options_have_one_short_flag_and_one_help_everywhere():
    seen: dict[str, set[str]] = {}
    for command, param in _options():
        for long, short in SHARED_FLAGS.items():
            if long in param.opts:
                assert param.opts == [long, short], f"{command} {param.opts}: want {short}"
                seen.setdefault(long, set()).add(command)
        if "--weights" in param.opts:          # the same base text, a sentence more at most
            from nncli.commands.options import WEIGHTS_HELP

            assert (param.help or "").startswith(WEIGHTS_HELP), command
    assert len(seen["--weights"]) >= 8 and len(seen["--input"]) >= 5      # really checked


# --------------------------------------------------------------------------- fast start-up

@pytest.mark.parametrize("args", [
    ["conv", "configs/seed_conv_A.txt", "configs/seed_conv_K.txt", "--stride", "1",
     "--explain", "0,0", "--json"],                                  # str, int, bool
    ["summary", "configs/seed_rnn.yaml", "--set", "name=x"],          # Path, list[str]
])
def test_parsing_options_imports_no_pydantic(args):
    """nncli.app._plain_coercion replaces typer's pydantic coercion (~80 ms of start-up) for
    str/int/float/bool/Path options; if a typer release changes the internals it relies on,
    pydantic comes back and this fails (pyproject.toml pins the typer range)."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write('pydantic loaded: %s\\n' % "
            "('pydantic' in sys.modules)))\n"
            f"sys.argv = ['nncli', *{args!r}]\n"
            "from nncli.cli import main; main()")
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "pydantic loaded: False" in result.stderr, result.stderr


@pytest.mark.parametrize("args", [["--help"], ["conv", "--help"], ["train", "--help"]])
def test_help_screens_skip_markdown_and_traceback(args):
    """help_format.load_help_renderer keeps rich.markdown and rich.traceback (with
    markdown_it and pygments, ~90 ms) out of help screens; a typer release that renders
    help without typer.rich_utils, or imports them elsewhere, makes this fail."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write('heavy: %s\\n' % sorted(m for m in "
            "('rich.markdown', 'rich.traceback', 'markdown_it', 'pygments') "
            "if m in sys.modules)))\n"
            f"sys.argv = ['nncli', *{args!r}]\n"
            "from nncli.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "NO_COLOR": "1"}, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "typer.rich_utils" not in result.stderr
    assert "heavy: []" in result.stderr, result.stderr


def test_help_renderer_stand_ins_leave_the_real_modules():
    """After help is drawn, importing rich.markdown gives the real module, and a stand-in
    that typer does call turns into the real class."""
    code = ("import sys\n"
            "from nncli.commands.help_format import load_help_renderer\n"
            "load_help_renderer()\n"
            "import typer.rich_utils as ru, rich.markdown, rich.traceback\n"
            "print(rich.markdown.Markdown.__module__, type(ru.Markdown('*x*')).__module__,"
            " ru.Traceback.from_exception.__qualname__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["rich.markdown", "rich.markdown",
                                     "Traceback.from_exception"]


@pytest.mark.parametrize("args, message", [
    (["conv", "1", "1", "--stride", "x"], "'x' is not a valid integer."),
    (["softmax", "1", "--temperature", "hot"], "'hot' is not a valid number."),
])
def test_plain_coercion_keeps_click_style_messages(args, message):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 2 and message in result.output


def test_the_typer_pin_matches_the_range_the_coercion_was_written_for():
    from importlib.metadata import version

    from nncli.app import TYPER_RANGE

    low, high = TYPER_RANGE
    pin = f'"typer>={low},<{high}"'
    assert pin in (ROOT / "pyproject.toml").read_text(), pin
    installed = tuple(int(p) for p in version("typer").split(".")[:2])
    assert tuple(map(int, low.split("."))) <= installed < tuple(map(int, high.split(".")))
