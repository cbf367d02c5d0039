"""A tour of every registered regularizer: predictions, conjugates, losses, and the properties they satisfy."""
from __future__ import annotations

import numpy as np

import refefl
from refefl.regularizers import REGULARIZERS, regularizer
from refefl.testing import directional_derivative

THETA = np.array([1.2, -0.3, 0.8, 0.0, -1.5])
# a second score vector whose prediction serves as a feasible target y
THETA_TARGET = np.array([-0.5, 2.0, 0.1, 0.3, -1.0])


def _check_properties(omega, loss) -> dict[str, float]:
    """Numbers that must hold for every regularizer (printed by the demo; asserted by the test suite)."""
    y_hat = omega.predict(THETA)
    y = omega.predict(THETA_TARGET)
    direction = np.random.default_rng(0).normal(size=THETA.shape)
    fd = directional_derivative(lambda t: loss.value(t, y), THETA, direction)
    return {
        "loss(θ, y)": float(loss.value(THETA, y)),
        "loss(θ, ŷ)": float(loss.value(THETA, y_hat)),
        "FY gap at ŷ": float(omega.value(y_hat) + omega.conjugate(THETA) - THETA @ y_hat),
        "|grad·v − finite diff|": float(abs(loss.grad(THETA, y) @ direction - fd)),
    }


def _plot(path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.linspace(-3, 3, 301)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in sorted(REGULARIZERS):
        omega = regularizer(name)
        theta = np.stack([t, np.zeros_like(t), np.full_like(t, -0.5)], axis=-1)
        ax.plot(t, omega.predict(theta)[:, 0], label=name)
    ax.set_xlabel(r"$\theta_1$ (with $\theta_2 = 0$, $\theta_3 = -0.5$)")
    ax.set_ylabel(r"$\hat y_1 = \nabla_1 \Omega^*(\theta)$")
    ax.set_title("Regularized predictions of every refefl regularizer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_demo(out: str = "refefl_demo.png") -> int:
    """Print, for each regularizer, ŷ(θ), Ω*(θ) and the FY loss with its checks; save one figure to ``out``."""
    np.set_printoptions(precision=4, suppress=True)
    print(f"refefl {refefl.__version__}; compiled kernels loaded: {refefl.HAVE_EXT}")
    print(f"θ = {THETA}\n")
    for name in sorted(REGULARIZERS):
        omega = regularizer(name)
        loss = refefl.FenchelYoungLoss(omega)
        print(f"{name:>16}: ŷ = {omega.predict(THETA)}  Ω*(θ) = {float(omega.conjugate(THETA)):.6f}")
        checks = _check_properties(omega, loss)
        print(" " * 18 + "  ".join(f"{key} = {value:.3g}" for key, value in checks.items()))
    v, blocks = refefl.isotonic_regression([8, 4, 8, 2, 2, 0, 8], return_blocks=True)
    print(f"\nisotonic regression of [8, 4, 8, 2, 2, 0, 8]: {v}, blocks {blocks}")
    try:
        _plot(out)
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'refefl[plot]')")
    else:
        print(f"figure saved to {out}")
    return 0
