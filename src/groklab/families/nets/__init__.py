"""What the network families share: the stacked-ensemble optimizer step (:mod:`.optim`), the
weight penalties through :mod:`groklab.penalties` (:mod:`.penalty`), and the probed fast matmul
and small ops (:mod:`.ops`).  Not a family itself (it registers nothing)."""
