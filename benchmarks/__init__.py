"""tradepay's benchmark suite: the host measured against a fixed floor (``_floor.py``, the loop a user would
write without the host) and other hand-written baselines, side by side, in one run.

Run ``python benchmarks/run.py`` (quick), ``--full`` (the figures of ``docs/performance.md``, with the growth
tables) or ``--json`` (one JSON object, for comparing runs); ``instructions.py --count`` counts instructions per
payment and ``profile_chain.py`` shows where a payment's time goes. The benchmarks are not part of the test
suite; ``tests/test_benchmarks_smoke.py`` checks that ``--smoke`` (tiny sizes) runs and prints every key, and
that the floor emits the host's log events.
"""
