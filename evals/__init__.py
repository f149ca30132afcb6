"""Evals as code: datasets the team writes, metrics, the runner, the report and the regression gate.

Nothing imports ``evals``; it imports whatever it measures. Entry points: ``evals.runner.run_eval``
(called by ``anquan eval``) and ``evals.gate.check_against_baseline``.
"""
