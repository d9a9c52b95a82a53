"""The ranking stage: a feature-crossing ranker (``dcn``) and retrieval + ranking cascades."""
