"""Strict JSON parsing for the files io reads: a key given twice in one object is an error.

Python's :mod:`json` silently keeps the last of repeated keys, which hides a
conflict (two parsers may disagree about which one counts).  Spec files
(``fastglorot init --spec``) and safetensors headers and indexes are parsed
by :func:`loads`; each caller turns :class:`DuplicateKeyError` into its own
error (``SpecError``, ``HeaderError``) naming the file.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, NoReturn, Tuple

__all__ = ["DuplicateKeyError", "loads"]


class DuplicateKeyError(ValueError):
    """A JSON object gives a key more than once.

    Attributes
    ----------
    keys : list of str
        The repeated keys of the object, in the order in which each is first
        repeated (``keys[0]`` is the first duplicate met in the text).  Objects
        are checked innermost first, so this is the first offending object to
        close.
    """

    def __init__(self, keys: List[str]) -> None:
        super().__init__(f"duplicate keys: {', '.join(keys)}")
        self.keys = keys


def _unique_object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    """json ``object_pairs_hook``: a dict, or :class:`DuplicateKeyError` listing every repeated key."""
    result: Dict[str, Any] = {}
    repeated: Dict[str, None] = {}  # an ordered set
    for key, value in pairs:
        if key in result:
            repeated[key] = None
        result[key] = value
    if repeated:
        raise DuplicateKeyError(list(repeated))
    return result


def _reject_constant(token: str) -> NoReturn:
    """json ``parse_constant`` hook: NaN and Infinity are not JSON (serde_json refuses them too)."""
    raise ValueError(f"{token} is not valid JSON")


def loads(text: str, *, allow_nan: bool = False) -> Any:
    """``json.loads(text)``, refusing duplicate keys (and, unless ``allow_nan``, ``NaN`` and ``Infinity``).

    Parameters
    ----------
    text : str
        The JSON text.
    allow_nan : bool, default False
        Accept Python's ``NaN``, ``Infinity`` and ``-Infinity`` extensions.

    Raises
    ------
    DuplicateKeyError
        An object gives a key more than once.
    ValueError
        Anything else :func:`json.loads` refuses (``json.JSONDecodeError``),
        ``NaN`` / ``Infinity`` when not allowed, integers too long to convert.
    RecursionError
        Nesting deeper than the interpreter's recursion limit.
    """
    if allow_nan:
        return json.loads(text, object_pairs_hook=_unique_object)
    return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
