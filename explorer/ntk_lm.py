"""Deprecated alias of :mod:`explorer.ntk.lm`, kept only while ``explorer/__main__.py`` still
imports it; run ``python -m explorer.ntk.lm``. Delete once nothing imports ``explorer.ntk_lm``."""

from .ntk.lm import OUTPUT, SENTENCES, compute, read_sentences, write

__all__ = ["OUTPUT", "SENTENCES", "compute", "read_sentences", "write"]
