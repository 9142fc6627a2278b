"""The constants of container format 1.0, shared by its writer and its reader.

The values are defined in ``docs/FORMAT.md`` (the comments name its sections);
:mod:`pinnlite.io.container` re-exports the public ones.
"""

import numpy as np

FORMAT_NAME = "pinnlite-checkpoint"
# PNG-style: a high byte catches 7-bit transports, CR LF / LF catch newline
# translation, ^Z stops `type` on Windows.
MAGIC = b"\x89" + FORMAT_NAME.encode("ascii") + b"\r\n\x1a\n"  # sections 3 and 3.1
VERSION = (1, 0)  # what this writer writes (section 6)
SUPPORTED_MAJOR = VERSION[0]  # what this reader reads: any 1.x

DTYPES = {  # section 5: table name -> little-endian dtype
    name: np.dtype(code)
    for name, code in (
        ("bool", "|b1"), ("int8", "|i1"), ("int16", "<i2"), ("int32", "<i4"),
        ("int64", "<i8"), ("uint8", "|u1"), ("uint16", "<u2"), ("uint32", "<u4"),
        ("uint64", "<u8"), ("float16", "<f2"), ("float32", "<f4"),
        ("float64", "<f8"), ("complex64", "<c8"), ("complex128", "<c16"),
    )
}
# dtype -> table name, for both byte orders (big-endian input is converted)
NAME_OF = {dt.newbyteorder(order): name for name, dt in DTYPES.items() for order in "<>"}

EXT_BIGINT = 1  # section 4.1
EXT_ARRAY = 2
ALIGNMENT = 64  # section 3.2: array data start at a multiple of this
MAX_DEPTH = 64  # section 7
MAX_NDIM = 64
MAX_ARRAY_NBYTES = 2**32 - 1  # msgpack bin32
MAX_HEADER_SIZE = 2**30
PREAMBLE_SIZE = 52  # section 3: magic, version, H, header CRC-32, L
TRAILER_SIZE = 34  # section 3: c4 20 + the 32-byte DIGEST of section 3.3
MIN_FILE_SIZE = PREAMBLE_SIZE + 1 + TRAILER_SIZE

HEADER_FIELDS = ("arrays", "meta", "tree")  # section 4
ENTRY_FIELDS = ("dtype", "shape", "crc32")
INT_MIN, INT_END = -(2**63), 2**64  # integers msgpack stores natively; others are EXT_BIGINT


def key_path(root, path):
    """``root['a'][0]...``: how messages name the value at ``path`` (keys and list indices)."""
    return root + "".join(f"[{k!r}]" for k in path)


def bigint_bytes(value):
    """Shortest big-endian two's-complement bytes of ``value`` (Java's toByteArray), section 4.1."""
    magnitude = value if value >= 0 else ~value
    return value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)
