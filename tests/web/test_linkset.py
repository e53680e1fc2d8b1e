"""The resolver's linkset: RFC 9264 JSON in the shape of GS1's model linkset
(``tests/vectors/digital-link/resolver-model-linkset.json``, from GS1's resolver test suite), the
links of every level up to the primary key, one default link, and the metadata of every link.

Conformance statements covered here (the others are in ``test_resolver.py``):

- "All links exposed SHALL include the target URL, the link relationship type (the link type) and a
  human-readable title": :func:`test_all_links_exposed_include_the_target_url_the_link_type_and_a_title`.
- "SHALL recognise one available link as the default for any given request URI":
  :func:`test_shall_recognise_one_available_link_as_the_default`.
- The part of the ``linkType=all`` statement about levels and subjects ("any links associated with
  each level up to the primary key SHALL be included"; "the URI used as the subject of facts
  presented SHALL be the uncompressed version"): the ``test_linkset_of_a_*`` tests and
  :func:`test_the_subject_of_each_level_is_its_uncompressed_digital_link_uri`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo import GTIN_BAG
from api.settings import Settings
from provenance.gs1.digital_link import gtin_link, parse_digital_link
from web.i18n import languages
from web.resolver import (
    GS1_VOCABULARY,
    LINK_TYPES,
    LINKSET_MEDIA_TYPE,
    LinkType,
    anchor_links,
    default_link_type,
    item_at,
    offered,
    prefers_linkset,
    requested_link_type,
)

MODEL = json.loads(
    (
        Path(__file__).parents[1] / "vectors" / "digital-link" / "resolver-model-linkset.json"
    ).read_text(encoding="utf-8")
)
BASE = "https://example"
GTIN = f"/01/{GTIN_BAG}"
LOT = f"{GTIN}/10/R-2026-112"
SERIAL = f"{LOT}/21/S-0001"
TRADE_ITEM_LINK_TYPES = [
    "gs1:pip",
    "gs1:traceability",
    "gs1:certificationInfo",
    "gs1:sustainabilityInfo",
    "gs1:recallStatus",
    "gs1:epcis",
    "gs1:review",  # the reviews issue's two
    "gs1:leaveReview",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("linkset")
    settings = Settings(
        database_url=f"sqlite:///{tmp}/x.db", keys_dir=tmp / "keys", demo=True, base_url=BASE
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def linkset_of(client: TestClient, path: str) -> list[dict[str, Any]]:
    response = client.get(path, params={"linkType": "all"})
    assert response.status_code == 200, response.text
    contexts: list[dict[str, Any]] = response.json()["linkset"]
    return contexts


# --- The model ------------------------------------------------------------------------------------


def _model_contexts() -> list[dict[str, Any]]:
    contexts: list[dict[str, Any]] = MODEL["linkset"]
    return contexts


def _relations(context: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The link relations of a context object: its keys that are URIs."""
    return {k: v for k, v in context.items() if k.startswith(("http://", "https://"))}


def _model_link_fields() -> dict[str, type]:
    """Every member a link object of the model has, with the JSON type of its value."""
    fields: dict[str, type] = {}
    for context in _model_contexts():
        for links in _relations(context).values():
            for link in links:
                fields.update({name: type(value) for name, value in link.items()})
    return fields


def _model_namespace() -> str:
    """The namespace every relation type of the model is in."""
    relations = [r for c in _model_contexts() for r in _relations(c)]
    namespace = relations[0].rsplit("/", 1)[0] + "/"
    assert all(r.startswith(namespace) for r in relations)
    return namespace


def test_the_model_is_what_the_tests_read_from_it() -> None:
    assert set(MODEL) == {"linkset"}
    assert _model_namespace() == GS1_VOCABULARY
    assert set(_model_link_fields()) >= {"href", "title", "type", "hreflang"}
    assert all({"anchor", "itemDescription"} <= set(c) for c in _model_contexts())


# --- Shape ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [GTIN, LOT, SERIAL])
def test_linkset_has_the_shape_of_the_model_linkset(client: TestClient, path: str) -> None:
    response = client.get(path, params={"linkType": "all"})
    assert response.headers["content-type"] == LINKSET_MEDIA_TYPE
    body = response.json()
    assert set(body) == set(MODEL)
    model_context = _model_contexts()[0]
    model_members = {
        k: type(v) for k, v in model_context.items() if k not in _relations(model_context)
    }
    fields = _model_link_fields()
    for context in body["linkset"]:
        members = {k: type(v) for k, v in context.items() if k not in _relations(context)}
        assert members == model_members
        relations = _relations(context)
        assert relations
        assert set(relations) == set(context) - set(model_members)
        for relation, links in relations.items():
            assert relation.startswith(_model_namespace())
            assert isinstance(links, list)
            assert links
            for link in links:
                assert set(link) <= set(fields), f"{relation}: {set(link) - set(fields)}"
                assert {k: type(v) for k, v in link.items()} == {k: fields[k] for k in link}
                if "hreflang" in link:
                    assert all(isinstance(tag, str) for tag in link["hreflang"])


def test_a_trade_item_offers_every_link_type_of_the_issue(client: TestClient) -> None:
    (lot, _gtin) = linkset_of(client, LOT)
    relations = [r.removeprefix(GS1_VOCABULARY) for r in _relations(lot)]
    assert relations == [t.removeprefix("gs1:") for t in TRADE_ITEM_LINK_TYPES] + ["defaultLink"]


def test_all_links_exposed_include_the_target_url_the_link_type_and_a_title(
    client: TestClient,
) -> None:
    for context in linkset_of(client, SERIAL):
        for relation, links in _relations(context).items():
            for link in links:
                assert link["href"].startswith(BASE + "/"), (relation, link)
                assert link["title"].strip(), (relation, link)
                assert "/" in link["type"], (relation, link)
    response = client.get(LOT, params={"linkType": "gs1:traceability"}, follow_redirects=False)
    header = response.headers["link"]
    assert header.startswith(f"<{BASE}{LOT}?linkType=linkset>")
    assert 'rel="linkset"' in header
    assert 'title="' in header


def test_pages_carry_the_sites_languages_and_machine_links_none(client: TestClient) -> None:
    (lot, _gtin) = linkset_of(client, LOT)
    for relation, (link,) in _relations(lot).items():
        if link["type"] == "text/html":
            assert link["hreflang"] == languages(), relation
        else:
            assert "hreflang" not in link, relation


# --- Levels ---------------------------------------------------------------------------------------


def test_linkset_of_a_gtin_has_only_its_own_level(client: TestClient) -> None:
    assert [c["anchor"] for c in linkset_of(client, GTIN)] == [BASE + GTIN]


def test_linkset_of_a_lot_includes_the_links_of_its_gtin(client: TestClient) -> None:
    contexts = linkset_of(client, LOT)
    assert [c["anchor"] for c in contexts] == [BASE + LOT, BASE + GTIN]
    gtin_links = contexts[1]
    assert gtin_links[GS1_VOCABULARY + "pip"][0]["href"] == BASE + GTIN
    assert gtin_links["itemDescription"] == f"GTIN {GTIN_BAG}"


def test_linkset_of_a_serial_includes_the_links_of_its_lot_and_gtin(client: TestClient) -> None:
    contexts = linkset_of(client, SERIAL)
    assert [c["anchor"] for c in contexts] == [BASE + SERIAL, BASE + LOT, BASE + GTIN]
    for context in contexts:
        (pip,) = context[GS1_VOCABULARY + "pip"]
        assert pip["href"] == context["anchor"]
        (lineage,) = context[GS1_VOCABULARY + "traceability"]
        assert (
            lineage["href"] == f"{BASE}/api/v1/items{context['anchor'].removeprefix(BASE)}/lineage"
        )
    assert contexts[0]["itemDescription"] == f"GTIN {GTIN_BAG}, lot R-2026-112, serial S-0001"


def test_the_subject_of_each_level_is_its_uncompressed_digital_link_uri(
    client: TestClient,
) -> None:
    # Asked with a zero-suppressed GTIN-13 and a trailing slash; answered about the canonical URI.
    contexts = linkset_of(client, f"/01/{GTIN_BAG[1:]}/10/R-2026-112/")
    assert [c["anchor"] for c in contexts] == [BASE + LOT, BASE + GTIN]
    for context in contexts:
        assert parse_digital_link(context["anchor"]).canonical(BASE) == context["anchor"]


# --- The default link -----------------------------------------------------------------------------


def test_shall_recognise_one_available_link_as_the_default(client: TestClient) -> None:
    default_relation = GS1_VOCABULARY + "defaultLink"
    # In the model, the default link is one of the available links, listed again under defaultLink.
    for model in _model_contexts():
        if default_relation in model:
            (default,) = model[default_relation]
            offered = [link["href"] for r, ls in _relations(model).items() for link in ls
                       if r != default_relation]  # fmt: skip
            assert default["href"] in offered
    for context in linkset_of(client, SERIAL):
        (default,) = context[default_relation]
        (pip,) = context[GS1_VOCABULARY + "pip"]
        assert default == pip
        response = client.get(
            context["anchor"], params={"linkType": "gs1:defaultLink"}, follow_redirects=False
        )
        assert response.status_code == 307
        assert response.headers["location"] == default["href"]


# --- Media types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "media_type"),
    [
        ({"params": {"linkType": "all"}}, LINKSET_MEDIA_TYPE),
        ({"params": {"linkType": "linkset"}}, LINKSET_MEDIA_TYPE),
        ({"headers": {"Accept": LINKSET_MEDIA_TYPE}}, LINKSET_MEDIA_TYPE),
        (
            {"headers": {"Accept": f"text/html;q=0.5, {LINKSET_MEDIA_TYPE}"}},
            LINKSET_MEDIA_TYPE,
        ),
        (
            {"params": {"linkType": "all"}, "headers": {"Accept": "application/json"}},
            "application/json",
        ),
    ],
)
def test_the_linkset_is_the_same_however_it_is_asked_for(
    client: TestClient, request_: dict[str, Any], media_type: str
) -> None:
    response = client.get(LOT, **request_)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert "Accept" in response.headers["vary"]
    assert response.json()["linkset"] == linkset_of(client, LOT)


@pytest.mark.parametrize(
    ("accept", "prefers"),
    [
        (None, False),
        ("*/*", False),
        ("text/html,application/xhtml+xml,*/*;q=0.8", False),
        ("application/json", False),
        ("application/linkset+json", True),
        ("application/linkset+json;q=0.9, text/html", False),
        ("text/html;q=0.4, application/linkset+json;q=0.5", True),
        ("application/linkset+json;q=0", False),
        ("application/linkset+json;q=x", False),
    ],
)
def test_accept_prefers_the_linkset_only_when_it_ranks_it_first(
    accept: str | None, prefers: bool
) -> None:
    assert prefers_linkset(accept) is prefers


# --- Pure model -----------------------------------------------------------------------------------


def test_percent_encoded_values_stay_encoded_in_every_link() -> None:
    item = item_at(BASE + "/", gtin_link(GTIN_BAG, lot="A/B%C&D+E"))
    path = f"/01/{GTIN_BAG}/10/A%2FB%25C%26D%2BE"
    context = anchor_links(item)
    assert context["anchor"] == BASE + path
    assert context[GS1_VOCABULARY + "traceability"][0]["href"] == (
        f"{BASE}/api/v1/items{path}/lineage"
    )
    assert context[GS1_VOCABULARY + "recallStatus"][0]["href"] == f"{BASE}{path}#recall"
    # In a query the key's own escapes are escaped once more: %2F becomes %252F.
    assert context[GS1_VOCABULARY + "epcis"][0]["href"] == (
        f"{BASE}/epcis/events?MATCH_anyEPC=/01/{GTIN_BAG}/10/A%252FB%2525C%2526D%252BE,/01/{GTIN_BAG}"
    )
    assert context["itemDescription"] == f"GTIN {GTIN_BAG}, lot A/B%C&D+E"


@pytest.mark.parametrize(
    ("uri", "link_types", "default"),
    [
        (f"https://id.gs1.org/01/{GTIN_BAG}/10/L1", TRADE_ITEM_LINK_TYPES, "gs1:pip"),
        ("https://id.gs1.org/00/095060001343500002", ["gs1:epcis"], "gs1:epcis"),
        ("https://id.gs1.org/414/9506000134376", ["gs1:epcis"], "gs1:epcis"),
    ],
)
def test_each_primary_key_offers_its_link_types_and_default(
    uri: str, link_types: list[str], default: str
) -> None:
    item = item_at(BASE, parse_digital_link(uri))
    assert [t.curie for t in offered(item)] == link_types
    assert default_link_type(item).curie == default
    assert requested_link_type(item, "gs1:defaultLink") == default_link_type(item)
    assert requested_link_type(item, GS1_VOCABULARY + default.removeprefix("gs1:"))
    assert requested_link_type(item, "gs1:noSuchLink") is None


def test_a_place_links_to_the_events_at_it() -> None:
    item = item_at(BASE, parse_digital_link("https://id.gs1.org/414/9506000134376"))
    assert default_link_type(item).target(item) == (
        f"{BASE}/epcis/events?EQ_bizLocation=/414/9506000134376"
    )


def test_adding_a_link_type_is_one_row(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    review = LinkType(
        "gs1:review", "Reviews", "text/html", lambda item: item.url + "#reviews", localised=True
    )
    # By its full name: ``web`` binds ``resolver`` to the routes module (web/__init__.py).
    model = importlib.import_module("web.resolver")
    monkeypatch.setattr(model, "LINK_TYPES", (*LINK_TYPES, review))
    (lot, _gtin) = linkset_of(client, LOT)
    assert lot[GS1_VOCABULARY + "review"] == [
        {"href": f"{BASE}{LOT}#reviews", "title": "Reviews", "type": "text/html",
         "hreflang": languages()}
    ]  # fmt: skip
    response = client.get(LOT, params={"linkType": "gs1:review"}, follow_redirects=False)
    assert response.headers["location"] == f"{BASE}{LOT}#reviews"
    description = client.get("/.well-known/gs1resolver").json()
    assert "gs1:review" in description["activeLinkTypes"]["en"]
