"""Retrieval with tensorflow-recommenders: ``two_tower`` and ``lstm_retrieval``.

``index.py`` serves their exports from a TFRS top-k index.
"""
