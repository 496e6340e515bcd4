"""Tests of every example: the scripts, the 2023 logs' golden answers, ``make demo`` and the reference's examples."""
