"""Training: bars → labelled matrix → purged walk-forward → ensemble → report → artifact.

Modules, in the order a training runs through them: :mod:`.matrix` (features and labels aligned),
:mod:`.stacking` (walk-forward stacking of the members), :mod:`.run` (``train``: folds, holdout,
production fit), :mod:`.report` (the typed report and its gates), :mod:`.tuning` (nested Optuna),
:mod:`.device` (CPU/GPU choice), :mod:`.workflow` (train, save, publish) and :mod:`.universe`
(many series at once).
"""
