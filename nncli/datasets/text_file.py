"""The user's own text: `data: {path: FILE, tokens: chars|words}`, a UTF-8 file."""

from __future__ import annotations

from nncli.datasets.base import PATH_OPTION, Source
from nncli.datasets.files import require_file, resolve
from nncli.datasets.streams import SPLIT_OPTION, TextDataset, read_tokens, text_options


class TextFile(TextDataset):
    name = "text-file"
    by_path = True
    selects = "tokens"               # `tokens:` makes a `path:` a text to train a model on
    summary = "a UTF-8 text file to train a language model on"
    OPTIONS = {"path": PATH_OPTION, **text_options(None, 64), "split": SPLIT_OPTION}

    def stamp(self, opts: dict, src: Source) -> tuple:
        path = require_file(resolve(opts["path"], src), opts["path"], src)
        return str(path), path.stat().st_mtime_ns

    def token_splits(self, opts: dict, src: Source) -> list[list[str]]:
        path = require_file(resolve(opts["path"], src), opts["path"], src)
        return read_tokens(path, opts["path"], opts, src)
