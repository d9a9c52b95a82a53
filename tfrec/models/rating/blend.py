"""A linear blend of other models' rating predictions.

    r_hat = w_0 + sum_c w_c * r_hat_c

Each component is fitted on the training split (with its own early stopping
on validation); the weights are then fitted by least squares on the
validation ratings. For ``--refit`` the components are refitted on train +
validation with the settings chosen on validation, and the weights kept.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tfrec.errors import ConfigError, TfrecError
from tfrec.models.base import ModelConfig, Recommender


@dataclasses.dataclass
class BlendConfig(ModelConfig):
    """Options of the blend.

    Attributes:
        components: Names of the blended rating models.
        component_options: Per-component config overrides, ``{name: {...}}``.
        weights: Intercept then one weight per component; learned on
            validation when None.
    """

    components: tuple[str, ...] = ("mf", "itemknn", "svd", "bias")
    component_options: dict = dataclasses.field(default_factory=dict)
    weights: tuple[float, ...] | None = None

    def validate(self):
        from tfrec.models import model_class

        self.components = tuple(self.components)
        if not self.components:
            raise ConfigError("components must name at least one model; got ()")
        for name in self.components:
            if name == "blend" or not model_class(name).predicts_ratings:
                raise ConfigError(f"components must be rating models; got {name!r}")
        if self.weights is not None:
            self.weights = tuple(float(w) for w in self.weights)
            if len(self.weights) != len(self.components) + 1:
                raise ConfigError(
                    f"weights must be an intercept plus one per component "
                    f"({len(self.components) + 1} numbers); got {self.weights}"
                )

    def to_dict(self):
        values = super().to_dict()
        values["components"] = list(self.components)
        values["weights"] = list(self.weights) if self.weights is not None else None
        return values


class Blend(Recommender):
    """Least-squares blend of rating models, weights fitted on validation."""

    name = "blend"
    Config = BlendConfig
    chosen_on_validation = ("weights",)

    def _fit(self, data, split, options) -> None:
        from tfrec.models import get_model

        c = self.config
        self.components_ = [
            get_model(name, dict(c.component_options.get(name, {}))).fit(
                split, verbose=options.verbose
            )
            for name in c.components
        ]
        self.uses_timestamps = any(m.uses_timestamps for m in self.components_)
        if c.weights is not None:
            self.weights_ = np.asarray(c.weights, np.float64)
            return
        validation = split.validation
        users, items, ok = self.known_pairs(validation)
        if not ok.any():
            raise ConfigError(
                "blend needs validation ratings to fit its weights; use a split "
                "with validation, or set weights"
            )
        times = validation["timestamp"].to_numpy()[ok]
        columns = [
            self._component_predictions(m, users[ok], items[ok], times) for m in self.components_
        ]
        design = np.column_stack([np.ones(ok.sum()), *columns])
        target = validation["rating"].to_numpy(np.float64)[ok]
        self.weights_ = np.linalg.lstsq(design, target, rcond=None)[0]

    @staticmethod
    def _component_predictions(model, users, items, times=None):
        if times is not None and model.uses_timestamps:
            return model._predict_at(users, items, times).astype(np.float64)
        return model._predict(users, items).astype(np.float64)

    def refit_options(self) -> dict:
        options = {
            m.name: {**self.config.component_options.get(m.name, {}), **m.refit_options()}
            for m in self.components_
        }
        return {"component_options": options, "weights": tuple(self.weights_.tolist())}

    def _predict(self, users, items):
        return self._predict_at(users, items, None)

    def _predict_at(self, users, items, timestamps):
        out = np.full(len(users), self.weights_[0])
        for weight, model in zip(self.weights_[1:], self.components_, strict=True):
            out += weight * self._component_predictions(model, users, items, timestamps)
        return out.astype(np.float32)

    def _score(self, users):
        out = np.full((len(users), len(self.item_ids_)), self.weights_[0], np.float32)
        for weight, model in zip(self.weights_[1:], self.components_, strict=True):
            out += np.float32(weight) * model._score(users)
        return out

    def serving_scorer(self, seen):
        from tfrec.models.scorers import BlendScorer

        return BlendScorer([m.serving_scorer(seen) for m in self.components_], self.weights_)

    def _arrays(self):
        return {"weights": self.weights_}

    def _load_arrays(self, arrays):
        self.weights_ = arrays["weights"]

    def _save_extra(self, directory: Path):
        for model in self.components_:
            model.save(directory / "components" / model.name)

    def _load_extra(self, directory: Path):
        from tfrec.models import load_model

        try:
            self.components_ = [
                load_model(directory / "components" / name) for name in self.config.components
            ]
        except FileNotFoundError as e:
            raise TfrecError(f"{directory}: a blend component is missing ({e})") from None
        self.uses_timestamps = any(m.uses_timestamps for m in self.components_)
