r"""Row kernels of the permutahedron projection (soft sort and rank), the NumPy references of their compiled twins.

The projection of z = x/ε onto the permutahedron P(w) costs one sort and O(n) work (see
:mod:`refefl.projections._permutahedron` for the reduction), split in two kernels around one NumPy sort:

1. :func:`order_keys` packs each entry's position into the low bits of an unsigned integer that increases with
   its value. Sorting these keys (``np.sort`` on uint64, vectorized) and masking the high bits gives a sorting
   permutation about three times faster than ``np.argsort`` of the values: :func:`descending_order`. The code is
   exact for float32; float64 keeps 64 − b bits of the value (b = ⌈log₂ n⌉ bits hold the position), so entries
   that agree in those bits come out in position order, whatever their last bits.
2. :func:`projection_permutahedron_rows` takes that permutation and does the rest in one pass per row: gather,
   finish the sort (a stable sort of an almost sorted row: in the compiled twin an insertion sort, which moves
   only the few entries that the truncated float64 keys left out of order, and a merge sort if it has to move
   many), PAV, the block formulas, and the scatter back to the original order. It returns the finished
   permutation and the PAV blocks, which the Jacobian-vector products use.

References
----------
Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, Prop. 3.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refefl import _backend
from refefl.projections._isotonic import isotonic_kl, isotonic_l2

_SIGN_BIT = np.uint64(1 << 63)
_ALL_BITS = np.uint64(2**64 - 1)
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class Blocks:
    """PAV blocks of a batch, flattened row-major: first flat index of each block, its size, each entry's block."""

    starts: np.ndarray
    sizes: np.ndarray
    ids: np.ndarray

    @classmethod
    def from_starts(cls, starts: np.ndarray, n_blocks: np.ndarray) -> Blocks:
        """From per-row block starts (shape (m, n + 1), a row's first ``n_blocks`` entries used)."""
        m, n = starts.shape[0], starts.shape[1] - 1
        flat = (starts + n * np.arange(m)[:, None])[np.arange(n + 1) < n_blocks[:, None]]
        sizes = np.diff(np.append(flat, m * n))
        return cls(flat, sizes, np.repeat(np.arange(flat.size), sizes))

    def sums(self, x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x.ravel(), self.starts)

    def deviations(self, x: np.ndarray) -> np.ndarray:
        """x minus the first (largest, for sorted rows) element of its block, flattened.

        A deviation beyond the float range is -inf: only ℓ = θ of a KL soft sort spanning ±1e308 has one (the
        Euclidean maps rescale their w first), and only its exponential, exactly 0, is used."""
        x = x.ravel()
        with np.errstate(over="ignore"):
            return x - x[self.starts][self.ids]

    def logsumexp(self, dev: np.ndarray) -> np.ndarray:
        """log Σ_B e^dev of each entry's block, for deviations ``dev`` ≤ 0 from the block's first element."""
        return np.log(self.sums(np.exp(dev)))[self.ids]

    def softmax(self, x: np.ndarray) -> np.ndarray:
        """Within-block softmax of x (shifted by each block's first element, the largest for sorted rows)."""
        e = np.exp(self.deviations(x))
        return e / self.sums(e)[self.ids]


def index_mask(n: int) -> int:
    """The mask of the low bits of a sort key that hold a position 0, …, n − 1."""
    return (1 << (n - 1).bit_length()) - 1


@_backend.numpy_twin
def order_keys(x, decreasing, keys) -> None:
    r"""Sort keys of each row: ``keys[r, i]`` = the order code of ``x[r, i]`` with its low bits replaced by i.

    The code is the IEEE bit pattern in the top of a 64-bit word (float32 patterns shifted up by 32) with every
    bit flipped for negative values and only the sign bit flipped for the others, so that unsigned order is
    numeric order; all bits are then flipped if ``decreasing``. Equal values give equal codes, so sorted keys
    list ties by position (−0.0 sorts below +0.0).

    Parameters
    ----------
    x : ndarray of shape (n_rows, n), float32 or float64, C-contiguous, finite
    decreasing : bool
        Keys increase as x decreases.
    keys : ndarray of shape (n_rows, n), uint64; receives the keys (low :func:`index_mask` (n) bits: i)
    """
    if x.dtype == np.float32:
        bits = x.view(np.uint32).astype(np.uint64) << np.uint64(32)
    else:
        bits = x.view(np.uint64).copy()
    bits ^= np.where(bits >> np.uint64(63), _ALL_BITS, _SIGN_BIT)
    if decreasing:
        bits ^= _ALL_BITS
    mask = np.uint64(index_mask(x.shape[1]))
    keys[...] = (bits & ~mask) | np.arange(x.shape[1], dtype=np.uint64)


def descending_order(x: np.ndarray, decreasing: bool = True, backend: str = "auto") -> np.ndarray:
    """A permutation of each row of x that sorts it decreasingly (increasingly if not ``decreasing``).

    Exact for float32; for float64, exact up to entries that agree in all but their last ⌈log₂ n⌉ bits (see the
    module docstring), which :func:`projection_permutahedron_rows` puts in order. Returns an intp array of the
    shape of x.
    """
    keys = np.empty(x.shape, dtype=np.uint64)
    _backend.select(order_keys, backend)(x, bool(decreasing), keys)
    keys.sort(axis=1)
    keys &= np.uint64(index_mask(x.shape[1]))
    return keys.view(np.int64).astype(np.intp, copy=False)


def _reciprocal(e: float) -> tuple[float, float]:
    """(inv, unit) with x/e computed as (x·inv)·unit: unit = 2^64 when e is subnormal (1/e would overflow)."""
    unit = 2.0**64 if e < _SMALLEST_NORMAL else 1.0
    return 1.0 / (e * unit), unit


def _over_e(x: np.ndarray, reciprocal: tuple[float, float]) -> np.ndarray:
    inv, unit = reciprocal
    return x * inv * unit


def _pav_input(g: np.ndarray, ws: np.ndarray, reciprocal: tuple[float, float]) -> np.ndarray:
    """z = x/ε sorted and shifted to start at 0, finite for any ε.

    Rows whose spread is at most the cap 2·spread(w) + 1 + 2^-48·max|w| take the direct differences (g − g_0)/e;
    wider ones, the cumulative sum of the gaps capped there (a gap that wide never lies inside a block, so capping
    changes no block; the last term keeps a capped gap 16 ulps of w wide, so that z − w still tells it apart).
    """
    with np.errstate(over="ignore"):  # an infinite cap (ℓ spanning ±1e308, Ψ = E) caps nothing, rightly
        cap = 2 * (ws[:, :1] - ws[:, -1:]) + 1 + 2.0**-48 * np.maximum(np.abs(ws[:, :1]), np.abs(ws[:, -1:]))
        z = _over_e(g - g[:, :1], reciprocal)
        wide = ~(-z[:, -1] <= cap[:, 0])
        gaps = np.minimum(_over_e(g[wide, :-1] - g[wide, 1:], reciprocal), cap[wide])
    z[wide] = -np.concatenate([np.zeros((gaps.shape[0], 1)), np.cumsum(gaps, axis=1)], axis=1)
    return z


@_backend.numpy_twin
def projection_permutahedron_rows(x, order, ws, eps, kl, out, starts, n_blocks) -> None:
    r"""P_Ψ(x/ε, w) row by row, given a permutation that (nearly) sorts each row of x/ε (NumPy twin kernel).

    With σ the stable sort of ``order`` by decreasing g = sign(ε)·x (g_σ nonincreasing), e = |ε|, PAV
    (decreasing fit) gives blocks B; with f the first entry of B, d = (g − g_f)/e and f-relative weights,

    .. math::

        \mu_{\sigma_i} = d_i - \operatorname{mean}_B d + w_f + \operatorname{mean}_B (w - w_f) \;\; (Q), \qquad
        \log \mu_{\sigma_i} = d_i - \operatorname{lse}_B d + \ell_f + \operatorname{lse}_B (\ell - \ell_f) \;\; (E).

    Ψ = Q: PAV of z − w (:func:`isotonic_l2`), z the sorted x/ε shifted to start at 0 (:func:`_pav_input`).
    Ψ = E, as in the compiled twin (``refefl_ext/_permutahedron.pyx``), without logsumexp chains: a block's value
    :math:`\operatorname{lse}(s_B) - \operatorname{lse}(\ell_B)` (s = z) is
    :math:`s_0 - \ell_0 + \log(\sum_B E / \sum_B L)` with :math:`E = e^{s - s_0}`, :math:`L = e^{\ell - \ell_0}`,
    and :math:`\sum_B E / \sum_B L` is the mean of E/L with weights L, so the entropic PAV is the weighted
    Euclidean PAV of E/L (:func:`isotonic_l2`), run as such on rows whose spreads of s and ℓ add up to at most
    :data:`LINEAR_SPREAD` (no product below e^{−600}); other rows keep each block's sums relative to its first
    entry (:func:`_pav_kl_ratio_row`). :func:`projection_permutahedron_rows_by_kl_pav` runs the textbook
    logsumexp PAV (:func:`isotonic_kl`) instead, kept for the tests.

    Parameters
    ----------
    x : ndarray of shape (n_rows, n), float32 or float64, C-contiguous, finite
    order : ndarray of shape (n_rows, n), intp
        In: a permutation of each row that sorts g decreasingly but for a few near-ties (any permutation is
        correct; the further from sorted, the slower). Out: σ, the stable sort of it.
    ws : ndarray of shape (n_rows, n) or (1, n) (shared by every row), float64
        w (Ψ = Q) or ℓ = log w (Ψ = E), sorted decreasingly.
    eps : float
        ε ≠ 0; ε < 0 projects −x/|ε| (descending ranks). Divisions by e are multiplications by 1/e (see
        :func:`_reciprocal`).
    kl : bool
        Ψ = E (entropic) if True, Q (Euclidean) otherwise.
    out : ndarray of shape (n_rows, n), dtype of x; receives μ (Q) or log μ (E), in the order of x
    starts : ndarray of shape (n_rows, n + 1), intp; receives the block starts (positions in σ) then n
    n_blocks : ndarray of shape (n_rows,), intp; receives the number of blocks of each row

    All sums are computed in float64.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, Prop. 3.
    """
    g, ws, e = _sorted_rows(x, order, eps, ws)  # _permutahedron.pyx: gather_sorted
    if not kl:
        value = _euclidean_values(g, ws, e, starts, n_blocks)
    else:
        value = np.empty(g.shape)
        with np.errstate(over="ignore"):  # a spread beyond the float range is +inf: not linear
            linear = _over_e(g[:, 0] - g[:, -1], e) + (ws[:, 0] - ws[:, -1]) <= LINEAR_SPREAD
        for rows, values in ((linear, _kl_linear_values), (~linear, _kl_ratio_values)):
            if rows.any():
                row_starts, row_blocks = starts[rows], n_blocks[rows]
                value[rows] = values(g[rows], ws[rows], e, row_starts, row_blocks)
                starts[rows], n_blocks[rows] = row_starts, row_blocks
    np.put_along_axis(out, order, value.astype(out.dtype), axis=1)  # the scatter of μ (or log μ) back


#: the entropic PAV runs as a weighted Euclidean PAV when the spreads of s and ℓ add up to at most this
LINEAR_SPREAD = 600.0
# below this, e^{ℓ_k − ℓ_f} may have underflowed with e^{s_k − s_f}: the test then takes e^{(s_k − s_f) − (ℓ_k − ℓ_f)}
_TINY = 1e-290
_LOG_MAX = float(np.log(np.finfo(np.float64).max))


def _sorted_rows(x, order, eps, ws) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """g = sign(ε)·x[σ] with σ ← the stable sort of ``order`` by decreasing g (written into ``order``), ws
    broadcast to g's shape, and the reciprocal of e = |ε|."""
    g = np.sign(eps) * np.take_along_axis(x, order, axis=1).astype(np.float64)
    finish = np.argsort(-g, axis=1, kind="stable")  # the identity when order already sorts
    order[...] = np.take_along_axis(order, finish, axis=1)
    return np.take_along_axis(g, finish, axis=1), np.broadcast_to(ws, g.shape), _reciprocal(abs(eps))


def _euclidean_values(g, ws, e, starts, n_blocks) -> np.ndarray:
    """μ (Ψ = Q) of the sorted rows g: PAV of z − w, then the block formula (``expand_l2`` in the .pyx)."""
    z = _pav_input(g, ws, e)
    isotonic_l2(z - ws, np.empty((z.shape[0], 0)), np.empty_like(z), starts, n_blocks, False)
    blocks = Blocks.from_starts(starts, n_blocks)
    dg, dw = blocks.deviations(g), blocks.deviations(ws)
    mean_d, mean_w = _over_e(blocks.sums(dg), e) / blocks.sizes, blocks.sums(dw) / blocks.sizes
    value = _over_e(dg, e) - mean_d[blocks.ids] + ws.ravel()[blocks.starts][blocks.ids] + mean_w[blocks.ids]
    return value.reshape(g.shape)


def _kl_linear_values(g, ws, e, starts, n_blocks) -> np.ndarray:
    """log μ (Ψ = E) of sorted rows whose spreads add up to at most :data:`LINEAR_SPREAD`: the weighted Euclidean
    PAV of E/L with weights L (``kl_linear_input``, ``_pav_l2_row`` and ``expand_kl_linear`` in the .pyx)."""
    weight = np.exp(ws - ws[:, :1])
    ratio = np.exp(_over_e(g - g[:, :1], e)) / weight
    mean = np.empty_like(ratio)  # each entry gets its block's weighted mean of E/L
    isotonic_l2(ratio, np.ascontiguousarray(weight), mean, starts, n_blocks, False)
    blocks = Blocks.from_starts(starts, n_blocks)
    singleton = (blocks.sizes == 1)[blocks.ids]
    # (s − s_0) + ℓ_0 − log(Σ_B E / Σ_B L); a singleton gets ℓ_f itself, without a logarithm
    value = _over_e(g - g[:, :1], e) + (ws[:, :1] - np.log(mean))
    return np.where(singleton.reshape(g.shape), ws, value)


def _kl_ratio_values(g, ws, e, starts, n_blocks) -> np.ndarray:
    """log μ (Ψ = E) of sorted rows by the entropic PAV in ratio form, row by row (:func:`_pav_kl_ratio_row`),
    then ``expand_kl``: d − log S_B + ℓ_f + log W_B."""
    sum_s, sum_w = np.empty(g.shape), np.empty(g.shape)
    for r in range(g.shape[0]):
        n_blocks[r] = _pav_kl_ratio_row(g[r].tolist(), ws[r].tolist(), e, sum_s[r], sum_w[r], starts[r])
    blocks = Blocks.from_starts(starts, n_blocks)
    stacked = np.arange(g.shape[1]) < n_blocks[:, None]
    lse_d, lse_w = np.log(sum_s[stacked])[blocks.ids], np.log(sum_w[stacked])[blocks.ids]
    with np.errstate(over="ignore"):  # a deviation beyond the float range (ℓ = θ spanning ±1e308): −inf
        value = _over_e(blocks.deviations(g), e) - lse_d + ws.ravel()[blocks.starts][blocks.ids] + lse_w
    return value.reshape(g.shape)


def _exp(v: float) -> float:
    """e^v, +inf beyond the float range (as the C library's exp; ``math.exp`` raises there)."""
    return math.inf if v >= _LOG_MAX else math.exp(v)  # NaN stays NaN


def _pav_kl_ratio_row(g, lw, e, sum_s, sum_w, starts) -> int:
    """Entropic PAV (decreasing fit) of s = g/e against ℓ = lw, both nonincreasing, in ratio form: ``pav_kl_sorted``
    in ``refefl_ext/_permutahedron.pyx``. Fills the block sums and starts; returns the number of blocks.

    Block t with first entry f keeps S_t = Σ_B e^{s_i − s_f} ≥ 1 and W_t = Σ_B e^{ℓ_i − ℓ_f} ≥ 1, so its value
    (:func:`isotonic_kl`'s logsumexp(s_B) − logsumexp(ℓ_B)) is s_f − ℓ_f + log(S_t/W_t), and "v_B ≤ v_k: pool"
    reads S/W ≤ e^{(s_k − s_f) − (ℓ_k − ℓ_f)}, tested as S·e^{ℓ_k − ℓ_f} ≤ W·e^{s_k − s_f}. Every exponent is a
    difference to a block's first entry: ≤ 0 (no overflow), and underflow only drops terms too small to matter.
    """
    inv, unit = e
    n, i, top = len(g), 0, -1
    while i < n:
        f, s, w, k = i, 1.0, 1.0, i + 1
        while k < n:  # absorb the following entries while the block's value is ≤ theirs
            ds, dl = (g[k] - g[f]) * inv * unit, lw[k] - lw[f]
            a, b = math.exp(ds), math.exp(dl)
            if (s * b > w * a) if b > _TINY else (s > w * _exp(ds - dl)):
                break
            s, w, k = s + a, w + b, k + 1
        while top >= 0:  # pool backwards while the previous block's value is ≤ this one's
            ds, dl = (g[f] - g[starts[top]]) * inv * unit, lw[f] - lw[starts[top]]
            if sum_s[top] * w > sum_w[top] * s * _exp(ds - dl):
                break
            s, w = sum_s[top] + math.exp(ds) * s, sum_w[top] + math.exp(dl) * w
            f, top = starts[top], top - 1
        top += 1
        sum_s[top], sum_w[top], starts[top] = s, w, f
        i = k
    starts[top + 1] = n
    return top + 1


def projection_permutahedron_rows_by_kl_pav(x, order, ws, eps, kl, out, starts, n_blocks) -> None:
    """:func:`projection_permutahedron_rows` (same arguments) with the entropic PAV in its textbook form, the
    logsumexp pooling of :func:`isotonic_kl` on z against ℓ, and the block formula from block logsumexps; kept
    for the tests (Ψ = Q is the twin's own).

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, Prop. 3.
    """
    g, ws, e = _sorted_rows(x, order, eps, ws)
    if not kl:
        value = _euclidean_values(g, ws, e, starts, n_blocks)
    else:
        z = _pav_input(g, ws, e)
        isotonic_kl(z, np.ascontiguousarray(ws), np.empty_like(z), starts, n_blocks, False)
        blocks = Blocks.from_starts(starts, n_blocks)
        dg, dw = blocks.deviations(g), blocks.deviations(ws)
        w_first = ws.ravel()[blocks.starts][blocks.ids]
        value = (_over_e(dg, e) - blocks.logsumexp(_over_e(dg, e)) + w_first + blocks.logsumexp(dw)).reshape(g.shape)
    np.put_along_axis(out, order, value.astype(out.dtype), axis=1)
