"""Training support shared by the Keras models.

``keras_fit`` (callbacks, input under a strategy, history), ``best_epoch``
(early stopping that keeps the best weights), ``ranking_stopping`` (early
stopping on validation ranking quality) and ``lazy_adam`` (sparse Adam).
"""
