"""Source locations and diagnostics, rendered the way bpftrace prints them.

Every pass reports problems here instead of raising, so that one run can show
several errors; the driver stops after the first pass that left an error.  The
rendering matches bpftrace 0.17:

    stdin:1:14-16: ERROR: Undefined or undeclared variable: $y
    BEGIN { $x = $y + 1; }
                 ~~

Columns are 1-based over the raw text; the echoed line has tabs expanded to
four spaces and the marker is shifted to match.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Location:
    """A span in one source: line and column are 1-based, `end_col` is exclusive."""

    line: int = 0
    col: int = 0
    end_line: int = 0
    end_col: int = 0

    def __bool__(self) -> bool:
        return self.line > 0

    def to(self, other: "Location") -> "Location":
        """The span from the start of self to the end of other."""
        if not self or not other:
            return self or other
        return Location(self.line, self.col, other.end_line, other.end_col)


NOWHERE = Location()


@dataclass(slots=True)
class Diagnostic:
    severity: str  # "ERROR" or "WARNING"
    message: str
    loc: Location = NOWHERE
    hints: list[str] = field(default_factory=list)


class DiagnosticError(Exception):
    """Raised by the driver when a stage ends with errors; carries the rendered text."""

    def __init__(self, diags: "Diagnostics"):
        super().__init__(diags.render())
        self.diags = diags


class Diagnostics:
    """Collects errors and warnings for one source text."""

    def __init__(self, source: str = "", filename: str = "stdin"):
        self.source = source
        self.filename = filename
        self.items: list[Diagnostic] = []
        self._lines = source.split("\n")

    def error(self, message: str, loc: Location = NOWHERE, hint: str | None = None) -> Diagnostic:
        d = Diagnostic("ERROR", message, loc, [hint] if hint else [])
        self.items.append(d)
        return d

    def warning(self, message: str, loc: Location = NOWHERE) -> Diagnostic:
        d = Diagnostic("WARNING", message, loc)
        self.items.append(d)
        return d

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "ERROR"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "WARNING"]

    def has_errors(self) -> bool:
        return any(d.severity == "ERROR" for d in self.items)

    def check(self) -> None:
        """Raise DiagnosticError if any error was reported."""
        if self.has_errors():
            raise DiagnosticError(self)

    def render(self, severities: tuple[str, ...] = ("WARNING", "ERROR")) -> str:
        """All diagnostics of the given severities, as bpftrace prints them: warnings
        first (0.17 prints them as it finds them, and its errors at the end of a pass)."""
        out = []
        for sev in severities:
            for d in self.items:
                if d.severity == sev:
                    out.append(self.render_one(d))
        return "".join(out)

    def render_one(self, d: Diagnostic) -> str:
        loc = d.loc
        if not loc:
            text = f"{d.severity}: {d.message}\n"
        elif loc.end_line > loc.line:  # 0.17 prints only the line range of these
            text = f"{self.filename}:{loc.line}-{loc.end_line}: {d.severity}: {d.message}\n"
        else:
            text = f"{self.filename}:{loc.line}:{loc.col}-{loc.end_col}: {d.severity}: {d.message}\n"
            raw = self._line(loc.line)
            start = len(raw[: loc.col - 1].replace("\t", "    "))
            width = len(raw[loc.col - 1 : loc.end_col - 1].replace("\t", "    "))
            text += raw.replace("\t", "    ") + "\n"
            text += " " * start + "~" * width + "\n"
        for h in d.hints:
            text += f"HINT: {h}\n"
        return text

    def _line(self, n: int) -> str:
        return self._lines[n - 1] if 0 < n <= len(self._lines) else ""
