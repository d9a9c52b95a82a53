"""The cross network of DCN-v2 (Wang et al., WWW 2021), over TFRS's ``Cross`` layer.

One cross layer maps the input x_0 and the previous layer's x_l to

    x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l

with W_l a full d x d matrix, or with ``projection_dim`` r the low-rank
W_l = V_l U_l^T (U_l, V_l: d x r), the paper's low-rank variant.
``tfrs.layers.dcn.Cross`` computes one such layer; :func:`cross_network`
stacks them and adds the deep part, stacked (cross, then the MLP) or
parallel (the MLP on x_0 beside the cross network, outputs concatenated).
"""

from __future__ import annotations

import tensorflow_recommenders as tfrs
import tf_keras as keras

STRUCTURES = ("stacked", "parallel")


def cross_network(
    x0,
    cross_layers: int,
    hidden_units: tuple[int, ...],
    dropout: float,
    structure: str,
    projection_dim: int | None,
    seed: int,
):
    """The cross and deep parts of DCN-v2 above the input vector ``x0`` (a Keras tensor).

    Args:
        x0: [batch, d] concatenated embeddings and feature encodings.
        cross_layers: Cross layers stacked (0: none, a plain MLP).
        hidden_units: The deep part's ReLU layer sizes.
        dropout: Dropout after each deep layer.
        structure: ``stacked`` or ``parallel``.
        projection_dim: Rank r of the low-rank cross matrices; None: full rank.
        seed: Seed of the initialisers and dropout.

    Returns:
        The [batch, d'] tensor the output layer reads.
    """
    x = x0
    for layer in range(cross_layers):
        cross = tfrs.layers.dcn.Cross(
            projection_dim=projection_dim,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02, seed=seed + layer),
            name=f"cross_{layer}",
        )
        x = cross(x0, x)

    def deep(h):
        for i, units in enumerate(hidden_units):
            h = keras.layers.Dense(units, activation="relu", name=f"deep_{i}")(h)
            h = keras.layers.Dropout(dropout, seed=seed)(h)
        return h

    if structure == "stacked":
        return deep(x)
    return keras.layers.Concatenate(name="cross_and_deep")([x, deep(x0)])
