"""mindspore.dataset.config: the dataset seed (`ds.config.set_seed(1)` seeds every shuffle and split)."""
from runtime.dataset.pipeline import get_seed, set_seed

__all__ = ["get_seed", "set_seed"]
