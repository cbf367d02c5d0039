"""Build facts of the compiled kernels: whether OpenMP was on and how many threads it may use."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define REFEFL_OPENMP 1
    static int refefl_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define REFEFL_OPENMP 0
    static int refefl_max_threads(void) { return 1; }
    #endif
    """
    int REFEFL_OPENMP
    int refefl_max_threads()

OPENMP = bool(REFEFL_OPENMP)


def max_threads():
    """Number of threads a ``prange`` loop may use (1 without OpenMP)."""
    return refefl_max_threads()
