# Helpers shared by the kernels (inline, nogil): traced scratch buffers, the scan of a row of scores (max and
# status), a dtype-level lower cut,
# and the candidate filter.
from cython cimport floating
from libc.math cimport INFINITY, fabs
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, realloc


cdef extern from "Python.h":
    # safe without the GIL (they take it themselves, and return at once when tracemalloc is off)
    int PyTraceMalloc_Track(unsigned int domain, uintptr_t ptr, size_t size) nogil
    int PyTraceMalloc_Untrack(unsigned int domain, uintptr_t ptr) nogil

cdef enum:
    # Rows go to OpenMP threads only when a batch has this many elements in all: below it, waking the
    # threads costs about as much as the work (measured: ~0.05 ms for 1e5 elements on one core).
    PARALLEL_MIN_ELEMENTS = 1 << 18


cdef enum:
    SCRATCH_DOMAIN = 0x7EFE  # tracemalloc domain of the kernels' scratch (benchmarks count it in the peak)


cdef struct Scratch:
    double* data
    Py_ssize_t capacity  # in doubles


cdef inline bint scratch_reserve(Scratch* s, Py_ssize_t size) noexcept nogil:
    # grow s to at least `size` doubles (at least doubling); False if memory ran out (s is left valid)
    cdef Py_ssize_t capacity = size if size > 2 * s.capacity else 2 * s.capacity
    cdef double* data
    if size <= s.capacity:
        return True
    if s.data != NULL:  # untracked before realloc, which may free it
        PyTraceMalloc_Untrack(SCRATCH_DOMAIN, <uintptr_t>s.data)
    data = <double*>realloc(s.data, capacity * sizeof(double))
    if data == NULL:
        if s.data != NULL:
            PyTraceMalloc_Track(SCRATCH_DOMAIN, <uintptr_t>s.data, s.capacity * sizeof(double))
        return False
    PyTraceMalloc_Track(SCRATCH_DOMAIN, <uintptr_t>data, capacity * sizeof(double))
    s.data = data
    s.capacity = capacity
    return True


cdef inline void scratch_release(Scratch* s) noexcept nogil:
    if s.data != NULL:
        PyTraceMalloc_Untrack(SCRATCH_DOMAIN, <uintptr_t>s.data)
        free(s.data)
    s.data = NULL
    s.capacity = 0


cdef enum:
    # a row's status, as refefl._validation.SCORES_* (the Python caller raises on it)
    SCORES_OK = 0
    SCORES_NAN = 1
    SCORES_POS_INF = 2
    SCORES_TOO_FEW_FINITE = 3


cdef struct ScoreScan:
    signed char status  # SCORES_*
    double maximum      # the row max, NaN skipped (exact for float32 rows as well)
    Py_ssize_t n_finite  # entries above −inf: the finite ones, on a valid row


cdef inline signed char row_status(bint nan, double maximum, Py_ssize_t n_finite, double min_finite) noexcept nogil:
    # the status of a row from what a scan found: NaN first, then +inf, then too few entries above −inf
    if nan:
        return SCORES_NAN
    if maximum == INFINITY:
        return SCORES_POS_INF
    return SCORES_TOO_FEW_FINITE if n_finite < min_finite else SCORES_OK


cdef inline ScoreScan scan_scores(const floating* x, Py_ssize_t n, double min_finite) noexcept nogil:
    # the pass every score kernel starts with: the row max, the entries above −inf, and the row's status (NaN,
    # +inf, fewer than min_finite entries above −inf). The fast pass keeps four maxima (a single running max is
    # latency-bound) and four sums of x − x, which stay exactly 0 unless an entry is NaN or ±inf; only then
    # (NaN, +inf, or the allowed −inf) does a second, exact pass sort the cases out. A struct is returned, not
    # written through pointers, so that the variables receiving it inside prange are thread-private.
    cdef floating m0 = -INFINITY, m1 = -INFINITY, m2 = -INFINITY, m3 = -INFINITY
    cdef floating d0 = 0, d1 = 0, d2 = 0, d3 = 0
    cdef Py_ssize_t i = 0
    cdef bint nan = False
    cdef ScoreScan scan
    while i + 4 <= n:
        m0 = x[i] if x[i] > m0 else m0
        m1 = x[i + 1] if x[i + 1] > m1 else m1
        m2 = x[i + 2] if x[i + 2] > m2 else m2
        m3 = x[i + 3] if x[i + 3] > m3 else m3
        d0 += x[i] - x[i]
        d1 += x[i + 1] - x[i + 1]
        d2 += x[i + 2] - x[i + 2]
        d3 += x[i + 3] - x[i + 3]
        i += 4
    while i < n:
        m0 = x[i] if x[i] > m0 else m0
        d0 += x[i] - x[i]
        i += 1
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    scan.maximum = m2 if m2 > m0 else m0
    scan.n_finite = n
    if (d0 + d1) + (d2 + d3) != 0:  # NaN: some entry is NaN or ±inf
        scan.n_finite = 0
        for i in range(n):
            nan |= x[i] != x[i]
            scan.n_finite += x[i] > -INFINITY
    scan.status = row_status(nan, scan.maximum, scan.n_finite, min_finite)
    return scan


cdef inline floating lower_cut(double level, double shift, floating dtype_tag) noexcept nogil:
    # a value of the row's dtype below level + shift by more than the rounding of either dtype, so that
    # `x <= cut` implies `x − shift <= level`: a test in the row's dtype that discards most of a row
    cdef double c = level + shift
    if floating is float:
        return <float>(c - fabs(c) * 2.0 ** -21 - 1e-30)
    else:
        return c - fabs(c) * 2.0 ** -49 - 1e-300


cdef enum:
    CHUNK = 64  # rows are scanned for candidates in chunks of this many entries


cdef inline Py_ssize_t collect_above(const floating* x, Py_ssize_t n, floating cut, double shift, double scale,
                                     Scratch* z) noexcept nogil:
    # z = [scale·(x_i − shift) for x_i > cut]; chunks with no such x_i are skipped by a vectorizable test, the
    # others are compacted branch-free (every x_i is stored, only the kept ones advance k). z grows as needed,
    # so it stays about the size of the candidate set. Returns −1 if memory ran out.
    cdef Py_ssize_t start = 0, stop, i, k = 0
    cdef int hit
    while start < n:
        stop = start + CHUNK if start + CHUNK < n else n
        hit = 0
        for i in range(start, stop):
            hit |= x[i] > cut
        if hit:
            if not scratch_reserve(z, k + CHUNK):
                return -1
            for i in range(start, stop):
                z.data[k] = scale * (x[i] - shift)
                k += x[i] > cut
        start = stop
    return k
