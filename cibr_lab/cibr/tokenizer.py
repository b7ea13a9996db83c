"""Tokenisation: open_clip's BPE tokenizer, an overflow policy and an optional compact vocabulary.

open_clip's ``SimpleTokenizer`` ships its BPE merges inside the wheel (no download) but silently
truncates long texts. :class:`CaptionTokenizer` makes the policy explicit: ``"error"`` (default)
raises on a caption longer than the context, ``"truncate"`` cuts it (keeping the end-of-text
token last, as open_clip does) and warns. A compact vocabulary maps the BPE ids met in a known
corpus to ``0..V-1`` so that a tiny model need not carry (and update) 49,408 embeddings:
0 = padding, 1 = start, 2 = unknown, ``V - 1`` = end of text (it must be the largest id, because
open_clip pools the text at the argmax token).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Literal

import torch
from open_clip.tokenizer import SimpleTokenizer
from torch import Tensor

Overflow = Literal["error", "truncate"]
_PAD, _SOT, _UNK = 0, 1, 2


class CaptionTokenizer:
    """Texts -> ``LongTensor [N, context_length]`` with open_clip's BPE.

    Parameters
    ----------
    context_length : tokens per text, start and end tokens included.
    vocabulary : BPE ids to keep (compact mode), or None for open_clip's full vocabulary.
    on_overflow : ``"error"`` or ``"truncate"`` (with a warning).
    """

    def __init__(
        self,
        context_length: int,
        vocabulary: Sequence[int] | None = None,
        on_overflow: Overflow = "error",
    ) -> None:
        if on_overflow not in ("error", "truncate"):
            raise ValueError(f"on_overflow must be 'error' or 'truncate', got {on_overflow!r}")
        if context_length < 3:
            raise ValueError(f"context_length must be at least 3, got {context_length}")
        self.bpe = SimpleTokenizer(context_length=context_length)
        self.context_length = context_length
        self.on_overflow = on_overflow
        self.vocabulary = None if vocabulary is None else sorted(set(vocabulary))
        self.table: Tensor | None = None
        if self.vocabulary is not None:
            table = torch.full((self.bpe.vocab_size,), _UNK, dtype=torch.long)
            table[torch.tensor(self.vocabulary, dtype=torch.long)] = torch.arange(
                3, 3 + len(self.vocabulary)
            )
            table[self.bpe.sot_token_id] = _SOT
            table[self.bpe.eot_token_id] = 3 + len(self.vocabulary)
            self.table = table
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """Number of token ids the text model must embed."""
        return self.bpe.vocab_size if self.vocabulary is None else len(self.vocabulary) + 4

    @classmethod
    def from_corpus(
        cls,
        corpus: Iterable[str],
        context_length: int,
        vocab_size: int,
        on_overflow: Overflow = "error",
    ) -> CaptionTokenizer:
        """A compact tokenizer covering every BPE token of ``corpus`` in ``vocab_size`` ids."""
        probe = SimpleTokenizer()
        ids = sorted({i for text in corpus for i in probe.encode(text)})
        if len(ids) + 4 > vocab_size:
            raise ValueError(
                f"the corpus needs {len(ids) + 4} token ids but the model embeds {vocab_size}"
            )
        return cls(context_length, ids, on_overflow)

    def _encode(self, text: str) -> list[int]:
        if text not in self._cache:
            self._cache[text] = [
                self.bpe.sot_token_id,
                *self.bpe.encode(text),
                self.bpe.eot_token_id,
            ]
        return self._cache[text]

    def __call__(self, texts: str | Sequence[str]) -> Tensor:
        """Token ids ``[N, context_length]``, zero-padded."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        encoded = [self._encode(t) for t in texts]
        too_long = [i for i, e in enumerate(encoded) if len(e) > self.context_length]
        if too_long:
            first = too_long[0]
            message = (
                f"{len(too_long)} text(s) exceed the context of {self.context_length} tokens, "
                f"e.g. {texts[first]!r} ({len(encoded[first])} tokens)"
            )
            if self.on_overflow == "error":
                raise ValueError(message + "; shorten them or use on_overflow='truncate'")
            warnings.warn(message + "; truncated", stacklevel=2)
            eot = self.bpe.eot_token_id
            encoded = [
                e if len(e) <= self.context_length else [*e[: self.context_length - 1], eot]
                for e in encoded
            ]
        out = torch.full((len(texts), self.context_length), -1, dtype=torch.long)
        lengths = torch.tensor([len(e) for e in encoded])
        flat = torch.tensor([i for e in encoded for i in e], dtype=torch.long)
        positions = torch.arange(self.context_length)[None, :] < lengths[:, None]
        out[positions] = flat
        if self.table is not None:
            return torch.where(positions, self.table[out.clamp(min=0)], _PAD)
        return out.clamp(min=0)
