"""The base of the config's sections: per-field validation, building from a dict, plain dicts.

Each section of :mod:`pinnlite.training.config_sections` is a dataclass that
mixes in :class:`Section`. A field's rule is ``metadata["check"]``, a function
``(path, value) -> clean value`` that raises :class:`ConfigError` with the one
message format of the package, ``<dotted field>: expected <rule>, found <value>``;
a field whose value is a whole section has ``metadata["section"]`` (its class)
instead (:func:`section_field`).

Assigning a name that is not a field raises :class:`AttributeError`, so that a
misspelt field (``cfg.training.epocs = 10``) is not silently ignored.
"""

import copy
import difflib
from collections.abc import Mapping
from dataclasses import field, fields

from pinnlite.core import checks
from pinnlite.errors import InputError


class ConfigError(InputError):
    """A configuration value, key or file is invalid; the message names the dotted field."""


def section_field(cls):
    """A field of :class:`~pinnlite.training.config.Config` holding a whole section ``cls``."""
    return field(default_factory=cls, metadata={"section": cls})


# values that need no copy (bool is an int)
_IMMUTABLE = (str, int, float, type(None))


class Section:
    """Mixin of the section dataclasses: per-field validation and building from a dict."""

    def __setattr__(self, name, value):
        # A dataclass would accept any name, so a misspelt field would be set, never read
        # and never validated. (slots=True would refuse it too, but its AttributeError
        # cannot name the closest field.)
        if name not in self.__dataclass_fields__:
            known = list(self.__dataclass_fields__)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else "its fields are " + ", ".join(known)
            raise AttributeError(f"{type(self).__name__} has no field {name!r} ({hint})")
        object.__setattr__(self, name, value)

    def __deepcopy__(self, memo):
        # what copy.deepcopy does (a new instance, its __dict__ copied), without its generic
        # dispatch on every plain value, which made up most of resuming a small run
        new = object.__new__(type(self))
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            if not isinstance(value, _IMMUTABLE):
                value = copy.deepcopy(value, memo)
            object.__setattr__(new, name, value)
        return new

    def _plain(self):
        """The section as a dict of plain values, lists copied (what :func:`dataclasses.asdict`
        gives, without its deep copy of every number and string, which is most of its time)."""
        return {name: value._plain() if isinstance(value, Section)
                else value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)
                for name, value in self.__dict__.items()}

    @classmethod
    def _rules(cls):
        """``(name, check, section class)`` per field, computed once per class: validation runs at every
        Trainer and checkpoint load, and :func:`dataclasses.fields` each time was most of it."""
        rules = cls.__dict__.get("_RULES")
        if rules is None:
            rules = tuple((f.name, f.metadata.get("check"), f.metadata.get("section")) for f in fields(cls))
            type.__setattr__(cls, "_RULES", rules)
        return rules

    def _validate(self, prefix):
        """Check and normalise every field in place, naming each ``prefix.<field>``."""
        values = self.__dict__
        for name, check, section in self._rules():
            path = f"{prefix}.{name}" if prefix else name
            value = values[name]
            if section is None:
                object.__setattr__(self, name, check(path, value))  # a field's name: no need of __setattr__'s check
            elif isinstance(value, section):
                value._validate(path)
            else:
                checks.fail(path, f"an instance of {section.__name__}", value, ConfigError)
        return self

    @classmethod
    def _build(cls, data, prefix, unknown):
        """An unvalidated instance from ``data``; unknown keys are appended to ``unknown``.

        Each entry of ``unknown`` is ``(dotted key, dotted names of the known fields)``
        so that the caller can report them all at once, each with its closest match.
        """
        if not isinstance(data, Mapping):
            what = f"a table of {prefix} settings" if prefix else "a table of settings"
            checks.fail(prefix or "config", what, data, ConfigError)
        known = {name: section for name, _, section in cls._rules()}
        kwargs = {}
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in known:
                unknown.append((path, [f"{prefix}.{n}" if prefix else n for n in known]))
            elif known[key] is not None:
                kwargs[key] = known[key]._build(value, path, unknown)
            else:
                # Copy so that the Config never aliases the caller's lists.
                kwargs[key] = value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)
        return cls(**kwargs)
