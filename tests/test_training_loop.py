"""refefl.nn.train_minibatch: the two ways of drawing minibatches, the step budget, and its arguments."""
import numpy as np
import pytest

from refefl.nn import Adam, train_minibatch


def quadratic(target):
    """grad_fn of the mean of ½‖w − target_i‖² over the rows, recording the rows it is given."""
    seen = []

    def grad_fn(w, rows):
        seen.append(rows)
        r = w - target[rows].mean(axis=0)
        return float(0.5 * r @ r), r

    return grad_fn, seen


def test_replacement_sampling_is_adam_on_batches_drawn_just_before_each_step():
    """The same weights as Adam written out by hand, where each step first draws its batch, then lets the gradient
    draw from the same generator (as a multi-start inner solver does)."""
    target = np.random.default_rng(1).normal(size=(30, 3))

    def noisy(w, rows, rng):
        r = w - target[rows].mean(axis=0) + 0.01 * rng.normal(size=3)
        return float(0.5 * r @ r), r

    rng = np.random.default_rng(2)
    result = train_minibatch(lambda w, rows: noisy(w, rows, rng), np.zeros(3), 30, rng=rng, learning_rate=0.05,
                             batch_size=4, max_epochs=4, sampling="replacement", steps_per_epoch=3, max_steps=11)
    rng, opt, w, losses = np.random.default_rng(2), Adam(0.05), np.zeros(3), []
    state = opt.init(w)
    for _ in range(11):
        loss, grad = noisy(w, rng.integers(0, 30, 4), rng)
        w, state = opt.step(w, grad, state)
        losses.append(loss)
    assert np.array_equal(result.params, w)
    assert len(result.history) == 4  # epochs of 3, 3, 3 and 2 steps
    np.testing.assert_allclose([r["train_loss"] for r in result.history],
                               [np.mean(losses[0:3]), np.mean(losses[3:6]), np.mean(losses[6:9]), np.mean(losses[9:])],
                               rtol=1e-14)


def test_the_best_epoch_is_kept_while_later_steps_update_the_parameters():
    """The steps update the loop's own vector in place: the best epoch's parameters are a snapshot that later
    epochs leave alone, and the initial parameters are never written to."""
    grad_fn, _ = quadratic(np.random.default_rng(0).normal(size=(10, 2)))
    snapshots = []

    def validate(params):  # epoch 2 is the best
        snapshots.append(params.copy())
        return abs(len(snapshots) - 2), {}

    params = np.zeros(2)
    result = train_minibatch(grad_fn, params, 10, rng=np.random.default_rng(0), learning_rate=0.1, batch_size=4,
                             max_epochs=4, validate=validate)
    assert result.best_epoch == 2 and len(snapshots) == 4
    assert np.array_equal(result.params, snapshots[1])
    assert not np.array_equal(snapshots[1], snapshots[3])
    assert np.array_equal(params, np.zeros(2))


def test_shuffle_sampling_visits_every_row_once_per_epoch():
    grad_fn, seen = quadratic(np.random.default_rng(0).normal(size=(10, 2)))
    result = train_minibatch(grad_fn, np.zeros(2), 10, rng=np.random.default_rng(0), learning_rate=0.1, batch_size=4,
                             max_epochs=2)
    assert [len(rows) for rows in seen] == [4, 4, 2] * 2
    for epoch in (seen[:3], seen[3:]):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    assert len(result.history) == 2 and result.best_epoch == 2


def test_max_steps_cuts_the_last_epoch():
    grad_fn, seen = quadratic(np.zeros((10, 2)))
    result = train_minibatch(grad_fn, np.ones(2), 10, rng=np.random.default_rng(0), learning_rate=0.1, batch_size=4,
                             max_epochs=5, max_steps=4)
    assert len(seen) == 4 and len(result.history) == 2


@pytest.mark.parametrize("bad", ["loss", "gradient"])
def test_refuse_nonfinite_stops_before_the_step(bad):
    """A NaN loss or gradient at the third step raises FloatingPointError (refuse_nonfinite, the default), before
    that step reaches the parameters (the parameters grad_fn saw stay finite); with False, the NaN is stepped in."""
    seen = []

    def grad_fn(w, rows):
        seen.append(w.copy())
        r = w - 1.0
        if len(seen) == 3:
            return (np.nan, r) if bad == "loss" else (0.0, np.full_like(r, np.nan))
        return float(0.5 * r @ r), r

    kwargs = dict(rng=np.random.default_rng(0), learning_rate=0.1, batch_size=2, max_epochs=2)
    with pytest.raises(FloatingPointError, match="not finite, so the training diverged"):
        train_minibatch(grad_fn, np.zeros(2), 4, **kwargs)
    assert len(seen) == 3 and np.isfinite(seen[-1]).all()
    seen.clear()
    result = train_minibatch(grad_fn, np.zeros(2), 4, refuse_nonfinite=False, **kwargs)
    assert len(seen) == 4 and (bad == "loss" or np.isnan(result.params).all())


@pytest.mark.parametrize("kwargs, message", [
    ({"sampling": "bootstrap"}, "sampling must be one of"),
    ({"sampling": "replacement"}, "steps_per_epoch is needed"),
    ({"steps_per_epoch": 3}, "steps_per_epoch is needed"),
    ({"sampling": "replacement", "steps_per_epoch": 0}, "steps_per_epoch must be a positive integer"),
    ({"max_steps": 0}, "max_steps must be a positive integer"),
    ({"patience": 0}, "patience must be a positive integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"learning_rate": -1.0}, "learning_rate must be a finite positive"),
    ({"weight_decay": 0.1}, "needs a decay_mask"),
])
def test_bad_arguments_are_named(kwargs, message):
    grad_fn, _ = quadratic(np.zeros((4, 2)))
    settings = {"rng": np.random.default_rng(0), "learning_rate": 0.1, "batch_size": 2, "max_epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_minibatch(grad_fn, np.zeros(2), 4, **settings)
