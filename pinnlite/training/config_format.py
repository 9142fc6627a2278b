"""The two file formats of the run configuration, JSON and TOML, as text.

This module moves a two-level tree of plain values (``name = value`` at the top,
then one table of ``field = value`` per section; values are bool, int, float,
str, None and flat lists of them) between text or files and Python; it knows
nothing of the fields themselves, which :class:`~pinnlite.training.config.Config`
checks once the tree is read and before it is written.

Both formats are lossless for such a tree: floats are written with ``repr``
(the shortest string that reads back to the same double). TOML has no null, so
None values are omitted and read back as the field's default, which is None
for every optional field.

Reading TOML needs Python >= 3.11 (``tomllib``) or the ``tomli`` package;
writing it needs neither.
"""

import json
import os
from pathlib import Path

from pinnlite.errors import describe
from pinnlite.training.config_sections import ConfigError

try:  # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - depends on the interpreter
    try:
        import tomli as _toml
    except ModuleNotFoundError:
        _toml = None

__all__ = ["format_of", "parse_value", "read", "write"]


def format_of(path):
    """``"json"`` or ``"toml"``, from the suffix of the file name ``path`` (any case)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"path: expected a file name, found {describe(path)}")
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".toml"):
        # The whole path is quoted after the suffix: describe() would cut a long path short.
        raise ConfigError(f"path: expected a .json or .toml suffix, found {suffix!r} in {str(path)!r}")
    return suffix[1:]


def read(source, kind):
    """The tree held by ``source`` in the format ``kind`` (``"json"`` or ``"toml"``).

    ``source`` is a path-like object (a file), ``bytes`` or ``str`` (UTF-8 text),
    or a ``str`` naming a file: a ``str`` is text when it contains a newline, or,
    for JSON, starts with ``{`` or ``[``, or, for TOML, contains ``=``, starts with
    ``[`` or ``#`` or is blank.

    Raises
    ------
    ConfigError
        For malformed text, naming the file when it came from one, or a ``str``
        that is neither text nor the name of an existing file.
    ImportError
        For TOML when no TOML reader is available.
    """
    if kind == "toml" and _toml is None:
        raise ImportError(
            "reading TOML needs Python >= 3.11 (tomllib) or the tomli package; "
            "neither is available (use a .json config instead)")
    text, origin = _text_of(source, kind.upper())
    if kind == "json":
        parse, syntax_error = json.loads, json.JSONDecodeError
    else:
        parse, syntax_error = _toml.loads, _toml.TOMLDecodeError
    try:
        return parse(text)
    except syntax_error as exc:
        where = kind.upper() if origin is None else f"{kind.upper()} file {origin}"
        raise ConfigError(f"{where}: {exc}") from None


def write(data, kind, path=None, comments=None):
    """The tree ``data`` as JSON or TOML text (``kind``), also written to ``path`` when given.

    The TOML layout: the top-level values first, then one ``[section]`` table per
    nested dict; lists are written inline and None values omitted.

    ``comments`` (TOML only) maps a section name (``""`` for the top level) to a
    dict of field name -> comment text, with the key ``""`` for the table itself;
    each comment is written as ``#`` lines above its key, and a None value as a
    commented-out ``# key = None`` line (TOML has no null).
    """
    if kind == "json":
        # json writes floats with float.__repr__, which round-trips exactly.
        text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    else:
        notes = comments or {}

        def table(values, notes_of):
            lines = []
            for k, v in values.items():
                if v is None and not comments:
                    continue
                lines += [f"# {c}".rstrip() for c in notes_of.get(k, "").splitlines()]
                lines.append(f"# {k} = None" if v is None else f"{k} = {_toml_value(v)}")
            return lines

        top = {k: v for k, v in data.items() if not isinstance(v, dict)}
        lines = [f"# {c}".rstrip() for c in notes.get("", {}).get("", "").splitlines()]
        lines += table(top, notes.get("", {}))
        for section, values in data.items():
            if isinstance(values, dict):
                lines.append("")
                lines += [f"# {c}".rstrip() for c in notes.get(section, {}).get("", "").splitlines()]
                lines.append(f"[{section}]")
                lines += table(values, notes.get(section, {}))
        text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def parse_value(text):
    """A command-line value (``--set key=VALUE``): a TOML value, ``none``/``null`` for None,
    else the text itself as a string (so that ``--set schedule.kind=cosine`` needs no quotes).

    Without a TOML reader (Python 3.10 without tomli) JSON is tried instead.
    """
    if text.strip().lower() in ("none", "null"):
        return None
    if _toml is not None:
        try:
            return _toml.loads(f"v = {text}")["v"]
        except _toml.TOMLDecodeError:
            return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _looks_like_text(source, kind):
    stripped = source.strip()
    if "\n" in source:
        return True
    if kind == "JSON":
        return stripped.startswith(("{", "["))
    return "=" in source or not stripped or stripped.startswith(("[", "#"))


def _text_of(source, kind):
    """``(text, file name or None)`` of ``source``: a path-like object, a file name or the text."""
    if isinstance(source, os.PathLike):
        return Path(source).read_text(encoding="utf-8"), os.fspath(source)
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    if not isinstance(source, str):
        raise ConfigError(f"path_or_text: expected {kind} text or a file name, found {describe(source)}")
    if _looks_like_text(source, kind):
        return source, None
    path = Path(source)
    if not path.is_file():
        raise ConfigError(
            f"path_or_text: expected {kind} text or the name of an existing file, found {source!r}")
    return path.read_text(encoding="utf-8"), source


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                 "\f": "\\f", "\r": "\\r"}


def _toml_string(text):
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value):
    """A TOML value for this tree's types: bool, int, float, str and flat lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest string that reads back to the same double, and its
        # forms (1.0, 1e-08, 1.5e+300) are all valid TOML floats; the config has
        # already rejected inf and nan.
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {describe(value)}")  # pragma: no cover - validated tree
