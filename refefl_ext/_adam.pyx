"""One Adam update in one pass: twin of ``refefl.nn._optim.adam_update``.

The NumPy twin makes about a dozen passes over the parameter vector (one per ufunc); here each coordinate's
v', m' and w' are formed at once, with the same roundings in the same order (the module is compiled with
``-ffp-contract=off``, so no product and sum is fused): the twins agree bit for bit. For float32 vectors, s m' and
√v' + ε̂ are formed in double, as NumPy promotes the float64 scalars, and the update is rounded to float before the
subtraction.
"""
from cython cimport floating
from libc.math cimport isinf, sqrt, sqrtf


def adam_update(const floating[::1] w, const floating[::1] g, const floating[::1] m, const floating[::1] v,
                double beta1, double beta2, double step, double eps_hat, floating[::1] w_out,
                floating[::1] m_out, floating[::1] v_out):
    """Twin of ``refefl.nn._optim.adam_update``."""
    cdef Py_ssize_t i, n = w.shape[0]
    # NumPy casts the Python floats β and 1 − β to the vectors' dtype
    cdef floating b1 = <floating>beta1, b2 = <floating>beta2
    cdef floating c1 = <floating>(1.0 - beta1), c2 = <floating>(1.0 - beta2)
    cdef floating v_new, m_new, root
    cdef double update
    cdef bint overflow = False
    with nogil:
        for i in range(n):
            v_new = v[i] * b2 + (g[i] * c2) * g[i]
            m_new = m[i] * b1 + g[i] * c1
            if floating is float:
                root = sqrtf(v_new)
            else:
                root = sqrt(v_new)
            update = (<double>m_new * step) / (<double>root + eps_hat)
            w_out[i] = w[i] - <floating>update
            m_out[i] = m_new
            v_out[i] = v_new
            overflow = overflow | isinf(v_new)
    return bool(overflow)
