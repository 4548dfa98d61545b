"""Event contracts that guard themselves: a JSON Schema snapshot of every published event version.

``contracts/events/<event type>.json`` holds the schema each registered payload had when it was
published. A later schema of the same version may differ only compatibly (see ``incompatibilities``);
anything else is a new ``.vN+1`` payload class. ``tests/unit/shared/test_event_contracts.py``
enforces it; docs/events.md states the versioning rule.

    python -m shared.contracts check   # exit 1 and say what is wrong
    python -m shared.contracts write   # snapshot new types, refresh compatible changes; refuse breaking ones

The comparer is our own. On PyPI, jsoncompat (alpha) answers only yes/no and reads JSON Schema's
open content strictly (an added optional field "may have carried any value before"), api-schema-diff
judges one direction only (old clients) and not enums, bounds or defaults, jsonschema-diff lists
differences without judging them; each would also be a new dependency. Our readers and writers have
firmer habits than JSON Schema assumes (readers ignore unknown fields, writers write every field), and
pydantic emits a small part of JSON Schema, so a walk over ``type``/``properties``/``items``/``anyOf``/
``enum``/bounds with ``$ref`` resolved is enough and says in words what breaks where.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel

from shared.events import EVENT_TYPES

Schema = dict[str, Any]

SNAPSHOT_DIR: Final = Path(__file__).resolve().parent.parent / "contracts" / "events"

# Keywords that say nothing about which values are valid: changing them is always compatible.
_ANNOTATIONS: Final = frozenset({"title", "description", "examples", "$comment", "deprecated", "readOnly", "writeOnly"})
# Keywords holding values rather than schemas: normalisation must not reorder inside them.
_VALUES: Final = frozenset({"default", "const", "enum", "examples"})
# Bounds: a higher lower bound or a lower upper bound is tighter.
_LOWER_BOUNDS: Final = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_UPPER_BOUNDS: Final = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
# Restrictions without a direction: any change, addition or removal breaks somebody.
_EXACT: Final = ("pattern", "format", "multipleOf", "uniqueItems", "contentEncoding", "contentMediaType")
# Compared by dedicated code below; every other keyword that differs is reported as a change.
_HANDLED: Final = frozenset(
    {"$ref", "$defs", "definitions", "default", "type", "enum", "const", "properties", "required", "items"}
    | {"prefixItems", "additionalProperties", "anyOf", "oneOf"}
    | set(_LOWER_BOUNDS)
    | set(_UPPER_BOUNDS)
    | set(_EXACT)
    | _ANNOTATIONS
)

# Why each direction breaks, said once.
_OLD_EVENTS: Final = "events already on the topic may carry it"
_OLD_READERS: Final = "readers of the published schema reject it"
_OLD_EVENTS_OTHER: Final = "events already on the topic may not satisfy it"
_OLD_READERS_OTHER: Final = "readers of the published schema reject the values now allowed"


def schema_of(payload_type: type[BaseModel]) -> Schema:
    """The payload's JSON Schema, normalised so that its snapshot is stable.

    Validation mode, because the schema is a promise about what *readers accept*: every consumer
    validates ``data`` with it, and a breaking change is one that makes some reader reject (or
    misread) an event that is, or will be, on the topic. Producers write ``model_dump`` of the same
    model, which its validation schema accepts by construction. (For our payloads the two modes
    agree; they would differ only for computed fields or custom serialisers, which no reader sees.)
    """
    raw = payload_type.model_json_schema(mode="validation")
    return _normalised(json.loads(json.dumps(raw)))


def _normalised(node: Any) -> Any:
    """``required`` is a set: sort it, so reordering fields (e.g. through a mixin) changes nothing."""
    match node:
        case dict():
            return {key: _normalised_keyword(key, value) for key, value in node.items()}
        case list():
            return [_normalised(item) for item in node]
        case _:
            return node


def _normalised_keyword(key: str, value: Any) -> Any:
    match key, value:
        case "properties" | "$defs" | "definitions", dict():  # names → schemas: a field may be called "required"
            return {name: _normalised(schema) for name, schema in value.items()}
        case "required", list():
            return sorted(value)
        case _ if key in _VALUES:  # data, not schema: leave as it is
            return value
        case _:
            return _normalised(value)


def dump(schema: Schema) -> str:
    """A snapshot file's text: pretty JSON, sorted keys, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- comparing two schemas


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Every change from ``old`` to ``new`` (two schemas of one event version) that breaks someone.

    Readers and writers of both schemas live on the topic together: events stay there for days and
    dead letters are replayed later. So a change breaks if an old event fails (or reads differently)
    under the new schema, *or* a new event fails under the old one. Hence, deliberately:

    * a removed field breaks; an added field breaks only if it is required (no default);
    * required → optional is fine (writers write every field anyway); optional → required breaks
      (events written before the field existed lack it);
    * type, nullability, enum values and union alternatives break in both directions;
    * every constraint change breaks: tightening rejects old events, loosening lets new events
      through that old readers reject;
    * a changed default breaks (a reader fills a different value);
    * titles, descriptions and examples never matter.

    Each entry is ``"<JSON path>: <what changed> (<who it breaks>)"``; ``[]`` means compatible.
    """
    return _Comparison(old, new).node(old, new, "$")


@dataclass
class _Comparison:
    old_root: Schema
    new_root: Schema
    # Pairs of definitions being compared further up, so recursive models end.
    active: set[tuple[str, str]] = field(default_factory=set)

    def node(self, old: Schema, new: Schema, path: str) -> list[str]:
        """One value's schema: its default, its nullability, then its one or several shapes."""
        old, old_ref = _resolve(old, self.old_root)
        new, new_ref = _resolve(new, self.new_root)
        with self.entered(old_ref, new_ref) as recursing:
            return [] if recursing else self.value(old, new, path)

    @contextmanager
    def entered(self, old_ref: str | None, new_ref: str | None) -> Iterator[bool]:
        """Yields True when the same two definitions are already being compared further up."""
        pair = (old_ref or "", new_ref or "")
        if not (old_ref and new_ref):
            yield False
        elif pair in self.active:
            yield True
        else:
            self.active.add(pair)
            try:
                yield False
            finally:
                self.active.discard(pair)

    def value(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        if "default" in old and "default" in new and old["default"] != new["default"]:
            problems.append(
                f"{path}: default changed from {_show(old['default'])} to {_show(new['default'])}"
                " (readers fill a different value)"
            )
        old_shapes, old_null = _alternatives(old)
        new_shapes, new_null = _alternatives(new)
        if old_null and not new_null:
            problems.append(f"{path}: no longer accepts null (events already on the topic may carry null)")
        if new_null and not old_null:
            problems.append(f"{path}: now accepts null ({_OLD_READERS})")
        match old_shapes, new_shapes:
            case [old_shape], [new_shape]:
                problems += self.shape(old_shape, new_shape, path)
            case _:
                problems += self.union(old_shapes, new_shapes, path)
        return problems

    def union(self, old_shapes: list[Schema], new_shapes: list[Schema], path: str) -> list[str]:
        """Alternatives pair up when they compare clean; what stays unpaired was removed or added."""
        problems: list[str] = []
        unpaired = list(new_shapes)
        for old_shape in old_shapes:
            twin = next((s for s in unpaired if not self.shape(old_shape, s, path)), None)
            if twin is None:
                problems.append(f"{path}: alternative {_describe(old_shape)} removed ({_OLD_EVENTS})")
            else:
                unpaired.remove(twin)
        problems += [f"{path}: alternative {_describe(s)} added ({_OLD_READERS})" for s in unpaired]
        return problems

    def shape(self, old: Schema, new: Schema, path: str) -> list[str]:
        """One non-null shape: type, then enum/const, bounds, object fields, array items, the rest."""
        old, old_ref = _resolve(old, self.old_root)
        new, new_ref = _resolve(new, self.new_root)
        with self.entered(old_ref, new_ref) as recursing:
            if recursing:
                return []
            if old.get("type") != new.get("type"):
                return [f"{path}: type changed from {old.get('type', 'any')} to {new.get('type', 'any')}"]
            return [
                *_enum(old, new, path),
                *_bounds(old, new, path),
                *self.object(old, new, path),
                *self.items(old, new, path),
                *_others(old, new, path),
            ]

    def object(self, old: Schema, new: Schema, path: str) -> Iterator[str]:
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        old_required = set(old.get("required", []))
        new_required = set(new.get("required", []))
        for name in sorted(old_props.keys() | new_props.keys()):
            at = f"{path}.{name}"
            if name not in new_props:
                yield f"{at}: field removed (readers of the published schema still read it)"
            elif name not in old_props:
                if name in new_required:
                    yield f"{at}: new required field without a default (events already on the topic lack it)"
            else:
                # Required → optional is fine: writers always write every field.
                if name in new_required and name not in old_required:
                    yield f"{at}: optional field became required (events written before it existed lack it)"
                yield from self.node(old_props[name], new_props[name], at)
        match old.get("additionalProperties"), new.get("additionalProperties"):
            case dict() as old_values, dict() as new_values:  # dict[str, X]: compare X
                yield from self.node(old_values, new_values, f"{path}.*")
            case old_values, new_values if old_values != new_values:
                yield f"{path}: additionalProperties changed from {_show(old_values)} to {_show(new_values)}"

    def items(self, old: Schema, new: Schema, path: str) -> Iterator[str]:
        match old.get("items"), new.get("items"):
            case dict() as old_items, dict() as new_items:
                yield from self.node(old_items, new_items, f"{path}[]")
            case old_items, new_items if old_items != new_items:
                yield f"{path}: items changed from {_show(old_items)} to {_show(new_items)}"
        old_prefix: list[Schema] = old.get("prefixItems", [])
        new_prefix: list[Schema] = new.get("prefixItems", [])
        if len(old_prefix) != len(new_prefix):
            yield f"{path}: tuple length changed from {len(old_prefix)} to {len(new_prefix)}"
        for i, (old_item, new_item) in enumerate(zip(old_prefix, new_prefix, strict=False)):
            yield from self.node(old_item, new_item, f"{path}[{i}]")


def _enum(old: Schema, new: Schema, path: str) -> Iterator[str]:
    match old.get("enum"), new.get("enum"):
        case None, None:
            pass
        case list() as old_values, list() as new_values:
            yield from (
                f"{path}: enum value {_show(v)} removed ({_OLD_EVENTS})" for v in old_values if v not in new_values
            )
            yield from (
                f"{path}: enum value {_show(v)} added ({_OLD_READERS})" for v in new_values if v not in old_values
            )
        case None, new_values:
            yield f"{path}: now restricted to the values {_show(new_values)} ({_OLD_EVENTS_OTHER})"
        case old_values, _:
            yield f"{path}: no longer restricted to the values {_show(old_values)} ({_OLD_READERS_OTHER})"
    match "const" in old, "const" in new:
        case True, False:
            yield f"{path}: const {_show(old['const'])} removed ({_OLD_READERS_OTHER})"
        case False, True:
            yield f"{path}: const {_show(new['const'])} added ({_OLD_EVENTS_OTHER})"
        case True, True if old["const"] != new["const"]:
            yield f"{path}: const changed from {_show(old['const'])} to {_show(new['const'])}"


def _bounds(old: Schema, new: Schema, path: str) -> Iterator[str]:
    for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            tighter = True
        elif after is None:
            tighter = False
        elif isinstance(before, int | float) and isinstance(after, int | float):
            tighter = (after > before) == (key in _LOWER_BOUNDS)
        else:
            yield f"{path}: {key} changed from {_show(before)} to {_show(after)}"
            continue
        why = _OLD_EVENTS_OTHER if tighter else _OLD_READERS_OTHER
        match before, after:
            case None, _:
                yield f"{path}: {key} {_show(after)} added, tighter ({why})"
            case _, None:
                yield f"{path}: {key} {_show(before)} removed, looser ({why})"
            case _:
                change = "tightened" if tighter else "loosened"
                yield f"{path}: {key} {change} from {_show(before)} to {_show(after)} ({why})"
    for key in _EXACT:
        before, after = old.get(key), new.get(key)
        if before != after:
            yield f"{path}: {key} changed from {_show(before)} to {_show(after)} (one side rejects the other's values)"


def _others(old: Schema, new: Schema, path: str) -> Iterator[str]:
    """Keywords pydantic rarely emits (allOf, not, discriminator, …): any difference counts, to be safe."""
    for key in sorted((old.keys() | new.keys()) - _HANDLED):
        if old.get(key) != new.get(key):
            yield f"{path}: {key} changed from {_show(old.get(key))} to {_show(new.get(key))}"


def _alternatives(node: Schema) -> tuple[list[Schema], bool]:
    """The non-null shapes a value may take, and whether it may be null.

    ``anyOf``/``oneOf`` and ``type: [..]`` lists are split; keywords beside them apply to each shape.
    A default is the value's, not a shape's, so it is left out of the shapes.
    """
    beside = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf", "default")}
    match node:
        case {"anyOf": list(shapes)} | {"oneOf": list(shapes)}:
            pass
        case {"type": list(types)}:
            shapes = [{"type": t} for t in types]
            beside.pop("type")
        case _:
            shapes = [{}]
    merged = [{**beside, **shape} for shape in shapes]
    nullable = any(shape.get("type") == "null" for shape in merged)
    return [shape for shape in merged if shape.get("type") != "null"], nullable


def _resolve(node: Schema, root: Schema) -> tuple[Schema, str | None]:
    """Follow ``$ref`` (and a one-element ``allOf`` wrapper); keywords beside the reference win.

    Returns the resolved schema and the last reference followed (for recursion checks).
    """
    last_ref: str | None = None
    seen: set[str] = set()
    while True:
        match node:
            case {"$ref": str(ref)}:
                if ref in seen:
                    raise ValueError(f"$ref cycle through {ref}")
                seen.add(ref)
                last_ref = ref
                beside = {k: v for k, v in node.items() if k != "$ref"}
                node = {**_pointer(root, ref), **beside}
            case {"allOf": [dict() as only]}:
                beside = {k: v for k, v in node.items() if k != "allOf"}
                node = {**only, **beside}
            case _:
                return node, last_ref


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    if not isinstance(target, dict):
        raise ValueError(f"{ref!r} does not point to a schema")
    return target


def _describe(shape: Schema) -> str:
    return str(shape.get("title") or shape.get("type") or _show(shape))


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def differences(old: Any, new: Any, path: str = "$") -> list[str]:
    """Where two schemas differ at all (schema paths, not data paths): to say what a compatible change touched."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            where
            for key in sorted(old.keys() | new.keys())
            for where in differences(old.get(key), new.get(key), f"{path}.{key}")
        ]
    return [] if old == new else [path]


# --------------------------------------------------------------------------- snapshots


def snapshot_path(event_type: str, directory: Path = SNAPSHOT_DIR) -> Path:
    return directory / f"{event_type}.json"


def _shown(path: Path) -> str:
    """Relative to the working directory when inside it: messages stay short."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def read_snapshots(directory: Path = SNAPSHOT_DIR) -> dict[str, Schema]:
    """Every snapshot in ``directory`` by event type (the file name without ``.json``)."""
    return {p.name.removesuffix(".json"): json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def new_version_advice(payload_type: type[BaseModel], event_type: str) -> str:
    """What to do instead of changing a published version, with the next version's names."""
    name = re.fullmatch(r"(?P<base>.+?)V(?P<n>\d+)", payload_type.__name__)
    kind = re.fullmatch(r"(?P<base>.+)\.v(?P<n>\d+)", event_type)
    n = int(kind["n"]) if kind else int(name["n"]) if name else 1
    base_name = name["base"] if name else payload_type.__name__
    base_type = kind["base"] if kind else event_type
    return (
        f"published versions never change incompatibly: add {base_name}V{n + 1} with event type"
        f" {base_type}.v{n + 1} instead, and keep {payload_type.__name__} until no consumer reads it"
    )


@dataclass(frozen=True)
class Finding:
    """One registered type (or one snapshot) that does not match: what is wrong and how to fix it."""

    event_type: str
    kind: Literal["missing", "outdated", "breaking", "orphan"]
    details: tuple[str, ...] = ()  # the incompatibilities, or where a compatible change is
    advice: str = ""

    def explain(self, directory: Path = SNAPSHOT_DIR) -> str:
        path = _shown(snapshot_path(self.event_type, directory))
        match self.kind:
            case "missing":
                return f"{self.event_type}: no snapshot {path}; run make contracts"
            case "outdated":
                return (
                    f"{self.event_type}: the schema changed compatibly (at {', '.join(self.details)});"
                    " run make contracts to update the snapshot"
                )
            case "breaking":
                return "\n".join(
                    [f"{self.event_type}: incompatible with its snapshot {path}:"]
                    + [f"  - {problem}" for problem in self.details]
                    + [f"  {self.advice}"]
                )
            case "orphan":
                return (
                    f"{path}: no registered event type has this snapshot; a version was removed while its events"
                    " may still be on a topic or waiting as dead letters. Keep the class until its retention and"
                    " replay window has passed, then delete it and its snapshot together."
                )


def review(event_types: Mapping[str, type[BaseModel]], snapshots: Mapping[str, Schema]) -> list[Finding]:
    """Compare every registered type with its snapshot. No finding means all is in order."""
    findings: list[Finding] = []
    for event_type, payload_type in sorted(event_types.items()):
        current = schema_of(payload_type)
        published = snapshots.get(event_type)
        if published is None:
            findings.append(Finding(event_type, "missing"))
        elif problems := incompatibilities(published, current):
            advice = new_version_advice(payload_type, event_type)
            findings.append(Finding(event_type, "breaking", tuple(problems), advice))
        elif published != current:
            findings.append(Finding(event_type, "outdated", tuple(differences(published, current))))
    findings += [Finding(t, "orphan") for t in sorted(snapshots.keys() - event_types.keys())]
    return findings


# --------------------------------------------------------------------------- command line


def main(
    argv: list[str] | None = None,
    *,
    directory: Path = SNAPSHOT_DIR,
    event_types: Mapping[str, type[BaseModel]] = EVENT_TYPES,
) -> int:
    """``check`` or ``write``; returns the exit status."""
    match sys.argv[1:] if argv is None else argv:
        case ["check"]:
            return _check(directory, event_types)
        case ["write"]:
            return _write(directory, event_types)
        case _:
            print("usage: python -m shared.contracts check|write", file=sys.stderr)
            return 2


def _check(directory: Path, event_types: Mapping[str, type[BaseModel]]) -> int:
    findings = review(event_types, read_snapshots(directory))
    for finding in findings:
        print(finding.explain(directory), file=sys.stderr)
    if not findings:
        print(f"{len(event_types)} event types match their snapshots in {_shown(directory)}")
    return 1 if findings else 0


def _write(directory: Path, event_types: Mapping[str, type[BaseModel]]) -> int:
    """Write new and compatibly changed snapshots, unless any change is breaking: then write none."""
    findings = review(event_types, read_snapshots(directory))
    if breaking := [f for f in findings if f.kind == "breaking"]:
        for finding in breaking:
            print(finding.explain(directory), file=sys.stderr)
        print("refused: no snapshot written", file=sys.stderr)
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    for finding in findings:
        match finding.kind:
            case "missing" | "outdated":
                path = snapshot_path(finding.event_type, directory)
                path.write_text(dump(schema_of(event_types[finding.event_type])))
                print(f"{'wrote' if finding.kind == 'missing' else 'updated'} {_shown(path)}")
            case "orphan":  # never deleted here: retiring a version is a decision, made by hand
                print(finding.explain(directory), file=sys.stderr)
    if not findings:
        print(f"{len(event_types)} snapshots already up to date")
    return 1 if any(f.kind == "orphan" for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
