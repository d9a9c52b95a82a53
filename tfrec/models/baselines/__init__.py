"""The baselines, in numpy and scipy: popularity, bias, svd, itemknn, ease, content_knn.

Each model is one file; their SavedModels score with :mod:`tfrec.models.scorers`.
"""
