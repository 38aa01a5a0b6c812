"""``python -m labkit.studies.longtail``: the study's command line (:func:`labkit.studies.longtail.main`)."""
# The importable package's main, not a __main__ copy: Ray then pickles the unit function by reference.
from labkit.studies.longtail import main

main()
