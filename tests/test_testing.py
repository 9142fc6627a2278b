"""Tests of pinnlite.testing.check_grads, the gradient check shipped with the package:
it accepts the true gradient of a small quadratic-plus-sine function written out
by hand, and rejects one perturbed by one part in 10^4 with a message that names
the coordinate and prints the analytic value."""

import numpy as np
import pytest

from pinnlite.testing import check_grads


def test_check_grads_accepts_a_true_gradient_and_rejects_a_wrong_one():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    f = lambda x: 0.5 * x @ A @ x + np.sin(x[0])  # noqa: E731
    x = np.array([0.3, -0.7])
    g = A @ x + np.array([np.cos(x[0]), 0.0])
    assert check_grads(f, x, g, directions=5, coords=(0, 1)) < 1e-8
    wrong = g.copy()
    wrong[1] *= 1 + 1e-4
    with pytest.raises(AssertionError, match="coordinate 1") as e:
        check_grads(f, x, wrong, directions=0, coords=(0, 1))
    # both numbers appear in the message
    assert repr(float(wrong[1])) in str(e.value)
