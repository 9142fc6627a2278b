"""Tests of pinnlite.optim.registry: optimizers by name (``get_optimizer``, with its
hyperparameters and the names it rejects) and optimizer states as plain dicts
(``state_to_dict`` / ``state_from_dict``). The round trip is checked against an
uninterrupted run of every optimizer on the Rosenbrock function of naive.py:
saving half way and continuing from the restored state must be bit-identical."""

import numpy as np
import pytest
from naive import rosen_start, rosenbrock

from pinnlite import optim
from pinnlite.errors import InputError


def states_equal(a, b):
    assert type(a) is type(b)
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
        else:
            assert type(x) is type(y) and (x == y or (x != x and y != y))


# -- optimizers by name ------------------------------------------------------------------------


def test_get_optimizer_maps_names_and_exposes_hyperparams():
    for name in ("sgd", "adam", "adamw", "lbfgs"):
        kwargs = {} if name == "lbfgs" else {"learning_rate": 0.1}
        opt = optim.get_optimizer(name, **kwargs)
        assert opt.name == name
    opt = optim.get_optimizer("adamw", learning_rate=0.1, weight_decay=0.3)
    assert opt.hyperparams["weight_decay"] == 0.3 and opt.hyperparams["b2"] == 0.999
    assert optim.get_optimizer("lbfgs", history=4).hyperparams["history"] == 4


@pytest.mark.parametrize(
    "make, argname",
    [
        (lambda: optim.get_optimizer("rmsprop", learning_rate=0.1), "name"),
        (lambda: optim.get_optimizer("adam", lr=0.1), "lr"),
        (lambda: optim.get_optimizer("adam"), "learning_rate"),
    ],
)
def test_bad_names_and_arguments_are_named(make, argname):
    with pytest.raises(InputError, match=argname):
        make()


# -- states as dicts ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "lbfgs"])
def test_state_round_trip_then_continue_is_bit_identical(name, dtype):
    kwargs = {"lbfgs": dict(history=3)}.get(name, dict(learning_rate=1e-3))
    if name == "sgd":
        kwargs["momentum"] = 0.9
    is_lbfgs = name == "lbfgs"
    opt = optim.get_optimizer(name, **kwargs)

    def steps(x, state, k):
        f, g = rosenbrock(x)
        for _ in range(k):
            if is_lbfgs:
                x, state = opt.update(g, state, x, value=f, fun=rosenbrock)
                f, g = state.value, state.grad
            else:
                x, state = opt.update(g, state, x)
                f, g = rosenbrock(x)
        return x, state

    x0 = rosen_start(6).astype(dtype)
    x_straight, s_straight = steps(x0, opt.init(x0), 10)
    x_half, s_half = steps(x0, opt.init(x0), 5)
    saved = optim.state_to_dict(s_half)
    assert all(isinstance(v, (np.ndarray, int, float)) for v in saved.values())
    restored = optim.state_from_dict(name, saved)
    states_equal(restored, s_half)
    arrays = [k for k, v in saved.items() if isinstance(v, np.ndarray)]
    # copies by default; copy=False takes the dict's arrays as they are
    assert not any(np.shares_memory(getattr(restored, k), saved[k]) for k in arrays)
    taken = optim.state_from_dict(name, saved, copy=False)
    assert all(getattr(taken, k) is saved[k] for k in arrays)
    states_equal(opt.state_type(**saved), s_half)
    x_resumed, s_resumed = steps(x_half.copy(), restored, 5)
    assert x_resumed.tobytes() == x_straight.tobytes()
    states_equal(s_resumed, s_straight)


def test_state_from_dict_rejects_bad_fields():
    saved = optim.state_to_dict(optim.adam(0.1).init(np.zeros(3)))
    with pytest.raises(InputError, match="fields"):
        optim.state_from_dict("adam", {k: v for k, v in saved.items() if k != "nu"})
    with pytest.raises(InputError, match="mu"):
        optim.state_from_dict("adam", {**saved, "mu": [0.0, 0.0, 0.0]})
    with pytest.raises(InputError, match="count"):
        optim.state_from_dict("adam", {**saved, "count": 1.5})
    with pytest.raises(InputError, match="name"):
        optim.state_from_dict("nadam", saved)


def test_objective_changed_drops_what_a_state_caches_of_the_old_objective():
    x0 = rosen_start(4)
    f, g = rosenbrock(x0)
    for name in ("bfgs", "lbfgs", "lm", "adam"):
        opt = optim.get_optimizer(name, **({"learning_rate": 1e-3} if name == "adam" else {}))
        state = opt.init(x0)
        if name == "lm":  # least squares r(p) = A p - c, the LM convention f = r'r
            A, c = np.vander(np.linspace(0, 1, 6), 4), np.arange(6.0)
            residual = lambda p: A @ p - c  # noqa: E731
            x, state = opt.update(np.zeros_like(x0), state, x0, fun=lambda p: float(residual(p) @ residual(p)),
                                  normal=lambda p: (float(residual(p) @ residual(p)), A.T @ residual(p), A.T @ A))
        elif name == "adam":
            x, state = opt.update(g, state, x0)
        else:
            x, state = opt.update(g, state, x0, value=f, fun=rosenbrock)
        changed = optim.objective_changed(state)
        if name == "adam":  # caches nothing of the objective
            assert changed is state
            continue
        assert np.isnan(changed.value) and not np.isnan(state.value)
        kept = [k for k in state._fields if k not in ("value", "Hg", "decrease")]
        for k in kept:  # the curvature and the counters stay, as they are
            assert getattr(changed, k) is getattr(state, k) or getattr(changed, k) == getattr(state, k), k
        if name == "bfgs":
            assert np.isnan(changed.Hg).all() and changed.Hg.shape == state.Hg.shape and not np.isnan(state.Hg).any()
            assert np.isnan(changed.decrease) and not np.isnan(state.decrease)
    with pytest.raises(InputError, match="state: expected an optimizer state, found tuple"):
        optim.objective_changed((1, 2))


def _updated(name, x, k):
    """A state of optimizer ``name`` after ``k`` updates on the Rosenbrock function of ``x``'s size."""
    opt = optim.get_optimizer(name, **({"learning_rate": 1e-3} if name in ("sgd", "adam", "adamw") else {}))
    state = opt.init(x)

    def normal(p):  # Rosenbrock as the squares of r = (10 (x2 - x1^2), 1 - x1) of naive.rosenbrock's pairs
        a, b = p[:-1].astype(np.float64), p[1:].astype(np.float64)
        r = np.concatenate([10 * (b - a * a), 1 - a])
        J = np.zeros((len(r), len(p)))
        i = np.arange(len(a))
        J[i, i], J[i, i + 1] = -20 * a, 10
        J[len(a) + i, i] = -1
        return float(r @ r), J.T @ r, J.T @ J

    for _ in range(k):
        f, g = rosenbrock(x)
        extra = {"value": f, "fun": rosenbrock} if name in ("lbfgs", "bfgs") else {}
        if name == "lm":
            extra = {"fun": lambda p: normal(p)[0], "normal": normal}
        x, state = opt.update(g, state, x, **extra)
    return x, state


# Levenberg-Marquardt's normal equations are float64: it runs on float64 parameters only
@pytest.mark.parametrize("name, dtype", [(n, d) for n in ("sgd", "adam", "adamw", "lbfgs", "bfgs")
                                         for d in (np.float64, np.float32)] + [("lm", np.float64)])
def test_check_state_fits_takes_real_states_and_names_any_array_that_does_not_fit(name, dtype):
    x0 = rosen_start(6).astype(dtype)
    x, state = _updated(name, x0, 3)
    for s in (optim.get_optimizer(name, **({"learning_rate": 1e-3} if name in ("sgd", "adam", "adamw") else {})).init(x0),
              state, optim.state_from_dict(name, optim.state_to_dict(state))):
        assert optim.check_state_fits(s, x) is s
    with pytest.raises(InputError, match="params|for 7 parameters"):  # the same state for a larger network
        optim.check_state_fits(state, np.zeros(7, dtype))
    for key, value in state._asdict().items():
        if not isinstance(value, np.ndarray) or (key == "pending" and value.size == 0):
            continue
        cut = value.reshape(-1)[:-1] if value.ndim == 1 else value[:, :-1]
        with pytest.raises(InputError, match=f"^state.{key}: expected shape"):
            optim.check_state_fits(state._replace(**{key: cut}), x)
    for key, value in state._asdict().items():
        if isinstance(value, int):
            with pytest.raises(InputError, match=f"^state.{key}: expected an integer >= 0"):
                optim.check_state_fits(state._replace(**{key: -1}), x)
    # values the updates cannot take: NaN where every state is finite, float32 where they make float64
    finite = {"sgd": ["trace"], "adam": ["mu", "nu"], "adamw": ["mu", "nu"], "lbfgs": ["grad", "s", "y", "rho"],
              "bfgs": ["grad", "H", "pending"], "lm": ["grad", "A"]}[name]
    for key in finite:
        value = getattr(state, key).copy()
        value.reshape(-1)[0] = np.nan
        with pytest.raises(InputError, match=f"^state.{key}: expected finite values"):
            optim.check_state_fits(state._replace(**{key: value}), x)
    for key in {"bfgs": ["H", "Hg", "pending"], "lm": ["grad", "A"]}.get(name, []):
        with pytest.raises(InputError, match=f"^state.{key}: expected dtype float64, found array"):
            optim.check_state_fits(state._replace(**{key: getattr(state, key).astype(np.float32)}), x)
    if hasattr(state, "value"):
        with pytest.raises(InputError, match=r"^state.value: expected a finite number or NaN, found inf"):
            optim.check_state_fits(state._replace(value=float("inf")), x)
    if name == "lbfgs":
        with pytest.raises(InputError, match=r"^state.size, state.head: expected at most the history of"):
            optim.check_state_fits(state._replace(size=state.s.shape[0] + 1), x)


def test_check_state_fits_takes_the_full_inverse_hessian_of_older_bfgs_files():
    x, state = _updated("bfgs", rosen_start(4), 2)
    full = optim.inverse_hessian(state)
    assert full.shape == (4, 4)
    assert optim.check_state_fits(state._replace(H=full, pending=np.zeros(0)), x) is not None
