"""The student loop: run a kata (runner, plugin, gating; the warm server that answers make kata, shards that give it two cores), re-run on save (watch), milestones, parity with PyTorch.

Imports only the shared modules of ``dojo`` (curriculum, impl, progress, report, stubs, threads).
"""
