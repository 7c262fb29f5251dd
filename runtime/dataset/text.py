"""Text transforms of mindspore.dataset.text that need no download: vocabularies (Vocab), Lookup,
the tokenizers PythonTokenizer, WhitespaceTokenizer, UnicodeCharTokenizer and BasicTokenizer, and
ToNumber. Strings travel in columns as NumPy str arrays; a tokenizer turns one string into a 1-D
array of tokens, so it runs one row at a time, and Lookup maps any array of tokens to ids.
"""
from __future__ import annotations

import collections
import re
import unicodedata
from typing import Callable, Iterable, Sequence

import numpy as np

from graphc.errors import ArgumentError
from runtime.dataset.operation import Transform, numpy_dtype


class Vocab:
    """Tokens and their ids. Build one with from_list, from_dict, from_file or from_dataset."""

    def __init__(self, ids: dict[str, int]):
        self._ids = dict(ids)
        self._tokens = {i: token for token, i in self._ids.items()}

    @classmethod
    def from_list(cls, word_list: Sequence[str], special_tokens: Sequence[str] | None = None,
                  special_first: bool = True) -> Vocab:
        """Ids in list order; `special_tokens` (e.g. "<pad>", "<unk>") before the words or after them."""
        words, special = list(word_list), list(special_tokens or [])
        repeated = [word for word, count in collections.Counter(words).items() if count > 1]
        if repeated:
            raise ArgumentError(f"Vocab.from_list: word_list holds {repeated[0]!r} more than once")
        if set(words) & set(special):
            raise ArgumentError(f"Vocab.from_list: {sorted(set(words) & set(special))} are both words and "
                                "special_tokens")
        ordered = special + words if special_first else words + special
        return cls({token: i for i, token in enumerate(ordered)})

    @classmethod
    def from_dict(cls, word_dict: dict[str, int]) -> Vocab:
        """The given token -> id table (ids need not be contiguous)."""
        if not all(isinstance(i, int) and i >= 0 for i in word_dict.values()):
            raise ArgumentError("Vocab.from_dict: every id must be an int >= 0")
        return cls(word_dict)

    @classmethod
    def from_file(cls, file_path: str, delimiter: str = "", vocab_size: int | None = None,
                  special_tokens: Sequence[str] | None = None, special_first: bool = True) -> Vocab:
        """One token per line (the text before `delimiter`, when given), the first `vocab_size` lines."""
        with open(file_path, encoding="utf-8") as lines:
            words = [line.rstrip("\r\n") for line in lines]
        words = [w.split(delimiter)[0] if delimiter else w for w in words if w]
        return cls.from_list(words[:vocab_size], special_tokens, special_first)

    @classmethod
    def from_dataset(cls, dataset, columns: str | Sequence[str] | None = None,
                     freq_range: tuple[int | None, int | None] | None = None, top_k: int | None = None,
                     special_tokens: Sequence[str] | None = None, special_first: bool = True) -> Vocab:
        """The tokens of `columns` (default: every column) of one pass, most frequent first (ties in
        string order), those whose count is within `freq_range` (inclusive; None: no bound), the
        first `top_k` of them."""
        names = dataset.get_col_names()
        wanted = names if columns is None else [columns] if isinstance(columns, str) else list(columns)
        indices = [dataset._column_index(name, "Vocab.from_dataset") for name in wanted]
        counts = collections.Counter()
        for row in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
            for i in indices:
                counts.update(_strings(row[i]))
        low, high = freq_range or (None, None)
        kept = sorted((token for token, n in counts.items() if (low is None or n >= low) and
                       (high is None or n <= high)), key=lambda token: (-counts[token], token))
        return cls.from_list(kept[:top_k], special_tokens, special_first)

    def vocab(self) -> dict[str, int]:
        return dict(self._ids)

    def tokens_to_ids(self, tokens: str | Iterable[str]) -> int | list[int]:
        """The id of a token (-1 if absent), or a list of them."""
        if isinstance(tokens, str):
            return self._ids.get(tokens, -1)
        return [self._ids.get(str(token), -1) for token in tokens]

    def ids_to_tokens(self, ids: int | Iterable[int]) -> str | list[str]:
        """The token of an id ("" if absent), or a list of them."""
        if isinstance(ids, (int, np.integer)):
            return self._tokens.get(int(ids), "")
        return [self._tokens.get(int(i), "") for i in ids]

    def __len__(self) -> int:
        return len(self._ids)


def _strings(values) -> list[str]:
    values = np.asarray(values).reshape(-1)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.tolist()]


class Lookup(Transform):
    """Tokens (any array of strings) -> their ids, as `data_type` (int32). A token not in the vocabulary
    takes `unknown_token`'s id; without unknown_token it is an error."""

    def __init__(self, vocab: Vocab, unknown_token: str | None = None, data_type=np.int32):
        if not isinstance(vocab, Vocab):
            raise ArgumentError(f"Lookup: vocab must be a text.Vocab, got {type(vocab).__name__}")
        self.dtype = numpy_dtype(data_type, "Lookup: data_type")
        if self.dtype.kind not in "iuf":
            raise ArgumentError(f"Lookup: data_type must be numeric, got {self.dtype}")
        if unknown_token is not None and vocab.tokens_to_ids(unknown_token) == -1:
            raise ArgumentError(f"Lookup: unknown_token {unknown_token!r} is not in the vocabulary; add it as a "
                                "special token (Vocab.from_list(..., special_tokens=[...]))")
        self.vocab, self.unknown_token = vocab, unknown_token

    def on_rows(self, tokens, rng=None):
        tokens = np.asarray(tokens)
        ids = np.asarray(self.vocab.tokens_to_ids(_strings(tokens)), dtype=np.int64).reshape(tokens.shape)
        if np.any(ids == -1):
            if self.unknown_token is None:
                missing = np.asarray(_strings(tokens)).reshape(tokens.shape)[ids == -1][0]
                raise ArgumentError(f"Lookup: {str(missing)!r} is not in the vocabulary; give Lookup an unknown_token "
                                    "(e.g. '<unk>', added to the Vocab as a special token)")
            ids[ids == -1] = self.vocab.tokens_to_ids(self.unknown_token)
        return ids.astype(self.dtype)


class ToNumber(Transform):
    """Strings of numbers -> numbers of `data_type`; a string that is not one, or is out of the
    type's range, is an error."""

    def __init__(self, data_type):
        self.dtype = numpy_dtype(data_type, "ToNumber: data_type")
        if self.dtype.kind not in "iuf":
            raise ArgumentError(f"ToNumber: data_type must be numeric, got {self.dtype}")

    def on_rows(self, strings, rng=None):
        strings = np.asarray(strings)
        parse = float if self.dtype.kind == "f" else int
        numbers = []
        for text in _strings(strings):
            try:
                numbers.append(parse(text))
            except ValueError:
                raise ArgumentError(f"ToNumber: {text!r} is not a {self.dtype} number") from None
        if parse is int and numbers and not (np.iinfo(self.dtype).min <= min(numbers) and
                                             max(numbers) <= np.iinfo(self.dtype).max):
            raise ArgumentError(f"ToNumber: {numbers} do not all fit in {self.dtype}")
        return np.array(numbers, dtype=self.dtype).reshape(strings.shape)


# -- tokenizers ----------------------------------------------------------------------------------------------

class _Tokenizer:
    """One string -> a 1-D array of its tokens; with_offsets=True also gives each token's start and
    end, as byte offsets into the UTF-8 text (uint32), as MindSpore does."""
    offsets_supported = True

    def __init__(self, with_offsets: bool = False):
        if with_offsets and not self.offsets_supported:
            raise ArgumentError(f"{type(self).__name__}: with_offsets=True is not supported; use "
                                "WhitespaceTokenizer or UnicodeCharTokenizer for offsets")
        self.with_offsets = with_offsets

    def __call__(self, text):
        text = _one_string(text, type(self).__name__)
        spans = self._spans(text)
        tokens = np.array([text[start:end] for start, end in spans], dtype=str)
        if not self.with_offsets:
            return tokens
        byte_at = np.cumsum([0] + [len(c.encode("utf-8")) for c in text])
        return (tokens, np.array([byte_at[s] for s, _ in spans], dtype=np.uint32),
                np.array([byte_at[e] for _, e in spans], dtype=np.uint32))

    def _spans(self, text: str) -> list[tuple[int, int]]:
        raise NotImplementedError


def _one_string(value, owner: str) -> str:
    if isinstance(value, str):
        return value
    value = np.asarray(value)
    if value.ndim != 0 or value.dtype.kind not in "US":
        raise ArgumentError(f"{owner}: expected one string, got {value.dtype} of shape {value.shape}; tokenize "
                            "before batching")
    item = value.item()
    return item.decode("utf-8") if isinstance(item, bytes) else item


class WhitespaceTokenizer(_Tokenizer):
    """Split at runs of whitespace."""

    def _spans(self, text):
        return [m.span() for m in re.finditer(r"\S+", text)]


class UnicodeCharTokenizer(_Tokenizer):
    """One token per character."""

    def _spans(self, text):
        return [(i, i + 1) for i in range(len(text))]


class PythonTokenizer(_Tokenizer):
    """tokenizer(text) -> a list of tokens, any Python function."""
    offsets_supported = False

    def __init__(self, tokenizer: Callable[[str], list[str]]):
        if not callable(tokenizer):
            raise ArgumentError(f"PythonTokenizer: tokenizer must be callable, got {type(tokenizer).__name__}")
        super().__init__()
        self.tokenizer = tokenizer

    def __call__(self, text):
        return np.array(list(self.tokenizer(_one_string(text, "PythonTokenizer"))), dtype=str)


class NormalizeForm:
    """Unicode normalization forms (mindspore.dataset.text.NormalizeForm)."""
    NONE, NFC, NFKC, NFD, NFKD = "none", "NFC", "NFKC", "NFD", "NFKD"


_RESERVED = re.compile(r"\[(?:CLS|SEP|UNK|PAD|MASK|unused\d+)\]")   # BERT's tokens, kept whole


class BasicTokenizer(_Tokenizer):
    """BERT's basic tokenizer: split at whitespace, every punctuation character and every CJK
    ideograph a token of its own; lower_case also strips accents and folds case (NFD first);
    preserve_unused_token keeps [CLS], [SEP], [UNK], [PAD], [MASK] and [unusedN] whole."""
    offsets_supported = False

    def __init__(self, lower_case: bool = False, keep_whitespace: bool = False,
                 normalization_form: str = NormalizeForm.NONE, preserve_unused_token: bool = True,
                 with_offsets: bool = False):
        super().__init__(with_offsets)
        form = str(getattr(normalization_form, "value", normalization_form))
        if form.upper() not in ("NONE", "NFC", "NFKC", "NFD", "NFKD"):
            raise ArgumentError(f"BasicTokenizer: normalization_form must be a NormalizeForm, got "
                                f"{normalization_form!r}")
        self.lower_case, self.keep_whitespace = lower_case, keep_whitespace
        self.form = None if form.upper() == "NONE" else form.upper()
        self.preserve_unused_token = preserve_unused_token

    def __call__(self, text):
        text = _one_string(text, "BasicTokenizer")
        if self.lower_case:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").casefold()
        elif self.form:
            text = unicodedata.normalize(self.form, text)
        return super().__call__(text)

    def _spans(self, text):
        spans, start = [], 0
        while start < len(text):
            reserved = self.preserve_unused_token and _RESERVED.match(text, start)
            if reserved:
                end = reserved.end()
            elif text[start].isspace():
                end = start + 1
                while end < len(text) and text[end].isspace():
                    end += 1
                if not self.keep_whitespace:
                    start = end
                    continue
            elif _stands_alone(text[start]):
                end = start + 1
            else:
                end = start + 1
                while end < len(text) and not (text[end].isspace() or _stands_alone(text[end]) or
                                               (self.preserve_unused_token and _RESERVED.match(text, end))):
                    end += 1
            spans.append((start, end))
            start = end
        return spans


_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _stands_alone(char: str) -> bool:
    """Punctuation (Unicode's P* categories and ASCII's other symbols) and CJK ideographs."""
    code = ord(char)
    return (unicodedata.category(char).startswith("P") or 33 <= code <= 47 or 58 <= code <= 64 or
            91 <= code <= 96 or 123 <= code <= 126 or any(low <= code <= high for low, high in _CJK))
