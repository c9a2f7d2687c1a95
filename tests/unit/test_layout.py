"""The layout's rules, checked on the source: no import circle (imports inside functions
count), dependencies pointing one way between packages, only the task layer enqueues, only the
clock reads the time, and no module grows into a hub."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lower layers never import higher ones. The app factory (bot/__init__.py) wires them all.
LAYERS = [
    {
        "bot.config",
        "bot.db",
        "bot.redis",
        "bot.clock",
        "bot.models",
        "bot.money",
        "bot.phones",
        "bot.channels",
        "bot.hours",
        "bot.statuses",
        "bot.audit",
        "bot.hooks",
        "bot.outbox",
        "bot.users",
        "bot.inputs",
        "bot.metrics",
        "bot.health",
        "bot.logs",
    },
    {"bot.ledger"},
    {"bot.templates"},
    {"bot.contact"},
    {"bot.outbound"},
    {"bot.conversations"},
    {"bot.payments"},
    {"bot.debts"},
    {"bot.experiments"},
    {"bot.reminders"},
    {"bot.analytics"},
    # understanding: the Rasa NLU components (they run inside Rasa and read bot.debts.parsing).
    {"bot.web", "bot.tasks", "bot.cli", "bot.testing", "bot.demo", "actions", "understanding"},
]
# Top-layer packages that may use each other: the CLI and the test harness drive everything.
TOP_MAY_IMPORT = {
    "bot.testing": {"bot.web", "bot.tasks"},
    "bot.cli": {"bot.tasks", "bot.web", "bot.demo"},
}
# What reads the time. Durations (time.monotonic) are not the clock.
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}
MAX_LINES = 500


def modules():
    """{module name: path} for the bot package and the action server."""
    found = {}
    for package in ("bot", "actions", "understanding"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = modules()


def _resolve(node, name, is_package):
    if node.level == 0:
        return node.module
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name):
    """The project modules name imports, at module level or inside functions."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, name, path.name == "__init__.py")
            # "from bot import clock" imports the module bot.clock; "from bot.x import f", bot.x.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle():
    assert _cycles(GRAPH) == []


def layer_of(name):
    for number, packages in enumerate(LAYERS):
        for package in packages:
            if name == package or name.startswith(package + "."):
                return number, package
    return None, None


# Only process entry points build the app: the action server's context and the test harness.
BUILD_THE_APP = {"actions.context", "bot.testing.stack"}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "bot"))
def test_dependencies_point_down(name):
    layer, package = layer_of(name)
    assert layer is not None, f"{name} belongs to no layer: add its package to LAYERS"
    wrong = []
    for target in sorted(GRAPH[name]):
        if target == "bot":
            if name not in BUILD_THE_APP:
                wrong.append(target)
            continue
        other, other_package = layer_of(target)
        if other < layer or other_package == package or other == layer == 0:
            continue
        if other_package in TOP_MAY_IMPORT.get(package, ()):
            continue
        wrong.append(target)
    assert wrong == [], f"{name} ({package}) imports {wrong} from the same or a higher layer"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_task_layer_enqueues(name):
    package = layer_of(name)[1]
    if package in ("bot.tasks", "bot.cli", "bot.testing") or name == "bot":
        return
    source = MODULES[name].read_text()
    assert "bot.tasks" not in GRAPH[name] and not any(
        t.startswith("bot.tasks.") for t in GRAPH[name]
    ), f"{name} imports the task layer: ask for jobs with bot.outbox.later"
    assert "import rq" not in source and "from rq" not in source, f"{name} uses RQ directly"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "bot.clock"))
def test_only_the_clock_reads_the_time(name):
    tree = ast.parse(MODULES[name].read_text())
    calls = [
        (node.func.value.id, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
    ]
    read = [f"{a}.{b}()" for a, b in calls if (a, b) in WALL_CLOCK]
    assert read == [], f"{name} reads the wall clock ({read}): use bot.clock"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_grows_into_a_hub(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concern"
