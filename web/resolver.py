"""The GS1-conformant resolver's model: the link types an item offers and where each leads, the
RFC 9264 linkset that lists them level by level, the URL a ``linkType`` request redirects to, and
the resolver description file.

Everything here is a function of a parsed Digital Link and the service's base URL: no request, no
storage, no HTTP. :mod:`web.routes.resolver` reads the request, asks the ledger whether the item is
known and answers. Adding a link type is one row of :data:`LINK_TYPES`; which one a primary key
answers with by default is :data:`DEFAULT_LINK_TYPES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote, unquote_plus

from provenance.attestations import key_of
from provenance.gs1.digital_link import DigitalLink
from provenance.queries import ItemKeys, item_keys
from web.i18n import languages

GS1_VOCABULARY: Final = "https://ref.gs1.org/voc/"
GS1_PREFIX: Final = "gs1:"
LINKSET_MEDIA_TYPE: Final = "application/linkset+json"
DEFAULT_LINK: Final = "gs1:defaultLink"
_DEFAULT_LINK_URI: Final = GS1_VOCABULARY + "defaultLink"
# ``linkType`` values that ask for the linkset rather than one link (``all`` is the standard's).
LINKSET_REQUESTS: Final = frozenset({"all", "linkset"})

# The primary keys the resolver answers (all of them: PRIMARY_KEYS), by kind.
PRODUCTS: Final = frozenset({"01"})
LOGISTIC_UNITS: Final = frozenset({"00"})
PLACES: Final = frozenset({"414"})

# Names of the path AIs of the primary keys above, for an item's description.
_AI_NAMES: Final = MappingProxyType(
    {"01": "GTIN", "22": "variant", "10": "lot", "21": "serial", "235": "third-party serial",
     "00": "SSCC", "414": "GLN", "254": "GLN extension"}
)  # fmt: skip


@dataclass(frozen=True)
class Item:
    """One level of an identified item as the resolver sees it: its Digital Link (path only), its
    keys in the ledger, and the service's base URL (no trailing slash) its links are built on."""

    base: str
    link: DigitalLink
    keys: ItemKeys

    @property
    def primary_key(self) -> str:
        """The AI of the primary key (``01``, ``00``, ``414``)."""
        return self.link.primary_key[0]

    @property
    def url(self) -> str:
        """The item's Digital Link URI on this host: what it is resolved at, and its anchor."""
        return self.base + self.keys.own


def item_at(base: str, link: DigitalLink) -> Item:
    """Return the item ``link`` identifies (its path; query data is dropped) under ``base``."""
    path_only = DigitalLink(link.primary_key, link.qualifiers)
    return Item(base.removesuffix("/"), path_only, item_keys(key_of(path_only)))


def levels(item: Item) -> Iterator[Item]:
    """Yield ``item``, then each level above it up to the primary key (serial, lot, GTIN)."""
    link: DigitalLink | None = item.link
    while link is not None:
        yield item_at(item.base, link)
        link = link.parent()


# --- Link types and their targets ----------------------------------------------------------------


def _page(fragment: str = "") -> Callable[[Item], str]:
    # The page is served at the item's Digital Link URI itself (docs/adr/0007-resolver.md).
    return lambda item: item.url + (f"#{fragment}" if fragment else "")


def _lineage(item: Item) -> str:
    return f"{item.base}/api/v1/items{item.keys.own}/lineage"


def _events(item: Item) -> str:
    # The keys are the ones the EPCIS projection indexes (provenance.capture.ledger_item_key leaves
    # a Digital Link path as it is). Their values are percent-encoded and hold no comma, the list
    # separator, so quoting keeps ``/`` and ``,`` readable and turns ``%`` into ``%25``.
    if item.primary_key in PLACES:
        return f"{item.base}/epcis/events?EQ_bizLocation={quote(item.keys.own, safe='/')}"
    keys = ",".join(item.keys.covered_by)
    return f"{item.base}/epcis/events?MATCH_anyEPC={quote(keys, safe='/,')}"


@dataclass(frozen=True)
class LinkType:
    """A link relation the resolver offers: its GS1 Web Vocabulary term, a title in English (the
    linkset is for machines; pages speak the reader's language), the media type of the target,
    where the target is for an item, the primary keys it is offered for, and whether the target
    is a page available in the site's languages (``hreflang``)."""

    curie: str
    title: str
    media_type: str
    target: Callable[[Item], str]
    offered_for: frozenset[str] = PRODUCTS
    localised: bool = False

    @property
    def uri(self) -> str:
        """The relation type as a URI, as the linkset names it (RFC 9264 extension relation)."""
        return GS1_VOCABULARY + self.curie.removeprefix(GS1_PREFIX)


LINK_TYPES: Final = (
    LinkType("gs1:pip", "Product information page", "text/html", _page(), localised=True),
    LinkType("gs1:traceability", "Lineage: the items it was made from", "application/json",
             _lineage),
    LinkType("gs1:certificationInfo", "Certifications", "text/html", _page("certifications"),
             localised=True),
    LinkType("gs1:sustainabilityInfo", "Footprint", "text/html", _page("footprint"),
             localised=True),
    LinkType("gs1:recallStatus", "Recall status", "text/html", _page("recall"), localised=True),
    LinkType("gs1:epcis", "EPCIS events", "application/ld+json", _events,
             PRODUCTS | LOGISTIC_UNITS | PLACES),
    LinkType("gs1:review", "Reviews", "text/html", _page("reviews"), localised=True),
    LinkType("gs1:leaveReview", "Leave a review", "text/html", _page("leave-review"),
             localised=True),
)  # fmt: skip

# The link each primary key is answered with when none is asked for. ``gs1:pip`` is the page,
# served at the Digital Link URI itself; the others are redirected to.
DEFAULT_LINK_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"01": "gs1:pip", "00": "gs1:epcis", "414": "gs1:epcis"}
)
PAGE_LINK_TYPE: Final = "gs1:pip"
PRIMARY_KEYS: Final = tuple(DEFAULT_LINK_TYPES)


def offered(item: Item) -> list[LinkType]:
    """The link types ``item`` offers, in :data:`LINK_TYPES` order."""
    return [t for t in LINK_TYPES if item.primary_key in t.offered_for]


def default_link_type(item: Item) -> LinkType:
    """The link type ``item`` is answered with when the request asks for none."""
    name = DEFAULT_LINK_TYPES[item.primary_key]
    return next(t for t in LINK_TYPES if t.curie == name)


def requested_link_type(item: Item, name: str) -> LinkType | None:
    """The offered link type ``name`` (a ``gs1:`` CURIE, its full URI, or ``gs1:defaultLink``)
    stands for, or ``None`` if ``item`` offers none by that name."""
    if name.startswith(GS1_VOCABULARY):
        name = GS1_PREFIX + name.removeprefix(GS1_VOCABULARY)
    if name == DEFAULT_LINK:
        return default_link_type(item)
    return next((t for t in offered(item) if t.curie == name), None)


def link_object(link_type: LinkType, item: Item) -> dict[str, Any]:
    """One target of the linkset: ``href``, ``title``, ``type`` and, for pages, ``hreflang``."""
    target: dict[str, Any] = {
        "href": link_type.target(item),
        "title": link_type.title,
        "type": link_type.media_type,
    }
    if link_type.localised:
        target["hreflang"] = languages()
    return target


def describe(link: DigitalLink) -> str:
    """A short English description of what ``link`` identifies (``GTIN 0950…, lot R-1``)."""
    return ", ".join(f"{_AI_NAMES.get(ai, f'AI ({ai})')} {value}" for ai, value in link.path)


def anchor_links(item: Item) -> dict[str, Any]:
    """The linkset's context object for one level: anchor, description, each offered link type's
    targets under its relation URI, then the default link under ``gs1:defaultLink``'s URI."""
    context: dict[str, Any] = {"anchor": item.url, "itemDescription": describe(item.link)}
    for link_type in offered(item):
        context[link_type.uri] = [link_object(link_type, item)]
    context[_DEFAULT_LINK_URI] = [link_object(default_link_type(item), item)]
    return context


def linkset(item: Item) -> dict[str, Any]:
    """The RFC 9264 JSON linkset of ``item``: its own links first, then those of every level above
    it up to the primary key (the standard asks for each level's links)."""
    return {"linkset": [anchor_links(level) for level in levels(item)]}


def linkset_url(item: Item) -> str:
    """Where ``item``'s linkset is served."""
    return item.url + "?linkType=linkset"


def link_header(item: Item) -> str:
    """The ``Link`` header value that points every resolver answer at the item's linkset (with a
    title: the standard asks one of every link exposed)."""
    return (
        f'<{linkset_url(item)}>; rel="linkset"; type="{LINKSET_MEDIA_TYPE}";'
        ' title="Every link for this item"'
    )


# --- Requests -------------------------------------------------------------------------------------


def passed_on_query(raw_query: str) -> str:
    """The request's query string without its ``linkType`` parameters, other parameters exactly as
    sent (the standard passes every ``key=value`` on when redirecting)."""
    kept = [
        part
        for part in raw_query.split("&")
        if part and unquote_plus(part.partition("=")[0]) != "linkType"
    ]
    return "&".join(kept)


def with_query(href: str, query: str) -> str:
    """``href`` with ``query`` added to any query it has, before its ``#fragment``."""
    if not query:
        return href
    address, hash_mark, fragment = href.partition("#")
    separator = "&" if "?" in address else "?"
    return f"{address}{separator}{query}{hash_mark}{fragment}"


def _accept_weights(accept: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media_type, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if media_type:
            weights[media_type.lower()] = max(weight, weights.get(media_type.lower(), 0.0))
    return weights


def prefers_linkset(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for the linkset at least as much as for the page (HTML
    or its JSON twin); wildcards do not count as asking for the linkset."""
    weights = _accept_weights(accept or "")
    wanted = weights.get(LINKSET_MEDIA_TYPE, 0.0)
    page = max(weights.get("text/html", 0.0), weights.get("application/json", 0.0))
    return wanted > 0 and wanted >= page


def linkset_media_type(accept: str | None) -> str:
    """The media type a linkset is labelled with: ``application/linkset+json`` unless ``Accept``
    names plain ``application/json`` and not the linkset type (the body is the same JSON)."""
    weights = _accept_weights(accept or "")
    if weights.get(LINKSET_MEDIA_TYPE, 0.0) <= 0 and weights.get("application/json", 0.0) > 0:
        return "application/json"
    return LINKSET_MEDIA_TYPE


# --- The resolver description file ----------------------------------------------------------------


def description(base: str, name: str = "Provenance ledger resolver") -> dict[str, Any]:
    """The resolver description file served at ``/.well-known/gs1resolver`` (the fields of GS1's
    resolver description file schema that apply)."""
    active = {t.curie: {"title": t.title, "url": t.uri} for t in LINK_TYPES}
    active[DEFAULT_LINK] = {"title": "Default link", "url": _DEFAULT_LINK_URI}
    return {
        "name": name,
        "resolverRoot": base.removesuffix("/"),
        "supportedLinkType": [{"namespace": GS1_VOCABULARY, "prefix": GS1_PREFIX}],
        "supportedPrimaryKeys": list(PRIMARY_KEYS),
        "linkTypeDefaultCanBeAll": False,
        "supportsSemanticInterpretation": False,
        "validatesAIcombinations": True,
        "supportsLanguageVariants": True,
        "activeLinkTypes": {"en": active},
    }
