"""Milestones: historic results re-run with your tinytorch (see katas/curriculum.toml).

Each ``mNN_<name>.py`` module exposes ``run(quick=False, seed=0, log=print) -> dict`` with at
least ``metric``, ``dataset`` and ``seconds``. ``python -m dojo milestone NN`` (``make milestone
M=NN``) runs one and compares its metric with the target.
"""
