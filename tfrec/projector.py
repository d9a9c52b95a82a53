"""Item embeddings for TensorBoard's projector, labelled with item titles.

Written to ``<log_dir>/projector/``, a TensorBoard run of its own (with a
one-line text summary, since TensorBoard lists only directories holding
event files): ``tensorboard --logdir RUN_DIR/logs`` then shows the model's
item vectors in the Projector tab, each point named by its item ID and
title (search a title, see its neighbours).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.io import write_text

METADATA = "item_metadata.tsv"
CHECKPOINT = "item_embeddings.ckpt"


def write_model_projector(model, log_dir, items: pd.DataFrame) -> Path | None:
    """Writes a fitted model's item embeddings (:func:`write_projector`), if it has any.

    Returns:
        The metadata file's path, or None for a model without item embeddings.
    """
    vectors = model.item_embeddings()
    if vectors is None:
        return None
    return write_projector(log_dir, vectors, model.item_ids_, items)


def write_projector(log_dir, vectors: np.ndarray, item_ids: np.ndarray, items: pd.DataFrame):
    """Writes the vectors (a checkpoint), their metadata and the projector config.

    Args:
        log_dir: The TensorBoard log directory (files go to its ``projector/``).
        vectors: (n_items, d) item embeddings, in ``item_ids`` order.
        item_ids: The items' raw IDs.
        items: The dataset's item table (``item_id``, ``title``).

    Returns:
        The path of the metadata file.
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    log_dir = Path(log_dir) / "projector"
    shutil.rmtree(log_dir, ignore_errors=True)
    titles = items.set_index("item_id")["title"].reindex(item_ids).fillna("")
    clean = titles.astype(str).str.replace(r"[\t\r\n]+", " ", regex=True)
    rows = [f"{item_id}\t{title}" for item_id, title in zip(item_ids, clean, strict=True)]
    metadata = write_text(log_dir / METADATA, "item_id\ttitle\n" + "\n".join(rows) + "\n")
    checkpoint = tf.train.Checkpoint(item_embeddings=tf.Variable(np.asarray(vectors, np.float32)))
    checkpoint.save(str(log_dir / CHECKPOINT))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = "item_embeddings/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = METADATA
    projector.visualize_embeddings(str(log_dir), config)
    with tf.summary.create_file_writer(str(log_dir)).as_default():
        tf.summary.text(
            "item_embeddings", f"{len(vectors)} items x {vectors.shape[1]} dimensions", step=0
        )
    return metadata
