"""One-line messages on stderr: `error: ...` in red, `warning: ...` in yellow.

Messages quote user input, which may contain "[b]"-like markup (escaped here) and newlines
or other control characters (shown as \\n, \\x00, ...), so a message always stays one line.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape


def message_line(message: str, label: str = "error", style: str = "bold red") -> None:
    """Print `label: message` on stderr, the label styled, the message as it is."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in message)
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[{style}]{label}:[/] {escape(text)}", markup=True)
