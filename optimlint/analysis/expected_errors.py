"""Is a node inside a test of torch's own error: ``with pytest.raises(...)`` /
``with self.assertRaises(...)`` around it, in its function (the construction rules stay silent
on a construction a test expects to raise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

if TYPE_CHECKING:
    from optimlint.context import FileContext

_RAISES = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})


def expects_error(ctx: "FileContext", node: cst.CSTNode) -> bool:
    """``node`` runs under ``with pytest.raises(...)`` / ``self.assertRaises(...)``."""
    cur = ctx.parents.get(node)
    while cur is not None:
        if isinstance(cur, cst.With):
            for item in cur.items:
                f = item.item.func if isinstance(item.item, cst.Call) else None
                name = f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else None
                if name in _RAISES:
                    return True
        if isinstance(cur, (cst.FunctionDef, cst.ClassDef)):
            return False
        cur = ctx.parents.get(cur)
    return False
