"""tradepay's benchmark suite: the host measured against a hand-written floor, side by side, in one run.

Run ``python benchmarks/run.py`` (quick), ``--full`` (the figures of ``docs/performance.md``, with the growth
tables) or ``--json`` (one JSON object, for comparing runs). The benchmarks are not part of the test suite;
``tests/test_benchmarks_smoke.py`` only checks that ``--smoke`` (tiny sizes) runs and prints every key.
"""
