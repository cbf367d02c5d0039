"""Build of the Cython kernels in ``refefl_ext`` (metadata lives in pyproject.toml).

Compiler directives are set once here for every kernel. ``REFEFL_CYTHON_DEBUG=1`` turns bounds checking,
wraparound and initialization checks back on for debugging. OpenMP is used when the compiler accepts
``-fopenmp``; otherwise the kernels build without it and ``prange`` runs serially.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("REFEFL_CYTHON_DEBUG") == "1"
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "nonecheck": DEBUG,
}


def _openmp_flags():
    """Return the OpenMP compile/link flags if the C compiler accepts them, else an empty list."""
    if sys.platform == "win32" or os.environ.get("REFEFL_NO_OPENMP") == "1":
        return []
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler.split()[0]) is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "omp.c"
        src.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")
        cmd = compiler.split() + ["-fopenmp", str(src), "-o", str(Path(tmp) / "omp")]
        ok = subprocess.run(cmd, capture_output=True).returncode == 0
    return ["-fopenmp"] if ok else []


OPENMP = _openmp_flags()
COMPILE_ARGS = ["-O3"] + OPENMP + (["-O0", "-g"] if DEBUG else [])

extensions = [
    Extension(
        f"refefl_ext.{path.stem}",
        [str(path)],
        extra_compile_args=COMPILE_ARGS,
        extra_link_args=OPENMP,
    )
    for path in sorted(Path("refefl_ext").glob("_*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=DIRECTIVES,
    ),
)
