"""Normalize API records into typed pandas frames, driven by an entity declaration; validate, never drop silently.

Records arrive page by page; a `Normalizer` buffers one chunk of raw records at a time, converts it column by
column (vectorized, with a per-element slow path only when a column holds unexpected types) and keeps only
the typed frame, so memory is bounded by one chunk plus the normalized frames.

Types follow connectors/igi/convert.py (the one rule book, also used by provisioning's staging write-backs):
integers -> ``Int64``, booleans -> ``boolean``, text -> ``string``, times -> ``datetime64[ns, UTC]``. A column
whose chunk pandas sees as well typed is converted vectorized (to the same values); any other goes element by
element through `convert_value`.

Every record that fails is kept as a `Reject` with a reason: not an object, missing key, missing required
field, wrong type, neither user nor group on a permission, duplicate key (the first record with that key is
kept), or a reference to an unknown object (`check_references`). A reject whose key is known carries it, so
that the load leaves that object exactly as staging has it (a bad record is not evidence of a removal); a
reject whose key is unknown withholds every removal of its entity for the run (`removals_withheld`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from connectors.igi.convert import INT32, NEVER_PREFIX, InvalidValue, convert_value
from connectors.igi.entities import Column, Entity

_BAD = object()  # marks a value of the wrong type during conversion
_DTYPES = {"int": "Int64", "bool": "boolean", "text": "string", "timestamp": "datetime64[ns, UTC]"}
# What pandas infers for a column the vectorized path converts as is (else: element by element, convert.py)
_WELL_TYPED = {"int": ("integer", "empty"), "bool": ("boolean", "empty"), "text": ("string", "empty"),
               "timestamp": ("string", "empty")}


@dataclass
class Reject:
    """A record that failed validation, with why (kept in ss_staging.rejects)."""

    entity: str
    source_id: str | None
    reason: str
    record: Any  # the record as received; for duplicate and reference rejects, the normalized row
    key: tuple[int, ...] | None = None  # the object's key when known: staging keeps that object as it is


@dataclass
class Normalized:
    """One entity's snapshot: typed rows that passed validation, the rejects, and whether extraction finished."""

    entity: Entity
    frame: pd.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    scanned: int = 0
    complete: bool = True
    error: str | None = None

    def protected_keys(self) -> list[tuple[int, ...]]:
        """Keys of rejected records whose object staging keeps as it is."""
        return sorted({r.key for r in self.rejects if r.key is not None})

    def removals_withheld(self) -> str | None:
        """Why this snapshot cannot tell which objects are gone (None: it can). A record rejected without a
        usable key may stand for any object of the entity, so none of them may be taken as removed."""
        if not self.complete:
            return self.error or "extraction incomplete"
        unidentified = sum(r.key is None for r in self.rejects)
        if unidentified:
            return (f"removals withheld: {unidentified} record{'s' if unidentified > 1 else ''} rejected "
                    "without a usable id (see ss_staging.rejects)")
        return None

    def loaded_keys(self) -> pd.Index:
        """Keys of the loaded rows (single-column keys only: what references point at)."""
        return pd.Index(self.frame[self.entity.key[0]].dropna().astype("int64"))


def empty_frame(entity: Entity) -> pd.DataFrame:
    """A frame with the entity's typed columns and no rows."""
    return pd.DataFrame({c.name: pd.Series(dtype=_DTYPES[c.kind]) for c in entity.columns})


def _convert(column: Column, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(typed values, mask of entries of the wrong type) for one column of a chunk; defaults are not applied."""
    if pd.api.types.infer_dtype(raw, skipna=True) not in _WELL_TYPED[column.kind]:
        return _convert_each(column, raw)
    index = raw.index
    if column.kind == "int":
        values = raw.tolist()
        out_of_range = [v is not None and v == v and not -INT32 <= v < INT32 for v in values]  # v != v: NaN
        bad = pd.Series(out_of_range, index=index, dtype=bool)
        typed = pd.Series(pd.array([None if o else v for v, o in zip(values, out_of_range, strict=True)],
                                   dtype="Int64"), index=index)
        if column.minus_one_null:
            typed = typed.mask(typed == -1)
        return typed, bad
    if column.kind == "bool":
        return pd.Series(pd.array(raw.tolist(), dtype="boolean"), index=index), pd.Series(False, index=index)
    text = pd.Series(pd.array(raw.tolist(), dtype="string"), index=index)
    bad = text.str.contains("\x00", regex=False).fillna(False).astype(bool)
    text = text.mask(bad)
    if column.kind == "text":
        return text, bad
    text = text.mask(text.str.startswith(NEVER_PREFIX).fillna(False).astype(bool))
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad |= text.notna() & parsed.isna()
    return parsed.mask(bad), bad


def _convert_each(column: Column, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`_convert` for a column holding unexpected types: each value through `convert_value`."""
    untyped = Column(column.name, column.source, column.kind, minus_one_null=column.minus_one_null)

    def one(value: Any) -> Any:
        try:
            return convert_value(untyped, value)
        except InvalidValue:
            return _BAD

    values = [one(v) for v in raw.tolist()]
    bad = pd.Series([v is _BAD for v in values], index=raw.index, dtype=bool)
    clean = [None if v is _BAD else v for v in values]
    return pd.Series(clean, index=raw.index, dtype=_DTYPES[column.kind]), bad


def _first(reason: pd.Series, mask: pd.Series, message: str | pd.Series) -> pd.Series:
    """Set ``message`` where ``mask`` holds and no earlier reason was found."""
    return reason.where(~(mask & reason.isna()), message)


def _json_safe(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def rows_as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as JSON-safe dicts (a reject's record)."""
    return [{str(k): _json_safe(v) for k, v in row.items()} for row in frame.to_dict("records")]


class Normalizer:
    """Feed raw API records with `add`; `finish` returns the `Normalized` snapshot."""

    def __init__(self, entity: Entity, *, chunk_size: int = 10_000) -> None:
        self.entity = entity
        self.chunk_size = chunk_size
        self._buffer: list[Any] = []
        self._frames: list[pd.DataFrame] = []
        self.rejects: list[Reject] = []
        self.scanned = 0

    def add(self, record: Any) -> None:
        """Take one raw record (converted with its chunk)."""
        self.scanned += 1
        self._buffer.append(record)
        if len(self._buffer) >= self.chunk_size:
            self._flush()

    def add_all(self, records: Iterable[Any]) -> None:
        """Take every record of ``records``."""
        for record in records:
            self.add(record)

    def _flush(self) -> None:
        records, self._buffer = self._buffer, []
        if not records:
            return
        entity = self.entity
        objects = [r for r in records if isinstance(r, Mapping)]
        for r in records:
            if not isinstance(r, Mapping):
                self.rejects.append(Reject(entity.name, None, "not a JSON object", r))
        if not objects:
            return
        index = pd.RangeIndex(len(objects))
        reason = pd.Series(None, index=index, dtype=object)
        typed: dict[str, pd.Series] = {}
        for column in entity.columns:
            raw = pd.Series([r.get(column.source) for r in objects], index=index, dtype=object)
            values, bad = _convert(column, raw)
            if bad.any():
                shown = raw[bad].map(lambda v: repr(v)[:80])
                message = f"wrong type or value for {column.source} (expected {column.kind}): "
                reason = _first(reason, bad, message + shown)
            missing = values.isna() & ~bad
            if column.name in entity.key:
                reason = _first(reason, missing, f"missing key {column.source}")
            elif column.required:
                reason = _first(reason, missing, f"missing {column.source}")
            elif column.default is not None:
                values = values.fillna(column.default)
            typed[column.name] = values
        if entity.one_of:
            none_set = pd.concat([typed[c].isna() for c in entity.one_of], axis=1).all(axis=1)
            sources = " nor ".join(entity.column(c).source for c in entity.one_of)
            reason = _first(reason, none_set, f"neither {sources}")
        frame = pd.DataFrame(typed, index=index)
        failed = reason.notna()
        if failed.any():
            key_known = frame.loc[failed, list(entity.key)].notna().all(axis=1)
            for pos in failed[failed].index:
                key = tuple(int(typed[k].iloc[pos]) for k in entity.key) if key_known[pos] else None
                source_id = (":".join(map(str, key)) if key is not None
                             else _raw_id(objects[pos], entity.key_sources))
                self.rejects.append(Reject(entity.name, source_id, str(reason[pos]), objects[pos], key))
        self._frames.append(frame.loc[~failed])

    def finish(self, *, complete: bool = True, error: str | None = None) -> Normalized:
        """The snapshot of everything added, duplicate keys rejected; ``complete``/``error``: how extraction ended."""
        self._flush()
        frames = [f for f in self._frames if len(f)]
        frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(self.entity)
        self._frames = []
        key = list(self.entity.key)
        duplicated = frame.duplicated(subset=key, keep="first")
        if duplicated.any():
            for row in rows_as_records(frame.loc[duplicated]):
                key_text = ":".join(str(row[k]) for k in key)
                self.rejects.append(Reject(
                    self.entity.name, key_text,
                    f"duplicate key {'/'.join(key)} {key_text}: the first record with this key was kept", row,
                    tuple(int(row[k]) for k in key),
                ))
            frame = frame.loc[~duplicated].reset_index(drop=True)
        return Normalized(self.entity, frame, self.rejects, self.scanned, complete, error)


def _raw_id(record: Mapping[str, Any], sources: list[str]) -> str | None:
    values = [record.get(s) for s in sources]
    if all(v is None for v in values):
        return None
    return ":".join("" if v is None else str(v)[:80] for v in values)


def normalize_records(entity: Entity, records: Iterable[Any], *, chunk_size: int = 10_000) -> Normalized:
    """The snapshot of ``records``, read completely."""
    normalizer = Normalizer(entity, chunk_size=chunk_size)
    normalizer.add_all(records)
    return normalizer.finish()


def concat_snapshots(entity: Entity, parts: Sequence[Normalized]) -> Normalized:
    """One snapshot from the snapshots of disjoint slices of a fan-out (their parents differ, so do their keys)."""
    frames = [p.frame for p in parts if len(p.frame)]
    errors = [p.error for p in parts if p.error]
    return Normalized(
        entity,
        pd.concat(frames, ignore_index=True) if frames else empty_frame(entity),
        rejects=[r for p in parts for r in p.rejects],
        scanned=sum(p.scanned for p in parts),
        complete=all(p.complete for p in parts),
        error="; ".join(errors) if errors else None,
    )


def check_references(snapshot: Normalized, known: Mapping[str, Collection[int]]) -> None:
    """Move rows whose references name an object not in ``known[entity]`` to the rejects (in place)."""
    entity, frame = snapshot.entity, snapshot.frame
    if not entity.references or frame.empty:
        return
    reason = pd.Series(None, index=frame.index, dtype=object)
    for ref in entity.references:
        column = frame[ref.column]
        present = column.notna()
        bad = present & ~column.astype("Int64").isin(pd.Index(list(known[ref.entity]), dtype="int64"))
        bad = bad.fillna(False).astype(bool)
        if ref.unless_set:
            bad &= frame[ref.unless_set].isna()
        if bad.any():
            message = (f"{ref.column} " + column[bad].astype(str) + f" is not a known {ref.entity} object")
            reason = _first(reason, bad, message)
    failed = reason.notna()
    if not failed.any():
        return
    key = list(entity.key)
    for row, why in zip(rows_as_records(frame.loc[failed]), reason[failed], strict=True):
        key_values = tuple(int(row[k]) for k in key)
        snapshot.rejects.append(Reject(entity.name, ":".join(map(str, key_values)), str(why), row, key_values))
    snapshot.frame = frame.loc[~failed].reset_index(drop=True)
