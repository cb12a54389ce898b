"""crm's shared foundations (money, privacy, roles, API authentication, the scoped admin
mixin) import no app when they load: apps build on them, never the other way round."""

import ast
from pathlib import Path

import pytest

CRM = Path(__file__).resolve().parents[1]
FOUNDATIONS = ["money.py", "privacy.py", "roles.py", "admin_mixins.py", "api/authentication.py"]
APPS = {"players", "vip", "campaigns"}


def module_level_imports(path: Path) -> set[str]:
    """Top-level modules imported at load time (not inside functions)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", FOUNDATIONS)
def test_a_foundation_imports_no_app_at_load(name):
    assert module_level_imports(CRM / name) & APPS == set()
