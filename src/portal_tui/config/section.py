"""The base of every config section: unknown keys refused, values frozen, types strict."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _kinds(annotation: Any) -> set[type]:
    """The plain types an annotation admits (``int | None`` → {int, NoneType})."""
    if get_origin(annotation) in (Union, types.UnionType):
        return {kind for arg in get_args(annotation) for kind in _kinds(arg)}
    return {annotation} if isinstance(annotation, type) else set()


class Section(BaseModel):
    # defer_build: a section's schema is built once, inside Config's, not again at import.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        """Numbers must be numbers and switches booleans (pydantic's lax mode converts).

        TOML has real numbers and booleans, so ``kpi = true`` or ``attempts = "5"``
        is a mistake to name, not a value to convert (``true`` would become 1).
        """
        kinds = _kinds(cls.model_fields[info.field_name or ""].annotation)
        if kinds & {int, float} and bool not in kinds and isinstance(value, (bool, str)):
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            raise ValueError(f"must be a number, not {shown}")
        if bool in kinds and value is not None and not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {value!r}")
        return value
