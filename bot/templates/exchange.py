"""Templates between environments: every key's live texts as one YAML file, and loading such a
file back, checked in full first (all or nothing; only changed texts get a new version)."""

from dataclasses import dataclass, field

import yaml

from bot.models import TemplateKey
from bot.templates.admin import (
    TemplateValidationError,
    add_version,
    catalogue,
    check_body,
    check_locale,
    live,
    normalise_body,
)

EXPORT_FORMAT = "message-templates/1"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def export_yaml(session):
    """Every key with its declared variables and live bodies per locale, as one YAML file."""
    keys = {}
    for spec, live_rows in catalogue(session):
        entry = {"description": spec.description or "", "variables": dict(spec.variables or {})}
        if spec.optional:
            entry["optional"] = list(spec.optional)
        entry["bodies"] = {tag: live_rows[tag].body for tag in sorted(live_rows)}
        keys[spec.key] = entry
    header = (
        "# Message templates: the live text of every key per locale. Review changes in version\n"
        "# control; load them in another environment with the admin console's import.\n"
    )
    data = {"format": EXPORT_FORMAT, "keys": keys}
    return header + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


@dataclass
class ImportResult:
    changed: list = field(default_factory=list)  # [(key, locale, version)]
    unchanged: int = 0
    dry_run: bool = False


def import_yaml(session, text, user, dry_run=False):
    """Load an exported file: everything is checked first; a problem anywhere changes nothing.

    Only bodies that differ from the live text become new versions (audited). With dry_run,
    nothing is written and changed lists what would get a new version (version None)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateValidationError([f"the file is not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise TemplateValidationError(
            [f"the file is not a template export (expected format: {EXPORT_FORMAT})"]
        )
    entries = data.get("keys")
    if not isinstance(entries, dict):
        raise TemplateValidationError(["the file has no keys"])
    problems, planned = [], []
    for key, entry in entries.items():
        spec = session.get(TemplateKey, str(key))
        if spec is None:
            problems.append(f"{key}: no such template key in this environment")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("bodies"), dict):
            problems.append(f"{key}: expected a mapping with bodies per locale")
            continue
        if "variables" in entry and not isinstance(entry["variables"] or {}, dict):
            problems.append(f"{key}: variables must be a mapping of name to type")
            continue
        if "variables" in entry and dict(entry["variables"] or {}) != dict(spec.variables or {}):
            # The variables come from the code: a different set means another release.
            problems.append(
                f"{key}: the file declares variables {entry['variables']} but this "
                f"environment declares {spec.variables}"
            )
            continue
        for tag, body in entry["bodies"].items():
            tag = str(tag)
            try:
                check_locale(tag)
            except TemplateValidationError as exc:
                problems.extend(f"{key}: {p}" for p in exc.problems)
                continue
            if not isinstance(body, str):
                problems.append(f"{key} ({tag}): the body must be text")
                continue
            body = normalise_body(body)
            found = check_body(body, spec.variables or {}, spec.optional or [], key, tag)
            problems.extend(f"{key} ({tag}): {p}" for p in found)
            if not found:
                planned.append((spec, tag, body))
    if problems:
        raise TemplateValidationError(problems)
    result = ImportResult(dry_run=dry_run)
    for spec, tag, body in planned:
        current = live(session, spec.key, tag)
        if current is not None and current.body == body:
            result.unchanged += 1
            continue
        if dry_run:
            result.changed.append((spec.key, tag, None))
            continue
        row = add_version(session, spec, tag, body, user, "template.imported")
        result.changed.append((spec.key, tag, row.version))
    return result
