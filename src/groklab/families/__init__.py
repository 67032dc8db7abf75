"""The built-in experiment families, one package each.

Every package here is a family (see :mod:`groklab.family` for the contract): its ``__init__``
builds its :class:`groklab.family.Family` record(s) from torch-free modules (the config) and
registers them; the tensor side (data, engines, theory) sits in modules the record names and the
registry imports on first use.  ``nets`` is not a family: it holds what the network families
share (stacked-ensemble optimizers, the oneDNN matmul probe).
"""
