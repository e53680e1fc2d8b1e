"""The errors of the GS1 package: one class per layer, each naming the rule that was broken.

:class:`GS1Error` is raised for identifiers and element strings (a wrong check digit, a value outside
its character set); :class:`DigitalLinkError` for anything wrong with a GS1 Digital Link URI, including
the same value rules met inside a URI. Both carry ``rule`` (a stable, kebab-case name such as
``check-digit`` or ``key-qualifier-order``) and ``ai`` (the Application Identifier concerned, or
``None``), and their message starts with the rule.
"""

from __future__ import annotations

from provenance.errors import MalformedError


class GS1Error(MalformedError):
    """A GS1 identifier or element string breaks a rule of the GS1 General Specifications."""

    code = "malformed-gs1"

    def __init__(self, rule: str, detail: str, *, ai: str | None = None) -> None:
        self.rule = rule
        self.detail = detail
        self.ai = ai
        where = f"AI ({ai}) " if ai is not None else ""
        super().__init__(f"{rule}: {where}{detail}")

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild, (type(self), self.rule, self.detail, self.ai)


class DigitalLinkError(GS1Error):
    """A GS1 Digital Link URI (or the element string it is built from) breaks a rule."""

    code = "malformed-digital-link"


def _rebuild(cls: type[GS1Error], rule: str, detail: str, ai: str | None) -> GS1Error:
    # Keyword-only ``ai`` cannot go through the default pickling of exceptions.
    return cls(rule, detail, ai=ai)
