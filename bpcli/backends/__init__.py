"""Numeric backends with one vocabulary, so each gate's forward is written once.

``scalar`` works on Python floats and needs no numpy (a scalar run starts fast);
``array`` works on numpy float64 arrays. Both follow numpy's IEEE semantics:
overflow gives inf and a domain error gives nan, never an exception or a
complex number.
"""
