"""The model registry on MLflow's Model Registry: versions, gates, champion alias, audit trail.

One registered model per series (``candor.SPX.d1``). Lifecycle of a version, kept in its
``status`` tag: ``staged`` (registered) → ``validated`` / ``failed`` (gates) → ``archived``.
"In production" is *not* a tag: it is the ``champion`` alias, the single source of truth, so no
second piece of state can disagree with it after a crash. The previous champion carries
``previous``; rollback swaps the two. Every alias move is written to the store's
``alias_events`` first and applied second — see :mod:`candor.registry.aliases` for why that is
safe under SIGKILL, and :func:`Registry.reconcile` for the repair every mutating call runs first.

Nothing here is global: a :class:`Registry` is built from an ``MlflowClient`` (or a tracking URI)
and a SQLAlchemy engine of the operational store, and handed to whoever needs it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from candor.config import safe_uri
from candor.errors import NotFoundError, RegistryError
from candor.records.verdict import Verdict
from candor.registry import loading
from candor.registry.aliases import CHAMPION, PREVIOUS, SHADOW, AliasMove, ReconcileFix, apply_moves, current_aliases, reconcile
from candor.registry.artifact import MANIFEST_FILE, CandorModel, sha256_file, verify_artifact
from candor.registry.champions import Champion, champion_index, check_age, pages
from candor.registry.common import (
    ARCHIVED, DEFAULT_HORIZON, FAILED, GATE_REASONS, MANIFEST_SHA, METRIC_TAGS, OWNER_HOST, OWNER_PID,
    PRIOR_WEIGHT_TAG, PUBLISH_STATE, PUBLISHING, STAGED, STATUS, VALIDATED, WEIGHTS_TAG, Comparison,
    HistoryRow, Lazy, ModelSummary, RegisteredVersion, first_line, is_not_found, mlflow_errors, manifest_model_name,
    model_name, resolve_name, series_label, weights_tag,
)
from candor.registry.compare import compare_versions
from candor.records.manifest import Manifest
from candor.registry.state import RegistryState
from candor.registry.gates import Gate, GateResult, default_gates, failure_reasons, run_gates

if TYPE_CHECKING:  # MLflow (1-1.5 s of imports) loads when a client is first used (see _client)
    from mlflow import MlflowClient

    from candor.registry.direct import DirectReader

_TAG_LIMIT = 4000


def _invalidates(method: Callable[..., Any]) -> Callable[..., Any]:
    """A mutating call forgets the cached read state, whether it finished or failed half-way."""
    @functools.wraps(method)
    def wrapper(self: Registry, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            self.state.invalidate()
    return wrapper


def _client(client_or_uri: MlflowClient | str) -> MlflowClient:
    if isinstance(client_or_uri, str):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=client_or_uri, registry_uri=client_or_uri)
    return client_or_uri


class Registry:
    """Register, judge, promote, roll back, archive, delete, compare and load model versions.

    Built once per process by :func:`candor.services.open_services` with the configured gates and
    age rule; the loaded-model cache lives here, so every caller shares it.
    """

    def __init__(self, client_or_uri: MlflowClient | Lazy | str, engine: Engine, *,
                 gates: Sequence[Gate] | None = None, max_model_age_days: int | None = None,
                 cache_dir: Path | None = None, uri: str | None = None, reader: DirectReader | None = None) -> None:
        """``uri`` names the store in messages (default: the client's); ``reader`` answers the
        champion, shadow and version reads from MLflow's tables without MLflow (writes, and reads it
        cannot answer, go to the client)."""
        self.client = _client(client_or_uri)
        self.reader = reader
        self.engine = engine
        self.gates = tuple(gates) if gates is not None else default_gates()
        self.max_model_age_days = max_model_age_days
        self.cache_dir = cache_dir
        self.models = loading.ModelCache()
        # list_models / history for the dashboard: cached, refreshed by the store's high-water mark.
        self.state = RegistryState(engine, self._read_models, self._read_history)
        self.uri = safe_uri(uri or str(getattr(self.client, "_registry_uri", None) or self.client.tracking_uri))

    # ---- lookups -------------------------------------------------------------------------
    def _model(self, name: str) -> Any:
        try:
            return self.client.get_registered_model(name)
        except Exception as exc:
            if not is_not_found(exc):
                raise
        known = [m.name for m in self.client.search_registered_models(max_results=20)]
        hint = f"; known models: {', '.join(sorted(known))}" if known else "; the registry is empty"
        raise NotFoundError(f"unknown model {name!r}{hint}") from None

    def version(self, name: str, version: str | int) -> Any:
        """The MLflow ``ModelVersion`` for a number or an alias (``champion``, ``@previous``)."""
        name = resolve_name(name)
        text = str(version).strip().lstrip("@")
        found = self.reader.version(name, text) if self.reader is not None and text else None
        if found is not None:
            return found
        with mlflow_errors(self.uri):  # not found by the reader: MLflow's answer, or its refusal
            model = self._model(name)
            if not text.isdigit():
                if text not in model.aliases:
                    have = ", ".join(sorted(model.aliases)) or "none"
                    raise NotFoundError(f"{name} has no alias {text!r} (aliases: {have})")
                return self.client.get_model_version(name, str(model.aliases[text]))
            try:
                return self.client.get_model_version(name, text)
            except Exception as exc:
                if not is_not_found(exc):
                    raise
            versions = sorted(int(v.version) for v in self.client.search_model_versions(f"name='{name}'"))
            raise NotFoundError(f"unknown version {text} of {name} (versions: "
                                f"{', '.join(map(str, versions)) or 'none'})") from None

    # ---- register / validate ---------------------------------------------------------------
    @_invalidates
    def register(self, run_id: str, artifact_dir: Path | str) -> RegisteredVersion:
        """Create a ``staged`` version from the run's logged ``model`` artifact.

        The SHA-256 of ``artifact_dir``'s manifest is recorded on the version; the logged copy must
        hash the same, so what was trained is exactly what will be loaded.
        """
        manifest = verify_artifact(Path(artifact_dir))
        sha = sha256_file(Path(artifact_dir) / MANIFEST_FILE)
        name = manifest_model_name(manifest)  # horizon 5 keeps the plain series name
        with mlflow_errors(self.uri):
            run = self._run(run_id)
            source = f"{run.info.artifact_uri.rstrip('/')}/model"
            loading.check_logged_copy(source, sha)
            self._ensure_model(name, manifest)
            tags = {STATUS: STAGED, MANIFEST_SHA: sha, **_version_tags(manifest, run.data.tags)}
            mv = self.client.create_model_version(name, source, run_id=run_id, tags=tags,
                                                  description=f"{series_label(name)} trained {manifest.created_at.isoformat()}")
        return RegisteredVersion(name, str(mv.version), run_id, STAGED, sha)

    def _run(self, run_id: str) -> Any:
        try:
            return self.client.get_run(run_id)
        except Exception as exc:
            if is_not_found(exc) or "not found" in first_line(exc).lower():
                raise NotFoundError(f"unknown MLflow run {run_id!r} in {self.uri}") from None
            raise

    def _ensure_model(self, name: str, manifest: Manifest) -> None:
        try:
            owner = self.client.get_registered_model(name).tags.get("symbol")
        except Exception as exc:
            if not is_not_found(exc):
                raise
        else:
            # ^ = / : become - in names: EURUSD=X and EURUSD-X share one; the first symbol keeps it
            if owner and owner != manifest.symbol:
                raise RegistryError(
                    f"{name} holds the models of symbol {owner!r}; {manifest.symbol!r} would share its name "
                    "(^ = / and : become - in a model name). Store and train this series under another "
                    "symbol (e.g. --symbol with letters, digits, . and _ only).")
            return
        tags = {"symbol": manifest.symbol, "timeframe": manifest.timeframe}
        try:
            self.client.create_registered_model(name, tags=tags,
                                                description=f"candor direction models for {series_label(name)}")
        except Exception as exc:  # created meanwhile by another process: fine
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise

    @_invalidates
    def validate(self, name: str, version: str | int) -> RegisteredVersion:
        """Run the gates on the version's stored report; tag ``validated`` or ``failed`` + reasons."""
        mv = self.version(name, version)
        status = mv.tags.get(STATUS, STAGED)
        if status == ARCHIVED:
            raise RegistryError(f"version {mv.version} of {mv.name} is archived; it cannot be re-validated.")
        manifest = self.verified_manifest(mv)
        results: list[GateResult] = run_gates(manifest.report, self.gates)
        reasons = failure_reasons(results)
        status = FAILED if reasons else VALIDATED
        with mlflow_errors(self.uri):
            self.client.set_model_version_tag(mv.name, mv.version, STATUS, status)
            self.client.set_model_version_tag(mv.name, mv.version, GATE_REASONS,
                                              "\n".join(reasons)[:_TAG_LIMIT])
        return RegisteredVersion(mv.name, str(mv.version), mv.run_id, status,
                                 mv.tags.get(MANIFEST_SHA, ""), tuple(reasons))

    @_invalidates
    def mark_failed(self, name: str, version: str | int, reason: str) -> RegisteredVersion:
        """Tag a version ``failed`` with ``reason`` first among its gate reasons, whatever its gates said
        (an interrupted publish, a derived model that could not be evaluated): never promoted
        without ``--force``."""
        mv = self.version(name, version)
        reasons = [reason, *(r for r in mv.tags.get(GATE_REASONS, "").split("\n") if r and r != reason)]
        with mlflow_errors(self.uri):
            self.client.set_model_version_tag(mv.name, mv.version, STATUS, FAILED)
            self.client.set_model_version_tag(mv.name, mv.version, GATE_REASONS, "\n".join(reasons)[:_TAG_LIMIT])
        return RegisteredVersion(mv.name, str(mv.version), mv.run_id, FAILED, mv.tags.get(MANIFEST_SHA, ""),
                                 tuple(reasons))

    def _check_published(self, mv: Any) -> None:
        """Refuse a version whose publish has not finished: its run is still tagged ``publishing``
        (in flight, or its writer was killed and ``candor registry reconcile`` has not repaired it)."""
        try:
            tags = self.client.get_run(mv.run_id).data.tags
        except Exception as exc:
            if is_not_found(exc) or "not found" in first_line(exc).lower():
                return  # a run deleted by hand: nothing says the publish was interrupted
            raise
        if tags.get(PUBLISH_STATE) == PUBLISHING:
            raise RegistryError(f"version {mv.version} of {mv.name} is still being published (run {mv.run_id}, "
                                f"process {tags.get(OWNER_PID, '?')} on {tags.get(OWNER_HOST, '?')}); if that "
                                f"process was killed, run `candor registry reconcile {mv.name}` first.")

    @_invalidates
    def record_universe_verdict(self, name: str, version: str | int, *, adjusted_p_value: float, verdict: str,
                                correction: str, n_series: int, require_edge: bool) -> RegisteredVersion:
        """Tag the verdict a version's edge keeps after the correction across the universe it was
        trained in; with ``require_edge`` a ``validated`` version whose adjusted verdict is not a
        significant edge becomes ``failed`` with that reason (a champion keeps its alias: demoting
        is a person's decision, ``candor registry rollback``)."""
        mv = self.version(name, version)
        status = mv.tags.get(STATUS, STAGED)
        reasons = [r for r in mv.tags.get(GATE_REASONS, "").split("\n") if r]
        with mlflow_errors(self.uri):
            for key, value in (("adjusted_p_value", f"{adjusted_p_value:.6g}"), ("adjusted_verdict", verdict),
                               ("correction", correction), ("universe_size", str(n_series))):
                self.client.set_model_version_tag(mv.name, mv.version, key, value)
            if require_edge and status == VALIDATED and verdict != Verdict.SIGNIFICANT_EDGE:
                status = FAILED
                reasons.append(f"universe_edge: adjusted p = {adjusted_p_value:.3f} across {n_series} series "
                               f"({correction}); verdict: {verdict!r}")
                self.client.set_model_version_tag(mv.name, mv.version, STATUS, status)
                self.client.set_model_version_tag(mv.name, mv.version, GATE_REASONS, "\n".join(reasons)[:_TAG_LIMIT])
        return RegisteredVersion(mv.name, str(mv.version), mv.run_id, status, mv.tags.get(MANIFEST_SHA, ""),
                                 tuple(reasons))

    # ---- alias moves -----------------------------------------------------------------------
    def _target_ok(self, name: str) -> Any:
        def ok(alias: str, version: str, action: str) -> bool:
            try:
                status = self.client.get_model_version(name, version).tags.get(STATUS)
            except Exception as exc:
                if is_not_found(exc):
                    return False
                raise
            if status == ARCHIVED:
                return False
            return alias != CHAMPION or status == VALIDATED or action in ("force_promote", "rollback", "auto_rollback")
        return ok

    @_invalidates
    def reconcile(self, name: str) -> list[ReconcileFix]:
        """Make the audit trail and the aliases agree (roll interrupted moves forward)."""
        name = resolve_name(name)
        with mlflow_errors(self.uri):
            self._model(name)
            return reconcile(self.client, self.engine, name, self._target_ok(name))

    @_invalidates
    def promote(self, name: str, version: str | int, *, force: bool = False, actor: str,
                reason: str | None = None) -> RegisteredVersion:
        """Move ``champion`` to a validated version (``force`` overrides, recorded as force_promote)."""
        name = resolve_name(name)
        self.reconcile(name)
        mv = self.version(name, version)
        status = mv.tags.get(STATUS, STAGED)
        if status == ARCHIVED:
            raise RegistryError(f"version {mv.version} of {name} is archived; register a new version instead.")
        if status != VALIDATED and not force:
            why = _reasons(mv) or "not validated yet"
            raise RegistryError(f"version {mv.version} of {name} is {status} ({why}); only validated versions "
                                "are promoted — pass --force to override (recorded in the audit trail).")
        with mlflow_errors(self.uri):
            self._check_published(mv)
            aliases = current_aliases(self.client, name)
            old = aliases.get(CHAMPION)
            if old == str(mv.version):
                raise RegistryError(f"version {mv.version} is already the champion of {name}.")
            moves = [AliasMove(CHAMPION, old, str(mv.version))]
            if old is not None:
                moves.insert(0, AliasMove(PREVIOUS, aliases.get(PREVIOUS), old))
            if aliases.get(SHADOW) == str(mv.version):  # a shadow that is promoted stops shadowing
                moves.insert(0, AliasMove(SHADOW, str(mv.version), None))
            apply_moves(self.client, self.engine, name, moves, action="force_promote" if force else "promote",
                        actor=actor, reason=reason)
        return RegisteredVersion(name, str(mv.version), mv.run_id, status, mv.tags.get(MANIFEST_SHA, ""),
                                 promoted=True, note=f"previous champion: {old or 'none'}")

    @_invalidates
    def shadow(self, name: str, version: str | int, *, replace: bool = False, actor: str,
               reason: str | None = None) -> RegisteredVersion:
        """Put a validated, non-champion version in the ``shadow`` alias (audited as ``shadow``).

        One shadow per model: a second is refused unless ``replace``. Its forecasts are written
        beside the champion's, flagged and never served; the drift job compares the two on the same
        resolved rows and promotes the shadow only when it is significantly better."""
        name = resolve_name(name)
        self.reconcile(name)
        mv = self.version(name, version)
        text, status = str(mv.version), mv.tags.get(STATUS, STAGED)
        if status != VALIDATED:
            why = f" ({_reasons(mv)})" if status == FAILED and _reasons(mv) else ""
            raise RegistryError(f"version {text} of {name} is {status}{why}; only a validated version can be "
                                "put in shadow.")
        with mlflow_errors(self.uri):
            self._check_published(mv)
            aliases = current_aliases(self.client, name)
            if aliases.get(CHAMPION) == text:
                raise RegistryError(f"version {text} is the champion of {name}; a shadow challenges the champion.")
            current = aliases.get(SHADOW)
            if current == text:
                raise RegistryError(f"version {text} is already the shadow of {name}.")
            if current is not None and not replace:
                raise RegistryError(f"{name} already has a shadow (version {current}); one shadow per series — "
                                    "pass --replace to put this one in its place.")
            apply_moves(self.client, self.engine, name, [AliasMove(SHADOW, current, text)], action="shadow",
                        actor=actor, reason=reason)
        return RegisteredVersion(name, text, mv.run_id, status, mv.tags.get(MANIFEST_SHA, ""),
                                 note=f"replaced shadow {current}" if current else "")

    def shadow_index(self) -> dict[str, str]:
        """Registered name → shadow version for every candor model that has one (one paged query)."""
        found = self.reader.aliased(SHADOW) if self.reader is not None else None
        if found is not None:
            return {name: row.version for name, row in found.items()}
        with mlflow_errors(self.uri):
            models = pages(self.client.search_registered_models, filter_string="name LIKE 'candor.%'")
        return {m.name: str(m.aliases[SHADOW]) for m in models if SHADOW in (m.aliases or {})}

    @_invalidates
    def rollback(self, name: str, *, actor: str, reason: str | None = None,
                 automatic: bool = False) -> RegisteredVersion:
        """Swap ``champion`` and ``previous`` (``automatic`` marks a drift-monitor rollback)."""
        name = resolve_name(name)
        self.reconcile(name)
        with mlflow_errors(self.uri):
            aliases = current_aliases(self.client, name)
            champion, previous = aliases.get(CHAMPION), aliases.get(PREVIOUS)
            if champion is None:
                raise RegistryError(f"{name} has no champion to roll back.")
            if previous is None:
                raise RegistryError(f"{name} has no previous champion to roll back to.")
            moves = [AliasMove(PREVIOUS, previous, champion), AliasMove(CHAMPION, champion, previous)]
            if aliases.get(SHADOW) == previous:  # the version that serves again stops shadowing
                moves.insert(0, AliasMove(SHADOW, previous, None))
            apply_moves(self.client, self.engine, name, moves,
                        action="auto_rollback" if automatic else "rollback", actor=actor, reason=reason)
            mv = self.client.get_model_version(name, previous)
        return RegisteredVersion(name, previous, mv.run_id, mv.tags.get(STATUS, STAGED),
                                 mv.tags.get(MANIFEST_SHA, ""), promoted=True, note=f"replaced {champion}")

    def _refuse_champion(self, name: str, version: str, verb: str) -> dict[str, str]:
        aliases = current_aliases(self.client, name)
        if aliases.get(CHAMPION) == version:
            raise RegistryError(f"version {version} is the champion of {name}; refusing to {verb} it — "
                                "promote another version or roll back first.")
        return aliases

    @_invalidates
    def archive(self, name: str, version: str | int, *, actor: str, reason: str | None = None) -> RegisteredVersion:
        """Tag ``archived`` (never the champion); an archived ``previous`` loses that alias."""
        name = resolve_name(name)
        self.reconcile(name)
        mv = self.version(name, version)
        with mlflow_errors(self.uri):
            aliases = self._refuse_champion(name, str(mv.version), "archive")
            held = [AliasMove(a, str(mv.version), None) for a in (PREVIOUS, SHADOW) if aliases.get(a) == str(mv.version)]
            if held:
                apply_moves(self.client, self.engine, name, held, action="archive", actor=actor, reason=reason)
            self.client.set_model_version_tag(name, mv.version, STATUS, ARCHIVED)
        return RegisteredVersion(name, str(mv.version), mv.run_id, ARCHIVED, mv.tags.get(MANIFEST_SHA, ""))

    @_invalidates
    def delete(self, name: str, version: str | int, *, actor: str, reason: str | None = None) -> None:
        """Delete a version from MLflow (never the champion; a deleted ``previous`` is audited)."""
        name = resolve_name(name)
        self.reconcile(name)
        mv = self.version(name, version)
        with mlflow_errors(self.uri):
            aliases = self._refuse_champion(name, str(mv.version), "delete")
            held = [AliasMove(a, str(mv.version), None) for a in (PREVIOUS, SHADOW) if aliases.get(a) == str(mv.version)]
            if held:
                apply_moves(self.client, self.engine, name, held, action="delete", actor=actor, reason=reason)
            self.client.delete_model_version(name, mv.version)

    # ---- read-only views -------------------------------------------------------------------
    def history(self, name: str) -> list[HistoryRow]:
        """Every version, newest first: status, aliases, key metrics, gate reasons (from the cached
        registry state: see :mod:`candor.registry.state`)."""
        return self.state.history(resolve_name(name))

    def list_models(self) -> list[ModelSummary]:
        """Every candor registered model with its champion, previous and version count (cached
        registry state, refreshed when an alias moves or a training is recorded anywhere)."""
        return self.state.models()

    def _read_history(self, name: str) -> list[HistoryRow]:
        with mlflow_errors(self.uri):
            model = self._model(name)
            by_version: dict[str, list[str]] = {}
            for alias, v in model.aliases.items():
                by_version.setdefault(str(v), []).append(alias)
            versions = self.client.search_model_versions(f"name='{name}'")
        rows = [_history_row(mv, tuple(sorted(by_version.get(str(mv.version), [])))) for mv in versions]
        return sorted(rows, key=lambda r: int(r.version), reverse=True)

    def _read_models(self) -> list[ModelSummary]:
        """Every model and every version in two paged queries (not one version query per model; the
        plain search also stopped at MLflow's default page of 100 models)."""
        with mlflow_errors(self.uri):
            models = pages(self.client.search_registered_models, filter_string="name LIKE 'candor.%'")
            numbers: dict[str, list[int]] = {}
            tags: dict[tuple[str, str], dict[str, str]] = {}
            for mv in pages(self.client.search_model_versions, filter_string="name LIKE 'candor.%'"):
                numbers.setdefault(str(mv.name), []).append(int(mv.version))
                tags[(str(mv.name), str(mv.version))] = dict(mv.tags or {})
        out = []
        for m in sorted(models, key=lambda m: m.name):
            versions = numbers.get(m.name, [])
            champion = _alias(m, CHAMPION)
            served = tags.get((m.name, champion), {}) if champion else {}
            out.append(ModelSummary(m.name, len(versions), str(max(versions)) if versions else None,
                                    champion, _alias(m, PREVIOUS), weights=served.get(WEIGHTS_TAG),
                                    prior_weight=_tag_number(served.get(PRIOR_WEIGHT_TAG))))
        return out

    def compare(self, name: str, challenger: str | int, champion: str | int | None = None, *,
                margin: float = 0.0, promote: bool = False, actor: str = "candor",
                reason: str | None = None, bars: Any = None, alpha: float = 0.05,
                n_boot: int = 1000) -> Comparison:
        """Challenger vs champion on the same rows by the paired test (given ``bars``; two-sided at
        ``alpha``); with ``promote``, promote when the challenger passed its gates and is not
        significantly worse — its lift's CI not wholly below ``−margin`` (:mod:`candor.registry.compare`)."""
        name = resolve_name(name)
        result = compare_versions(self.version, self.load_verified, name, challenger, champion, margin, bars,
                                  alpha=alpha, n_boot=n_boot)
        if promote and result.challenger_wins and result.champion != result.challenger:
            self.promote(name, result.challenger, actor=actor,
                         reason=reason or f"compare: {result.summary()}; {result.basis}, margin {margin}")
            return Comparison(**{**result.__dict__, "promoted": True})
        return result

    # ---- loading ---------------------------------------------------------------------------
    def verified_manifest(self, mv: Any) -> Manifest:
        """``mv``'s manifest, every file checked against the hash recorded at registration (once per
        artifact: a version already loaded and verified by this registry is not hashed again)."""
        return self.models.manifest(self.client, mv, self.cache_dir)

    def load_verified(self, mv: Any, *, lazy: bool = False) -> CandorModel:
        """``mv``'s model, hash-checked before unpickling, loaded once per process (cached); ``lazy``
        unpickles its estimator on first use."""
        return self.models.load(self.client, mv, self.cache_dir, lazy=lazy)

    def load(self, name: str, version: str | int) -> CandorModel:
        """A version's verified model by number or alias (``candor.SPX.d1``, ``champion``)."""
        return self.load_verified(self.version(name, version))

    def champion_index(self) -> dict[str, Any]:
        """Registered name → champion version for every candor model (two paged queries, or one
        query of MLflow's tables through the direct reader)."""
        found = self.reader.aliased(CHAMPION) if self.reader is not None else None
        if found is not None:
            return found
        with mlflow_errors(self.uri):
            return champion_index(self.client)

    def champion(self, symbol: str, timeframe: str, horizon: int | None = None, *, now: datetime | None = None,
                 index: dict[str, Any] | None = None, lazy: bool = False) -> Champion:
        """The champion of ``symbol/timeframe`` at ``horizon``: verified, cached, young enough.

        The one age rule (``max_model_age_days``) and the one set of refusals, each naming the
        command that fixes it. ``index`` (from :meth:`champion_index`) replaces the per-series
        lookups: a name missing from it has no champion (no registry round trip to confirm). Without
        an index the alias is read on every call, so a promotion elsewhere takes effect at once.
        ``lazy``: the estimator is unpickled on first use (:func:`~candor.registry.artifact.load_model`).
        """
        plain = horizon is None or int(horizon) == DEFAULT_HORIZON
        name = model_name(symbol, timeframe, horizon)
        label = f"{symbol}/{timeframe}" + ("" if plain else f" h{horizon}")
        hint = loading.train_hint(symbol, timeframe, None if plain else int(horizon))
        try:
            if index is not None and name not in index:
                raise RegistryError(f"{name} has no champion")
            mv = index[name] if index is not None else self.version(name, CHAMPION)
        except RegistryError:
            raise NotFoundError(f"no champion for {label} — run: {hint}") from None
        model = self.load_verified(mv, lazy=lazy)
        check_age(model, label, self.max_model_age_days, now or datetime.now(UTC), hint)
        expected = DEFAULT_HORIZON if horizon is None else int(horizon)
        if model.label_spec.horizon != expected:
            raise RegistryError(f"champion {name} v{mv.version} predicts {model.label_spec.horizon} bars ahead, "
                                f"not {expected}; register horizon-{expected} models as "
                                f"{model_name(symbol, timeframe, expected)}.")
        return Champion(model, str(mv.name), str(mv.version), expected, dict(mv.tags))


def _reasons(mv: Any) -> str:
    return "; ".join(line for line in mv.tags.get(GATE_REASONS, "").splitlines() if line)


def _tag_number(text: str | None) -> float | None:
    """A numeric version tag as a float; missing or unreadable → None."""
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _alias(model: Any, alias: str) -> str | None:
    value = model.aliases.get(alias)
    return None if value is None else str(value)


def _version_tags(manifest: Manifest, run_tags: dict[str, str]) -> dict[str, str]:
    report = manifest.report
    tags = {"symbol": manifest.symbol, "timeframe": manifest.timeframe, "trained_at": manifest.created_at.isoformat(),
            "data_fingerprint": manifest.data_fingerprint, "config_hash": manifest.config_hash,
            "verdict": str(report.oos.verdict)}
    for key in METRIC_TAGS:  # "oos_p_value" → report.oos.p_value
        section, _, metric = key.partition("_")
        value = getattr(report.holdout if section == "holdout" else report.oos, metric)
        if value is not None:
            tags[key] = f"{float(value):.6g}"
    for key in ("holdout_start", "holdout_end", "holdout_rows", "label_spec"):
        if key in run_tags:
            tags[key] = run_tags[key]
    if report.weights:  # what `registry list` shows of the champion: its weights beside the prior's share λ
        tags[WEIGHTS_TAG] = weights_tag(report.weights)
    if report.prior_weight is not None:
        tags[PRIOR_WEIGHT_TAG] = f"{report.prior_weight:.4g}"
    return tags


def _history_row(mv: Any, aliases: tuple[str, ...]) -> HistoryRow:
    metrics = {k: float(mv.tags[k]) for k in METRIC_TAGS if k in mv.tags}
    reasons = _reasons(mv)
    return HistoryRow(version=str(mv.version), status=mv.tags.get(STATUS, STAGED), aliases=aliases,
                      created=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC), run_id=mv.run_id,
                      metrics=metrics, verdict=mv.tags.get("verdict"), gate_reasons=reasons)
