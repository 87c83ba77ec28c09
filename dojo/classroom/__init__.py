"""The classroom: fork CI and its judge (ci, judge, guard, probes, manifest), the cohort board, the
projector view and step reveals for live sessions, and the capstone check.

Imports the shared modules and :mod:`dojo.student`, never :mod:`dojo.maintainers`.
"""
