"""Is a node inside a test of torch's own error: ``with pytest.raises(...)`` /
``with self.assertRaises(...)`` around it. The construction rules (OPT301-OPT304, OPT307) and
OPT602 stay silent on code a test expects to raise.

A function defined inside such a block counts as inside it (``with pytest.raises(E): def
step(): ...; step()``: the definition exists for that test); a class ends the search."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis.symbols import callee_name

if TYPE_CHECKING:
    from optimlint.context import FileContext

# pytest's ``raises`` and unittest's assertion contexts (``assertRaisesRegexp``: its alias before
# Python 3.12).
_RAISES = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})


def expects_error(ctx: "FileContext", node: cst.CSTNode) -> bool:
    """``node`` runs under ``with pytest.raises(...)`` / ``self.assertRaises(...)``."""
    cur = ctx.parents.get(node)
    while cur is not None and not isinstance(cur, cst.ClassDef):
        if isinstance(cur, cst.With):
            for item in cur.items:
                f = item.item.func if isinstance(item.item, cst.Call) else None
                name = callee_name(f)
                if name in _RAISES:
                    return True
        cur = ctx.parents.get(cur)
    return False
