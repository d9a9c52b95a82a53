"""Every model's search space holds its defaults, and Optuna can sample it."""

import pytest

from tfrec.models import is_available, model_class, model_names
from tfrec.tuning import space


@pytest.mark.parametrize("name", [n for n in model_names() if is_available(n)])
def test_the_defaults_lie_in_the_space(name):
    config = model_class(name).Config
    searched = space.searched(config)
    assert space.defaults(config, searched).keys() == searched.keys()
    assert space.distributions(searched).keys() == searched.keys()


def test_a_grid_becomes_choices_and_a_range_wins():
    from tfrec.models.baselines.svd import SVDConfig

    assert isinstance(SVDConfig.search_space()["k"], space.Range | list)
    assert space.size({"a": [1, 2], "b": space.Range(1, 4)}) == 8
    assert space.size({"c": space.Range(0.1, 1.0, log=True)}) == float("inf")
    assert space.describe({"c": space.Range(0.1, 1.0, log=True)}) == {"c": "float log [0.1, 1.0]"}
