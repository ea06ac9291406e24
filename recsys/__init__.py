"""crossmedia's recommender: interaction store, implicit CF models, hybrid blend, evaluation.

Imports nothing else of crossmedia: content vectors come in as arrays.
"""
