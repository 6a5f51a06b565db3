"""The ground layer's records: every value that crosses a package boundary, defined once.

Nothing here imports another candor package except :mod:`candor.errors`, so any layer may name
a record without pulling in the layer that produces it.
"""
