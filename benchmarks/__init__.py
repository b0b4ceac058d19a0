"""Speed and accuracy scripts, run from the repository root (`python benchmarks/NAME.py`); their
workers import shared code as `benchmarks.*`."""
