"""One GDA iteration in one call: the twin of ``refefl.gda._kernels.gda_iteration``.

The NumPy twin forms the (rows × n) matrices of pre-activations and activation patterns and multiplies them back
(four products for the walkers, two for the data), then steps the neurons; here the walkers and the data are
each one pass over their rows, taken in blocks of BLOCK, nothing of size rows × n is ever stored, and the neuron
step (n rows) follows in the same call, without the GIL.

A block holds its rows coordinate by coordinate, in double (y[c * BLOCK + r]), so that LANES consecutive rows
fill a SIMD vector: the two passes (C, in GCC's vector extensions) compute LANES rows per instruction, and
nothing is summed across a vector except the moment's LANES partial sums, folded once per block:

- ``gda_move``: per vector of rows, a loop over the neurons adds a_i 1[<y, z_i> > 0] z_i into the rows'
  gradients (held in registers), then the rows take their Langevin step and are normalized;
- ``gda_moment``: per neuron, the block's pattern and its sums Σ_r 1[<y_r, z_i> > 0] y_r.

Everything is computed in double; a moved walker is rounded to the dtype once, and its pattern is that of the
rounded walker, as in the twin. The passes run at a width w that is a compile-time constant for d ≤ 16 (3, 8 or
16: the coordinates past d are zero, which adds exact zeros to every sum), so that their loops over coordinates
unroll and the rows stay in registers; larger d run the same code with w = d at run time.

Rows are cut into chunks (at most MAX_CHUNKS per set, of at least CHUNK_ROWS rows), the walkers' first, then
the data's. Each chunk sums its moment in its own double accumulator, and the chunks are added in order at the
end: the result does not depend on the number of threads, nor on which thread took which chunk, so the chunks
are handed out dynamically (a thread that the busy machine holds back does not keep the others waiting for its
share).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from cython.view cimport array as cvarray
from libc.math cimport INFINITY, exp, log, sqrt

from refefl_ext._rows cimport PARALLEL_MIN_ELEMENTS


cdef extern from *:
    """
    #include <math.h>
    /* rows side by side: a SIMD vector of doubles of the machine the kernels are built for (a wider vector
       than the registers would be split and spilled) */
    #if defined(__AVX512F__)
    #define GDA_LANES 8
    #elif defined(__AVX__)
    #define GDA_LANES 4
    #else
    #define GDA_LANES 2
    #endif
    #define GDA_BLOCK 128
    #define GDA_ROUND 16  /* a block's rows are processed in multiples of this (2 vectors: a pair) */
    #define GDA_STACK_WIDTH 64  /* up to this width the rows' registers are on the stack, beyond in scratch */
    /* LANES rows side by side; aligned(8): loads and stores at any double's address */
    typedef double gda_lanes __attribute__((vector_size(8 * GDA_LANES), aligned(8)));
    typedef long long gda_mask __attribute__((vector_size(8 * GDA_LANES), aligned(8)));

    /* vectors of rows moved together, neurons whose moments are summed together (independent chains of
       additions, and shared loads); at most 16 vectors of partial sums, to stay in registers */
    static inline __attribute__((always_inline)) int gda_pair(Py_ssize_t w) { return w <= 8 ? 2 : 1; }
    static inline __attribute__((always_inline)) int gda_group(Py_ssize_t w) { return w <= 4 ? 4 : w <= 8 ? 2 : 1; }
    /* doubles of scratch a chunk needs for the rows' registers when they are not on the stack */
    static inline Py_ssize_t gda_work_size(Py_ssize_t w) {
        return w <= GDA_STACK_WIDTH ? 0 : (2 * gda_pair(w) + gda_group(w)) * w * GDA_LANES;
    }

    /* gda_broadcast(x): x in every lane; gda_fold(s): the LANES partial sums folded pairwise, halves onto
       halves (8 lanes: ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))); written out, which compiles to a
       few shuffles (as loops over the lanes, to element moves) */
    #if GDA_LANES == 8
    #define gda_broadcast(x) ((gda_lanes){(x), (x), (x), (x), (x), (x), (x), (x)})
    #define gda_fold(s) ((((s)[0] + (s)[4]) + ((s)[2] + (s)[6])) + (((s)[1] + (s)[5]) + ((s)[3] + (s)[7])))
    #elif GDA_LANES == 4
    #define gda_broadcast(x) ((gda_lanes){(x), (x), (x), (x)})
    #define gda_fold(s) (((s)[0] + (s)[2]) + ((s)[1] + (s)[3]))
    #else
    #define gda_broadcast(x) ((gda_lanes){(x), (x)})
    #define gda_fold(s) ((s)[0] + (s)[1])
    #endif

    /* gda_active(u): the lanes where u > 0 (the ReLU's derivative at 0 taken as 0); gda_add_active(acc, on, x):
       acc + x in those lanes, acc in the others. With AVX-512, a mask register and one masked addition */
    #ifdef __AVX512F__
    #include <immintrin.h>
    typedef __mmask8 gda_active_t;
    static inline __attribute__((always_inline)) gda_active_t gda_active(gda_lanes u) {
        return _mm512_cmp_pd_mask((__m512d)u, _mm512_setzero_pd(), _CMP_GT_OQ);
    }
    static inline __attribute__((always_inline)) gda_lanes gda_add_active(gda_lanes acc, gda_active_t on,
                                                                          gda_lanes x) {
        return (gda_lanes)_mm512_mask_add_pd((__m512d)acc, on, (__m512d)acc, (__m512d)x);
    }
    #elif defined(__SSE2__) && !defined(__AVX__)
    /* SSE2 alone (GCC 12 cannot expand the vector comparison there): its intrinsics, 2 lanes */
    #include <emmintrin.h>
    typedef gda_lanes gda_active_t;
    static inline __attribute__((always_inline)) gda_active_t gda_active(gda_lanes u) {
        return (gda_lanes)_mm_cmpgt_pd((__m128d)u, _mm_setzero_pd());
    }
    static inline __attribute__((always_inline)) gda_lanes gda_add_active(gda_lanes acc, gda_active_t on,
                                                                          gda_lanes x) {
        return acc + (gda_lanes)_mm_and_pd((__m128d)on, (__m128d)x);
    }
    #else
    typedef gda_mask gda_active_t;
    static inline __attribute__((always_inline)) gda_active_t gda_active(gda_lanes u) {
        const gda_lanes zero = {0};
        return u > zero;
    }
    static inline __attribute__((always_inline)) gda_lanes gda_add_active(gda_lanes acc, gda_active_t on,
                                                                          gda_lanes x) {
        return acc + (gda_lanes)(on & (gda_mask)x);
    }
    #endif


    static inline __attribute__((always_inline)) void gda_move_rows(
            const Py_ssize_t w, Py_ssize_t n, const double *z, const double *az, double step, double *y_block,
            const double *xi_block, Py_ssize_t rows, gda_lanes (*y)[w], gda_lanes (*g)[w]) {
        const gda_lanes zero = {0};
        const double noise_scale = sqrt(2.0 * step);
        const int pair = gda_pair(w);
        for (Py_ssize_t v0 = 0; v0 < rows; v0 += pair * GDA_LANES) {
            for (int p = 0; p < pair; p++)
                for (Py_ssize_t c = 0; c < w; c++) {
                    y[p][c] = *(const gda_lanes *)(y_block + c * GDA_BLOCK + v0 + p * GDA_LANES);
                    g[p][c] = zero;
                }
            for (Py_ssize_t i = 0; i < n; i++) {
                for (int p = 0; p < pair; p++) {
                    gda_lanes s = y[p][0] * z[i * w];
                    for (Py_ssize_t c = 1; c < w; c++)
                        s += y[p][c] * z[i * w + c];
                    gda_active_t on = gda_active(s);
                    for (Py_ssize_t c = 0; c < w; c++)
                        g[p][c] = gda_add_active(g[p][c], on, gda_broadcast(az[i * w + c]));
                }
            }
            for (int p = 0; p < pair; p++) {
                Py_ssize_t v = v0 + p * GDA_LANES;
                gda_lanes gy = zero, yy = zero, norm;
                for (Py_ssize_t c = 0; c < w; c++) {
                    gy += g[p][c] * y[p][c];
                    yy += y[p][c] * y[p][c];
                }
                gy /= yy;  /* the radial part <g, y> / |y|^2 */
                yy = zero; /* now the squared norm of the moved rows */
                for (Py_ssize_t c = 0; c < w; c++) {
                    g[p][c] = (y[p][c] - step * (g[p][c] - gy * y[p][c]))
                              + noise_scale * *(const gda_lanes *)(xi_block + c * GDA_BLOCK + v);
                    yy += g[p][c] * g[p][c];
                }
                for (int l = 0; l < GDA_LANES; l++)
                    norm[l] = 1.0 / sqrt(yy[l]);
                for (Py_ssize_t c = 0; c < w; c++)
                    *(gda_lanes *)(y_block + c * GDA_BLOCK + v) = g[p][c] * norm;
            }
        }
    }

    /* Langevin step of the first rows of the block y (w, BLOCK) with noise xi (w, BLOCK), in place (rows: a
       multiple of GDA_ROUND, at most BLOCK): per row,
       g = sum_i a_i 1[<y, z_i> > 0] z_i (az[i * w + c] = a_i z_i[c]),
       y <- normalize(y - h (g - <g, y> y / |y|^2) + sqrt(2h) xi).
       work: gda_work_size(w) doubles */
    static inline __attribute__((always_inline)) void gda_move(
            const Py_ssize_t w, Py_ssize_t n, const double *z, const double *az, double step, double *y_block,
            const double *xi_block, Py_ssize_t rows, double *work) {
        const int pair = gda_pair(w);
        if (w <= GDA_STACK_WIDTH) {
            gda_lanes y[pair][w], g[pair][w];
            gda_move_rows(w, n, z, az, step, y_block, xi_block, rows, y, g);
        } else {
            gda_lanes (*y)[w] = (gda_lanes (*)[w])work;
            gda_move_rows(w, n, z, az, step, y_block, xi_block, rows, y, y + pair);
        }
    }

    static inline __attribute__((always_inline)) void gda_moment_neurons(
            const Py_ssize_t w, const int nb, Py_ssize_t i0, const double *z, const double *y_block,
            Py_ssize_t rows, double *moment, gda_lanes (*sum)[w]) {
        const gda_lanes zero = {0};
        for (int j = 0; j < nb; j++)
            for (Py_ssize_t c = 0; c < w; c++)
                sum[j][c] = zero;
        for (Py_ssize_t v = 0; v < rows; v += GDA_LANES) {
            for (int j = 0; j < nb; j++) {
                const double *zi = z + (i0 + j) * w;
                gda_lanes s = *(const gda_lanes *)(y_block + v) * zi[0];
                for (Py_ssize_t c = 1; c < w; c++)
                    s += *(const gda_lanes *)(y_block + c * GDA_BLOCK + v) * zi[c];
                gda_active_t on = gda_active(s);
                for (Py_ssize_t c = 0; c < w; c++)
                    sum[j][c] = gda_add_active(sum[j][c], on, *(const gda_lanes *)(y_block + c * GDA_BLOCK + v));
            }
        }
        for (int j = 0; j < nb; j++)
            for (Py_ssize_t c = 0; c < w; c++)
                moment[(i0 + j) * w + c] += gda_fold(sum[j][c]);
    }

    static inline __attribute__((always_inline)) void gda_moment_group(
            const Py_ssize_t w, const int nb, Py_ssize_t i0, const double *z, const double *y_block,
            Py_ssize_t rows, double *moment, double *work) {
        if (w <= GDA_STACK_WIDTH) {
            gda_lanes sum[nb][w];
            gda_moment_neurons(w, nb, i0, z, y_block, rows, moment, sum);
        } else {
            gda_moment_neurons(w, nb, i0, z, y_block, rows, moment, (gda_lanes (*)[w])work);
        }
    }

    /* moment[i * w + c] += sum_r 1[<y_r, z_i> > 0] y_r[c] over the first rows of the block y (w, BLOCK) (rows:
       a multiple of GDA_ROUND, at most BLOCK; zero rows add nothing), LANES partial sums per coordinate.
       work: gda_work_size(w) doubles */
    static inline __attribute__((always_inline)) void gda_moment(
            const Py_ssize_t w, Py_ssize_t n, const double *z, const double *y_block, Py_ssize_t rows,
            double *moment, double *work) {
        const int nb = gda_group(w);
        Py_ssize_t i = 0;
        for (; i + nb <= n; i += nb)
            gda_moment_group(w, nb, i, z, y_block, rows, moment, work);
        for (; i < n; i++)
            gda_moment_group(w, 1, i, z, y_block, rows, moment, work);
    }
    """
    enum:
        LANES "GDA_LANES"
        BLOCK "GDA_BLOCK"
        ROUND "GDA_ROUND"
    Py_ssize_t gda_work_size(Py_ssize_t w) noexcept nogil
    void gda_move(Py_ssize_t w, Py_ssize_t n, const double* z, const double* az, double step, double* y,
                  const double* xi, Py_ssize_t rows, double* work) noexcept nogil
    void gda_moment(Py_ssize_t w, Py_ssize_t n, const double* z, const double* y, Py_ssize_t rows,
                    double* moment, double* work) noexcept nogil


cdef enum:
    CHUNK_ROWS = 256
    MAX_CHUNKS = 32


cdef struct Neurons:
    Py_ssize_t d
    Py_ssize_t w  # the width: d, or d padded with zero coordinates (see width below)
    Py_ssize_t n
    double* z     # (n, w): z[i * w + c] = c-th coordinate of neuron i (0 for c >= d)
    double* az    # (n, w): a_i z[i * w + c], the terms of the energy's gradient


cdef struct Chunks:
    Py_ssize_t count
    Py_ssize_t rows
    Py_ssize_t size  # doubles of scratch per chunk: moment (n, w), rows and noise of a block (2, w, BLOCK), work


cdef inline Py_ssize_t width(Py_ssize_t d) noexcept nogil:
    # the passes' width: 3, 8 or 16 coordinates, compile-time constants, for d up to 16 (zero coordinates add
    # exact zeros to every sum, so the padding changes no result), d beyond
    return 3 if d <= 3 else 8 if d <= 8 else 16 if d <= 16 else d


cdef inline Py_ssize_t chunk_start(const Chunks* chunks, Py_ssize_t c) noexcept nogil:
    # chunks of whole blocks (only the last block of the last chunk is partial)
    cdef Py_ssize_t blocks = (chunks.rows + BLOCK - 1) // BLOCK
    return min(chunks.rows, c * blocks // chunks.count * BLOCK)


cdef Chunks make_chunks(Py_ssize_t m, Py_ssize_t n, Py_ssize_t w) noexcept nogil:
    cdef Chunks chunks
    chunks.count = max(1, min(<Py_ssize_t>MAX_CHUNKS, m // CHUNK_ROWS))
    chunks.rows = m
    chunks.size = n * w + 2 * w * BLOCK + gda_work_size(w)
    return chunks


cdef void load_neurons(const floating[:, ::1] directions, const floating[::1] signs, const floating[::1] masses,
                       double* buffer, Neurons* neurons) noexcept nogil:
    # directions and weighted directions in double, zero-padded to the width, into buffer (2 n w doubles);
    # a_i = w_i c_i / n, rounded to the dtype as in ReLUEnergy.output_weights
    cdef Py_ssize_t n = directions.shape[0], d = directions.shape[1], w = width(d), i, c
    cdef double a
    neurons.d, neurons.w, neurons.n, neurons.z, neurons.az = d, w, n, buffer, buffer + n * w
    for i in range(n):
        a = <floating>(masses[i] * signs[i] / <floating>n)
        for c in range(w):
            neurons.z[i * w + c] = directions[i, c] if c < d else 0.0
            neurons.az[i * w + c] = a * neurons.z[i * w + c]


cdef inline void data_chunk(const floating[:, ::1] points, const Neurons* nn, Py_ssize_t start, Py_ssize_t stop,
                            double* scratch, const Py_ssize_t w) noexcept nogil:
    cdef Py_ssize_t b, k, r, c, rows, d = nn.d
    cdef double* moment = scratch
    cdef double* y = moment + nn.n * w
    cdef double* work = y + 2 * w * BLOCK
    for c in range(nn.n * w):
        moment[c] = 0.0
    for b in range((stop - start + BLOCK - 1) // BLOCK):
        k = start + b * BLOCK
        rows = min(<Py_ssize_t>BLOCK, (stop - k + ROUND - 1) // ROUND * ROUND)
        for r in range(rows):
            for c in range(w):
                y[c * BLOCK + r] = points[k + r, c] if k + r < stop and c < d else 0.0
        gda_moment(w, nn.n, nn.z, y, rows, moment, work)


cdef inline void walker_chunk(const floating[:, ::1] walkers, const floating[:, ::1] noise, floating[:, ::1] out,
                              const Neurons* nn, double step, Py_ssize_t start, Py_ssize_t stop, double* scratch,
                              const Py_ssize_t w) noexcept nogil:
    # per block: its rows and noise (antithetic: row k gets noise[k] and row k + N gets −noise[k], N the rows of
    # noise; rows past stop: the point e_1 without noise, a valid walker), the move, the moved rows rounded to
    # the dtype (written to out; zero past stop), their moment
    cdef Py_ssize_t b, k, r, c, rows, d = nn.d, half = noise.shape[0]
    cdef double* moment = scratch
    cdef double* y = moment + nn.n * w
    cdef double* xi = y + w * BLOCK
    cdef double* work = xi + w * BLOCK
    for c in range(nn.n * w):
        moment[c] = 0.0
    for c in range(d * BLOCK, w * BLOCK):  # the padding coordinates: zero, and the move keeps them zero
        y[c] = xi[c] = 0.0
    for b in range((stop - start + BLOCK - 1) // BLOCK):
        k = start + b * BLOCK
        rows = min(<Py_ssize_t>BLOCK, (stop - k + ROUND - 1) // ROUND * ROUND)
        for r in range(rows):
            for c in range(d):
                if k + r < stop:
                    y[c * BLOCK + r] = walkers[k + r, c]
                    xi[c * BLOCK + r] = noise[k + r, c] if k + r < half else -noise[k + r - half, c]
                else:
                    y[c * BLOCK + r], xi[c * BLOCK + r] = (1.0 if c == 0 else 0.0), 0.0
        gda_move(w, nn.n, nn.z, nn.az, step, y, xi, rows, work)
        for r in range(rows):
            for c in range(d):
                if k + r < stop:
                    out[k + r, c] = <floating>y[c * BLOCK + r]
                    y[c * BLOCK + r] = out[k + r, c]
                else:
                    y[c * BLOCK + r] = 0.0
        gda_moment(w, nn.n, nn.z, y, rows, moment, work)


cdef void neuron_step(const floating[:, ::1] directions, const floating[::1] signs, const floating[::1] masses,
                      const floating* witness, double step_z, double step_w, double beta, double* log_w,
                      floating[:, ::1] out_directions, floating[::1] out_masses) noexcept nogil:
    # refefl.gda._neurons._neuron_step from the witness D (n, d): the masses w̃_i = w_i exp(-h_w c_i <D_i, z_i>)
    # in the log domain (log_w: n doubles of scratch), rescaled to mean(w) <= β; the directions
    # normalize(z_i - h_z (v_i - <v_i, z_i> z_i / |z_i|²)), v_i = c_i D_i (unchanged when h_z = 0)
    cdef Py_ssize_t n = directions.shape[0], d = directions.shape[1], i, c
    cdef double top = -INFINITY, mean = 0.0, scale, vz, zz, norm, t
    for i in range(n):
        vz = 0.0
        for c in range(d):
            vz = vz + witness[i * d + c] * directions[i, c]
        log_w[i] = log(<double>masses[i]) - step_w * signs[i] * <floating>vz
        top = max(top, log_w[i])
    if top == -INFINITY:  # every mass is zero
        for i in range(n):
            out_masses[i] = 0.0
    else:
        for i in range(n):
            log_w[i] = exp(log_w[i] - top)
            mean = mean + log_w[i]
        mean = mean / n
        # log(mean) + top against log(β): decided without forming exp(top), which may overflow
        scale = beta / mean if log(mean) + top > log(beta) else exp(top)
        for i in range(n):
            out_masses[i] = <floating>(log_w[i] * scale)
    for i in range(n):
        if step_z == 0:
            for c in range(d):
                out_directions[i, c] = directions[i, c]
            continue
        vz = zz = norm = 0.0
        for c in range(d):
            vz = vz + signs[i] * witness[i * d + c] * directions[i, c]
            zz = zz + directions[i, c] * directions[i, c]
        vz = vz / zz
        for c in range(d):
            t = directions[i, c] - step_z * (signs[i] * witness[i * d + c] - vz * directions[i, c])
            log_w[c] = t  # (the masses are written: log_w is free)
            norm = norm + t * t
        norm = sqrt(norm)
        for c in range(d):
            out_directions[i, c] = <floating>(log_w[c] / norm)


cdef inline void run_chunk(Py_ssize_t r, const floating[:, ::1] data, const floating[:, ::1] walkers,
                           const floating[:, ::1] noise, floating[:, ::1] out_walkers, const Neurons* nn,
                           double step_x, const Chunks* moved, const Chunks* points, double* scratch,
                           const Py_ssize_t w) noexcept nogil:
    # chunk r: the walkers' chunks first, then the data's
    if r < moved.count:
        walker_chunk(walkers, noise, out_walkers, nn, step_x, chunk_start(moved, r), chunk_start(moved, r + 1),
                     scratch + r * moved.size, w)
    else:
        data_chunk(data, nn, chunk_start(points, r - moved.count), chunk_start(points, r - moved.count + 1),
                   scratch + r * moved.size, w)


def gda_iteration(const floating[:, ::1] data, const floating[:, ::1] walkers, const floating[:, ::1] directions,
                  const floating[::1] signs, const floating[::1] masses, const floating[:, ::1] noise,
                  double step_x, double step_z, double step_w, double beta, floating[:, ::1] out_walkers,
                  floating[:, ::1] out_directions, floating[::1] out_masses):
    """Twin of ``refefl.gda._kernels.gda_iteration`` (one pass over the walkers and one over the data, on the
    same threads, then the neuron step; see the module docstring)."""
    cdef Py_ssize_t r, i, c, n = directions.shape[0], d = directions.shape[1], w = width(d)
    cdef Py_ssize_t n_data = data.shape[0], n_walkers = walkers.shape[0]
    # shapes only (the kernel reads every row, so a mismatch would read out of bounds); values are not checked
    if not (n >= 1 and n_data >= 1 and noise.shape[0] == n_data and n_walkers == 2 * n_data
            and data.shape[1] == walkers.shape[1] == noise.shape[1] == d
            and out_walkers.shape[0] == n_walkers and out_walkers.shape[1] == d
            and out_directions.shape[0] == n and out_directions.shape[1] == d
            and signs.shape[0] == masses.shape[0] == out_masses.shape[0] == n):
        raise ValueError("gda_iteration: data (N, d), walkers and out_walkers (2N, d), noise (N, d), directions and "
                         "out_directions (n, d), signs, masses and out_masses (n,), with N, n >= 1")
    cdef Neurons nn
    cdef Chunks moved = make_chunks(n_walkers, n, w), points = make_chunks(n_data, n, w)
    cdef Py_ssize_t count = moved.count + points.count
    # neurons (2 n w), the chunks' scratch, then the witness (n d, in the dtype) and the neuron step's (max(n, d))
    cdef double[::1] buffer = cvarray((2 * n * w + count * moved.size + n * d + max(n, d),), sizeof(double), "d")
    cdef double* scratch = &buffer[2 * n * w]
    cdef floating* witness = <floating*>(scratch + count * moved.size)
    cdef double walker_sum, data_sum
    load_neurons(directions, signs, masses, &buffer[0], &nn)
    with nogil:
        with parallel(use_threads_if=count > 2 and (n_walkers + n_data) * n * d >= PARALLEL_MIN_ELEMENTS):
            for r in prange(count, schedule="dynamic"):
                if w == 3:  # the widths the passes are compiled for (see width)
                    run_chunk(r, data, walkers, noise, out_walkers, &nn, step_x, &moved, &points, scratch, 3)
                elif w == 8:
                    run_chunk(r, data, walkers, noise, out_walkers, &nn, step_x, &moved, &points, scratch, 8)
                elif w == 16:
                    run_chunk(r, data, walkers, noise, out_walkers, &nn, step_x, &moved, &points, scratch, 16)
                else:
                    run_chunk(r, data, walkers, noise, out_walkers, &nn, step_x, &moved, &points, scratch, w)
        # D_i = (data moment) / N - (walker moment) / M, each summed over its chunks in order
        for i in range(n):
            for c in range(d):
                walker_sum = data_sum = 0.0
                for r in range(moved.count):
                    walker_sum = walker_sum + scratch[r * moved.size + i * w + c]
                for r in range(moved.count, count):
                    data_sum = data_sum + scratch[r * moved.size + i * w + c]
                witness[i * d + c] = <floating>(data_sum / n_data - walker_sum / n_walkers)
        neuron_step(directions, signs, masses, witness, step_z, step_w, beta,
                    scratch + count * moved.size + n * d, out_directions, out_masses)
