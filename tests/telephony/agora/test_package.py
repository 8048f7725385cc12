"""telephony.agora is a plain client: it imports neither Django nor the project around it."""

import ast
from pathlib import Path

import telephony.agora

PACKAGE_DIR = Path(telephony.agora.__file__).parent
# The project's packages and the frameworks it runs on; the client stands apart from them.
FORBIDDEN = ("django", "rest_framework", "celery", "contactcenter", "campaigns", "telephony")
OWN_PACKAGE = "telephony.agora"


def absolute_imports(source: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_agora_package_imports_no_django_and_nothing_of_the_project():
    modules = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(modules) > 5  # the scan found the package's modules

    offending = [
        f"{path.relative_to(PACKAGE_DIR)}: {name}"
        for path in modules
        for name in absolute_imports(path.read_text())
        if name.split(".")[0] in FORBIDDEN
        and not (name == OWN_PACKAGE or name.startswith(OWN_PACKAGE + "."))
    ]

    assert offending == []
