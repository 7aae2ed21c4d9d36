"""One rule book from API value to staging value: the normalizer (vectorized for well-typed columns, element by
element otherwise) and provisioning's per-record `row_from_record` agree on every value, good or bad."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from connectors.igi.convert import InvalidValue, convert_value
from connectors.igi.entities import ENTITIES, USERS, Column
from connectors.igi.normalize import normalize_records
from connectors.igi.provisioning_staging import row_from_record

# Well-typed users, one per line: every kind, the edge of each rule (32-bit range, -1, "never", zones, 7 digits).
USERS_IN = [
    {"id": 1, "userName": "a", "displayName": "Ann", "emailAddress": None, "domainId": -1, "domainName": None,
     "enabled": True, "isApplicationAccount": None, "isLockedOut": False, "loginFailures": 0,
     "lastLogin": "0001-01-01T00:00:00", "created": "2024-03-01T10:20:30"},
    {"id": 2**31 - 1, "userName": "ünï", "displayName": "", "emailAddress": "b@x", "domainId": 3,
     "domainName": "CORP", "enabled": False, "isApplicationAccount": True, "isLockedOut": None,
     "loginFailures": -2**31, "lastLogin": "2024-03-01T10:20:30.1234567", "created": "2024-03-01T12:20:30+02:00"},
    {"id": 3, "userName": "c", "displayName": None, "emailAddress": None, "domainId": None, "domainName": "",
     "enabled": True, "isApplicationAccount": False, "isLockedOut": True, "loginFailures": None,
     "lastLogin": "2024-03-01T10:20:30Z", "created": None},
    {"id": 4, "userName": "d", "displayName": "D", "emailAddress": "d@x", "domainId": 0, "domainName": None,
     "enabled": True, "isApplicationAccount": False, "isLockedOut": False, "loginFailures": 7,
     "lastLogin": "2024-03-01", "created": "2024-03-01T10:20:30.5+0000"},
]
# Values of another type that the int rule still takes, so that every int column goes element by element.
LOOSE_INTS = {"id": "5", "domainId": 9.0, "loginFailures": " 12 "}
# One value per column that no rule takes: in a chunk, it sends every column down the element-by-element path.
WRONG = {"id": [1], "userName": 1, "displayName": {}, "emailAddress": b"x", "domainId": "x", "domainName": 2,
         "enabled": "true", "isApplicationAccount": 1, "isLockedOut": 0, "loginFailures": True,
         "lastLogin": 20240301, "created": "2024-13-01T00:00:00"}
BAD_VALUES = {
    "int": [True, 2**31, -2**31 - 1, "1.5", 1.5, "abc", "", [], "2147483648"],
    "bool": [1, 0, "true", "false", [], 1.0],
    "text": [5, 1.5, True, "a\x00b", [], {}],
    "timestamp": ["not a time", "2024-13-01", 5, "a\x00", "", "9999-12-31T23:59:59"],
}


def _python(value: Any) -> Any:
    """A frame cell as the COPY to staging sends it (timestamps to the microsecond)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime(warn=False)
    return value.item() if hasattr(value, "item") else value


def _frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _python(v) for k, v in row.items()} for row in frame.astype(object).to_dict("records")]


def test_the_vectorized_path_the_per_element_path_and_provisioning_give_the_same_rows():
    fast = normalize_records(USERS, USERS_IN)
    assert not fast.rejects
    # ids 10.. so that the wrong record (id [1]) cannot collide; then each column holds some wrong value
    slow = normalize_records(USERS, [{**r, "id": 10 + i} for i, r in enumerate(USERS_IN)] + [WRONG])
    assert [r.source_id for r in slow.rejects] == ["[1]"]
    provisioned = [row_from_record(USERS, r) for r in USERS_IN]

    assert _frame_rows(fast.frame) == provisioned
    assert _frame_rows(slow.frame) == [{**row, "user_id": 10 + i} for i, row in enumerate(provisioned)]
    assert provisioned[0]["domain_id"] is None and provisioned[0]["last_login"] is None  # -1 and "never"
    assert provisioned[0]["is_application_account"] is False  # the default
    assert provisioned[1]["created"] == datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)
    assert provisioned[1]["last_login"] == datetime(2024, 3, 1, 10, 20, 30, 123456, tzinfo=UTC)


def test_loose_integers_are_taken_alike_by_both_paths():
    record = {**USERS_IN[0], **LOOSE_INTS}
    rows = _frame_rows(normalize_records(USERS, [record]).frame)
    assert rows == [row_from_record(USERS, record)]
    assert (rows[0]["user_id"], rows[0]["domain_id"], rows[0]["login_failures"]) == (5, 9, 12)


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
def test_a_value_no_rule_takes_is_refused_by_every_path(kind):
    column = Column("c", "c", kind)
    field = next(c.source for c in USERS.columns if c.kind == kind and c.name not in USERS.key)
    for value in BAD_VALUES[kind]:
        with pytest.raises(InvalidValue):
            convert_value(column, value)
        # alone in its column (the vectorized path where pandas sees one type), and among good values
        for records in ([{**USERS_IN[0], field: value}], [*USERS_IN[1:], {**USERS_IN[0], field: value}]):
            rejects = normalize_records(USERS, records).rejects
            expected = f"wrong type or value for {field} (expected {kind})"
            assert [r.reason.split(":")[0] for r in rejects] == [expected], (field, value)


def test_missing_values_take_the_declared_default():
    column = USERS.column("is_application_account")
    assert convert_value(column, None) is False and convert_value(column, float("nan")) is False
    assert convert_value(USERS.column("domain_id"), -1) is None


def test_a_declaration_travels_between_processes_as_itself():
    for entity in ENTITIES.values():
        assert pickle.loads(pickle.dumps(entity)) is entity
    with pytest.raises(ValueError, match="required or default"):
        Column("x", "x", "bool", required=True, default=False)
