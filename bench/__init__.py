"""Benchmarks for recsite: ``python -m bench`` runs them all, ``python -m bench NAME`` one.

Each benchmark measures its baseline and its candidate in the same run (interleaved where
practical, because other work may share the CPU) and reports medians and ratios. Results are
printed and written as JSON to ``var/bench/NAME.json``.
"""
