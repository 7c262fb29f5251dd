"""Every GRAPHC_* environment variable, declared once: its parser, default, what it accepts and
what it does.

Code reads a variable only through `get(name)`: unset or empty gives the default, anything else is
parsed, and a value that is not accepted raises ArgumentError naming the variable, the value and
what it accepts, at the first read that needs it (a variable nothing reads never stops a program).
Parsed values are kept per text, so a variable read on every step costs a dictionary lookup.
A layer above this one may check a value further (the driver checks pass names: `add_check`).
docs/architecture.md lists the variables in one table, which tests/test_env.py keeps complete.
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ArgumentError

BOOLEAN = "1, true, yes, on or 0, false, no, off (any case)"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Variable:
    name: str                        # a '*' stands for any text: GRAPHC_*_MIRRORS, one per dataset
    parse: Callable[[str], Any]      # the text -> its value; ValueError when the text is not accepted
    default: Any                     # when the variable is unset or empty
    accepts: str                     # what `parse` takes, as errors and the docs say it
    doc: str


def _integer(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)            # its own message ("invalid literal for int()") names no variable
        if value < minimum:
            raise ValueError
        return value
    return parse


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word not in _TRUE + _FALSE:
        raise ValueError
    return word in _TRUE


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _words(text: str) -> tuple[str, ...]:
    """Items separated by commas or whitespace."""
    return tuple(word for word in re.split(r"[\s,]+", text) if word)


VARIABLES: dict[str, Variable] = {variable.name: variable for variable in (
    Variable("GRAPHC_NUM_THREADS", _integer(1), None, "an integer >= 1",
             "threads of a native step, when set_context(num_threads=...) does not say; unset: every core this "
             "process may use"),
    Variable("GRAPHC_ALLOW_OVERSUBSCRIBE", _boolean, False, BOOLEAN,
             "use a thread count above the core count as asked (from set_context or GRAPHC_NUM_THREADS); "
             "otherwise it is capped at the core count with a warning: threads waiting at a step's barriers "
             "for threads that have no core made a step 280x slower"),
    Variable("GRAPHC_PIPELINE", str.strip, None, "a pass pipeline such as fold,cse,dce",
             "the pass pipeline of every compile, when set_context(pipeline=...) does not say; unset: "
             "the default pipeline"),
    Variable("GRAPHC_PRINT_AFTER", _words, (), "pass names separated by commas, or all",
             "print the IR to stderr after each named pass (all: after every pass)"),
    Variable("GRAPHC_VERIFY_EACH", _boolean, False, BOOLEAN,
             "verify the graph after every pass that changed it, not only after the pipeline (the test suite "
             "sets it)"),
    Variable("GRAPHC_PROFILE", _boolean, False, BOOLEAN,
             "build native steps that time each kernel, and print the table at exit"),
    Variable("GRAPHC_SAVE_GRAPHS", _path, None, "a directory",
             "write every stage of every compiled graph into this directory (wins over set_context's "
             "save_graphs_path)"),
    Variable("GRAPHC_CACHE_DIR", _path, None, "a directory",
             "the compiled-code cache; unset: ~/.cache/graphc. Optional: when it cannot be used, one warning, "
             "and compiling goes on in memory"),
    Variable("GRAPHC_CACHE_MAX_BYTES", _integer(0), 1 << 30, "an integer >= 0 (bytes)",
             "the bound of the compiled-code cache (default 1 GiB); least recently used entries are evicted"),
    Variable("GRAPHC_MAP_CACHE_BYTES", _integer(0), 512 << 20, "an integer >= 0 (bytes)",
             "the most a vectorized dataset map keeps of its result between epochs (default 512 MiB)"),
    Variable("GRAPHC_DATA_DIR", _path, None, "a directory",
             "where datasets are downloaded when no folder is named; unset: ~/.cache/graphc/datasets"),
    Variable("GRAPHC_*_MIRRORS", _words, (), "base URLs separated by commas or whitespace",
             "the mirrors a dataset is downloaded from, in place of its public ones (GRAPHC_MNIST_MIRRORS, "
             "GRAPHC_FASHION_MNIST_MIRRORS)"),
)}
_checks: dict[str, Callable[[Any], None]] = {}
_parsed: dict[tuple[str, str], Any] = {}          # (name, text) -> value


def declared(name: str) -> Variable:
    """The declaration of `name`, matching the patterns too; KeyError for an undeclared one."""
    found = VARIABLES.get(name) or next((v for v in VARIABLES.values() if fnmatch.fnmatchcase(name, v.name)), None)
    if found is None:
        raise KeyError(f"{name} is not declared in graphc/env.py")
    return found


def add_check(name: str, check: Callable[[Any], None]) -> None:
    """Let a layer above this one check a parsed value it interprets: check(value) raises
    ValueError saying what is wrong."""
    _checks[name] = check
    for key in [key for key in _parsed if key[0] == name]:
        del _parsed[key]


def get(name: str) -> Any:
    """The value of environment variable `name` (its default when unset or empty)."""
    text = os.environ.get(name, "")
    if not text:
        return declared(name).default
    try:
        return _parsed[name, text]
    except KeyError:
        value = _parsed[name, text] = _parse(name, text)
        return value


def _parse(name: str, text: str) -> Any:
    variable = declared(name)
    try:
        value = variable.parse(text)
    except ValueError:
        raise ArgumentError(f"environment variable {name}={text!r} is not valid: expected {variable.accepts}") \
            from None
    try:
        if variable.name in _checks:
            _checks[variable.name](value)
    except ValueError as error:
        raise ArgumentError(f"environment variable {name}={text!r} is not valid: {error}") from None
    return value
