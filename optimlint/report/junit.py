"""JUnit XML (Ruff's shape): one testsuite per file, one failing testcase per finding."""

from __future__ import annotations

import os
from typing import TextIO
from xml.sax.saxutils import quoteattr, escape

from optimlint.report.paths import display_path


def render_junit(diagnostics, stream: TextIO) -> None:
    by_file: dict[str, list] = {}
    for d in diagnostics:
        by_file.setdefault(display_path(d.filename), []).append(d)
    total = len(diagnostics)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    if not by_file:
        stream.write('<testsuites name="optimlint" tests="1" failures="0" errors="0">\n'
                     '    <testsuite name="optimlint" tests="1" disabled="0" errors="0" failures="0" '
                     'package="org.optimlint">\n'
                     '        <testcase name="No errors found" classname="optimlint"/>\n'
                     '    </testsuite>\n</testsuites>\n')
        return
    stream.write(f'<testsuites name="optimlint" tests="{total}" failures="{total}" errors="0">\n')
    for path, diags in by_file.items():
        classname = os.path.splitext(path)[0].replace("/", ".")
        stream.write(f'    <testsuite name={quoteattr(path)} tests="{len(diags)}" disabled="0" errors="0" '
                     f'failures="{len(diags)}" package="org.optimlint">\n')
        for d in diags:
            cell = (d.extra or {}).get("cell")
            where = f"cell {cell}, " if cell is not None else ""
            stream.write(f'        <testcase name={quoteattr("org.optimlint." + d.code)} '
                         f'classname={quoteattr(classname)} line="{d.location.row}" '
                         f'column="{d.location.column}">\n')
            stream.write(f'            <failure message={quoteattr(d.message)}>'
                         f'{escape(f"{where}line {d.location.row}, col {d.location.column}, {d.message}")}'
                         f'</failure>\n')
            stream.write('        </testcase>\n')
        stream.write('    </testsuite>\n')
    stream.write('</testsuites>\n')
