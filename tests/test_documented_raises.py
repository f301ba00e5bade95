"""Every public callable names, under "Raises:", each error it can raise.

The API reference shows each method's "Raises" section (mkdocstrings renders
it as a table), so the section has to be complete and must not promise errors
that cannot happen. This test reads the source to find out:

* a ``raise`` of an exception class (or of what a function annotated to return
  one gives back, like `api_error_for`) raises that class;
* a call into the package raises what the callee can raise: its own "Raises:"
  section when it has one (a documented contract, checked where the callee is
  public), else what its body raises, found the same way;
* ``try``/``except`` takes away what a handler catches, and a bare ``raise``
  in the handler puts it back.

Calls are followed through module globals, ``self.method``, ``super()``, and
``self.attribute.method`` where the attribute's type is annotated on the class
or comes from an annotated ``__init__`` parameter. Anything else (calls into
httpx, redis, the standard library) is not followed: their errors are turned
into ours at the places that catch them, which this test sees.

A documented class covers its subclasses, so ``APIError`` covers every
errcode class.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import importlib
import inspect
import pkgutil
import re
import types
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest

import wechat_async
from wechat_async import crypto, errors

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference"

# Documented errors that the analysis cannot see, with the reason.
UNSEEN: dict[tuple[str, str], str] = {}

# Errors the analysis finds on a path that cannot run, with the reason.
CANNOT_ESCAPE: dict[tuple[str, str], str] = {
    ("wechat_async.tokens.refreshing.RefreshingToken.get", "TokenStoreUnavailableError"): (
        "the fallback it turns to when the store is down is a MemoryTokenStore, which is "
        "typed as any TokenStore but never raises it"
    ),
}


def _documented_modules() -> list[str]:
    """The modules the API reference renders (a package renders its submodules' names)."""
    names: set[str] = set()
    for page in DOCS.glob("*.md"):
        names.update(re.findall(r"^::: ([\w.]+)\s*$", page.read_text("utf-8"), re.MULTILINE))
    return sorted(names)


# --- reading "Raises:" sections ---------------------------------------------------

_SECTION = re.compile(r"^Raises:\s*$")
_ENTRY = re.compile(r"^(\w+):")


def documented_raises(doc: str | None, namespace: dict[str, Any]) -> dict[str, type[BaseException]]:
    """The classes a docstring's "Raises:" section names, by name."""
    if not doc:
        return {}
    lines = inspect.cleandoc(doc).splitlines()
    found: dict[str, type[BaseException]] = {}
    for start, line in enumerate(lines):
        if not _SECTION.match(line):
            continue
        for entry in lines[start + 1 :]:
            if entry and not entry.startswith(" "):
                break
            if entry.startswith("    ") and not entry.startswith("     "):
                match = _ENTRY.match(entry.strip())
                if match:
                    found[match.group(1)] = _resolve_error_name(match.group(1), namespace)
    return found


def _resolve_error_name(name: str, namespace: dict[str, Any]) -> type[BaseException]:
    for scope in (namespace, vars(errors), vars(crypto), vars(builtins)):
        candidate = scope.get(name)
        if isinstance(candidate, type) and issubclass(candidate, BaseException):
            return candidate
    msg = f"{name!r} in a Raises section is not an exception class"
    raise AssertionError(msg)


# --- finding what a body raises ---------------------------------------------------


def _ours(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "wechat_async" or module.startswith("wechat_async.")


def _unwrap(obj: object) -> Any:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    return inspect.unwrap(obj) if callable(obj) else obj


@functools.cache
def _module_tree(filename: str) -> ast.Module:
    return ast.parse(Path(filename).read_text("utf-8"))


@functools.cache  # every lookup walks the module's tree; each function is looked up often
def _function_node(func: types.FunctionType) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    code = func.__code__
    try:
        tree = _module_tree(code.co_filename)
    except OSError:  # attrs-generated methods have no file
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name == code.co_name
            and code.co_firstlineno in {node.lineno, *(d.lineno for d in node.decorator_list)}
        ):
            return node
    return None


def _is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A Protocol or abstract method: a docstring and ``...`` or ``raise NotImplementedError``."""
    body = [
        stmt
        for stmt in node.body
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
    ]
    return all(
        (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        or (isinstance(stmt, ast.Raise) and "NotImplementedError" in ast.unparse(stmt))
        for stmt in body
    )


def _exception_class(obj: object) -> type[BaseException] | None:
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return obj
    return None


class _Analysis:
    """What one function body can raise; calls are resolved from ``owner`` and globals."""

    def __init__(self, func: types.FunctionType, owner: type | None, stack: tuple[object, ...]):
        self.func = func
        self.owner = owner
        self.globals = func.__globals__
        self.stack = stack
        self._locals: dict[str, list[type]] | None = None

    # Resolving names and calls.

    def lookup(self, expr: ast.expr) -> object:
        """The object an expression names, where it can be known without running it."""
        if isinstance(expr, ast.Name):
            if expr.id in self.globals:
                return self.globals[expr.id]
            return getattr(builtins, expr.id, None)
        if isinstance(expr, ast.Attribute):
            return self.lookup_attribute(expr.value, expr.attr)
        return None

    def lookup_attribute(self, base: ast.expr, name: str) -> object:
        """``base.name``, for ``self``/``cls``, ``super()``, typed attributes and parameters."""
        if isinstance(base, ast.Name) and base.id in {"self", "cls"} and self.owner:
            return inspect.getattr_static(self.owner, name, None)
        if _is_call_of(base, "super") and self.owner:
            return next((vars(c)[name] for c in self.owner.__mro__[1:] if name in vars(c)), None)
        kinds: list[type] | None = None
        if isinstance(base, ast.Attribute) and _is_name(base.value, "self") and self.owner:
            kinds = self.attribute_types(base.attr)
        elif isinstance(base, ast.Name) and base.id in self.parameters:
            kinds = [kind for kind in _flatten(self.parameters[base.id]) if _ours(kind)]
        elif isinstance(base, ast.Name) and base.id in self.locals():
            kinds = self.locals()[base.id]
        elif isinstance(base, ast.Call):
            kinds = self.returned_types(base)
        if kinds is not None:
            found = (inspect.getattr_static(kind, name, None) for kind in kinds)
            return next((item for item in found if item is not None), None)
        outer = self.lookup(base)
        if isinstance(outer, (types.ModuleType, type)) and _ours(outer):
            return inspect.getattr_static(outer, name, None)
        return None

    @functools.cached_property
    def parameters(self) -> dict[str, Any]:
        """The annotated parameters of the function under analysis."""
        return _hints(self.func)

    def returned_types(self, call: ast.Call) -> list[type]:
        """The package classes a call of ours is annotated to return."""
        callee = _unwrap(self.lookup(call.func))
        if not isinstance(callee, types.FunctionType) or not _ours(callee):
            return []
        return [kind for kind in _flatten(_hints(callee).get("return")) if _ours(kind)]

    def locals(self) -> dict[str, list[type]]:
        """Local names assigned from a call of ours, with the classes it returns."""
        if self._locals is None:
            self._locals = {}  # while reading them, a name refers to no earlier local
            node = _function_node(self.func)
            found: dict[str, list[type]] = {}
            for stmt in ast.walk(node) if node is not None else ():
                if (
                    isinstance(stmt, ast.Assign)
                    and len(stmt.targets) == 1
                    and isinstance(target := stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Call)
                    and (kinds := self.returned_types(stmt.value))
                ):
                    found.setdefault(target.id, []).extend(kinds)
            self._locals = found
        return self._locals

    def attribute_types(self, attribute: str) -> list[type]:
        """The package classes ``self.<attribute>`` holds, as annotated or assigned in __init__."""
        assert self.owner is not None
        found: list[type] = []
        for cls in self.owner.__mro__:
            if not _ours(cls):
                continue
            found += _flatten(_hints(cls).get(attribute))
            init = vars(cls).get("__init__")
            if isinstance(init, types.FunctionType):
                found += _init_assignments(init).get(attribute, [])
        return [kind for kind in found if _ours(kind)]

    def call_raises(self, call: ast.Call) -> set[type[BaseException]]:
        target = self.lookup(call.func)
        if isinstance(target, type) and _ours(target):
            if issubclass(target, BaseException):
                return set()
            return constructor_raises(target, self.stack)
        func = _unwrap(target)
        if not isinstance(func, types.FunctionType) or not _ours(func):
            return set()
        owner = self.owner
        if isinstance(call.func, ast.Attribute):
            qualname_owner = func.__qualname__.rpartition(".")[0]
            owner = _owner_class(func, qualname_owner) or owner
        return callable_contract(func, owner, self.stack)

    # Walking the body.

    def run(self) -> set[type[BaseException]]:
        node = _function_node(self.func)
        if node is None:
            return set()
        return self.statements(node.body, reraise=set())

    def statements(
        self, body: list[ast.stmt], reraise: set[type[BaseException]]
    ) -> set[type[BaseException]]:
        raised: set[type[BaseException]] = set()
        for stmt in body:
            raised |= self.statement(stmt, reraise)
        return raised

    def statement(
        self, stmt: ast.stmt, reraise: set[type[BaseException]]
    ) -> set[type[BaseException]]:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return set()  # runs later, if at all
        if isinstance(stmt, (ast.Try, ast.TryStar)):
            return self.try_statement(stmt, reraise)
        if isinstance(stmt, ast.Raise):
            return self.raise_statement(stmt, reraise)
        if isinstance(stmt, (ast.With, ast.AsyncWith)) and (suppressed := self.suppressed(stmt)):
            inside = self.statements(stmt.body, reraise)
            return {kind for kind in inside if not issubclass(kind, suppressed)}
        raised: set[type[BaseException]] = set()
        for _, value in ast.iter_fields(stmt):
            for part in value if isinstance(value, list) else [value]:
                raised |= self.part(part, reraise)
        return raised

    def part(self, part: object, reraise: set[type[BaseException]]) -> set[type[BaseException]]:
        """What one field of a statement raises: a statement, expression or with/match item."""
        if isinstance(part, ast.stmt):
            return self.statement(part, reraise)
        if isinstance(part, ast.expr):
            return self.expression(part)
        if isinstance(part, ast.withitem):
            return self.expression(part.context_expr)
        if isinstance(part, ast.match_case):
            return self.statements(part.body, reraise)
        return set()

    def expression(self, expr: ast.expr) -> set[type[BaseException]]:
        raised: set[type[BaseException]] = set()
        pending: list[ast.AST] = [expr]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.Lambda):
                continue
            if isinstance(node, ast.Call):
                raised |= self.call_raises(node)
                raised |= self.handed_on(node)
            pending.extend(ast.iter_child_nodes(node))
        return raised

    def handed_on(self, call: ast.Call) -> set[type[BaseException]]:
        """What functions of ours passed to ``call`` raise, where the callee calls them.

        ``_call(parse=_parse_json)`` runs the parser in the same call; a function
        only stored for later (a route handler, a checker) raises nothing here.
        """
        target = self.lookup(call.func)
        callee = _unwrap(target)
        if not isinstance(callee, types.FunctionType) or not _ours(callee):
            return set()
        positional = [
            p.name
            for p in inspect.signature(callee).parameters.values()
            if p.kind in {p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD}
        ]
        if isinstance(call.func, ast.Attribute) and not isinstance(target, staticmethod):
            positional = positional[1:]  # self or cls
        arguments = [
            *zip(positional, call.args, strict=False),
            *((keyword.arg, keyword.value) for keyword in call.keywords),
        ]
        raised: set[type[BaseException]] = set()
        for parameter, argument in arguments:
            handed = _unwrap(self.lookup(argument))
            if (
                isinstance(handed, types.FunctionType)
                and _ours(handed)
                and parameter is not None
                and _uses_as_callable(callee, parameter)
            ):
                raised |= callable_contract(handed, self.owner, self.stack)
        return raised

    def raise_statement(
        self, stmt: ast.Raise, reraise: set[type[BaseException]]
    ) -> set[type[BaseException]]:
        if stmt.exc is None:
            return set(reraise)
        exc = stmt.exc
        raised: set[type[BaseException]] = set()
        head = exc.func if isinstance(exc, ast.Call) else exc
        target = self.lookup(head)
        if (kind := _exception_class(target)) is not None:
            raised.add(kind)
        elif isinstance(exc, ast.Call) and isinstance(func := _unwrap(target), types.FunctionType):
            returned = _hints(func).get("return")
            raised.update(k for k in _flatten(returned) if _exception_class(k))
        elif isinstance(exc, ast.Name):
            raised |= set(reraise)  # ``except X as exc: ... raise exc``
        if isinstance(exc, ast.Call):
            for argument in [*exc.args, *(keyword.value for keyword in exc.keywords)]:
                raised |= self.expression(argument)
        return raised

    def try_statement(
        self, stmt: ast.Try | ast.TryStar, reraise: set[type[BaseException]]
    ) -> set[type[BaseException]]:
        inside = self.statements(stmt.body, reraise)
        escaping = set(inside)
        raised: set[type[BaseException]] = set()
        for handler in stmt.handlers:
            caught_by = self.handler_types(handler)
            caught = {kind for kind in escaping if issubclass(kind, caught_by)}
            # A handler for a base class also catches what a callee raised as a subclass
            # it did not name; only what we know of can come back out of it.
            escaping -= caught
            raised |= self.statements(handler.body, caught)
        raised |= escaping
        raised |= self.statements(stmt.orelse, reraise)
        raised |= self.statements(stmt.finalbody, reraise)
        return raised

    def suppressed(self, stmt: ast.With | ast.AsyncWith) -> tuple[type[BaseException], ...]:
        """What a ``with contextlib.suppress(...)`` around ``stmt``'s body swallows."""
        kinds: list[type[BaseException]] = []
        for item in stmt.items:
            call = item.context_expr
            if isinstance(call, ast.Call) and self.lookup(call.func) is contextlib.suppress:
                kinds.extend(k for a in call.args if (k := _exception_class(self.lookup(a))))
        return tuple(kinds)

    def handler_types(self, handler: ast.ExceptHandler) -> tuple[type[BaseException], ...]:
        if handler.type is None:
            return (BaseException,)
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        kinds = [_exception_class(self.lookup(name)) for name in names]
        return tuple(kind for kind in kinds if kind is not None)


@functools.cache
def _package_names() -> dict[str, Any]:
    """Every class of the package by its name, for annotations imported only when type checking."""
    names: dict[str, Any] = {}
    for info in pkgutil.walk_packages(wechat_async.__path__, "wechat_async."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, type) and _ours(value) and value.__name__ == name:
                names.setdefault(name, value)
    return names


@functools.cache
def _init_assignments(init: types.FunctionType) -> dict[str, list[Any]]:
    """The types ``__init__`` gives its ``self.x``: an annotation, or the parameters assigned.

    ``self._store: TokenStore = store or MemoryTokenStore()`` gives TokenStore;
    ``self._t = transport`` gives ``transport``'s annotation.
    """
    node = _function_node(init)
    params = _hints(init)
    namespace = {**init.__globals__, **_package_names()}
    found: dict[str, list[Any]] = {}
    for stmt in ast.walk(node) if node is not None else ():
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            if not (isinstance(target, ast.Attribute) and _is_name(target.value, "self")):
                continue
            kinds = found.setdefault(target.attr, [])
            if isinstance(stmt, ast.AnnAssign):
                with contextlib.suppress(Exception):
                    kinds += _flatten(eval(ast.unparse(stmt.annotation), namespace))  # noqa: S307 - our own annotations
                continue
            for name in _value_names(stmt.value):
                kinds += _flatten(params.get(name))
    return found


def _value_names(value: ast.expr) -> list[str]:
    """The names an assigned value may be: ``a``, ``a or b``, ``a if c else b``."""
    if isinstance(value, ast.Name):
        return [value.id]
    if isinstance(value, ast.BoolOp):
        return [name for item in value.values for name in _value_names(item)]
    if isinstance(value, ast.IfExp):
        return [*_value_names(value.body), *_value_names(value.orelse)]
    return []


def _uses_as_callable(func: types.FunctionType, parameter: str) -> bool:
    """Whether ``func`` calls ``parameter`` or hands it on to another call."""
    node = _function_node(func)
    return node is not None and any(
        isinstance(call, ast.Call)
        and (
            _is_name(call.func, parameter)
            or any(_is_name(a, parameter) for a in call.args)
            or any(_is_name(k.value, parameter) for k in call.keywords)
        )
        for call in ast.walk(node)
    )


def _is_name(expr: ast.expr, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


def _is_call_of(expr: ast.expr, name: str) -> bool:
    return isinstance(expr, ast.Call) and _is_name(expr.func, name)


def _hints(obj: object) -> dict[str, Any]:
    """Resolved annotations; one that cannot be resolved (a third-party type) is left out."""
    with contextlib.suppress(Exception):  # else resolve them one by one
        return typing.get_type_hints(obj, localns=_package_names())
    namespace = {**getattr(obj, "__globals__", {}), **_package_names()}
    hints: dict[str, Any] = {}
    for name, annotation in getattr(obj, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation  # noqa: S307 - our own annotations
        except Exception:  # noqa: BLE001, S112 - not a type this test follows
            continue
    return hints


def _flatten(annotation: object) -> list[type]:
    """The classes an annotation allows: ``A | B | None`` gives A and B, ``dict[K, V]`` dict."""
    if annotation is None:
        return []
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in {typing.Union, types.UnionType}:
        return [kind for arg in typing.get_args(annotation) for kind in _flatten(arg)]
    return [origin] if isinstance(origin, type) else []


def _owner_class(func: types.FunctionType, qualname: str) -> type | None:
    module = importlib.import_module(func.__module__)
    owner: object = module
    for part in qualname.split("."):
        owner = getattr(owner, part, None)
    return owner if isinstance(owner, type) else None


def callable_contract(
    func: types.FunctionType, owner: type | None, stack: tuple[object, ...] = ()
) -> set[type[BaseException]]:
    """What a call of ``func`` can raise: its "Raises:" section if it has one, else its body."""
    documented = documented_raises(func.__doc__, func.__globals__)
    if documented:
        return set(documented.values())
    node = _function_node(func)
    if func in stack or node is None or _is_stub(node):
        return set()
    return _Analysis(func, owner, (*stack, func)).run()


def constructor_raises(cls: type, stack: tuple[object, ...] = ()) -> set[type[BaseException]]:
    """What building ``cls`` can raise: its documented contract, else what its hooks raise."""
    documented = constructor_documented(cls)
    if documented:
        return set(documented.values())
    return _constructor_body_raises(cls, stack)


def constructor_documented(cls: type) -> dict[str, type[BaseException]]:
    """The Raises sections of a class and its own __init__ (the reference shows them as one)."""
    namespace = vars(importlib.import_module(cls.__module__))
    init_doc = getattr(vars(cls).get("__init__"), "__doc__", None)
    return {
        **documented_raises(cls.__doc__, namespace),
        **documented_raises(init_doc, namespace),
    }


def _constructor_body_raises(cls: type, stack: tuple[object, ...]) -> set[type[BaseException]]:
    raised: set[type[BaseException]] = set()
    if cls in stack:
        return raised
    for hook in ("__init__", "__post_init__", "__attrs_post_init__"):
        # The hook that runs is the first in the MRO; it reaches the others through super().
        method = next((vars(k)[hook] for k in cls.__mro__ if hook in vars(k)), None)
        if isinstance(method, types.FunctionType) and _ours(method):
            raised |= _Analysis(method, cls, (*stack, cls)).run()
    if attrs.has(cls):
        for field in attrs.fields(cls):
            for validator in _validators(field.validator):
                raised |= callable_contract(validator, None, (*stack, cls))
    return raised


def _validators(validator: object) -> list[types.FunctionType]:
    if validator is None:
        return []
    if isinstance(validator, types.FunctionType):
        return [validator] if _ours(validator) else []
    found: list[types.FunctionType] = []
    for inner in getattr(validator, "_validators", ()):  # attrs.validators.and_
        found.extend(_validators(inner))
    return found


# --- the subjects -----------------------------------------------------------------


def _public_callables() -> list[tuple[str, Any, type | None]]:
    subjects: list[tuple[str, Any, type | None]] = []
    seen: set[str] = set()
    for module_name in _documented_modules():
        module = importlib.import_module(module_name)
        modules = [module]
        if hasattr(module, "__path__"):
            modules += [
                importlib.import_module(info.name)
                for info in pkgutil.iter_modules(module.__path__, module_name + ".")
            ]
        for mod in modules:
            for name in getattr(mod, "__all__", ()):
                obj = getattr(mod, name)
                if getattr(obj, "__module__", None) != mod.__name__:
                    continue
                qualname = f"{mod.__name__}.{name}"
                if qualname in seen:
                    continue
                seen.add(qualname)
                if isinstance(obj, types.FunctionType):
                    subjects.append((qualname, obj, None))
                elif isinstance(obj, type):
                    subjects.append((qualname, obj, obj))
                    for attr, value in vars(obj).items():
                        func = _unwrap(value)
                        if not attr.startswith("_") and isinstance(func, types.FunctionType):
                            subjects.append((f"{qualname}.{attr}", func, obj))
    return subjects


SUBJECTS = _public_callables()


def _analyse(
    obj: Any,
    owner: type | None,
) -> tuple[set[type[BaseException]] | None, dict[str, type[BaseException]]]:
    """What ``obj`` can raise (None for a protocol or abstract stub), and what it documents."""
    if isinstance(obj, type):
        documented = constructor_documented(obj)
        if issubclass(obj, BaseException):
            return set(), documented
        return _constructor_body_raises(obj, ()), documented
    documented = documented_raises(obj.__doc__, obj.__globals__)
    node = _function_node(obj)
    if node is None or _is_stub(node):
        return None, documented
    return _Analysis(obj, owner, (obj,)).run(), documented


@pytest.mark.parametrize(("qualname", "obj", "owner"), SUBJECTS, ids=[s[0] for s in SUBJECTS])
def test_raises_section_is_complete_and_true(qualname: str, obj: Any, owner: type | None) -> None:
    found, documented = _analyse(obj, owner)
    if found is None:
        return  # a stub has no body: its section is the contract its callers are read against
    missing = sorted(
        kind.__name__
        for kind in found
        if not any(issubclass(kind, named) for named in documented.values())
        and (qualname, kind.__name__) not in CANNOT_ESCAPE
    )
    assert not missing, (
        f"{qualname} can raise {missing} but its docstring's Raises: does not say so"
    )
    promised = sorted(
        name
        for name, named in documented.items()
        if not any(issubclass(kind, named) or issubclass(named, kind) for kind in found)
        and (qualname, name) not in UNSEEN
    )
    assert not promised, f"{qualname} documents {promised}, which nothing in it raises"
