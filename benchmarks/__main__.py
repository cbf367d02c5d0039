import os
import sys

# one BLAS thread, set before NumPy loads: the model-level benchmarks time small matrix products, whose medians
# swing by 10x when a threaded BLAS competes for busy cores (the setting is stamped in their tables)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from benchmarks.run import main  # noqa: E402

sys.exit(main())
