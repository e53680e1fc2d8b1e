"""Community reviews: what the log commits to, what is kept beside it, and how a review reads.

A review (an experience, a complaint, a suggestion or a question) is a ``review`` statement that
the operator signs on the consumer's behalf. Its leaf commits to a salted hash of the content, never
to the content itself::

    commitment = base64(SHA-256(salt ‖ content))      content = canonical JSON of
                                                       {item, kind, name, rating, text, title}

The content, its salt and the author's private contact are kept beside the log
(``review_content``). Erasure, on the author's request or a legal one, blanks them and leaves the
commitment, so the log still verifies and the page shows "erased on request". Anyone holding the
content and the salt can check it against the leaf (the page's verifier does).

What happens to a review afterwards is more statements pointing at it by index: an answer by the
brand or a supplier (``review.answer``), a moderator hiding it for a listed reason
(``review.hide``), its erasure (``review.erase``), and the author's resolution or escalation of a
complaint (``review.status``). Nothing is ever deleted; a review disappears from a page only with a
visible, signed reason.

Rules checked in the append transaction (so that a refusal appends nothing): the same text about the
same item is refused as a duplicate, and a holder code (printed inside a serial's packaging) must
exist for that serial and be unused; using it marks the review "verified holder" and spends it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, text, update

from provenance.errors import ConflictError, InvalidStatementError
from provenance.store.schema import HOLDER_CODE, REVIEW_CONTENT
from provenance.store.sql import Reader, WriteTransaction

KINDS = ("experience", "complaint", "suggestion", "question")
HIDE_REASONS = ("spam", "abuse", "personal-data", "off-topic")
ERASE_REASONS = ("author-request", "legal")
MAX_TITLE = 120
MAX_TEXT = 4000
MAX_NAME = 60
MAX_CONTACT = 200
SALT_BYTES = 16

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Unicode's control characters (category Cc: U+0000-U+001F and U+007F-U+009F) but tab and
newline, which a text may hold."""

ITEM_STEM = "https://id.gs1.org"


@dataclass(frozen=True)
class ReviewContent:
    """What a reviewer wrote, as committed to. ``name`` is optional and shown publicly."""

    item: str
    kind: str
    rating: int | None
    title: str
    text: str
    name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidStatementError(f"kind must be one of {', '.join(KINDS)}")
        if self.rating is not None and not 1 <= self.rating <= 5:
            raise InvalidStatementError("rating must be from 1 to 5")
        if self.kind == "experience" and self.rating is None:
            raise InvalidStatementError("an experience needs a rating from 1 to 5")
        for name, value, limit, required in (
            ("title", self.title, MAX_TITLE, True),
            ("text", self.text, MAX_TEXT, True),
            ("name", self.name or "", MAX_NAME, False),
        ):
            if required and not value.strip():
                raise InvalidStatementError(f"{name} must not be empty")
            if len(value) > limit:
                raise InvalidStatementError(f"{name} is {len(value)} characters; at most {limit}")
            if _CONTROL.search(value):
                raise InvalidStatementError(f"{name} holds control characters")

    @functools.cached_property
    def _bytes(self) -> bytes:
        fields = {
            "item": self.item,
            "kind": self.kind,
            "name": self.name,
            "rating": self.rating,
            "text": self.text,
            "title": self.title,
        }
        return json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def to_bytes(self) -> bytes:
        """The exact bytes the commitment covers: canonical JSON (sorted keys, no spaces)."""
        return self._bytes  # made once: the statement and the stored content both need them

    @classmethod
    def from_bytes(cls, data: bytes) -> ReviewContent:
        fields = json.loads(data)
        return cls(**fields)

    def fingerprint(self) -> bytes:
        """What makes two reviews duplicates: the same item and the same words (case, spacing
        and punctuation aside)."""
        words = " ".join(re.findall(r"\w+", (self.title + " " + self.text).casefold()))
        return hashlib.sha256(f"{self.item}\n{words}".encode()).digest()


def commitment(salt: bytes, content: bytes) -> str:
    """base64 SHA-256(salt ‖ content): what a review's leaf commits to."""
    return base64.b64encode(hashlib.sha256(salt + content).digest()).decode()


def holder_code_hash(item: str, code: str) -> bytes:
    """How a holder code is stored: scrypt of the code with the serial as salt, so that a leaked
    table does not give the short codes away at the speed of SHA-256."""
    normalised = re.sub(r"[\s-]", "", code).upper()
    return hashlib.scrypt(normalised.encode(), salt=item.encode(), n=2**12, r=8, p=1, dklen=32)


def author_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class NewReview:
    """A review ready to be signed and appended: its statement body and what goes beside it."""

    content: ReviewContent
    salt: bytes
    contact: str | None
    holder_code: bytes | None  # hash of the presented code, if any
    author_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def statement(self) -> dict[str, Any]:
        """The ``review`` statement body the operator signs (``by`` is added by the signer)."""
        body: dict[str, Any] = {
            "type": "review",
            "items": [ITEM_STEM + self.content.item],
            "commitment": commitment(self.salt, self.content.to_bytes()),
        }
        if self.holder_code is not None:
            body["holder"] = True
        return body

    def admit(self, txn: WriteTransaction, index: int, time_ms: int) -> None:
        """Write the content beside the log in the append transaction; refuse a duplicate or a
        holder code that is unknown for this item or already used (nothing is appended then)."""
        fingerprint = self.content.fingerprint()
        if self.holder_code is not None:
            code = txn.connection.execute(
                select(HOLDER_CODE.c.item, HOLDER_CODE.c.used_by).where(
                    HOLDER_CODE.c.code_hash == self.holder_code
                )
            ).first()
            if code is None or code[0] != self.content.item:
                raise InvalidStatementError("this holder code is not valid for this item")
            if code[1] is not None:
                raise ConflictError("this holder code was already used for a review")
        # One statement under the append lock: a duplicate's fingerprint conflicts and inserts
        # nothing (ON CONFLICT DO NOTHING keeps the batch's transaction usable on PostgreSQL).
        inserted = txn.first_row(
            _INSERT_CONTENT,
            {
                "idx": index,
                "item": self.content.item,
                "kind": self.content.kind,
                "rating": self.content.rating,
                "created_ms": time_ms,
                "salt": self.salt,
                "content": self.content.to_bytes(),
                "contact": self.contact,
                "fingerprint": fingerprint,
                "author_token_hash": author_token_hash(self.author_token),
            },
        )
        if inserted is None:
            taken = txn.connection.execute(
                select(REVIEW_CONTENT.c.idx).where(REVIEW_CONTENT.c.fingerprint == fingerprint)
            ).scalar()
            raise ConflictError(
                f"the same review of this item is already in the log (entry {taken})"
            )
        if self.holder_code is not None:  # spent only now that nothing can refuse the review
            txn.connection.execute(
                update(HOLDER_CODE)
                .where(HOLDER_CODE.c.code_hash == self.holder_code)
                .values(used_by=index)
            )


# Plain SQL, built once: the same text on SQLite (3.35+) and PostgreSQL, and a fifth of the cost of
# building the equivalent Core statement for each review inside the append lock.
_INSERT_CONTENT = text(
    "INSERT INTO review_content (idx, item, kind, rating, created_ms, salt, content, contact,"
    " fingerprint, author_token_hash, erased_ms) VALUES (:idx, :item, :kind, :rating,"
    " :created_ms, :salt, :content, :contact, :fingerprint, :author_token_hash, NULL)"
    " ON CONFLICT (fingerprint) DO NOTHING RETURNING idx"
)


def new_review(
    content: ReviewContent, contact: str | None = None, holder_code: str | None = None
) -> NewReview:
    """Prepare a review; raise InvalidStatementError for a bad contact or a holder code on an
    item that is not a serial."""
    if contact is not None and len(contact) > MAX_CONTACT:
        raise InvalidStatementError(f"contact is {len(contact)} characters; at most {MAX_CONTACT}")
    code_hash = None
    if holder_code:
        if "/21/" not in content.item:
            raise InvalidStatementError("a holder code belongs to one serial: review the serial")
        code_hash = holder_code_hash(content.item, holder_code)
    return NewReview(content, secrets.token_bytes(SALT_BYTES), contact or None, code_hash)


def add_holder_codes(txn: WriteTransaction, item: str, codes: list[str]) -> int:
    """Store the hashes of ``codes`` for the serial ``item``; return how many were new."""
    hashes = [holder_code_hash(item, code) for code in codes]
    existing = {
        bytes(r[0])
        for r in txn.connection.execute(
            select(HOLDER_CODE.c.code_hash).where(HOLDER_CODE.c.code_hash.in_(hashes))
        )
    }
    new = [
        {"code_hash": h, "item": item, "used_by": None}
        for h in dict.fromkeys(hashes)
        if h not in existing
    ]
    if new:
        txn.connection.execute(HOLDER_CODE.insert(), new)
    return len(new)


def erase(txn: WriteTransaction, review: int, time_ms: int) -> None:
    """Blank a review's content, salt and contact beside the log (after its ``review.erase``
    entry is appended); the row stays, with the time of erasure."""
    txn.connection.execute(
        update(REVIEW_CONTENT)
        .where(REVIEW_CONTENT.c.idx == review)
        .values(content=None, salt=None, contact=None, rating=None, erased_ms=time_ms)
    )


# --- Reading -------------------------------------------------------------------------------------


@dataclass
class Answer:
    index: int
    time_ms: int
    by: str
    text: str


@dataclass
class ReviewView:
    """A review as pages show it: its content unless erased, and what happened to it since."""

    index: int
    item: str
    kind: str
    time_ms: int
    holder: bool
    content: ReviewContent | None
    salt: bytes | None
    content_bytes: bytes | None
    erased: str | None = None  # the erasure's reason
    hidden: str | None = None  # the moderator's reason
    hidden_by: str | None = None
    status_by_author: str | None = None
    answers: list[Answer] = field(default_factory=list)

    @property
    def rating(self) -> int | None:
        return self.content.rating if self.content else None

    @property
    def status(self) -> str | None:
        """A complaint's public status: open, answered, resolved (by its author) or escalated."""
        if self.kind != "complaint":
            return None
        if self.status_by_author:
            return self.status_by_author
        return "answered" if self.answers else "open"

    @property
    def first_answer_ms(self) -> int | None:
        """How long the review waited for its first answer, in milliseconds (None: no answer)."""
        return self.answers[0].time_ms - self.time_ms if self.answers else None


def reviews(
    reader: Reader, items: list[str] | None = None, indexes: list[int] | None = None
) -> list[ReviewView]:
    """The reviews of ``items`` (keys) or at ``indexes``, oldest first, with their followers."""
    query = select(REVIEW_CONTENT).order_by(REVIEW_CONTENT.c.idx)
    if items is not None:
        query = query.where(REVIEW_CONTENT.c.item.in_(items))
    if indexes is not None:
        query = query.where(REVIEW_CONTENT.c.idx.in_(indexes))
    rows = reader.connection.execute(query).mappings().all()
    if not rows:
        return []
    views = {}
    for row in rows:
        content = ReviewContent.from_bytes(bytes(row["content"])) if row["content"] else None
        views[int(row["idx"])] = ReviewView(
            index=int(row["idx"]),
            item=row["item"],
            kind=row["kind"],
            time_ms=int(row["created_ms"]),
            holder=False,
            content=content,
            salt=bytes(row["salt"]) if row["salt"] else None,
            content_bytes=bytes(row["content"]) if row["content"] else None,
        )
    _apply_followers(reader, views)
    return list(views.values())


def _apply_followers(reader: Reader, views: dict[int, ReviewView]) -> None:
    from provenance.queries import statements

    followers = reader.connection.execute(
        text("SELECT idx FROM statement WHERE target IN :ids ORDER BY idx").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": list(views)},
    ).all()
    for own in statements(reader, list(views)):
        views[own.index].holder = bool(own.body.get("holder"))
    for follower in statements(reader, [int(r[0]) for r in followers]):
        view = views.get(int(follower.body.get("review", -1)))
        if view is None:
            continue
        if follower.type == "review.answer":
            view.answers.append(
                Answer(follower.index, follower.time_ms, follower.by, follower.body["text"])
            )
        elif follower.type == "review.hide":
            view.hidden, view.hidden_by = follower.body["reason"], follower.by
        elif follower.type == "review.erase":
            view.erased = follower.body["reason"]
        elif follower.type == "review.status":
            view.status_by_author = follower.body["status"]


@dataclass
class Aggregate:
    """Ratings and themes over a set of reviews (hidden and erased ones count only as such)."""

    count: int
    ratings: dict[int, int]
    average: float | None
    hidden: int
    erased: int
    complaint_terms: list[tuple[str, int]]
    suggestions: list[int]


_STOPWORDS_TEXT = """a an and are as at be but by for from has have i in is it its my of on or so
that the this to was were with we you your not no very too they them our me de la el en y que los
las un una es por con para del"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def aggregate(views: list[ReviewView], top_terms: int = 8) -> Aggregate:
    """Rating distribution and average, hidden and erased counts, the most common words of the
    visible complaints (simple term counts), and the suggestions, listed apart."""
    visible = [v for v in views if v.hidden is None and v.content is not None]
    ratings = Counter(v.rating for v in visible if v.rating is not None)
    total = sum(ratings.values())
    terms: Counter[str] = Counter()
    for view in visible:
        if view.kind == "complaint" and view.content is not None:
            words = re.findall(
                r"[^\W\d_]{3,}", (view.content.title + " " + view.content.text).casefold()
            )
            terms.update({w for w in words if w not in STOPWORDS})
    return Aggregate(
        count=len(views),
        ratings={stars: ratings.get(stars, 0) for stars in range(1, 6)},
        average=round(sum(s * n for s, n in ratings.items()) / total, 2) if total else None,
        hidden=sum(1 for v in views if v.hidden is not None),
        erased=sum(1 for v in views if v.erased is not None),
        complaint_terms=terms.most_common(top_terms),
        suggestions=[v.index for v in visible if v.kind == "suggestion"],
    )


def items_under(reader: Reader, key: str) -> list[str]:
    """``key`` and the keys below it that have reviews (a product's lots and serials, a lot's
    serials): the reviews a page rolls up."""
    prefix = key + "/"
    rows = reader.connection.execute(
        select(REVIEW_CONTENT.c.item)
        .where(
            (REVIEW_CONTENT.c.item == key)
            | (REVIEW_CONTENT.c.item.startswith(prefix, autoescape=True))
        )
        .distinct()
    ).all()
    return sorted(str(r[0]) for r in rows)


def author_of(reader: Reader, review: int, token: str) -> bool:
    """True if ``token`` is the author token given when review ``review`` was posted."""
    row = reader.connection.execute(
        select(REVIEW_CONTENT.c.author_token_hash).where(REVIEW_CONTENT.c.idx == review)
    ).first()
    return (
        row is not None
        and row[0] is not None
        and secrets.compare_digest(bytes(row[0]), author_token_hash(token))
    )


def hidden_by_moderator(reader: Reader) -> dict[str, int]:
    """How many reviews each moderator has hidden (public, so moderation can be watched)."""
    rows = reader.connection.execute(
        text("SELECT party, count(*) FROM statement WHERE type = 'review.hide' GROUP BY party")
    ).all()
    return {str(p): int(n) for p, n in rows}


def evidence_contents(views: list[ReviewView]) -> dict[str, dict[str, str]]:
    """What a page adds to its evidence so that each shown review's content can be checked
    against its commitment: ``{"<index>": {"content": <text>, "salt": <base64>}}``."""
    return {
        str(v.index): {
            "content": v.content_bytes.decode(),
            "salt": base64.b64encode(v.salt).decode(),
        }
        for v in views
        if v.hidden is None and v.content_bytes is not None and v.salt is not None
    }


@dataclass(frozen=True)
class ResponseTimes:
    """How a party answers the complaints about the items it put its name to."""

    complaints: int
    answered: int
    median_wait_ms: int | None


def response_times(reader: Reader, party: str) -> ResponseTimes:
    """Complaints about items ``party`` made statements about (at their level or above), how many
    it answered, and the median wait for its first answer."""
    rows = reader.connection.execute(
        text(
            "SELECT DISTINCT r.item FROM item_ref r JOIN statement s ON s.idx = r.idx"
            " WHERE s.party = :p AND r.role IN ('subject', 'input', 'output')"
        ),
        {"p": party},
    ).all()
    items: set[str] = set()
    for (item,) in rows:
        items.update(items_under(reader, str(item)))
    complaints = [v for v in reviews(reader, items=sorted(items)) if v.kind == "complaint"]
    waits = sorted(
        next(a.time_ms for a in v.answers if a.by == party) - v.time_ms
        for v in complaints
        if any(a.by == party for a in v.answers)
    )
    median = waits[len(waits) // 2] if waits else None
    return ResponseTimes(len(complaints), len(waits), median)
