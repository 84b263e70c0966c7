"""Small pandas idioms shared by the stages, typed once."""

from __future__ import annotations

from typing import Any, overload

import pandas as pd

# pandas takes None as `where`'s replacement (an object column then holds None, which the
# databases read as NULL); pandas-stubs lists no None there, so it goes in untyped.
_NONE: Any = None


@overload
def none_where_not(data: pd.Series, keep: pd.Series) -> pd.Series: ...


@overload
def none_where_not(data: pd.DataFrame, keep: pd.DataFrame) -> pd.DataFrame: ...


def none_where_not(data: pd.Series | pd.DataFrame, keep: Any) -> pd.Series | pd.DataFrame:
    """`data` with None wherever `keep` is False (`data.where(keep, None)`)."""
    return data.where(keep, _NONE)
