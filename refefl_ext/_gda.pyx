"""Fused row passes of one GDA iteration: twins of ``refefl.gda._kernels.walker_pass`` and ``data_moment``.

The NumPy twins form the (rows × n) matrices of pre-activations and activation patterns and multiply them back
(four products for the walkers, two for the data); here a row is finished in one go, its n pre-activations in a
small buffer that stays in cache, so nothing of size rows × n is ever stored.

The neurons are held transposed and zero-padded, z[c, i] of shape (d, n_pad) with n_pad = n rounded up to LANES,
so that every loop over neurons is contiguous and vectorizes; a padded neuron has pre-activation 0, so it is
inactive and carries weight 0. Sums over neurons keep LANES partial sums (a single running sum would not
vectorize: floating-point addition is not associative). Everything is computed in double; a moved walker is
rounded to the dtype once, and its pattern is that of the rounded walker, as in the twin.

Rows are cut into at most MAX_CHUNKS chunks of at least CHUNK_ROWS rows. Each chunk sums its moment in its own
double accumulator, and the chunks are added in order at the end: the result does not depend on the number of
threads, nor on which thread took which chunk, so the chunks are handed out dynamically (a thread that the busy
machine holds back does not keep the others waiting for its share).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from cython.view cimport array as cvarray
from libc.math cimport sqrt

from refefl_ext._rows cimport PARALLEL_MIN_ELEMENTS


cdef enum:
    LANES = 8  # neurons are padded to a multiple of this; sums over neurons keep LANES partial sums
    GROUP = 4  # rows whose moment shares are added together (one load and store of the accumulators per group)
    CHUNK_ROWS = 256
    MAX_CHUNKS = 32


cdef struct Neurons:
    Py_ssize_t d
    Py_ssize_t n  # padded to a multiple of LANES
    double* z     # (d, n): z[c * n + i] = c-th coordinate of neuron i
    double* a     # (n,): output weights (zero for padded neurons)


cdef struct Chunks:
    Py_ssize_t count
    Py_ssize_t rows
    Py_ssize_t size  # doubles of scratch per chunk: accumulator (d, n), pre-activations (GROUP, n), rows
                     # (GROUP, d), gradient (d)


cdef inline Py_ssize_t chunk_start(const Chunks* chunks, Py_ssize_t c) noexcept nogil:
    return c * chunks.rows // chunks.count


cdef Chunks make_chunks(Py_ssize_t m, Py_ssize_t d, Py_ssize_t n_pad):
    cdef Chunks chunks
    chunks.count = max(1, min(<Py_ssize_t>MAX_CHUNKS, m // CHUNK_ROWS))
    chunks.rows = m
    chunks.size = (d + GROUP) * n_pad + (GROUP + 1) * d
    return chunks


cdef double[::1] load_neurons(const floating[:, ::1] directions, const floating* weights, Py_ssize_t m,
                              Chunks* chunks, Neurons* neurons):
    # one buffer: transposed padded directions, padded weights (zero if NULL), then the scratch of the chunks of
    # m rows
    cdef Py_ssize_t n = directions.shape[0], d = directions.shape[1], i, c
    cdef Py_ssize_t n_pad = (n + LANES - 1) // LANES * LANES
    chunks[0] = make_chunks(m, d, n_pad)
    cdef double[::1] buffer = cvarray(((d + 1) * n_pad + chunks.count * chunks.size,), sizeof(double), "d")
    neurons.d, neurons.n, neurons.z, neurons.a = d, n_pad, &buffer[0], &buffer[d * n_pad]
    for c in range(d):
        for i in range(n_pad):
            neurons.z[c * n_pad + i] = directions[i, c] if i < n else 0.0
    for i in range(n_pad):
        neurons.a[i] = weights[i] if i < n and weights != NULL else 0.0
    return buffer


cdef inline void preactivations(const double* y, const Neurons* nn, double* u) noexcept nogil:
    # u_i = <y, z_i>, LANES neurons at a time (their partial sums stay in registers across the d coordinates)
    cdef double s[LANES]
    cdef Py_ssize_t b, c, l, n = nn.n
    cdef const double* z
    for b in range(n // LANES):
        z = nn.z + b * LANES
        for l in range(LANES):
            s[l] = y[0] * z[l]
        for c in range(1, nn.d):
            for l in range(LANES):
                s[l] = s[l] + y[c] * z[c * n + l]
        for l in range(LANES):
            u[b * LANES + l] = s[l]


cdef inline double lane_dot(const double* a, const double* b, Py_ssize_t n) noexcept nogil:
    # Σ_i a_i b_i for n a multiple of LANES: LANES partial sums, folded pairwise
    cdef double s[LANES]
    cdef Py_ssize_t i = LANES, l
    for l in range(LANES):
        s[l] = a[l] * b[l]
    while i < n:
        for l in range(LANES):
            s[l] = s[l] + a[i + l] * b[i + l]
        i += LANES
    for l in range(LANES // 2):
        s[l] = s[l] + s[l + LANES // 2]
    return (s[0] + s[2]) + (s[1] + s[3])


cdef inline void indicate(double* u, Py_ssize_t n) noexcept nogil:
    # u_i ← 1[u_i > 0] (as 0.0 or 1.0, so that the moment sums below are products, which vectorize)
    cdef Py_ssize_t i
    for i in range(n):
        u[i] = 1.0 if u[i] > 0 else 0.0


cdef inline void accumulate(const double* y, const double* active, const Neurons* nn, double* acc) noexcept nogil:
    # acc[c, i] += Σ_w y[w, c] active[w, i] over a group of GROUP rows, in row order (rows not in use have
    # y = 0); LANES neurons at a time, so each accumulator is loaded and stored once per group
    cdef double s[LANES]
    cdef Py_ssize_t b, c, w, l, n = nn.n, d = nn.d
    cdef double* sums
    cdef const double* aw
    cdef double ywc
    for b in range(n // LANES):
        for c in range(d):
            sums = acc + c * n + b * LANES
            for l in range(LANES):
                s[l] = sums[l]
            for w in range(GROUP):
                ywc = y[w * d + c]
                aw = active + w * n + b * LANES
                for l in range(LANES):
                    s[l] = s[l] + ywc * aw[l]
            for l in range(LANES):
                sums[l] = s[l]


cdef void data_chunk(const floating[:, ::1] points, const Neurons* nn, Py_ssize_t start, Py_ssize_t stop,
                     double* scratch) noexcept nogil:
    cdef Py_ssize_t j, k, c, w, d = nn.d, n = nn.n
    cdef double* acc = scratch
    cdef double* u = acc + d * n
    cdef double* y = u + GROUP * n
    for c in range(d * n):
        acc[c] = 0.0
    for j in range((stop - start + GROUP - 1) // GROUP):
        k = start + j * GROUP
        for w in range(GROUP):
            for c in range(d):
                y[w * d + c] = points[k + w, c] if k + w < stop else 0.0
            preactivations(&y[w * d], nn, &u[w * n])
            indicate(&u[w * n], n)
        accumulate(y, u, nn, acc)


cdef void walker_chunk(const floating[:, ::1] walkers, const floating[:, ::1] noise, floating[:, ::1] out,
                       const Neurons* nn, double step, Py_ssize_t start, Py_ssize_t stop,
                       double* scratch) noexcept nogil:
    # per walker: u = <y, z>, g = Σ_i a_i 1[u_i > 0] z_i, tangent projection, the move, the normalization, the
    # moved walker's pre-activations; then the group's share of the moment
    cdef Py_ssize_t j, k, c, i, w, d = nn.d, n = nn.n
    cdef double* acc = scratch
    cdef double* u0 = acc + d * n
    cdef double* y0 = u0 + GROUP * n
    cdef double* g = y0 + GROUP * d
    cdef double* u
    cdef double* y
    cdef const double* a = nn.a
    cdef double noise_scale = sqrt(2.0 * step), gy, yy, radial, norm, weight
    cdef floating moved
    for c in range(d * n):
        acc[c] = 0.0
    for j in range((stop - start + GROUP - 1) // GROUP):
        k = start + j * GROUP
        for w in range(GROUP):
            u, y = u0 + w * n, y0 + w * d
            if k + w >= stop:  # past the chunk's end: a row that adds nothing (u may hold anything so far)
                for c in range(d):
                    y[c] = 0.0
                for i in range(n):
                    u[i] = 0.0
                continue
            for c in range(d):
                y[c] = walkers[k + w, c]
            preactivations(y, nn, u)
            for i in range(n):  # a_i 1[u_i > 0], branch-free (a_i is loaded either way, so the loop vectorizes)
                weight = a[i]
                u[i] = weight if u[i] > 0 else 0.0
            gy = yy = 0.0
            for c in range(d):
                g[c] = lane_dot(u, &nn.z[c * n], n)
                gy = gy + g[c] * y[c]
                yy = yy + y[c] * y[c]
            radial = gy / yy
            norm = 0.0
            for c in range(d):  # y − h (I − y yᵀ/|y|²) g + √(2h) ξ
                g[c] = (y[c] - step * (g[c] - radial * y[c])) + noise_scale * noise[k + w, c]
                norm = norm + g[c] * g[c]
            norm = sqrt(norm)
            for c in range(d):
                moved = <floating>(g[c] / norm)
                out[k + w, c] = moved
                y[c] = moved
            preactivations(y, nn, u)
            indicate(u, n)
        accumulate(y0, u0, nn, acc)


cdef void reduce_chunks(const double* scratch, const Chunks* chunks, Py_ssize_t n, Py_ssize_t n_pad,
                        double[:, ::1] moment) noexcept nogil:
    # moment[i, c] = Σ over chunks, in order, of acc[c, i]
    cdef Py_ssize_t r, c, i, d = moment.shape[1]
    for i in range(n):
        for c in range(d):
            moment[i, c] = 0.0
    for r in range(chunks.count):
        for i in range(n):
            for c in range(d):
                moment[i, c] += scratch[r * chunks.size + c * n_pad + i]


def data_moment(const floating[:, ::1] points, const floating[:, ::1] directions, double[:, ::1] moment):
    """Twin of ``refefl.gda._kernels.data_moment`` (one pass over the points, see the module docstring)."""
    cdef Py_ssize_t r, m = points.shape[0], n = directions.shape[0], d = directions.shape[1]
    cdef Neurons nn
    cdef Chunks chunks
    cdef double[::1] buffer = load_neurons(directions, <const floating*>NULL, m, &chunks, &nn)
    cdef double* scratch = &buffer[(d + 1) * nn.n]
    with nogil, parallel(use_threads_if=chunks.count > 1 and m * n * d >= PARALLEL_MIN_ELEMENTS):
        for r in prange(chunks.count, schedule="dynamic"):
            data_chunk(points, &nn, chunk_start(&chunks, r), chunk_start(&chunks, r + 1),
                       scratch + r * chunks.size)
    reduce_chunks(scratch, &chunks, n, nn.n, moment)


def walker_pass(const floating[:, ::1] walkers, const floating[:, ::1] directions,
                const floating[::1] output_weights, double step, const floating[:, ::1] noise,
                floating[:, ::1] out, double[:, ::1] moment):
    """Twin of ``refefl.gda._kernels.walker_pass`` (one pass over the walkers, see the module docstring)."""
    cdef Py_ssize_t r, m = walkers.shape[0], n = directions.shape[0], d = directions.shape[1]
    cdef Neurons nn
    cdef Chunks chunks
    cdef double[::1] buffer = load_neurons(directions, &output_weights[0], m, &chunks, &nn)
    cdef double* scratch = &buffer[(d + 1) * nn.n]
    with nogil, parallel(use_threads_if=chunks.count > 1 and m * n * d >= PARALLEL_MIN_ELEMENTS):
        for r in prange(chunks.count, schedule="dynamic"):
            walker_chunk(walkers, noise, out, &nn, step, chunk_start(&chunks, r), chunk_start(&chunks, r + 1),
                         scratch + r * chunks.size)
    reduce_chunks(scratch, &chunks, n, nn.n, moment)
