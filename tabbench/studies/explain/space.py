"""The interpretable feature space: one column per dataset feature, in original units.

Explanations are computed on the matrix the ``gbdt`` preprocessor makes (see
:mod:`tabbench.methods.preprocess`): numbers stay as they are (so a rule's threshold is in the
column's own units) and each categorical column holds the code of its training category.
:class:`FeatureSpace` knows the names and kinds of those columns and the category behind
every code, so rules can print categories by name, and it turns a (perturbed) matrix back
into a frame for models of other families, whose own preprocessing then applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from tabbench.methods.preprocess import Preprocessor

__all__ = ["FeatureSpace", "feature_space"]


@dataclass(frozen=True, eq=False)
class FeatureSpace:
    """Names, kinds and category vocabularies of the interpretable matrix's columns.

    Attributes
    ----------
    names : tuple of str
        Column names (the dataset's feature columns, in order).
    kinds : tuple of str
        ``numeric``, ``boolean`` or ``categorical`` per column.
    categories : dict of int to polars.Series
        For each categorical column index, its training categories in code order
        (``categories[j][c]`` is the value coded ``c``), in the column's own dtype.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    categories: dict[int, pl.Series]

    @property
    def categorical(self) -> tuple[int, ...]:
        """Indices of the categorical columns."""
        return tuple(sorted(self.categories))

    def vocab(self) -> dict[str, list[str]]:
        """``name → category labels by code`` for the categorical columns (for rule text)."""
        return {self.names[j]: [str(v) for v in values.to_list()]
                for j, values in self.categories.items()}

    def decode(self, Z: np.ndarray) -> pl.DataFrame:
        """Turn a matrix of this space back into a frame of the original feature columns.

        Codes become their categories (NaN → null), numbers become ``Float64`` (NaN → null).
        Other families' preprocessors read such a frame as they read the dataset.
        """
        columns = []
        for j, name in enumerate(self.names):
            values = pl.Series(name, np.asarray(Z[:, j], dtype=np.float64)).fill_nan(None)
            if j in self.categories:
                values = self.categories[j].gather(values.cast(pl.Int64)).alias(name)
            columns.append(values)
        return pl.DataFrame(columns)


def feature_space(preprocessor: Preprocessor, frame: pl.DataFrame,
                  features: Mapping[str, str]) -> FeatureSpace:
    """The :class:`FeatureSpace` of a ``gbdt`` preprocessor fitted on ``frame``.

    The preprocessor has no public accessor for its category vocabulary, so the vocabulary
    is read off its output: one training row per distinct category is transformed and the
    code it gets is recorded. That is exact by construction, whatever order the
    preprocessor gives its codes.

    Parameters
    ----------
    preprocessor : Preprocessor
        A fitted preprocessor of the ``gbdt`` family (one output column per feature).
    frame : polars.DataFrame
        The training rows it was fitted on.
    features : mapping of str to str
        The feature columns and their kinds, as handed to ``fit``.
    """
    names = tuple(features)
    if tuple(preprocessor.feature_names_) != names:
        message = (f"the interpretable space needs one output column per feature (the gbdt "
                   f"preprocessing); got {len(preprocessor.feature_names_)} outputs for "
                   f"{len(names)} features")
        raise ValueError(message)
    categories: dict[int, pl.Series] = {}
    for j in preprocessor.categorical_:
        name = names[j]
        firsts = frame.unique(subset=[name], keep="first", maintain_order=True)
        codes = preprocessor.transform(firsts)[:, j]
        seen = np.isfinite(codes)
        values, codes = firsts.get_column(name).filter(pl.Series(seen)), codes[seen]
        categories[j] = values.gather(np.argsort(codes, kind="stable")).alias(name)
    return FeatureSpace(names, tuple(features[n] for n in names), categories)

