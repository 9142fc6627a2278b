"""An open container whose arrays are read and checked on first access: :func:`pinnlite.io.container.open`.

Opening a 2.0 file reads and checks only its head (``docs/FORMAT.md`` steps 1
to 7): the tree is then browsable as read-only mappings and sequences
(:class:`TreeMap`, :class:`TreeList`) over the decoded header, and an array
is read, with the checks of step 8 (its section and CRC-32), when it is first
looked up; later lookups return the same array object. Arrays are private,
writeable, 64-byte aligned copies, as :func:`~pinnlite.io.container.load_file`
returns them: nothing is memory-mapped, so a file replaced or changed later
cannot change an array already returned.

The file stays open until :meth:`OpenContainer.close` (or the end of a
``with`` block); arrays read before remain valid, looking up an unread one
afterwards raises :class:`ValueError`. A 1.x file is read and checked whole
when it is opened (its one digest covers every byte, appendix A). Not
thread-safe: one thread reads an open container at a time.
"""

import dataclasses
from collections.abc import Mapping, Sequence

from pinnlite.io import reader
from pinnlite.io.header import ArrayRef
from pinnlite.io.reader import Container


class _Node:
    __slots__ = ("_node", "_file", "_children")

    def __init__(self, node, file):
        self._node = node  # the decoded dict or list, with ArrayRef leaves
        self._file = file
        self._children = {}

    def _get(self, key):
        value = self._node[key]
        if type(value) is ArrayRef:
            return self._file.array(value.index)
        if type(value) is dict or type(value) is list:
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = (TreeMap if type(value) is dict else TreeList)(value, self._file)
            return child
        return value

    def to_plain(self):
        """A plain ``dict`` / ``list`` copy of this subtree, every array in it read (in one pass over the file)."""
        self._file._read_all(_refs(self._node))
        return _plain(self._node, self._file.array)


def _refs(value):
    """The indices of the arrays in a decoded subtree."""
    if type(value) is ArrayRef:
        return [value.index]
    if type(value) is dict or type(value) is list:
        return [i for v in (value.values() if type(value) is dict else value) for i in _refs(v)]
    return []


def _plain(value, lookup):
    if type(value) is ArrayRef:
        return lookup(value.index)
    if type(value) is dict:
        return {k: _plain(v, lookup) for k, v in value.items()}
    if type(value) is list:
        return [_plain(v, lookup) for v in value]
    return value


class TreeMap(_Node, Mapping):
    """A map of an open container's tree: values are looked up lazily (arrays read and checked then)."""

    __slots__ = ()

    def __getitem__(self, key):
        return self._get(key)

    def __iter__(self):
        return iter(self._node)

    def __len__(self):
        return len(self._node)

    def __contains__(self, key):
        return key in self._node

    def __repr__(self):
        return f"TreeMap(keys={list(self._node)!r:.200})"


class TreeList(_Node, Sequence):
    """A list of an open container's tree; indexing as for :class:`TreeMap` (a slice gives a plain list)."""

    __slots__ = ()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._get(i) for i in range(len(self._node))[index]]
        return self._get(range(len(self._node))[index])  # negative indices, IndexError

    def __len__(self):
        return len(self._node)

    def __repr__(self):
        return f"TreeList(<{len(self._node)} items>)"


class OpenContainer:
    """A container opened for lazy reading (see the module docstring); a context manager.

    Attributes: ``version``, ``meta``, ``extra``, ``file_length`` and
    ``arrays`` (the :class:`ArrayInfo` table; an array's ``crc32`` is filled
    in once it is read) as in :class:`~pinnlite.io.container.Container`, and
    ``tree``: the root, a :class:`TreeMap` or :class:`TreeList` (the array
    itself, or the plain value, when the root is not a container).
    """

    def __init__(self, source, head):
        self._source = source
        self._head = head
        self._closed = False
        self._cache = {}
        found = head.header
        self.version, self.meta, self.extra, self.file_length = head.version, found.meta, found.extra, head.length
        self._infos = list(head.infos)
        self._root = found.box[0]

    @classmethod
    def of_container(cls, found):
        """An already-read :class:`Container` (a 1.x file) behind the same interface."""
        self = cls.__new__(cls)
        self._source, self._head, self._closed = None, None, False
        self.version, self.meta, self.extra = found.version, found.meta, found.extra
        self.file_length = found.file_length
        self._infos = list(found.arrays)
        box = [found.tree]
        self._cache = {}
        for i, info in enumerate(self._infos):  # put references back where the arrays are
            holder, key = box, 0
            for step in info.path:
                holder, key = holder[key], step
            self._cache[i] = holder[key]
            holder[key] = ArrayRef(i)
        self._root = box[0]
        return self

    @property
    def arrays(self):
        return tuple(self._infos)

    @property
    def closed(self):
        return self._closed

    @property
    def tree(self):
        root = self._root
        if type(root) is ArrayRef:
            return self.array(root.index)
        if type(root) is dict:
            return TreeMap(root, self)
        if type(root) is list:
            return TreeList(root, self)
        return root

    def array(self, index):
        """Array ``index`` of the table (file order), read and checked on the first call."""
        found = self._cache.get(index)
        if found is None:
            if not 0 <= index < len(self._infos):
                raise IndexError(f"array {index}: the file has {len(self._infos)} arrays")
            self._read_all([index])
            found = self._cache[index]
        return found

    def _read_all(self, indices):
        todo = sorted({i for i in indices if i not in self._cache})
        if not todo:
            return
        if self._closed:
            raise ValueError(f"{self._infos[todo[0]].key}: the container is closed; read arrays before closing it")
        arrays, _ = reader.read_arrays(self._source, self._head, todo)
        for index, (arr, crc) in arrays.items():
            self._infos[index] = dataclasses.replace(self._infos[index], crc32=crc)
            self._cache[index] = arr

    def read(self, only=None):
        """A :class:`~pinnlite.io.container.Container` of plain values: the arrays under the top-level keys
        ``only`` (None: all) read and checked, the others standing in as their :class:`ArrayInfo`."""
        only = reader.check_only(only)
        wanted = [i for i, info in enumerate(self._infos) if only is None or (info.path and info.path[0] in only)]
        self._read_all(wanted)
        keep = set(wanted)
        tree = _plain(self._root, lambda i: self._cache[i] if i in keep else self._infos[i])
        return Container(tree=tree, meta=self.meta, version=self.version, extra=self.extra,
                         arrays=tuple(self._infos), file_length=self.file_length)

    def close(self):
        """Close the file; arrays already read stay valid."""
        self._closed = True
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return (f"<{state} pinnlite container {self.version[0]}.{self.version[1]}, {self.file_length} bytes, "
                f"{len(self._infos)} arrays, {len(self._cache)} read>")
