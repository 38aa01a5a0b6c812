# Makes tests/models a package so its test files (test_registry.py, ...) cannot collide with
# same-named files in other tests/ folders under pytest's default import mode.
