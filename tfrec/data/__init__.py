"""Datasets: the registry, MovieLens parsers, the synthetic generator, the schema."""

from tfrec.data.registry import data_root, dataset_names, fetch, load_dataset
from tfrec.data.schema import Dataset

__all__ = ["Dataset", "data_root", "dataset_names", "fetch", "load_dataset"]
