"""Item and interaction features: genres, tag TF-IDF, text vectors, cyclic time."""
