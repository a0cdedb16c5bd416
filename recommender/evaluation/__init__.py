"""Offline evaluation of :mod:`recommender.algorithms` (no Django): ``python -m recommender.evaluation``."""
