"""Benchmarks, run as scripts (``.venv/bin/python bench/x.py``), and the parts they share.

A package so that each module has one name, ``bench.x``, whether a script imports it, a test
does (``from bench.corpus import ...``) or mypy checks it with the tests. Each script puts
the repository root on ``sys.path`` before its ``bench.`` imports.
"""
