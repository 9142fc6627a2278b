"""Tests of pinnlite.optim.schedules: values at known steps against hand-computed numbers,
and the reduce-on-plateau controller against PyTorch's rules worked out by hand."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite.errors import InputError
from pinnlite.optim.schedules import (
    Cosine,
    PlateauState,
    constant,
    cosine,
    exponential,
    get_schedule,
    multistep,
    reduce_on_plateau,
    step_decay,
)

# -- step schedules ----------------------------------------------------------------


def test_constant():
    sched = constant(0.3)
    assert [sched(k) for k in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


def test_exponential_continuous_and_staircase():
    sched = exponential(0.1, 0.5, 10)
    assert sched(0) == pytest.approx(0.1, rel=1e-15)
    assert sched(10) == pytest.approx(0.05, rel=1e-15)
    assert sched(20) == pytest.approx(0.025, rel=1e-15)
    # half a decay period: 0.1 * sqrt(0.5)
    assert sched(5) == pytest.approx(0.07071067811865475, rel=1e-14)
    stair = exponential(0.1, 0.5, 10, staircase=True)
    assert [stair(k) for k in (0, 5, 9, 10, 19, 20)] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-15
    )


def test_step_decay():
    sched = step_decay(1.0, 3, gamma=0.1)
    values = [sched(k) for k in range(8)]
    assert values == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rel=1e-14)


def test_multistep_drops_at_the_milestone():
    sched = multistep(1.0, (2, 5), gamma=0.5)
    assert [sched(k) for k in range(7)] == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_cosine_with_warmup_known_steps():
    sched = cosine(1.0, total_steps=110, warmup_steps=10, final_lr=0.1)
    assert sched(0) == 0.0
    assert sched(5) == pytest.approx(0.5, rel=1e-15)  # half way up the ramp
    assert sched(10) == pytest.approx(1.0, rel=1e-15)  # end of warmup: peak
    assert sched(60) == pytest.approx(0.55, rel=1e-14)  # midpoint: (1 + 0.1) / 2
    # quarter of the decay: 0.1 + 0.9 * (1 + cos(pi / 4)) / 2
    assert sched(35) == pytest.approx(0.1 + 0.9 * (1 + math.sqrt(0.5)) / 2, rel=1e-14)
    assert sched(110) == 0.1
    assert sched(10**5) == 0.1


def test_cosine_without_warmup():
    sched = cosine(2.0, total_steps=4)
    # 2 * (1 + cos(pi k / 4)) / 2 = 1 + cos(pi k / 4)
    expected = [2.0, 1 + math.sqrt(0.5), 1.0, 1 - math.sqrt(0.5), 0.0, 0.0]
    assert [sched(k) for k in range(6)] == pytest.approx(expected, rel=1e-14, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(1e-6, 10.0),
    final=st.floats(0.0, 1e-6),
    warmup=st.integers(0, 50),
    decay=st.integers(1, 200),
)
def test_cosine_is_bounded_and_decreasing_after_warmup(lr, final, warmup, decay):
    sched = cosine(lr, total_steps=warmup + decay, warmup_steps=warmup, final_lr=final)
    values = [sched(k) for k in range(warmup, warmup + decay + 3)]
    assert values[0] == pytest.approx(lr, rel=1e-15)
    assert all(final <= v <= lr for v in values)
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert values[-1] == final


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(1e-3, 1.0),
    rate=st.floats(0.01, 0.99),
    steps=st.integers(1, 100),
    k=st.integers(0, 1000),
)
def test_staircase_is_continuous_at_its_drops_and_above_the_smooth_curve(lr, rate, steps, k):
    smooth = exponential(lr, rate, steps)
    stair = exponential(lr, rate, steps, staircase=True)
    assert stair(k) >= smooth(k) * (1 - 1e-14)
    drop = (k // steps) * steps
    assert stair(k) == pytest.approx(smooth(drop), rel=1e-13)


def test_get_schedule_maps_names():
    assert get_schedule("constant", lr=0.5)(7) == 0.5
    assert get_schedule("exponential", lr=1.0, decay_rate=0.5, decay_steps=1)(3) == 0.125
    assert get_schedule("step", lr=1.0, step_size=2, gamma=0.5)(4) == 0.25
    assert get_schedule("multistep", lr=1.0, milestones=[3], gamma=0.5)(3) == 0.5
    sched = get_schedule("cosine", lr=1.0, total_steps=10)
    assert isinstance(sched, Cosine) and sched.total_steps == 10
    assert sched(5) == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize(
    "name, params, argname",
    [
        ("linear", {"lr": 1.0}, "name"),
        ("constant", {"lr": 1.0, "decay": 2}, "decay"),
        ("cosine", {"lr": 1.0}, "total_steps"),
    ],
)
def test_get_schedule_rejects_bad_names(name, params, argname):
    with pytest.raises(InputError, match=argname):
        get_schedule(name, **params)


@pytest.mark.parametrize(
    "make, argname",
    [
        (lambda: constant(-0.1), "lr"),
        (lambda: constant(float("nan")), "lr"),
        (lambda: constant("0.1"), "lr"),
        (lambda: exponential(0.1, 0.0, 10), "decay_rate"),
        (lambda: exponential(0.1, 0.5, 0), "decay_steps"),
        (lambda: exponential(0.1, 0.5, 2.5), "decay_steps"),
        (lambda: exponential(0.1, 0.5, 10, staircase=1), "staircase"),
        (lambda: step_decay(0.1, 0), "step_size"),
        (lambda: step_decay(0.1, 5, gamma=-1.0), "gamma"),
        (lambda: multistep(0.1, (5, 3)), "milestones"),
        (lambda: multistep(0.1, (0, 3)), "milestones"),
        (lambda: multistep(0.1, 5), "milestones"),
        (lambda: cosine(0.1, 0), "total_steps"),
        (lambda: cosine(0.1, 10, warmup_steps=11), "warmup_steps"),
        (lambda: cosine(0.1, 10, warmup_steps=-1), "warmup_steps"),
        (lambda: cosine(0.1, 10, final_lr=-1e-3), "final_lr"),
        (lambda: constant(0.1)(-1), "step"),
        (lambda: cosine(0.1, 10)(2.0), "step"),
        (lambda: reduce_on_plateau(factor=1.0), "factor"),
        (lambda: reduce_on_plateau(factor=0.0), "factor"),
        (lambda: reduce_on_plateau(patience=-1), "patience"),
        (lambda: reduce_on_plateau(threshold=-1e-3), "threshold"),
        (lambda: reduce_on_plateau(threshold_mode="max"), "threshold_mode"),
        (lambda: reduce_on_plateau(cooldown=1.5), "cooldown"),
        (lambda: reduce_on_plateau(min_factor=2.0), "min_factor"),
        (lambda: reduce_on_plateau().update("1.0", reduce_on_plateau().init()), "loss"),
        (lambda: reduce_on_plateau().update(1.0, (0, 0, 0, 1.0, 0)), "state"),
    ],
)
def test_bad_arguments_name_the_argument(make, argname):
    with pytest.raises(InputError, match=argname):
        make()


def test_schedules_are_frozen_and_inspectable():
    sched = cosine(1.0, 100, warmup_steps=5, final_lr=0.01)
    assert (sched.lr, sched.total_steps, sched.warmup_steps, sched.final_lr) == (1.0, 100, 5, 0.01)
    assert "Cosine" in repr(sched) and "total_steps=100" in repr(sched)
    with pytest.raises(AttributeError):
        sched.lr = 2.0


# -- reduce on plateau -------------------------------------------------------------------


def run_plateau(ctrl, losses):
    state = ctrl.init()
    factors = []
    for loss in losses:
        state = ctrl.update(loss, state)
        factors.append(state.factor)
    return factors, state


def test_plateau_reduces_after_patience_plus_one_bad_updates():
    # patience=2, rel threshold 0.1. Hand trace (best, num_bad) after each update:
    # 1.0 -> (1.0, 0); 0.5 < 0.9 -> (0.5, 0); 0.46 < 0.45? no -> bad 1; 0.5 -> bad 2;
    # 0.5 -> bad 3 > 2: factor 0.5, bad 0; then bad 1, 2, 3 -> factor 0.25 at update 8.
    ctrl = reduce_on_plateau(factor=0.5, patience=2, threshold=0.1)
    losses = [1.0, 0.5, 0.46, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    factors, state = run_plateau(ctrl, losses)
    assert factors == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert state == PlateauState(best=0.5, num_bad=1, cooldown_left=0, factor=0.25, count=9)


def test_plateau_improvement_resets_the_counter():
    # 0.44 < 0.5 * 0.9 = 0.45 is an improvement, so the count restarts there.
    ctrl = reduce_on_plateau(factor=0.5, patience=2, threshold=0.1)
    factors, _ = run_plateau(ctrl, [1.0, 0.5, 0.5, 0.5, 0.44, 0.44, 0.44, 0.44])
    assert factors == [1, 1, 1, 1, 1, 1, 1, 0.5]


def test_plateau_abs_threshold():
    # abs threshold 0.1: 0.95 < 1.0 - 0.1 is false (bad), 0.85 < 0.9 is true (improvement)
    ctrl = reduce_on_plateau(factor=0.5, patience=1, threshold=0.1, threshold_mode="abs")
    factors, state = run_plateau(ctrl, [1.0, 0.95, 0.85, 0.8, 0.79])
    # updates: best 1; bad 1; improve (best .85); bad 1; bad 2 > 1 -> reduce
    assert factors == [1, 1, 1, 1, 0.5]
    assert state.best == 0.85


def test_plateau_cooldown_ignores_bad_updates():
    # patience=2, cooldown=2, constant loss. Reduction at update 4 (bad=3);
    # updates 5, 6 are cooldown (num_bad forced to 0); then bad 1, 2, 3 at 7, 8, 9.
    ctrl = reduce_on_plateau(factor=0.5, patience=2, threshold=0.0, cooldown=2)
    factors, state = run_plateau(ctrl, [1.0] * 10)
    assert factors == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert state.cooldown_left == 1 and state.num_bad == 0
    # the same run without cooldown reduces every 3 updates after the first
    factors, _ = run_plateau(reduce_on_plateau(factor=0.5, patience=2, threshold=0.0), [1.0] * 10)
    assert factors == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_plateau_min_factor_floor():
    ctrl = reduce_on_plateau(factor=0.1, patience=0, threshold=0.0, min_factor=0.05)
    factors, _ = run_plateau(ctrl, [1.0] * 5)
    # update 2: 0.1; update 3: max(0.01, 0.05) = 0.05; then stays at the floor
    assert factors == [1.0, 0.1, 0.05, 0.05, 0.05]


def test_plateau_nan_loss_is_not_an_improvement():
    ctrl = reduce_on_plateau(factor=0.5, patience=0)
    factors, state = run_plateau(ctrl, [1.0, float("nan")])
    assert factors == [1.0, 0.5] and state.best == 1.0


def test_plateau_state_is_plain_and_update_is_pure():
    ctrl = reduce_on_plateau(patience=0)
    state = ctrl.init()
    assert state == PlateauState(math.inf, 0, 0, 1.0, 0)
    s1 = ctrl.update(2.0, state)
    s2 = ctrl.update(3.0, s1)
    assert ctrl.update(3.0, s1) == s2  # same input, same output
    assert all(isinstance(v, (int, float)) for v in s2)
    assert PlateauState(**s2._asdict()) == s2


@settings(max_examples=30, deadline=None)
@given(
    losses=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=60),
    patience=st.integers(0, 4),
    cooldown=st.integers(0, 3),
)
def test_plateau_factor_is_a_power_of_factor_non_increasing_and_floored(losses, patience, cooldown):
    ctrl = reduce_on_plateau(factor=0.5, patience=patience, cooldown=cooldown, min_factor=1e-3)
    factors, state = run_plateau(ctrl, losses)
    assert all(b <= a for a, b in zip([1.0] + factors, factors))
    assert all(f >= 1e-3 for f in factors)
    # reductions need patience + 1 non-improving updates each: bound on their number
    n_reductions = round(-math.log2(factors[-1])) if factors[-1] > 1e-3 else None
    if n_reductions is not None:
        assert factors[-1] == 0.5**n_reductions
        # the first loss always improves on best = inf, so it is never a bad update
        assert n_reductions * (patience + 1) <= len(losses) - 1
    # best only moves on a relative improvement of more than threshold = 1e-4
    assert min(losses) <= state.best <= min(losses) / (1 - 1e-4)
