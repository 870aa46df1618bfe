"""RadLabel's shared vocabulary: pure code that the web app (``annotator``) and the worker
(``worker``, ``worker/ml``) both import. No Django, no ORM, no torch."""
