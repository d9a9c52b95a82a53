"""Matrix factorisation: ``mf`` (biased MF for ratings) and ``gmf`` (NCF's GMF, implicit).

``mf.py`` is the model; ``mf_trainer.py`` its tables and update rule (row-wise
sparse Adagrad, one XLA loop per epoch); ``mf_distributed.py`` runs the same
steps under a tf.distribute strategy.
"""
