"""Operations: the production loop around the registry's champions.

:mod:`.forecast` (champions × newest bars → ``ml_forecasts``), :mod:`.consensus` (timeframes
vote per symbol), :mod:`.drift` (late labels, realised accuracy, PSI, calibration),
:mod:`.alerts` (webhook), :mod:`.weights` (the weekly ensemble-weights refit), :mod:`.retrain`
(full retrain of a series) and :mod:`.jobs` (the APScheduler cron loop over all of them).
"""
