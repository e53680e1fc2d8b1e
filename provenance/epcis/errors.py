"""The errors of EPCIS handling, as subclasses of the ledger core's :class:`MalformedError`.

A document or event that breaks a structural rule of EPCIS 2.0 raises :class:`EPCISValidationError`,
which names where it broke: the JSON path (``epcisBody.eventList[1].eventTime``), the index of the
event in its event list, and the field inside that event. An identifier that cannot be converted to
GS1 Digital Link form raises :class:`EPCIdentifierError`. Both are 400s: the sender's input is wrong.
"""

from __future__ import annotations

from provenance.errors import MalformedError


class EPCISValidationError(MalformedError):
    """An EPCIS 2.0 document or event is not well formed.

    ``path`` is where the rule broke, from the document root (``epcisBody.eventList[1].action``);
    ``event_index`` is the position of the event in its event list (``None`` for document-level
    rules); ``field`` is the path inside the event (``action``, ``readPoint.id``), or the document
    field for document-level rules; ``detail`` says what is wrong.
    """

    code = "invalid-epcis"
    status = 400

    def __init__(
        self, path: str, detail: str, event_index: int | None = None, field: str = ""
    ) -> None:
        self.path = path
        self.detail = detail
        self.event_index = event_index
        self.field = field or path
        super().__init__(f"{path}: {detail}")

    def __reduce__(self) -> tuple[type, tuple[str, str, int | None, str]]:
        return type(self), (self.path, self.detail, self.event_index, self.field)


class EPCIdentifierError(MalformedError):
    """An EPC URI is malformed or of a scheme that has no GS1 Digital Link form here."""

    code = "invalid-epc"
    status = 400

    def __init__(self, uri: str, detail: str) -> None:
        self.uri = uri
        self.detail = detail
        super().__init__(f"{uri!r}: {detail}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.uri, self.detail)
