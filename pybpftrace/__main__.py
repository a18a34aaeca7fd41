"""`python -m pybpftrace` runs the command-line tracer."""
import sys

from pybpftrace.cli import main

sys.exit(main())
