"""The application layer: what a user runs, end to end, over services the shell opened.

``train.run_training`` (one series), ``universe.train_universe`` (many); the ops jobs
(:mod:`candor.ops`), the Freqtrade export and the data ingest sit at this level too. Nothing below
it imports it; the shells (CLI, API, scheduler) call it.
"""
