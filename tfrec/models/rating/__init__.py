"""The Keras rating models: ``dnn`` and ``hybrid`` over ``keras_rating.KerasRatingModel``,
and ``blend``, a linear blend of other models' predictions.
"""
