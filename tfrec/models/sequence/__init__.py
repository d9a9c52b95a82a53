"""Next-item models over watch sequences: ``lstm`` (``lstm.py``), networks in ``encoders.py``."""
