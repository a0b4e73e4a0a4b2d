"""Pure spatial algorithms for xiaoan.

Only numpy, scipy, shapely, pyproj and opencv may be imported here: no I/O, no Flask,
nothing else of ours.
"""
