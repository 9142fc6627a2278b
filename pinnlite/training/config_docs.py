"""The user's reference of every config field, as text: ``pinnlite config --defaults``.

The reference of a field is the ``#:`` comment above it in its section's source
(:mod:`pinnlite.training.config_sections`, and ``name`` in
:mod:`pinnlite.training.config`), the convention Sphinx reads too, so the
comments stay the one home of each field's meaning, default and allowed values;
this module reads them back with :func:`inspect.getsource`. A section's own
comment is the first paragraph of its docstring.
"""

import dataclasses
import inspect
import re
import textwrap

from pinnlite.training import config_format
from pinnlite.training.config import Config

_FIELD = re.compile(r"^\s+(\w+)\s*:")
_COMMENT = re.compile(r"^\s+#:\s?(.*)$")


def field_comments(cls):
    """Dict field name -> its ``#:`` comment (lines joined by newlines) in the source of ``cls``."""
    out, pending = {}, []
    for line in inspect.getsource(cls).splitlines():
        comment = _COMMENT.match(line)
        if comment:
            pending.append(comment.group(1))
            continue
        field = _FIELD.match(line)
        if field and field.group(1) in cls.__dataclass_fields__:
            if pending:
                out[field.group(1)] = "\n".join(pending)
        pending = []
    return out


def _first_paragraph(doc):
    text = inspect.cleandoc(doc or "")
    return textwrap.fill(" ".join(text.split("\n\n")[0].split()), width=88)


def comments(config=None):
    """The ``comments`` argument of :func:`pinnlite.training.config_format.write` for a config.

    Dict section -> {field -> comment, "" -> the section's own comment}; ``""`` is
    the top level.
    """
    config = Config() if config is None else config
    top = field_comments(type(config))
    top[""] = ("pinnlite run configuration. Every field is shown with its default value;\n"
               "fields whose default is None are commented out (TOML has no null).")
    out = {"": top}
    for f in dataclasses.fields(config):
        section = f.metadata.get("section")
        if section is not None:
            notes = field_comments(section)
            notes[""] = _first_paragraph(section.__doc__)
            out[f.name] = notes
    return out


def commented_toml(config=None):
    """``config`` (default: the defaults) as TOML with every field's comment above it."""
    config = Config() if config is None else config
    return config_format.write(config.to_dict(), "toml", comments=comments(config))
