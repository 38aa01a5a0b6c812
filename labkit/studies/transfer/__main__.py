"""``python -m labkit.studies.transfer``: the study's command line (:func:`labkit.studies.transfer.main`)."""
# The importable package's main, not a __main__ copy: Ray then pickles the unit function by reference.
from labkit.studies.transfer import main

main()
