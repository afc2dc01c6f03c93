"""Shakespeare's sonnets, shipped as sonnets.txt: a small corpus for a language model."""

from __future__ import annotations

from nncli.datasets import base
from nncli.datasets.base import Source, name_option
from nncli.datasets.streams import SPLIT_OPTION, TextDataset, read_tokens, text_options


class Sonnets(TextDataset):
    name = "sonnets"
    summary = "Shakespeare's sonnets (data/sonnets.txt), by character or word"
    OPTIONS = {"name": name_option("sonnets"), **text_options("chars", 64),
               "split": SPLIT_OPTION}

    def token_splits(self, opts: dict, src: Source) -> list[list[str]]:
        return read_tokens(base.shipped_file("sonnets.txt"), "sonnets", opts, src)
