"""CPU benchmarks of refefl: compiled kernels vs the NumPy reference vs peers, checked for agreement first."""
