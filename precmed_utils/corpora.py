"""Annotated-text corpora and the formats users bring: BRAT standoff, CoNLL/BIO, PHEE.

(Being written: concept_extraction.)
"""
