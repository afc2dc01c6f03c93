"""How help screens and usage errors read: wrapped once, plain metavars, one-line errors.

typer (rich markup mode) keeps every source line break of a docstring and then wraps the
lines again to the terminal, which leaves dangling short lines at 80 columns; it shows
`<bool>`/`<str>`/`<list[Path]>` beside options, `{INPUT}` and `[[CONFIG]]` in usage lines,
eats `[torch]` in `pip install "nncli[torch]"` as a style tag, and draws usage errors as a
four-line box. nncli.app applies what is here to every command it hands out:

- `reflow(text)`: a paragraph of prose becomes one line (rich wraps it once, to the width
  at hand); a line that starts with spaces (an example, a formula) or a list marker stays a
  line of its own; `[word]` that is no style tag is escaped.
- `plain_params(params)`: arguments show `NAME`, `[NAME]` or `NAME...` in the usage line and
  no type beside them; options show their metavar, an upper-case type (INTEGER, FLOAT,
  TEXT, PATH) or nothing for a flag.
- `NumbersAsValues`: `-1` is a value, `-t` an option, wherever either appears.
- `usage_error_line(err)`: click's usage error as one line that ends with the fix.
- `load_help_renderer()`: typer's help renderer without the two rich modules it imports
  but never uses for nncli (a third of `nncli --help`'s time).

Nothing here imports more than typer (and difflib for a close option name).
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import types

from typer.core import TyperArgument, TyperCommand, TyperOption

# Rich style tags nncli's help texts use; any other `[word]` is text (`nncli[torch]`).
_STYLE_TAGS = {"bold", "/bold", "dim", "/dim", "italic", "/italic", "/"}
_TAG = re.compile(r"(?<!\\)\[([a-z#/@][^\[\]]*)\]")
_LIST_ITEM = re.compile(r"^(?:[-*•] |\d+\. )")
_TYPE_NAMES = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "path": "PATH",
               "file": "PATH", "directory": "DIR"}


def reflow(text: str | None) -> str | None:
    """Help text with each prose paragraph on one line; verbatim lines kept as they are."""
    if not text:
        return text
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", inspect.cleandoc(text)):
        if block.startswith("\b"):          # click's "keep these lines" marker
            paragraphs.append(block)
            continue
        lines: list[str] = []
        for line in block.splitlines():
            verbatim = line[:1].isspace() or _LIST_ITEM.match(line)
            if lines and not verbatim and not lines[-1][:1].isspace():
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return _escape_text_brackets("\n\n".join(paragraphs))


def _escape_text_brackets(text: str) -> str:
    return _TAG.sub(lambda m: m.group(0) if m.group(1) in _STYLE_TAGS else "\\" + m.group(0),
                    text)


class PlainArgument(TyperArgument):
    """An argument shown as NAME / [NAME] / NAME... in usage, with no type beside it."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        optional = re.fullmatch(r"\[(.*)\](\.\.\.)?", name)
        bare = optional.group(1) + (optional.group(2) or "") if optional else name
        if self.nargs != 1 and not bare.endswith("..."):
            bare += "..."
        return bare if self.required else f"[{bare}]"

    def display_type_rich(self, ctx):  # the name column already shows the metavar
        return None


class PlainOption(TyperOption):
    """An option shown with its metavar, an upper-case type, or nothing for a flag."""

    def display_type_rich(self, ctx):
        if self.metavar is not None:
            return self.metavar
        if self.is_flag:
            return None
        label = self.display_type(ctx).strip("<>")
        label = re.sub(r"^list\[(.*)\]$", r"\1", label)
        return _TYPE_NAMES.get(label.lower(), label)


# A value, not an option: -1, -0.5, -.5, -1e3, "-1 1; 1 -1", -inf.
NEGATIVE_NUMBER = re.compile(r"-(?:\d|\.\d|inf\b|nan\b)", re.IGNORECASE)


class NumbersAsValues(TyperCommand):
    """A command whose parser reads `-1` or "-1 0; 0 1" as a value and every other `-x`
    as an option, wherever it appears (`softmax -1 0 1 -t 2`)."""

    def format_help(self, ctx, formatter):
        load_help_renderer()
        return super().format_help(ctx, formatter)

    def make_parser(self, ctx):
        parser = super().make_parser(ctx)
        process = getattr(parser, "_process_opts", None)
        if process is None:                 # pragma: no cover - another click: as it was
            return parser

        def process_opts(arg, state):
            if NEGATIVE_NUMBER.match(arg):
                state.largs.append(arg)
            else:
                process(arg, state)

        parser._process_opts = process_opts
        return parser


# ---- a lighter help renderer -----------------------------------------------------------

# typer.rich_utils imports these at module level, yet uses Markdown only in "markdown"
# markup mode and Traceback only for pretty exceptions; nncli uses neither. Together with
# markdown_it and pygments they cost ~90 ms of the 0.25 s `--help` budget.
_UNUSED_BY_HELP = (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback"))


class _Deferred(type):
    """A stand-in class that imports the real one the first time it is used."""

    def __call__(cls, *args, **kwargs):
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name):                 # Traceback.from_exception, ...
        return getattr(cls.real(), name)


def _stand_in(module: str, name: str) -> types.ModuleType:
    def real():
        return getattr(importlib.import_module(module), name)

    stub = types.ModuleType(module)
    setattr(stub, name, _Deferred(name, (), {"real": staticmethod(real)}))
    return stub


def load_help_renderer() -> None:
    """Import typer.rich_utils with stand-ins for the modules above. The stand-ins leave
    sys.modules once it is loaded, so a later `import rich.markdown` gets the real module,
    and if typer ever does use one of them, the real class is imported then."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {module: _stand_in(module, name) for module, name in _UNUSED_BY_HELP
                 if module not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module, stub in stand_ins.items():
            if sys.modules.get(module) is stub:
                del sys.modules[module]


def plain_params(params):
    """Give typer's parameters the plain display above (in place); returns them."""
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = PlainArgument
        elif type(param) is TyperOption:
            param.__class__ = PlainOption
    return params


def polish(command, ctx) -> None:
    """A command's help texts reflowed and its parameters (--help too) shown plainly."""
    if getattr(command, "_nncli_polished", False):
        return
    if type(command) is TyperCommand:
        command.__class__ = NumbersAsValues
    command.help = reflow(command.help)
    if command.short_help:
        command.short_help = reflow(command.short_help)
    for param in plain_params(command.get_params(ctx)):
        if getattr(param, "help", None):
            param.help = reflow(param.help)
    command._nncli_polished = True


# ---- usage errors ----------------------------------------------------------------------

def usage_error_line(err, command_path: str = "nncli") -> str:
    """click's usage error (no such option, a missing argument, a bad value, ...) as one
    line that ends with the fix; `command_path` when the error carries no context."""
    import difflib

    ctx = getattr(err, "ctx", None)
    path = ctx.command_path if ctx is not None else command_path
    kind = type(err).__name__
    if kind == "NoSuchOption":
        known = sorted({opt for p in (ctx.command.get_params(ctx) if ctx else [])
                        for opt in (*p.opts, *p.secondary_opts) if opt.startswith("-")})
        close = difflib.get_close_matches(err.option_name, known, n=1, cutoff=0.75)
        fix = (f"did you mean {close[0]}?" if close
               else f"'{path} --help' lists the options")
        return f"No such option: {err.option_name} for '{path}'; {fix}"
    message = " ".join(err.format_message().split()).rstrip(".")
    see = f"see '{path} --help'"
    if kind == "MissingParameter" and ctx is not None:
        return f"{message}; usage: {ctx.get_usage().removeprefix('Usage: ')}"
    if kind == "BadParameter":              # "Invalid value for '--x': 'a' is not ... ."
        return f"{message}. See '{path} --help'"
    if getattr(err, "option_name", None):   # "Option '--epochs' requires an argument"
        return f"{err.option_name}: {re.sub(r'^Option [^ ]+ ', '', message)}; {see}"
    command = re.match(r"No such command '([^']*)'\.?(.*)", message)
    if command:
        hint = command.group(2).strip().rstrip("?")
        hint = f"{hint[0].lower()}{hint[1:]}?" if hint else f"'{path} --help' lists them"
        return f"No such command: '{command.group(1)}'; {hint}"
    return f"{path}: {message}; {see}"
