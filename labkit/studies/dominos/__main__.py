"""``python -m labkit.studies.dominos``: the study's command line (:func:`labkit.studies.dominos.main`)."""
# The importable package's main, not a __main__ copy: Ray then pickles the unit function by reference.
from labkit.studies.dominos import main

main()
