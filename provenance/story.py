"""An item's story, as a consumer's page tells it: what the product is, where it comes from, what
happened to it on the way, who vouches for what, and anything that went wrong.

``item_story`` gathers, from the read models and the log, every signed statement about the item,
the levels above it (a serial inherits what was said of its lot and product) and everything
upstream of it (the lots it was made from, to every origin), and arranges them into sections. It
only reads and arranges: every figure and sentence on the page comes from a statement, and every
statement it uses is listed in ``claims`` so that the page can prove each one. It never renders.

Footprint figures are rolled up over the inputs: a stage that reports ``gate-to-gate`` figures per
unit (``unit``) gets, for each input, the input's own per-unit figures times the quantity of input
that went into one unit of output (from the transformation's quantities). Figures whose units do
not line up are shown as they were reported, outside the total, rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text

from provenance import queries
from provenance.attestations import REVIEW, item_key
from provenance.queries import ItemKeys, StatementView
from provenance.registry import PartyState
from provenance.store.sql import Reader

FOOTPRINT_FIGURES = ("kg_co2e", "water_l", "land_m2", "energy_kwh")
STAGE_ONLY = "gate-to-gate"
"""The footprint scope that covers one stage only, so the inputs' share is added to it."""


@dataclass(frozen=True)
class PartyView:
    """A party as a page names it, with its standing in the network."""

    id: str
    name: str
    role: str
    country: str | None
    status: str
    status_reason: str | None

    @classmethod
    def of(cls, state: PartyState | None, party_id: str) -> PartyView:
        if state is None:
            return cls(party_id, party_id, "unknown", None, "unknown", None)
        return cls(
            state.id, state.name, state.role, state.country, state.status, state.status_reason
        )


@dataclass(frozen=True)
class Step:
    """One step of the timeline from origin to shelf."""

    date: str
    kind: str
    claim: StatementView


@dataclass(frozen=True)
class Certification:
    """A certification that covers a party, place or item in this item's chain."""

    claim: StatementView
    state: str  # valid, expired, not-yet-valid, withdrawn
    covers: str  # the party id or item key it is about


@dataclass(frozen=True)
class Declared:
    """One risk or benefit, with the statement that declared it."""

    text: str
    claim: StatementView


@dataclass(frozen=True)
class FootprintPart:
    """Figures that go into the total: a stage's own, or an input's share of them."""

    item: str
    share: float  # units of ``item`` in one unit of the page's item
    figures: dict[str, float]
    claim: StatementView


@dataclass
class Footprint:
    """The item's footprint per unit, rolled up over its inputs where the units allow it."""

    unit: str | None = None
    per: str | None = None
    total: dict[str, float] = field(default_factory=dict)
    parts: list[FootprintPart] = field(default_factory=list)
    apart: list[StatementView] = field(default_factory=list)


@dataclass(frozen=True)
class Recall:
    """A recall that reaches the item: of the item itself or of something it was made from."""

    claim: StatementView
    item: str
    direct: bool


@dataclass
class Story:
    """Everything an item's page shows, each part pointing at the statements it comes from."""

    item: ItemKeys
    level: str
    product: StatementView | None
    claims: dict[int, StatementView]
    parties: dict[str, PartyView]
    origins: list[StatementView]
    timeline: list[Step]
    transformations: list[StatementView]
    certifications: list[Certification]
    risks: list[Declared]
    benefits: list[Declared]
    footprint: Footprint
    recalls: list[Recall]
    amended: list[StatementView]
    upstream: list[str]
    lots: list[str]

    @property
    def suspended(self) -> list[PartyView]:
        """Parties behind the story's claims that are suspended from the network."""
        return [p for p in self.parties.values() if p.status == "suspended"]


def item_story(
    reader: Reader,
    keys: ItemKeys,
    parties: Mapping[str, PartyState],
    today: date,
) -> Story | None:
    """Return the story of the item ``keys`` names as the log tells it today, or None if it is
    unknown: a lot (or a serial of it) that no statement names and that was made from nothing
    recorded, or a product with no statement and no lot."""
    specific = [k for k in keys.covered_by if "/10/" in k or "/21/" in k]
    about_specific = queries.about_item(reader, specific)
    up = queries.lineage(reader, keys.lineage, "upstream", queries.MAX_LINEAGE_DEPTH)
    upstream = [k for k in up.nodes if k != keys.lineage]
    if specific and not about_specific and not upstream:
        return None  # a lot nobody recorded is unknown, even if its product is known
    own = about_specific + queries.about_item(reader, list(keys.covered_by[len(specific) :]))
    lots = [] if specific else lots_of(reader, keys.own)
    if not own and not upstream and not lots:
        return None
    inherited = queries.about_item(reader, upstream)
    # Reviews and what answers them are the community's, shown apart (provenance.reviews).
    claims = {v.index: v for v in own + inherited if not v.type.startswith(REVIEW)}
    current = [v for _, v in sorted(claims.items()) if v.status != "retracted"]
    chain_parties = {v.by for v in current}
    certifications = _certifications(reader, chain_parties, set(keys.covered_by) | set(upstream))
    for view, _covers in certifications:
        claims[view.index] = view
    claims = dict(sorted(claims.items()))
    story = Story(
        item=keys,
        level=_level(keys),
        product=_product(own),
        claims=claims,
        parties={},
        origins=[v for v in current if v.type == "origin"],
        timeline=_timeline(current),
        transformations=[v for v in current if v.type == "transformation"],
        certifications=[
            Certification(v, _validity(v, today), cover) for v, cover in certifications
        ],
        risks=[
            Declared(t, v)
            for v in current
            if v.type == "declaration"
            for t in v.body.get("risks", [])
        ],
        benefits=[
            Declared(t, v)
            for v in current
            if v.type == "declaration"
            for t in v.body.get("benefits", [])
        ],
        footprint=_footprint(keys, current),
        recalls=_recalls(keys, upstream, current),
        amended=[v for v in claims.values() if v.status != "current"],
        upstream=upstream,
        lots=lots,
    )
    named = {v.by for v in claims.values()}
    named |= {c.covers for c in story.certifications if not c.covers.startswith("/")}
    named |= {str(v.body[side]) for v in current if v.type == "custody" for side in ("from", "to")}
    story.parties = {p: PartyView.of(parties.get(p), p) for p in sorted(named)}
    return story


def _level(keys: ItemKeys) -> str:
    own = keys.own
    return "serial" if "/21/" in own else "lot" if "/10/" in own else "product"


def lots_of(reader: Reader, product: str) -> list[str]:
    """The keys of the lots of ``product`` (a GTIN-level key) that statements name."""
    prefix = product + "/10/"
    rows = reader.connection.execute(
        text("SELECT DISTINCT item FROM item_ref WHERE item >= :lo AND item < :hi ORDER BY item"),
        {"lo": prefix, "hi": prefix[:-1] + chr(ord(prefix[-1]) + 1)},
    ).all()
    return sorted({"/".join(str(r[0]).split("/")[:5]) for r in rows})


def _product(own: list[StatementView]) -> StatementView | None:
    """The latest current product statement at the most specific level that has one."""
    found = [v for v in own if v.type == "product" and v.status == "current"]
    return found[-1] if found else None


def _timeline(current: list[StatementView]) -> list[Step]:
    steps = [
        Step(str(v.body["date"]), v.type, v)
        for v in current
        if v.type in ("origin", "transformation", "custody") and "date" in v.body
    ]
    return sorted(steps, key=lambda s: (s.date, s.claim.index))


def _certifications(
    reader: Reader, parties: set[str], items: set[str]
) -> list[tuple[StatementView, str]]:
    """Certifications whose subject is one of ``parties`` or names one of ``items``."""
    rows = reader.connection.execute(
        text("SELECT idx FROM statement WHERE type = 'certification' ORDER BY idx")
    ).all()
    found = []
    for view in queries.statements(reader, [int(r[0]) for r in rows]):
        subject = view.body["subject"]
        if subject.get("party") in parties:
            found.append((view, str(subject["party"])))
            continue
        for uri in subject.get("items", []):
            if item_key(uri) in items:
                found.append((view, item_key(uri)))
                break
    return found


def _validity(view: StatementView, today: date) -> str:
    if view.status == "retracted":
        return "withdrawn"
    if today.isoformat() < str(view.body["valid_from"])[:10]:
        return "not-yet-valid"
    if today.isoformat() > str(view.body["valid_until"])[:10]:
        return "expired"
    return "valid"


def _recalls(keys: ItemKeys, upstream: list[str], current: list[StatementView]) -> list[Recall]:
    own = set(keys.covered_by)
    reached = own | set(upstream)
    found = []
    for view in current:
        if view.type != "recall":
            continue
        for uri in view.body["items"]:
            named = item_key(uri)
            if named in reached:
                found.append(Recall(view, named, named in own))
    return found


def _footprint(keys: ItemKeys, current: list[StatementView]) -> Footprint:
    """Roll the footprint figures up from the inputs to the item (see the module docstring)."""
    per_item: dict[str, StatementView] = {}
    for view in current:
        if view.type == "footprint":
            for uri in view.body["items"]:
                per_item[item_key(uri)] = view  # the latest statement per item wins
    made_from: dict[str, list[tuple[str, float]]] = {}
    for view in current:
        if view.type == "transformation":
            _shares(view, made_from)
    result = Footprint()
    start = next((k for k in keys.covered_by if k in per_item), keys.lineage)
    own = per_item.get(start)
    if own is not None:
        result.unit, result.per = own.body.get("unit"), own.body.get("per")
    used: set[int] = set()
    _add_footprint(start, 1.0, result.unit, per_item, made_from, result, used, set())
    result.apart = [
        v for v in {v.index: v for v in per_item.values()}.values() if v.index not in used
    ]
    for part in result.parts:
        for name, value in part.figures.items():
            result.total[name] = result.total.get(name, 0.0) + value * part.share
    return result


def _shares(view: StatementView, made_from: dict[str, list[tuple[str, float]]]) -> None:
    """Record, for each output of a transformation, how much of each input went into one unit of
    output: the input quantity over the total output quantity (outputs must share one unit)."""
    outputs = view.body["outputs"]
    units = {o.get("quantity", {}).get("unit") for o in outputs}
    total_out = sum(o.get("quantity", {}).get("value", 0) for o in outputs)
    if len(units) != 1 or None in units or not total_out:
        return
    for out in outputs:
        made = item_key(out["item"])
        for source in view.body["inputs"]:
            quantity = source.get("quantity")
            if quantity is None:
                continue
            made_from.setdefault(made, []).append(
                (
                    item_key(source["item"]) + "\0" + str(quantity["unit"]),
                    quantity["value"] / total_out,
                )
            )


def _add_footprint(
    item: str,
    share: float,
    unit: str | None,
    per_item: dict[str, StatementView],
    made_from: dict[str, list[tuple[str, float]]],
    result: Footprint,
    used: set[int],
    seen: set[str],
) -> None:
    if item in seen:
        return  # a cycle in what suppliers claimed must not loop the roll-up
    seen = seen | {item}
    view = per_item.get(item)
    if view is not None and view.body.get("unit") == unit:
        figures = {
            k: float(view.body["figures"][k])
            for k in FOOTPRINT_FIGURES
            if k in view.body["figures"]
        }
        result.parts.append(FootprintPart(item, share, figures, view))
        used.add(view.index)
        if view.body.get("scope") != STAGE_ONLY:
            return  # a full-scope figure already includes its inputs
    for source_and_unit, amount in made_from.get(item, []):
        source, source_unit = source_and_unit.split("\0")
        _add_footprint(source, share * amount, source_unit, per_item, made_from, result, used, seen)
