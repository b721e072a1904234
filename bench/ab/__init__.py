"""Head to head: two revisions, interpreters or images measured interleaved on one machine.

``sides`` turns ``rev:``, ``python:``, ``image:`` and ``current`` into the command that starts a
worker for each; ``worker`` is what runs in those processes (this checkout's harness, the side's
environment and workloads); ``session`` drives pairs of workers through interleaved blocks of
rounds; ``paired`` turns the blocks into ratios, intervals and verdicts.
"""
