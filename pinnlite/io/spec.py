"""The constants of the container format, shared by its writer and its readers.

The values are defined in ``docs/FORMAT.md`` (the comments name its sections):
version 2.0 in sections 3 to 8, version 1.x (read, never written) in appendix
A. :mod:`pinnlite.io.container` re-exports the public ones.
"""

import numpy as np

FORMAT_NAME = "pinnlite-checkpoint"
# PNG-style: a high byte catches 7-bit transports, CR LF / LF catch newline
# translation, ^Z stops `type` on Windows.
MAGIC = b"\x89" + FORMAT_NAME.encode("ascii") + b"\r\n\x1a\n"  # sections 3 and 3.1
VERSION = (2, 0)  # what this writer writes (section 6)
SUPPORTED_MAJORS = (1, 2)  # what the readers read: any 1.x (appendix A) and any 2.x

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
MAX_ARRAY_NBYTES = 2**32 - 1  # msgpack bin32; also the bound of each dimension (section 7)
MAX_HEADER_SIZE = 2**22  # 4 MiB; with MAX_HEADER_VALUES it bounds what rejecting a file costs
MAX_HEADER_VALUES = 2**18  # msgpack objects in the header, counted before any is built

# version 2.0 layout (section 3): magic, version, H, L, the header and its digest, the
# array sections (each ending with its CRC-32), the file digest
PREAMBLE_SIZE = 47
DIGEST_FIELD_SIZE = 34  # c4 20 + a 32-byte SHA-256
HEAD_OVERHEAD = PREAMBLE_SIZE + DIGEST_FIELD_SIZE  # the head is H + 81 bytes
SECTION_PREFIX = 7  # c4 k (and k zero bytes), then c6 + the 4-byte data length
CRC_FIELD = b"\xc4\x04"  # after each array's data: bin8 of the 4-byte CRC-32
CRC_FIELD_SIZE = 6
TRAILER_SIZE = DIGEST_FIELD_SIZE  # c4 20 + SHA-256 of bytes [0, L - 32)
DIGEST_SIZE = 32
MIN_FILE_SIZE = HEAD_OVERHEAD + 1 + TRAILER_SIZE
HEADER_FIELDS = ("arrays", "meta", "tree")  # section 4
ENTRY_FIELDS = ("dtype", "shape")

# version 1.x layout (appendix A)
CHUNK = 4194304  # 4 MiB: the chunks of the 1.x trailer's tree digest (appendix A)
V1_PREAMBLE_SIZE = 52  # magic, version, H, header CRC-32, L
V1_TRAILER_SIZE = 34  # c4 20 + the 32-byte tree digest of bytes [0, L - 34)
V1_MIN_FILE_SIZE = V1_PREAMBLE_SIZE + 1 + V1_TRAILER_SIZE
V1_MAX_HEADER_SIZE = 2**30
V1_ENTRY_FIELDS = ("dtype", "shape", "crc32")

INT_MIN, INT_END = -(2**63), 2**64  # integers msgpack stores natively; others are EXT_BIGINT


def key_path(root, path):
    """``root['a'][0]...``: how messages name the value at ``path`` (keys and list indices)."""
    return root + "".join(f"[{k!r}]" for k in path)


def bigint_bytes(value):
    """Shortest big-endian two's-complement bytes of ``value`` (Java's toByteArray), section 4.1."""
    magnitude = value if value >= 0 else ~value
    return value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def section_layout(start, sizes, crc=True):
    """``[(section offset, data offset)]`` of arrays of ``sizes`` bytes from ``start``, and their end (section 3.2).

    ``crc``: each section ends with the CRC-32 field (version 2.0); 1.x sections end with their data.
    """
    tail = CRC_FIELD_SIZE if crc else 0
    out = []
    pos = start
    for nbytes in sizes:
        data = pos + SECTION_PREFIX + (-(pos + SECTION_PREFIX) % ALIGNMENT)  # Python's % is never negative
        out.append((pos, data))
        pos = data + nbytes + tail
    return out, pos


def shape_bytes(shape, itemsize):
    """Bytes of an array of ``shape``, or None when a dimension or the size exceeds the limits of section 7.

    Each dimension is checked before it is multiplied, and the running product
    of the non-zero dimensions stays within :data:`MAX_ARRAY_NBYTES`, so no
    intermediate value needs more than 64 bits.
    """
    size = itemsize
    empty = False
    for d in shape:
        if d > MAX_ARRAY_NBYTES:
            return None
        if d == 0:
            empty = True
        else:
            size *= d
            if size > MAX_ARRAY_NBYTES:
                return None
    return 0 if empty else size
