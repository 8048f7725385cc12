"""The fields an analysis plan extracts from a conversation (its structured data): a small table
staff edit (name, type, description, the choices of an enum), stored as a JSON schema, and the
check of extracted values against that schema (jsonschema). Telephony keeps it because both a
campaign's plan and an agent profile's (single calls) carry one; analysis fills the fields.

Every field may be null: a conversation that never touched it leaves it empty.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator, FormatChecker

FIELD_TYPES = ("string", "number", "boolean", "date", "enum")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 20
MAX_CHOICES = 30


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    description: str = ""
    choices: tuple[str, ...] = ()

    def json_schema(self) -> dict:
        schema: dict = {"description": self.description} if self.description else {}
        if self.type == "date":
            return schema | {"type": ["string", "null"], "format": "date"}
        if self.type == "enum":
            return schema | {"type": ["string", "null"], "enum": [*self.choices, None]}
        return schema | {"type": [self.type, "null"]}


def schema_of(specs: list[FieldSpec]) -> dict:
    """The JSON schema of a table of fields ({} when there are none)."""
    problems = _table_problems(specs)
    if problems:
        raise ValidationError(problems)
    if not specs:
        return {}
    return {
        "type": "object",
        "properties": {spec.name: spec.json_schema() for spec in specs},
        "additionalProperties": False,
    }


def _table_problems(specs: list[FieldSpec]) -> list[str]:
    problems = []
    if len(specs) > MAX_FIELDS:
        problems.append(f"At most {MAX_FIELDS} fields.")
    names = [spec.name for spec in specs]
    for spec in specs:
        if not FIELD_NAME.match(spec.name):
            problems.append(
                f"Field name {spec.name!r}: lower-case letters, digits and underscores, starting "
                "with a letter (at most 40)."
            )
        if spec.type not in FIELD_TYPES:
            problems.append(f"Field {spec.name!r}: the type is one of {', '.join(FIELD_TYPES)}.")
        if spec.type == "enum" and not spec.choices:
            problems.append(f"Field {spec.name!r}: an enum lists its choices.")
        if spec.type != "enum" and spec.choices:
            problems.append(f"Field {spec.name!r}: only an enum has choices.")
        if len(spec.choices) > MAX_CHOICES or len(set(spec.choices)) != len(spec.choices):
            problems.append(f"Field {spec.name!r}: at most {MAX_CHOICES} distinct choices.")
        if any(not choice.strip() or len(choice) > 100 for choice in spec.choices):
            problems.append(f"Field {spec.name!r}: each choice is 1 to 100 characters.")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        problems.append(f"Each field is named once: {', '.join(duplicated)}.")
    return problems


def fields_of(schema) -> list[FieldSpec]:
    """The table a stored schema describes; a schema this module did not write is refused with
    what is wrong (the API takes the schema as it is stored)."""
    if schema in (None, {}):
        return []
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ValidationError('Analysis fields are a JSON schema: {"type": "object", ...}.')
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        raise ValidationError('Analysis fields: "properties" maps each field name to its type.')
    specs = []
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            raise ValidationError(f"Analysis field {name!r}: its schema is an object.")
        types = prop.get("type")
        types = [types] if isinstance(types, str) else types
        if not isinstance(types, list) or not types:
            raise ValidationError(f"Analysis field {name!r}: give its type.")
        kinds = [kind for kind in types if kind != "null"]
        description = prop.get("description", "")
        if not isinstance(description, str):
            raise ValidationError(f"Analysis field {name!r}: the description is text.")
        if "enum" in prop:
            choices = [choice for choice in prop["enum"] if choice is not None]
            if kinds != ["string"] or not all(isinstance(choice, str) for choice in choices):
                raise ValidationError(f"Analysis field {name!r}: an enum's choices are text.")
            specs.append(FieldSpec(name, "enum", description, tuple(choices)))
        elif prop.get("format") == "date" and kinds == ["string"]:
            specs.append(FieldSpec(name, "date", description))
        elif len(kinds) == 1 and kinds[0] in ("string", "number", "boolean"):
            specs.append(FieldSpec(name, kinds[0], description))
        else:
            raise ValidationError(
                f"Analysis field {name!r}: the type is one of {', '.join(FIELD_TYPES)} "
                '(a date is {"type": "string", "format": "date"}, an enum lists "enum").'
            )
    problems = _table_problems(specs)
    if problems:
        raise ValidationError(problems)
    return specs


def validate_analysis_fields(value) -> None:
    """Model validator: a schema `fields_of` can read."""
    fields_of(value)


def normalised_schema(value) -> dict:
    """The schema as this module writes it (nullable fields, no other keys)."""
    return schema_of(fields_of(value))


def check_fields(schema: dict, values) -> tuple[dict, list[str]]:
    """(the values that hold, with every field of the plan present and null when missing or
    wrong; what was wrong, one line per field). Names the plan does not have are left out."""
    specs = fields_of(schema)
    if not isinstance(values, dict):
        return {spec.name: None for spec in specs}, ["fields must be an object"] if specs else []
    problems, clean = [], {}
    for spec in specs:
        value = values.get(spec.name)
        errors = list(
            Draft202012Validator(spec.json_schema(), format_checker=FormatChecker()).iter_errors(
                value
            )
        )
        if errors:
            problems.append(f"{spec.name}: {errors[0].message}")
            value = None
        clean[spec.name] = value
    return clean, problems
