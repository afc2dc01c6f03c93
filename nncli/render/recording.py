"""`--save FILE`: what a command draws, written as .svg, .html or .txt with rich's export.

The one place behind every command's `--save`: `saving()` checks FILE before the command
runs (a known extension, not an existing file unless --force, a folder that exists), makes
the recording console that `render.tensor.console()` hands to every view while it is
active, and writes the file when the command has drawn everything. The terminal shows
the same as without --save.

The saved picture is the terminal's final screen: a live display (train's epoch table and
progress bar) redraws itself in place many times on a terminal, so the recorded output is
replayed through the few cursor controls rich's Live uses (`_final_screen`) and each
redraw replaces the previous one, as on the screen. Colours are kept in .svg and .html
even where the terminal shows none (NO_COLOR, a pipe). The .svg and .html files fetch
nothing: rich's SVG template loads the Fira Code font from a CDN, which is cut out here
(the SVG names local monospace fonts instead).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.control import ControlType
from rich.segment import Segment, Segments

from nncli.errors import InputError

SUFFIXES = (".svg", ".html", ".txt")
FONTS = "'Fira Code', 'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"

_active: list[Console] = []          # the recording console while a command saves


def console() -> Console | None:
    """The recording console while a command runs with --save, else None."""
    return _active[-1] if _active else None


def check_target(path: Path, force: bool, option: str = "--save",
                 suffixes: tuple[str, ...] = SUFFIXES, name: str = "picture") -> str:
    """The format of a file a command is about to write ('svg', 'html', ...: its suffix),
    or an InputError naming `option` and the problem: a folder, another extension, a file
    that exists (unless `force`), a folder that does not. `report -o` checks its page the
    same way."""
    suffix = path.suffix.lower()
    example = f"{path.stem or name}{suffixes[0]}"
    if path.is_dir():
        raise InputError(f"{option}: '{path}' is a folder; name a file in it, e.g. {option} "
                         f"{path / (name + suffixes[0])}")
    if suffix not in suffixes:
        got = f"'{path.suffix}'" if path.suffix else "no extension"
        kinds = ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if len(suffixes) > 1 \
            else suffixes[0]
        raise InputError(f"{option}: '{path}' has {got}; name a {kinds} file, e.g. {option} "
                         f"{example}")
    if path.exists() and not force:
        raise InputError(f"{option}: '{path}' already exists; pass --force to overwrite it, "
                         f"or choose another name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{option}: the folder '{folder}' does not exist; create it first")
    return suffix[1:]


@contextmanager
def saving(path: Path, force: bool, title: str) -> Iterator[Console]:
    """Record what the command draws inside the block; write it to `path` afterwards.

    Nothing is written for bad input or an unexpected error; a command that ends after
    drawing its result, with typer's Exit (train interrupted) or RunFailed (gradcheck
    failed, training diverged), has its picture saved before the exit code goes out."""
    import typer

    from nncli.errors import RunFailed

    kind = check_target(path, force)
    recorder = Console(highlight=False, record=True)
    _active.append(recorder)
    try:
        yield recorder
    except (typer.Exit, RunFailed):
        _write(recorder, path, kind, title)
        raise
    finally:
        _active.remove(recorder)
    _write(recorder, path, kind, title)


def _write(recorder: Console, path: Path, kind: str, title: str) -> None:
    from nncli.output import atomic_write

    atomic_write(path, export(recorder, kind, title), name="--save")


def export(recorder: Console, kind: str, title: str) -> str:
    """The recorded output as an SVG, HTML or plain-text document."""
    with recorder._record_buffer_lock:      # rich keeps what it recorded here, raw
        recorded = list(recorder._record_buffer)
    screen = Console(record=True, file=io.StringIO(), width=recorder.width, no_color=False,
                     color_system="truecolor", force_terminal=True, highlight=False)
    lines = _final_screen(recorded)
    # A picture wraps long lines as the terminal did; text and HTML keep them whole.
    width = recorder.width if kind == "svg" else None
    screen.print(Segments(_wrap(lines, width)), end="", crop=False)
    if kind == "txt":
        return screen.export_text()
    if kind == "html":
        return screen.export_html(code_format=HTML_FORMAT.replace("{title}", _escape(title)))
    return screen.export_svg(title=title, code_format=svg_format())


def _escape(text: str) -> str:
    from html import escape

    return escape(text).replace("{", "{{").replace("}", "}}")


def _final_screen(segments: list[Segment]) -> list[list[Segment]]:
    """The lines a terminal would show at the end: text, newlines, and the controls rich's
    Live redraws with (carriage return, erase line, cursor up/down) replayed; any other
    control is dropped."""
    lines: list[list[Segment]] = [[]]
    row = 0
    for seg in segments:
        if seg.control:
            for code in seg.control:
                kind = code[0]
                if kind in (ControlType.CARRIAGE_RETURN, ControlType.ERASE_IN_LINE):
                    lines[row] = []          # Live erases whole lines after a return
                elif kind == ControlType.CURSOR_UP:
                    row = max(0, row - (code[1] if len(code) > 1 else 1))
                elif kind == ControlType.CURSOR_DOWN:
                    row += code[1] if len(code) > 1 else 1
                    lines.extend([] for _ in range(row + 1 - len(lines)))
            continue
        for i, piece in enumerate(seg.text.split("\n")):
            if i:
                row += 1
                if row == len(lines):
                    lines.append([])
            if piece:
                lines[row].append(Segment(piece, seg.style))
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def _wrap(lines: list[list[Segment]], width: int | None) -> list[Segment]:
    """The lines as one segment list, each line longer than `width` cells (if given) split
    into several, as a terminal wraps a long line (a run folder's path, a long header)."""
    out: list[Segment] = []
    for line in lines:
        length = Segment.get_line_length(line)
        if width is None or length <= width:
            out.extend([*line, Segment.line()])
            continue
        cuts = list(range(width, length, width)) + [length]
        for part in Segment.divide(line, cuts):
            out.extend(part)
            out.append(Segment.line())
    return out


def svg_format() -> str:
    """rich's SVG template without its web fonts: @font-face rules that fetch Fira Code
    from a CDN are dropped, and the text names local monospace fonts."""
    from rich._export_format import CONSOLE_SVG_FORMAT

    template = re.sub(r"@font-face\s*\{\{.*?\}\}\s*", "", CONSOLE_SVG_FORMAT, flags=re.S)
    template = template.replace("font-family: Fira Code, monospace", f"font-family: {FONTS}")
    template = template.replace("font-family: arial", "font-family: Arial, sans-serif")
    return re.sub(r"<!--.*?-->\s*", "", template, flags=re.S)


# rich's own HTML page with a title, a viewport for phones and lines that scroll sideways
# instead of wrapping (a table stays a table).
HTML_FORMAT = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{stylesheet}
body {{
    color: {foreground};
    background-color: {background};
    margin: 0;
    padding: 1em;
}}
pre {{ overflow-x: auto; font-size: 14px; line-height: 1.25; }}
</style>
</head>
<body>
<pre style="font-family:FONTS"><code style="font-family:inherit">{code}</code></pre>
</body>
</html>
""".replace("FONTS", FONTS)
