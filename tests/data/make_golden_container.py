"""Write tests/data/golden_container_v2_0.pinnlite, the reference file of format 2.0.

Run once when the format version changes, naming the file after the new
version (never to "fix" a failing golden test: a failure means the bytes
written for format 2.0 changed)::

    python tests/data/make_golden_container.py

Every value is deterministic (no RNG, fixed creation time), so running it again
rewrites the same bytes. tests/test_container.py rebuilds the same tree on its
own and checks the committed files against it: this one, and
golden_container_v1_0.ckpt, which this script wrote (with META's note saying
"format 1.0") while pinnlite wrote format 1.0, up to commit 3789f5f.
"""

import os
import struct

import numpy as np

from pinnlite.io.container import VERSION, save_file

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_container_v2_0.pinnlite")
META = {"created": "2025-01-01T00:00:00+00:00", "writer": "pinnlite 0.1.0", "note": "golden file, format 2.0"}


def golden_tree():
    """A small tree covering every dtype, a big int, NaN payloads, -0.0 and nesting."""
    quiet_nan_payload = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0123))[0]
    return {
        "model": {
            "layers": [
                {"W": np.arange(12, dtype=np.float64).reshape(3, 4) / 8 - 0.5,
                 "b": np.array([-0.0, 1.5, np.inf], dtype=np.float32)},
                {"W": np.arange(6, dtype=np.float16).reshape(2, 3) * -2,
                 "b": np.array([0.25 + 1j, -3 - 0.5j], dtype=np.complex64)},
            ],
            "activation": "tanh",
        },
        "adam": {"step": 1234, "lr": 1e-3, "betas": (0.9, 0.999),
                 "m": np.array([[1, -2], [3, -4]], dtype=np.int64).T,  # transposed: stored in C order
                 "z": np.array([np.nan + 2j], dtype=np.complex128)},
        "ints": [np.arange(-3, 3, dtype=np.int8), np.array([-32768, 32767], dtype=np.int16),
                 np.array([-(2**31), 7], dtype=np.int32), np.array([2**8 - 1], dtype=np.uint8),
                 np.array([2**16 - 1], dtype=np.uint16), np.array([2**32 - 1], dtype=np.uint32),
                 np.array([0, 2**64 - 1], dtype=np.uint64)],
        "flags": np.array([True, False, True]),
        "nan_payload": np.array([quiet_nan_payload, -0.0]),
        "scalar": np.float32(0.25),
        "empty": np.zeros((0, 2), dtype=np.int8),
        "rng": {"bit_generator": "PCG64",
                "state": {"state": 2**127 + 12345, "inc": 2**100 + 1},
                "has_uint32": 0, "uinteger": 0},
        "big_negative": -(2**80) - 7,
        "history": [0.5, 0.25, [1, 2, None], {"nested": True}],
        "blob": b"\x00\xff\x10",
        "float_bits": [quiet_nan_payload, -0.0, 5e-324],
    }


if __name__ == "__main__":
    assert VERSION == (2, 0), f"pinnlite writes format {VERSION}: name a new golden file after it"
    save_file(GOLDEN, golden_tree(), META)
    print(f"wrote {GOLDEN} ({os.path.getsize(GOLDEN)} bytes)")
