"""Published event versions never change incompatibly (docs/events.md, "Versioning").

The first tests hold every registered payload to its snapshot in contracts/events/; the rest
pin down ``incompatibilities`` on small hand-made schemas, one rule at a time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from shared import contracts
from shared.contracts import dump, incompatibilities, new_version_advice, schema_of
from shared.events import EVENT_TYPES

REGISTERED = sorted(EVENT_TYPES)


def published(event_type: str) -> dict[str, Any]:
    path = contracts.snapshot_path(event_type)
    if not path.is_file():
        pytest.skip(f"no snapshot of {event_type} (test_snapshot_exists reports it)")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- the registry against its snapshots


@pytest.mark.parametrize("event_type", REGISTERED)
def test_snapshot_exists(event_type: str) -> None:
    path = contracts.snapshot_path(event_type)
    assert path.is_file(), f"{event_type} has no snapshot {path.name} in contracts/events: run make contracts"


@pytest.mark.parametrize("event_type", REGISTERED)
def test_published_version_has_not_changed_incompatibly(event_type: str) -> None:
    payload_type = EVENT_TYPES[event_type]
    problems = incompatibilities(published(event_type), schema_of(payload_type))
    assert not problems, "\n".join(
        [f"{event_type} ({payload_type.__name__}) no longer matches its snapshot:"]
        + [f"  - {problem}" for problem in problems]
        + [new_version_advice(payload_type, event_type)]
    )


@pytest.mark.parametrize("event_type", REGISTERED)
def test_snapshot_is_up_to_date(event_type: str) -> None:
    snapshot, current = published(event_type), schema_of(EVENT_TYPES[event_type])
    if incompatibilities(snapshot, current):
        pytest.skip("changed incompatibly: test_published_version_has_not_changed_incompatibly reports it")
    assert snapshot == current, (
        f"{event_type} changed compatibly (at {', '.join(contracts.differences(snapshot, current))}):"
        " run make contracts to update the snapshot"
    )


def test_every_snapshot_has_a_registered_type() -> None:
    orphans = sorted(contracts.read_snapshots().keys() - EVENT_TYPES.keys())
    assert not orphans, (
        f"snapshots without a registered event type: {', '.join(orphans)}. A version was removed while its"
        " events may still be on a topic or waiting as dead letters: keep the class until its retention and"
        " replay window has passed, then delete the class and its snapshot together"
    )


def test_snapshot_files_are_canonical() -> None:
    """Pretty JSON with sorted keys and a trailing newline, as `make contracts` writes them: no hand edits."""
    for path in sorted(contracts.SNAPSHOT_DIR.glob("*.json")):
        assert path.read_text() == dump(json.loads(path.read_text())), f"{path.name}: run make contracts"


@pytest.mark.parametrize("event_type", REGISTERED)
def test_versioned_names(event_type: str) -> None:
    """``FooV<n>`` carries ``….v<n>``: the advice above, and readers, rely on the number."""
    payload_type = EVENT_TYPES[event_type]
    assert payload_type.event_type == event_type
    type_version = re.fullmatch(r"kipina\.[a-z_]+\.[a-z_]+\.v(\d+)", event_type)
    class_version = re.fullmatch(r"[A-Za-z]+V(\d+)", payload_type.__name__)
    assert type_version and class_version and type_version[1] == class_version[1], (
        f"{payload_type.__name__} / {event_type}: name payloads <Name>V<n> with event type kipina.<area>.<name>.v<n>"
    )


def test_advice_names_the_next_version() -> None:
    advice = new_version_advice(EVENT_TYPES["kipina.case.submitted.v1"], "kipina.case.submitted.v1")
    assert advice == (
        "published versions never change incompatibly: add CaseSubmittedV2 with event type"
        " kipina.case.submitted.v2 instead, and keep CaseSubmittedV1 until no consumer reads it"
    )


# --------------------------------------------------------------------------- the rules, on hand-made schemas


def obj(properties: dict[str, Any], required: list[str] | None = None, **more: Any) -> dict[str, Any]:
    """An object schema as pydantic writes one; ``required`` defaults to every property."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        **more,
    }


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NULL: dict[str, Any] = {"type": "null"}


def only(problems: list[str], *fragments: str) -> None:
    """Exactly one problem per fragment, each containing it."""
    assert len(problems) == len(fragments), problems
    for problem, fragment in zip(problems, fragments, strict=True):
        assert fragment in problem, problems


def test_identical_schemas_are_compatible() -> None:
    schema = obj({"a": STRING, "b": INTEGER})
    assert incompatibilities(schema, schema) == []


def test_annotations_are_compatible() -> None:
    old = obj({"a": {**STRING, "title": "A"}}, title="Old", description="before")
    new = obj({"a": {**STRING, "title": "Alpha", "description": "the a", "examples": ["x"]}}, title="New")
    assert incompatibilities(old, new) == []


def test_order_of_properties_and_required_does_not_matter() -> None:
    old = obj({"a": STRING, "b": INTEGER}, required=["a", "b"])
    new = obj({"b": INTEGER, "a": STRING}, required=["b", "a"])
    assert incompatibilities(old, new) == []


def test_removed_field_breaks() -> None:
    only(incompatibilities(obj({"a": STRING, "b": STRING}), obj({"a": STRING})), "$.b: field removed")


def test_removed_optional_field_breaks_too() -> None:
    old = obj({"a": STRING, "b": {**STRING, "default": ""}}, required=["a"])
    only(incompatibilities(old, obj({"a": STRING})), "$.b: field removed")


def test_added_required_field_breaks() -> None:
    problems = incompatibilities(obj({"a": STRING}), obj({"a": STRING, "b": STRING}))
    only(problems, "$.b: new required field without a default")


def test_added_field_with_default_is_compatible() -> None:
    new = obj({"a": STRING, "b": {**STRING, "default": ""}}, required=["a"])
    assert incompatibilities(obj({"a": STRING}), new) == []


def test_required_becoming_optional_is_compatible() -> None:
    old = obj({"a": STRING})
    new = obj({"a": {**STRING, "default": ""}}, required=[])
    assert incompatibilities(old, new) == []


def test_optional_becoming_required_breaks() -> None:
    old = obj({"a": {**STRING, "default": ""}}, required=[])
    only(incompatibilities(old, obj({"a": STRING})), "$.a: optional field became required")


def test_changed_type_breaks() -> None:
    only(incompatibilities(obj({"a": STRING}), obj({"a": INTEGER})), "$.a: type changed from string to integer")


def test_widening_integer_to_number_breaks_old_readers() -> None:
    only(incompatibilities(obj({"a": INTEGER}), obj({"a": {"type": "number"}})), "type changed from integer to number")


def test_removing_null_breaks_old_events_that_carried_null() -> None:
    old = obj({"a": {"anyOf": [STRING, NULL]}})
    only(incompatibilities(old, obj({"a": STRING})), "$.a: no longer accepts null")


def test_adding_null_breaks_old_readers() -> None:
    new = obj({"a": {"anyOf": [STRING, NULL]}})
    only(incompatibilities(obj({"a": STRING}), new), "$.a: now accepts null")


def test_type_list_and_any_of_are_the_same_nullable() -> None:
    old = obj({"a": {"anyOf": [STRING, NULL]}})
    new = obj({"a": {"type": ["string", "null"]}})
    assert incompatibilities(old, new) == []


def test_type_change_inside_a_nullable() -> None:
    old = obj({"a": {"anyOf": [STRING, NULL]}})
    new = obj({"a": {"anyOf": [INTEGER, NULL]}})
    only(incompatibilities(old, new), "$.a: type changed from string to integer")


def test_union_alternatives_added_and_removed() -> None:
    old = obj({"a": {"anyOf": [STRING, INTEGER]}})
    new = obj({"a": {"anyOf": [INTEGER, {"type": "boolean"}]}})
    only(incompatibilities(old, new), "$.a: alternative string removed", "$.a: alternative boolean added")


def test_enum_value_removed_breaks() -> None:
    old = obj({"a": {**STRING, "enum": ["x", "y"]}})
    new = obj({"a": {**STRING, "enum": ["x"]}})
    only(incompatibilities(old, new), '$.a: enum value "y" removed')


def test_enum_value_added_breaks_old_readers() -> None:
    old = obj({"a": {**STRING, "enum": ["x"]}})
    new = obj({"a": {**STRING, "enum": ["x", "z"]}})
    only(incompatibilities(old, new), '$.a: enum value "z" added')


def test_enum_order_does_not_matter() -> None:
    old = obj({"a": {**STRING, "enum": ["x", "y"]}})
    new = obj({"a": {**STRING, "enum": ["y", "x"]}})
    assert incompatibilities(old, new) == []


def test_enum_restriction_added_or_dropped_breaks() -> None:
    enum = obj({"a": {**STRING, "enum": ["x"]}})
    free = obj({"a": STRING})
    only(incompatibilities(free, enum), "$.a: now restricted to the values")
    only(incompatibilities(enum, free), "$.a: no longer restricted to the values")


def test_const_changed_breaks() -> None:
    x, y = obj({"a": {"const": "x"}}), obj({"a": {"const": "y"}})
    only(incompatibilities(x, y), '$.a: const changed from "x" to "y"')
    only(incompatibilities(obj({"a": STRING}), obj({"a": {**STRING, "const": "y"}})), '$.a: const "y" added')


@pytest.mark.parametrize(
    ("keyword", "loose", "tight"),
    [
        ("minLength", 1, 2),
        ("maxLength", 10, 5),
        ("minimum", 0, 1),
        ("maximum", 5, 2),
        ("exclusiveMinimum", 0, 1),
        ("exclusiveMaximum", 5, 2),
        ("minItems", 0, 1),
        ("maxItems", 3, 2),
    ],
)
def test_bounds_tightened_or_loosened_break(keyword: str, loose: int, tight: int) -> None:
    loose_schema = obj({"a": {keyword: loose}})
    tight_schema = obj({"a": {keyword: tight}})
    unbounded = obj({"a": {}})
    only(incompatibilities(loose_schema, tight_schema), f"$.a: {keyword} tightened from {loose} to {tight}")
    only(incompatibilities(tight_schema, loose_schema), f"$.a: {keyword} loosened from {tight} to {loose}")
    only(incompatibilities(unbounded, tight_schema), f"$.a: {keyword} {tight} added, tighter")
    only(incompatibilities(tight_schema, unbounded), f"$.a: {keyword} {tight} removed, looser")


@pytest.mark.parametrize(("keyword", "before", "after"), [("pattern", "^a", "^b"), ("format", "uuid", "email")])
def test_pattern_and_format_changes_break(keyword: str, before: str, after: str) -> None:
    old, new = obj({"a": {**STRING, keyword: before}}), obj({"a": {**STRING, keyword: after}})
    only(incompatibilities(old, new), f"$.a: {keyword} changed")
    only(incompatibilities(obj({"a": STRING}), new), f"$.a: {keyword} changed from null")
    only(incompatibilities(new, obj({"a": STRING})), f"$.a: {keyword} changed from {json.dumps(after)} to null")


def test_changed_default_breaks() -> None:
    old = obj({"a": {**STRING, "default": "x"}}, required=[])
    new = obj({"a": {**STRING, "default": "y"}}, required=[])
    only(incompatibilities(old, new), '$.a: default changed from "x" to "y"')


def test_nested_objects_through_refs() -> None:
    old = obj({"case": {"$ref": "#/$defs/Case"}}, **{"$defs": {"Case": obj({"title": STRING, "year": INTEGER})}})
    new = obj({"case": {"$ref": "#/$defs/Case"}}, **{"$defs": {"Case": obj({"title": INTEGER})}})
    only(
        incompatibilities(old, new),
        "$.case.title: type changed from string to integer",
        "$.case.year: field removed",
    )


def test_renamed_definition_with_the_same_content_is_compatible() -> None:
    case = obj({"title": STRING})
    old = obj({"case": {"$ref": "#/$defs/Case"}}, **{"$defs": {"Case": case}})
    new = obj({"case": {"$ref": "#/$defs/CaseHeader"}}, **{"$defs": {"CaseHeader": {**case, "title": "CaseHeader"}}})
    assert incompatibilities(old, new) == []


def test_default_beside_a_ref_is_compared() -> None:
    defs = {"$defs": {"Lang": {**STRING, "enum": ["fi", "en"]}}}
    old = obj({"lang": {"$ref": "#/$defs/Lang", "default": "en"}}, required=[], **defs)
    new = obj({"lang": {"$ref": "#/$defs/Lang", "default": "fi"}}, required=[], **defs)
    only(incompatibilities(old, new), '$.lang: default changed from "en" to "fi"')


def test_array_items_compared_recursively() -> None:
    old = obj({"team": {"type": "array", "items": obj({"email": STRING})}})
    new = obj({"team": {"type": "array", "items": obj({"email": STRING, "phone": STRING})}})
    only(incompatibilities(old, new), "$.team[].phone: new required field without a default")


def test_map_values_compared_recursively() -> None:
    old = obj({"scores": {"type": "object", "additionalProperties": INTEGER}})
    new = obj({"scores": {"type": "object", "additionalProperties": STRING}})
    only(incompatibilities(old, new), "$.scores.*: type changed from integer to string")


def test_recursive_models_terminate() -> None:
    node = obj({"name": STRING, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}})
    grown = obj({"name": STRING, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}, "x": STRING})
    old = {"$ref": "#/$defs/Node", "$defs": {"Node": node}}
    new = {"$ref": "#/$defs/Node", "$defs": {"Node": grown}}
    assert incompatibilities(old, old) == []
    only(incompatibilities(old, new), "$.x: new required field")


def test_unknown_keywords_that_differ_break_to_be_safe() -> None:
    only(incompatibilities(obj({"a": {"not": NULL}}), obj({"a": {"not": STRING}})), "$.a: not changed")


# --------------------------------------------------------------------------- schema_of, on a real model


class Before(BaseModel):
    title: str
    tags: list[str] = []
    score: int = Field(default=0, ge=0)


class After(BaseModel):
    """A new description."""

    score: int = Field(default=0, ge=0, description="explained now")
    title: str
    tags: list[str] = []
    note: str = ""


class Broken(BaseModel):
    title: str | None
    tags: list[int] = []
    score: int = Field(default=1, ge=0)
    added: str


def test_pydantic_models_compatible_change() -> None:
    assert incompatibilities(schema_of(Before), schema_of(After)) == []


def test_pydantic_models_breaking_change() -> None:
    only(
        incompatibilities(schema_of(Before), schema_of(Broken)),
        "$.added: new required field without a default",
        "$.score: default changed from 0 to 1",
        "$.tags[]: type changed from string to integer",
        "$.title: now accepts null",
    )


def test_schema_of_sorts_required() -> None:
    assert schema_of(After)["required"] == ["title"]
    assert schema_of(Broken)["required"] == ["added", "title"]


def test_normalising_tells_field_names_from_keywords() -> None:
    """A field called ``default`` or ``enum`` is a schema to normalise, not a value to leave alone."""
    inner = {"type": "object", "required": ["b", "a"]}
    schema = {"properties": {"default": inner, "enum": inner}, "required": ["enum", "default"], "default": ["b", "a"]}
    assert contracts._normalised(schema) == {
        "properties": {"default": {**inner, "required": ["a", "b"]}, "enum": {**inner, "required": ["a", "b"]}},
        "required": ["default", "enum"],
        "default": ["b", "a"],
    }


# --------------------------------------------------------------------------- the command line


class SampleV1(BaseModel):
    """Plain models, not EventPayload subclasses, so no test type joins the real registry."""

    name: str


class SampleV1Grown(BaseModel):
    name: str
    note: str = ""


class SampleV1Broken(BaseModel):
    name: int


SAMPLE = "kipina.sample.thing.v1"


def test_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert contracts.main(["check"], directory=tmp_path, event_types={SAMPLE: SampleV1}) == 1
    assert "no snapshot" in capsys.readouterr().err
    assert contracts.main(["write"], directory=tmp_path, event_types={SAMPLE: SampleV1}) == 0
    assert (tmp_path / f"{SAMPLE}.json").read_text() == dump(schema_of(SampleV1))
    assert contracts.main(["check"], directory=tmp_path, event_types={SAMPLE: SampleV1}) == 0


def test_compatible_change_is_written_after_check_asks_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts.main(["write"], directory=tmp_path, event_types={SAMPLE: SampleV1})
    assert contracts.main(["check"], directory=tmp_path, event_types={SAMPLE: SampleV1Grown}) == 1
    assert "run make contracts to update the snapshot" in capsys.readouterr().err
    assert contracts.main(["write"], directory=tmp_path, event_types={SAMPLE: SampleV1Grown}) == 0
    assert (tmp_path / f"{SAMPLE}.json").read_text() == dump(schema_of(SampleV1Grown))


def test_write_refuses_a_breaking_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contracts.main(["write"], directory=tmp_path, event_types={SAMPLE: SampleV1})
    before = (tmp_path / f"{SAMPLE}.json").read_text()
    assert contracts.main(["write"], directory=tmp_path, event_types={SAMPLE: SampleV1Broken}) == 1
    err = capsys.readouterr().err
    assert "$.name: type changed from string to integer" in err
    assert "event type kipina.sample.thing.v2" in err
    assert "no snapshot written" in err
    assert (tmp_path / f"{SAMPLE}.json").read_text() == before


def test_a_snapshot_without_its_type_is_reported_not_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts.main(["write"], directory=tmp_path, event_types={SAMPLE: SampleV1})
    assert contracts.main(["check"], directory=tmp_path, event_types={}) == 1
    assert "no registered event type has this snapshot" in capsys.readouterr().err
    assert contracts.main(["write"], directory=tmp_path, event_types={}) == 1
    assert (tmp_path / f"{SAMPLE}.json").exists()
