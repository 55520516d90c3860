"""What a file's argparse parser says about its options: each destination's flag, default and
help (``argparse_options``), and which ones provably default to zero (``argparse_zero_defaults``).

OPT302 stays silent on ``Adam(..., weight_decay=args.weight_decay)`` when the file's parser
provably defaults it to zero and nothing else sets it, and reads the option's default and help
as evidence of what decay was meant."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import construction_args as A
from optimlint.analysis import walk as _walk

if TYPE_CHECKING:
    from optimlint.context import FileContext


def argparse_zero_defaults(ctx: "FileContext") -> dict[str, bool]:
    """For each argparse destination of the file: whether every ``add_argument`` defining it has a
    literal zero default and nothing else in the file sets it (``x.dest = ...``, ``set_defaults``).
    One walk per file (``ctx.cached``)."""
    return ctx.cached("argparse.zero_defaults", lambda: _zero_defaults(ctx))


def _zero_defaults(ctx: "FileContext") -> dict[str, bool]:
    zero: dict[str, bool] = {}
    other: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            f = node.func
            if isinstance(f, cst.Name) and f.value == "setattr":  # setattr(args, "weight_decay", ...)
                pos = A.positional(node)
                name = A.string_value(pos[1].value) if len(pos) > 1 else None
                other.add(name if name is not None else "*")
                return
            if not isinstance(f, cst.Attribute):
                return
            if f.attr.value == "set_defaults":
                other.update(a.keyword.value for a in node.args if a.keyword is not None)
                other.update("*" for a in node.args if a.star)
                return
            if f.attr.value != "add_argument":
                return
            dest = destination(node)
            if dest is None:
                return  # a positional argument: no default to rely on
            default = A.keyword_arg(node, "default")
            is_zero = default is not None and A.literal_number(default.value) == 0
            zero[dest] = zero.get(dest, True) and is_zero

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            if isinstance(node.target, cst.Attribute):
                other.add(node.target.attr.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if isinstance(node.target, cst.Attribute):
                other.add(node.target.attr.value)

    _walk.visit(ctx.module, V())
    if "*" in other:
        zero = {}
    return {k: v for k, v in zero.items() if v and k not in other}


def destination(add_argument: cst.Call) -> str | None:
    """The attribute ``parser.add_argument(...)`` stores into (``dest=``, else the first long
    flag, else the first short one); None for a positional argument."""
    dest_kw = A.keyword_arg(add_argument, "dest")
    dest = A.string_value(dest_kw.value) if dest_kw is not None else None
    if dest is not None:
        return dest
    names = [A.string_value(a.value) for a in A.positional(add_argument)]
    longs = [n for n in names if n and n.startswith("--")]
    shorts = [n for n in names if n and n.startswith("-") and not n.startswith("--")]
    first = longs[0] if longs else shorts[0] if shorts else None
    return first.lstrip("-").replace("-", "_") if first is not None else None


def argparse_options(ctx: "FileContext") -> dict[str, dict]:
    """For each argparse destination of the file: its first definition's flag, default and help."""

    def build() -> dict[str, dict]:
        out: dict[str, dict] = {}

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                f = node.func
                if not isinstance(f, cst.Attribute) or f.attr.value != "add_argument":
                    return
                dest = destination(node)
                if dest is None:
                    return
                flags = [n for n in (A.string_value(a.value) for a in A.positional(node)) if n and n.startswith("-")]
                default = A.keyword_arg(node, "default")
                help_kw = A.keyword_arg(node, "help")
                out.setdefault(dest, {"flag": flags[0] if flags else dest,
                                      "default": default.value if default is not None else None,
                                      "help": ctx.code(help_kw.value) if help_kw is not None else ""})

        _walk.visit(ctx.module, V())
        return out

    return ctx.cached("argparse.options", build)
