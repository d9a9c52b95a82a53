"""Typed features of users, items and the request context.

A dataset may carry features beside its IDs (``Dataset.features``):

* ``user`` features are columns of ``Dataset.users`` (one row per user,
  ``user_id`` coded as in the ratings): age, country, plan, occupation;
* ``item`` features are columns of ``Dataset.items`` beyond ``title``,
  ``genres``, ``tags`` and ``year``: price, brand, description;
* ``context`` features are columns of ``Dataset.ratings`` itself, one value
  per interaction, known at request time: device, page;
* ``context_time`` adds the hour of day and the weekday of each
  interaction's timestamp, as cyclic features (:mod:`tfrec.features.time`).

Each feature has one of four types, and its values are held in the frames
(and taken raw by the SavedModels) as:

========== ====================================================== ==========
type       value                                                  missing
========== ====================================================== ==========
category   one string (numbers as written: ``"3"``)               ``""``
multi      one string, the values joined by ``|``                 ``""``
numeric    float32                                                NaN
text       one string of words                                    ``""``
========== ====================================================== ==========

The feature layer (:mod:`tfrec.features.layer`) turns them into tensors
inside the models, so a missing or unseen value never fails.
"""

from __future__ import annotations

import dataclasses

from tfrec.errors import ConfigError

FEATURE_TYPES = ("category", "multi", "numeric", "text")
SOURCES = ("user", "item", "context")
MULTI_SEP = "|"  # how a multi feature's values are joined in the frames and at serving
# The columns a feature of each source cannot be named after (the schema's own).
RESERVED = {
    "user": ("user_id",),
    "item": ("item_id", "title", "genres", "tags", "year"),
    "context": ("user_id", "item_id", "rating", "timestamp", "weight"),
}
FLAGS = {"user": "--user-features", "item": "--item-features", "context": "--context-features"}


@dataclasses.dataclass(frozen=True)
class Feature:
    """One typed feature.

    Attributes:
        name: Its column in the frame of its source.
        source: ``user``, ``item`` or ``context``.
        type: ``category``, ``multi``, ``numeric`` or ``text``.
    """

    name: str
    source: str
    type: str

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ConfigError(
                f"feature source must be one of {', '.join(SOURCES)}; got {self.source!r}"
            )
        if self.type not in FEATURE_TYPES:
            raise ConfigError(
                f"{FLAGS[self.source]}: unknown type {self.type!r} for feature {self.name!r}; "
                f"use one of {', '.join(FEATURE_TYPES)} (e.g. {self.name}=category)"
            )
        if not self.name:
            raise ConfigError(f"{FLAGS[self.source]}: a feature needs a column name")
        if self.name in RESERVED[self.source]:
            raise ConfigError(
                f"{FLAGS[self.source]}: {self.name!r} is a column tfrec reads itself; "
                f"a {self.source} feature cannot be named {', '.join(RESERVED[self.source])}"
            )

    @property
    def key(self) -> str:
        """The feature's input name in the models and SavedModels (``user_age``)."""
        return f"{self.source}_{self.name}"


@dataclasses.dataclass(frozen=True)
class FeatureSchema:
    """The features a dataset carries (empty: IDs, genres and tags only, as before).

    Attributes:
        features: The typed features, in the order given.
        context_time: Whether each interaction's hour of day and weekday
            (from its timestamp) are context features.
    """

    features: tuple[Feature, ...] = ()
    context_time: bool = False

    def __bool__(self) -> bool:
        return bool(self.features) or self.context_time

    def of(self, source: str) -> tuple[Feature, ...]:
        """The features of one source (``user``, ``item`` or ``context``)."""
        return tuple(f for f in self.features if f.source == source)

    def to_dict(self) -> dict:
        return {
            "features": [dataclasses.asdict(f) for f in self.features],
            "context_time": self.context_time,
        }

    @classmethod
    def from_dict(cls, values: dict | None) -> FeatureSchema:
        values = values or {}
        return cls(
            tuple(Feature(**f) for f in values.get("features", ())),
            bool(values.get("context_time", False)),
        )


def parse_features(text: str | dict | None, source: str) -> dict[str, str | None]:
    """``"age=numeric,gender=category,zip"`` -> ``{"age": "numeric", "gender":
    "category", "zip": None}`` (None: the type is detected from the values).

    Raises:
        ConfigError: An empty name or an unknown type, naming the flag.
    """
    if not text:
        return {}
    if isinstance(text, dict):
        pairs = dict(text)
    else:
        pairs = {}
        for part in str(text).split(","):
            name, _, kind = part.strip().partition("=")
            pairs[name.strip()] = kind.strip() or None
    for name, kind in pairs.items():
        if kind is not None:
            Feature(name, source, kind)  # validates the name and the type
        elif not name:
            raise ConfigError(f"{FLAGS[source]}: empty feature name in {text!r}")
    return pairs
