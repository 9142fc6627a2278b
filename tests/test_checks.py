"""Tests of pinnlite.core.checks, the one validation vocabulary: for every check the
values it accepts and exactly what it returns (type and value), the values it
rejects, the exact message ``<name>: expected <rule>, found <value>`` written out
here for a few cases of each, ``optional=True`` accepting None and saying
"None or ..." in its rule, and ``error=`` choosing the exception class."""

import fractions
import re

import numpy as np
import pytest

from pinnlite.core import checks
from pinnlite.errors import InputError


class OtherError(Exception):
    """An error class unrelated to InputError and ValueError."""


def message(fn, *args, **kwargs):
    """The message of the InputError that ``fn(*args, **kwargs)`` raises."""
    with pytest.raises(InputError) as e:
        fn(*args, **kwargs)
    return str(e.value)


def same(returned, expected):
    """Equal value and exactly the same type."""
    return type(returned) is type(expected) and returned == expected


# -- the shared pieces -------------------------------------------------------------------------


def test_fail_writes_the_one_format():
    assert message(checks.fail, "weights.pde", "a rule", -1.0) == "weights.pde: expected a rule, found -1.0"
    assert message(checks.fail, "n", "a rule", "x", optional=True) == "n: expected None or a rule, found 'x'"
    # arrays are described by shape and dtype, not by their values
    assert message(checks.fail, "p", "a rule", np.zeros((2, 3), np.float32)) == (
        "p: expected a rule, found array of shape (2, 3) and dtype float32")
    with pytest.raises(OtherError, match="^n: expected a rule, found 3$"):
        checks.fail("n", "a rule", 3, OtherError)
    # a NumPy type is a class, not an array: its shape and dtype are descriptors (describe once
    # raised a TypeError here, hiding the error it was describing)
    assert message(checks.fail, "dtype", "a rule", np.float32) == "dtype: expected a rule, found <class 'numpy.float32'>"
    # integer bounds in full: 99999999 as :g wrote it, 1e+08, reads as another bound
    with pytest.raises(InputError, match=r"^n: expected an integer >= 0 and <= 99999999, found 100000000$"):
        checks.integer("n", 10**8, low=0, high=10**8 - 1)


@pytest.mark.parametrize(
    "value, real, integral",
    [
        (1.5, True, False),
        (np.float32(1.5), True, False),
        (fractions.Fraction(1, 3), True, False),
        (3, True, True),
        (np.int8(3), True, True),
        (True, False, False),
        (np.bool_(True), False, False),
        (1j, False, False),
        ("3", False, False),
        (None, False, False),
    ],
)
def test_is_real_and_is_int(value, real, integral):
    assert checks.is_real(value) is real
    assert checks.is_int(value) is integral


# -- real -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (2.5, 2.5),
        (np.float32(2.5), 2.5),
        (np.float64(-0.125), -0.125),
        (3, 3.0),
        (np.int64(-2), -2.0),
        (fractions.Fraction(1, 4), 0.25),
    ],
)
def test_real_returns_a_python_float(value, expected):
    assert same(checks.real("x", value), expected)


@pytest.mark.parametrize(
    "value", [True, False, np.bool_(True), float("nan"), float("inf"), -float("inf"), "1.0", None, 1j,
              np.array(1.0), [1.0],
              pytest.param(10**400, id="1e400-int"), pytest.param(-(10**400), id="-1e400-int")]  # beyond the float range
)
def test_real_rejects(value):
    assert message(checks.real, "x", value).startswith("x: expected a finite real number, found ")


def test_real_bounds():
    assert same(checks.real("x", 0.0, low=0.0), 0.0)  # closed bounds include the end
    assert same(checks.real("x", 1, low=0.0, high=1.0), 1.0)
    assert same(checks.real("x", 1e-300, low=0.0, low_open=True), 1e-300)
    assert message(checks.real, "x", 0.0, low=0.0, low_open=True) == "x: expected a finite real number > 0, found 0.0"
    assert message(checks.real, "x", 1.0, low=0.0, high=1.0, high_open=True) == (
        "x: expected a finite real number >= 0 and < 1, found 1.0")
    assert message(checks.real, "x", 1.5, low=0.5, high=1.0) == (
        "x: expected a finite real number >= 0.5 and <= 1, found 1.5")
    assert message(checks.real, "x", 2.0, high=1.0) == "x: expected a finite real number <= 1, found 2.0"
    # the value found is the float that failed the bound
    assert message(checks.real, "x", np.float32(-0.5), low=0.0) == (
        "x: expected a finite real number >= 0, found -0.5")
    assert message(checks.real, "x", True, low=0.0) == "x: expected a finite real number >= 0, found True"


def test_real_optional():
    assert checks.real("x", None, optional=True) is None
    assert checks.real("x", None, low=1.0, optional=True) is None
    assert same(checks.real("x", 2, optional=True), 2.0)
    assert message(checks.real, "x", "a", optional=True) == "x: expected None or a finite real number, found 'a'"
    assert message(checks.real, "x", -1.0, low=0.0, optional=True) == (
        "x: expected None or a finite real number >= 0, found -1.0")
    assert message(checks.real, "x", None) == "x: expected a finite real number, found None"


# -- integer ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [(5, 5), (np.int32(5), 5), (np.uint8(7), 7), (-3, -3), (2**70, 2**70)])
def test_integer_returns_a_python_int(value, expected):
    assert same(checks.integer("n", value), expected)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, np.float64(2.0), "2", None, 2.5])
def test_integer_rejects(value):
    assert message(checks.integer, "n", value).startswith("n: expected an integer, found ")


def test_integer_messages_and_bounds():
    assert message(checks.integer, "n", True) == "n: expected an integer, found True"
    assert message(checks.integer, "n", 2.0) == "n: expected an integer, found 2.0"
    assert same(checks.integer("n", 1, low=1, high=4), 1)
    assert same(checks.integer("n", 4, low=1, high=4), 4)
    assert message(checks.integer, "n", 5, low=1, high=4) == "n: expected an integer >= 1 and <= 4, found 5"
    assert message(checks.integer, "n", 0, low=1) == "n: expected an integer >= 1, found 0"
    assert message(checks.integer, "n", 9, high=8) == "n: expected an integer <= 8, found 9"


def test_integer_optional():
    assert checks.integer("n", None, optional=True) is None
    assert same(checks.integer("n", np.int64(3), low=1, optional=True), 3)
    assert message(checks.integer, "n", 3.5, low=1, optional=True) == "n: expected None or an integer >= 1, found 3.5"
    assert message(checks.integer, "n", None) == "n: expected an integer, found None"


# -- integers ---------------------------------------------------------------------------------


def test_integers_returns_a_new_list_of_python_ints():
    given = (3, np.int64(4), np.int8(1))
    out = checks.integers("hidden", given, low=1)
    assert out == [3, 4, 1] and type(out) is list
    assert all(type(v) is int for v in out)
    listed = [2, 3]
    assert checks.integers("hidden", listed) is not listed
    assert checks.integers("hidden", [], nonempty=False) == []
    assert checks.integers("hidden", [-5, 0]) == [-5, 0]  # no bound unless asked


@pytest.mark.parametrize(
    "value, found",
    [
        ([], "[]"),
        ((), "()"),
        ([3, 0], "[3, 0]"),
        ((3, 0), "[3, 0]"),  # a tuple is shown as the list it would have become
        ([3, True], "[3, True]"),
        ([3, 2.0], "[3, 2.0]"),
        ("34", "'34'"),
        (np.array([3, 4]), "array of shape (2,) and dtype int64"),
        (None, "None"),
        (3, "3"),
    ],
)
def test_integers_rejects(value, found):
    assert message(checks.integers, "hidden", value, low=1) == (
        f"hidden: expected a non-empty list of integers >= 1, found {found}")


def test_integers_messages_without_bound_and_when_empty_is_allowed():
    assert message(checks.integers, "h", [1, "2"]) == "h: expected a non-empty list of integers, found [1, '2']"
    assert message(checks.integers, "h", [0], low=1, nonempty=False) == "h: expected a list of integers >= 1, found [0]"


# -- boolean ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), (np.bool_(True), True), (np.bool_(False), False)])
def test_boolean_returns_a_python_bool(value, expected):
    assert same(checks.boolean("flag", value), expected)


@pytest.mark.parametrize("value, found", [(1, "1"), (0, "0"), (1.0, "1.0"), ("True", "'True'"), (None, "None")])
def test_boolean_rejects(value, found):
    assert message(checks.boolean, "flag", value) == f"flag: expected True or False, found {found}"


# -- string -----------------------------------------------------------------------------------


class Name(str):
    """A str subclass: accepted, returned as a plain str."""


@pytest.mark.parametrize("value, expected", [("abc", "abc"), ("", ""), ("λ-ü", "λ-ü"), (Name("x"), "x")])
def test_string_returns_a_python_str(value, expected):
    assert same(checks.string("s", value), expected)


def test_string_rejects():
    assert message(checks.string, "s", 5) == "s: expected a string, found 5"
    assert message(checks.string, "s", b"abc") == "s: expected a string, found b'abc'"
    assert message(checks.string, "s", None) == "s: expected a string, found None"
    assert message(checks.string, "s", "", nonempty=True) == "s: expected a non-empty string, found ''"
    assert same(checks.string("s", "a", nonempty=True), "a")
    # a lone surrogate is a str that UTF-8 cannot encode
    assert message(checks.string, "s", "a\ud800") == (
        "s: expected a string of Unicode characters (no lone surrogates), found 'a\\ud800'")


def test_string_optional():
    assert checks.string("s", None, optional=True) is None
    assert message(checks.string, "s", 5, optional=True) == "s: expected None or a string, found 5"
    assert message(checks.string, "s", "", nonempty=True, optional=True) == (
        "s: expected None or a non-empty string, found ''")


# -- choice -----------------------------------------------------------------------------------


def test_choice_returns_the_option():
    assert same(checks.choice("kind", "b", ("a", "b")), "b")
    assert same(checks.choice("kind", Name("a"), ["a", "b"]), "a")


@pytest.mark.parametrize("value, found", [("z", "'z'"), ("A", "'A'"), ("", "''"), (1, "1"), (None, "None"), (["a"], "['a']")])
def test_choice_rejects(value, found):
    assert message(checks.choice, "kind", value, ("a", "b")) == f"kind: expected one of 'a', 'b', found {found}"


def test_choice_optional():
    assert checks.choice("kind", None, ("a", "b"), optional=True) is None
    assert message(checks.choice, "kind", 1, ("a", "b"), optional=True) == (
        "kind: expected None or one of 'a', 'b', found 1")


# -- array ------------------------------------------------------------------------------------


def test_array_returns_the_same_object():
    a = np.zeros((3, 2))
    assert checks.array("a", a, (None, 2)) is a
    assert checks.array("a", a, (3, 2), np.float64) is a
    f = np.zeros(4, np.float32)
    assert checks.array("a", f, (None,)) is f  # dtype None: any floating dtype, kept as it is
    assert checks.array("a", f, (4,), "float32") is f
    view = np.zeros((4, 4))[:, 1:3]  # not contiguous: still no copy
    assert checks.array("a", view, (4, 2)) is view


@pytest.mark.parametrize(
    "value, shape, dtype",
    [
        (np.zeros((3, 2), np.float32), (None, 2), np.float64),  # never cast
        (np.zeros((3, 2)), (None, 2), np.float32),
        (np.zeros(3, np.int64), (None,), None),  # dtype None means floating
        (np.zeros(3, bool), (None,), None),
        ([1.0, 2.0], (None,), None),  # a list is not an array
        (np.zeros((3, 2)), (None,), None),  # wrong number of dimensions
        (np.zeros(3), (None, 1), None),
        (np.zeros((3, 2)), (3, 3), None),  # wrong size
        (np.zeros((3, 2)), (2, 2), None),
    ],
)
def test_array_rejects(value, shape, dtype):
    assert message(checks.array, "a", value, shape, dtype).startswith("a: expected an array of shape ")


def test_array_messages():
    assert message(checks.array, "points", np.zeros((3, 2), np.float32), (None, 3), np.float64) == (
        "points: expected an array of shape (n, 3) and dtype float64, found array of shape (3, 2) and dtype float32")
    assert message(checks.array, "v", np.zeros(4, np.int32), (None,)) == (
        "v: expected an array of shape (n,) and dtype float, found array of shape (4,) and dtype int32")
    assert message(checks.array, "v", [1.0], (2,), "float32") == (
        "v: expected an array of shape (2,) and dtype float32, found [1.0]")


def test_array_names_the_first_non_finite_value():
    # the value is shown as NumPy writes a scalar: nan, or np.float64(nan) from NumPy 2
    b = np.zeros((3, 2))
    b[2, 1] = np.inf
    b[1, 0] = np.nan
    assert re.fullmatch(r"traction_values: expected finite values, found (np\.float64\()?nan\)? at row 1, column 0",
                        message(checks.array, "traction_values", b, (None, 2)))
    c = np.zeros(4)
    c[2] = -np.inf
    assert re.fullmatch(r"v: expected finite values, found (np\.float64\()?-inf\)? at index 2",
                        message(checks.array, "v", c, (None,)))
    d = np.zeros((2, 2, 2))
    d[1, 0, 1] = np.nan
    assert re.fullmatch(r"d: expected finite values, found (np\.float64\()?nan\)? at index \(1, 0, 1\)",
                        message(checks.array, "d", d, (2, 2, 2)))
    # finite=False lets them through, still without a copy
    assert checks.array("v", c, (None,), finite=False) is c


# -- box --------------------------------------------------------------------------------------


def test_box_returns_float_pairs():
    out = checks.box("bounds", ((0, 1), (2, 3), (0, 5)))
    assert out == ((0.0, 1.0), (2.0, 3.0), (0.0, 5.0))
    assert type(out) is tuple and all(type(p) is tuple for p in out)
    assert all(type(v) is float for p in out for v in p)
    out = checks.box("bounds", np.array([[-1.5, 0.5], [0.0, 1e-9], [2.0, 3.0]], np.float32))
    assert out == ((-1.5, 0.5), (0.0, float(np.float32(1e-9))), (2.0, 3.0))
    assert all(type(v) is float for p in out for v in p)
    assert checks.box("bounds", [[0, 1], [0, 1], [0, 1]]) == ((0.0, 1.0),) * 3


@pytest.mark.parametrize(
    "value, text",
    [
        (((0, 1), (3, 3), (0, 5)), "bounds[y]: expected finite lo < hi, found (3.0, 3.0)"),
        (((1, 0), (0, 1), (0, 5)), "bounds[x]: expected finite lo < hi, found (1.0, 0.0)"),
        (((0, 1), (0, 1), (0, np.inf)), "bounds[t]: expected finite lo < hi, found (0.0, inf)"),
        (((np.nan, 1), (0, 1), (0, 1)), "bounds[x]: expected finite lo < hi, found (nan, 1.0)"),
        ("abc", "bounds: expected ((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi)), found 'abc'"),
        (((0, 1), (2, "a"), (0, 5)), "bounds: expected ((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi)), "
                                      "found ((0, 1), (2, 'a'), (0, 5))"),
        (((0, 1), (0, 1)), "bounds: expected ((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi)) of shape (3, 2), "
                           "found array of shape (2, 2) and dtype float64"),
        ((0, 1, 2, 3, 4, 5), "bounds: expected ((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi)) of shape (3, 2), "
                             "found array of shape (6,) and dtype float64"),
    ],
)
def test_box_rejects(value, text):
    assert message(checks.box, "bounds", value) == text


# -- generator --------------------------------------------------------------------------------


def test_generator_returns_the_same_generator():
    rng = np.random.default_rng(0)
    assert checks.generator("rng", rng) is rng


@pytest.mark.parametrize("value", [0, None, np.random.RandomState(0), np.random.PCG64(0)])
def test_generator_rejects(value):
    assert message(checks.generator, "rng", value).startswith("rng: expected a numpy.random.Generator, found ")


def test_generator_message():
    assert message(checks.generator, "rng", 0) == "rng: expected a numpy.random.Generator, found 0"


# -- build ------------------------------------------------------------------------------------


def make_table():
    calls = []

    def plain(a, b=2):
        calls.append((a, b))
        return ("plain", a, b)

    def other(*, c):
        calls.append(c)
        return ("other", c)

    return {"plain": plain, "other": other}, calls


def test_build_calls_the_named_constructor():
    table, calls = make_table()
    assert checks.build("thing", table, "plain", {"a": 1}) == ("plain", 1, 2)
    assert checks.build("thing", table, "plain", {"a": 1, "b": 5}) == ("plain", 1, 5)
    assert checks.build("thing", table, "other", {"c": "x"}) == ("other", "x")
    assert calls == [(1, 2), (1, 5), "x"]


def test_build_rejects_without_calling():
    table, calls = make_table()
    assert message(checks.build, "thing", table, "nope", {"a": 1}) == (
        "name: expected a thing name, one of ['other', 'plain'], found 'nope'")
    assert message(checks.build, "thing", table, "plain", {"a": 1, "c": 3}) == (
        "c: expected a parameter of thing 'plain' (a, b), found 'c'")
    assert message(checks.build, "thing", table, "plain", {"b": 1}) == (
        "a: expected a value (required by thing 'plain'), found None")
    assert message(checks.build, "thing", table, "other", {}) == (
        "c: expected a value (required by thing 'other'), found None")
    assert calls == []


# -- error= -----------------------------------------------------------------------------------

FAILING = [
    ("real", lambda **kw: checks.real("x", "a", **kw)),
    ("real bound", lambda **kw: checks.real("x", -1.0, low=0.0, **kw)),
    ("real optional", lambda **kw: checks.real("x", "a", optional=True, **kw)),
    ("integer", lambda **kw: checks.integer("n", 2.0, **kw)),
    ("integers", lambda **kw: checks.integers("h", [0], low=1, **kw)),
    ("boolean", lambda **kw: checks.boolean("b", 1, **kw)),
    ("string", lambda **kw: checks.string("s", 5, **kw)),
    ("string surrogate", lambda **kw: checks.string("s", "\ud800", **kw)),
    ("choice", lambda **kw: checks.choice("c", "z", ("a",), **kw)),
    ("array", lambda **kw: checks.array("a", [1.0], (None,), **kw)),
    ("array non-finite", lambda **kw: checks.array("a", np.array([np.nan]), (None,), **kw)),
    ("box shape", lambda **kw: checks.box("d", ((0, 1),), **kw)),
    ("box order", lambda **kw: checks.box("d", ((0, 1), (1, 0), (0, 1)), **kw)),
    ("box values", lambda **kw: checks.box("d", "abc", **kw)),
    ("generator", lambda **kw: checks.generator("rng", 0, **kw)),
    ("build name", lambda **kw: checks.build("k", {}, "x", {}, **kw)),
    ("build argument", lambda **kw: checks.build("k", {"f": lambda a: a}, "f", {"b": 1}, **kw)),
    ("build missing", lambda **kw: checks.build("k", {"f": lambda a: a}, "f", {}, **kw)),
]


@pytest.mark.parametrize("case", [fn for _, fn in FAILING], ids=[name for name, _ in FAILING])
def test_error_chooses_the_exception_class(case):
    with pytest.raises(InputError) as default:  # the default: an InputError, which is a ValueError
        case()
    assert isinstance(default.value, ValueError)
    with pytest.raises(OtherError) as chosen:
        case(error=OtherError)
    assert not isinstance(chosen.value, ValueError)
    assert str(chosen.value) == str(default.value)
