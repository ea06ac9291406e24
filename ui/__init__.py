"""crossmedia ui: the command line, the chat app and its API.

The app's processes run BLAS (OpenBLAS under NumPy and SciPy) on one thread unless the user
says otherwise: implicit's ALS parallelises over users itself and warns, under the first answer
that fits it, when BLAS keeps its own thread pool; every bench here runs that way too. Set
before NumPy loads, since OpenBLAS reads it once.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
