"""The GS1 Digital Link resolver over HTTP, one test per conformance statement of GS1's resolver
test suite (``tests/vectors/digital-link/resolver-conformance-statements.txt``), and what the
resolver knows about an item, on SQLite and PostgreSQL.

Statement -> test (the linkset's own statements are in ``test_linkset.py``):

- GET, HEAD and OPTIONS: ``test_shall_support_http_get_head_and_options_requests``
- CORS: ``test_shall_support_cors``
- extract and validate the URI, errors with 400:
  ``test_shall_extract_and_syntactically_validate_the_uri_and_report_errors_with_400``
- no 200 for an error: ``test_shall_not_use_a_200_ok_response_code_for_an_error_condition``
- ``linkType=all``: ``test_shall_respond_to_link_type_all_with_the_list_of_links_as_a_linkset``
  (its levels and its subject: ``test_linkset.py``)
- a Link header to the linkset, even when redirecting:
  ``test_should_expose_link_to_the_linkset_in_a_link_header_even_when_redirecting``
- one default link; every link with URL, type and title: ``test_linkset.py``
- redirect to the default link:
  ``test_shall_redirect_to_the_default_link_unless_the_request_matches_a_better_response``
- redirect to the requested linkType: ``test_shall_redirect_to_the_requested_link_type_if_available``
- pass the query string on:
  ``test_by_default_shall_pass_on_all_key_value_pairs_in_the_query_string_when_redirecting``
- ``/.well-known/gs1resolver``:
  ``test_shall_provide_a_resolver_description_file_at_well_known_gs1resolver``
- the GS1 Web vocabulary namespace: ``test_shall_recognise_the_gs1_web_vocabulary_namespace``
- trailing slashes: ``test_should_tolerate_trailing_slashes``

Statements with no test here:

- "SHALL support HTTP Over TLS (HTTPS)": TLS is terminated in front of the service (the deployment's
  proxy or load balancer); the service builds every link on the configured ``base_url``, which is
  ``https://`` in production.
- "SHALL be able to decompress a URI" and "If handling a compressed request URI, it SHALL expose
  the uncompressed URI ... owl:sameAs": tests/web/test_resolver_compression.py (and the codec's
  known answers in tests/gs1/test_gs1_compression.py).
- "If supporting redirection based on an MO or Global Company Prefix ... gs1:handledBy": does not
  apply; this resolver answers only for items the ledger records and never hands a prefix on.

The page itself (``web.routes.pages.item_page``) is another module's; here it is replaced by a
stand-in that records its calls, so these tests check only what the resolver decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo import GTIN_BAG, GTIN_GREEN
from api.settings import Settings
from factories import b64key, register, submit
from provenance import queries
from provenance.dsse import sign_envelope
from provenance.gs1.check_digit import compute_check_digit
from provenance.gs1.digital_link import DigitalLink
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key
from provenance.ledger import Ledger
from provenance.statements import sign_statement
from web.resolver import GS1_VOCABULARY, LINK_TYPES, LINKSET_MEDIA_TYPE
from web.routes import pages

BASE = "https://resolver.example"
ADMIN = {"Authorization": "Bearer resolver-admin"}
PROBLEM = "application/problem+json"
ID = "https://id.gs1.org"

GTIN = f"/01/{GTIN_BAG}"
LOT = f"{GTIN}/10/R-2026-112"
SERIAL = f"{LOT}/21/S-0001"
GLN = "950600013437" + compute_check_digit("950600013437")
SSCC = "09506000134350000" + compute_check_digit("09506000134350000")
PLACE = f"/414/{GLN}"
PALLET = f"/00/{SSCC}"
ODD_LOT = "A/B%C&D+E"  # every character needs percent-encoding in a path
ODD_LOT_PATH = f"{GTIN}/10/A%2FB%25C%26D%2BE"
UNKNOWN_GTIN = "0950600099999" + compute_check_digit("0950600099999")
UNKNOWN_GLN = "950600099999" + compute_check_digit("950600099999")
UNKNOWN_SSCC = "09506000999990000" + compute_check_digit("09506000999990000")

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
INSPECTED = "urn:uuid:5f0a7c1e-0000-4000-8000-000000000001"
PACKED = "urn:uuid:5f0a7c1e-0000-4000-8000-000000000002"


def epcis_document(events: list[dict[str, Any]]) -> bytes:
    """An EPCIS 2.0 document holding ``events``."""
    document = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-09-10T10:00:00Z",
        "epcisBody": {"eventList": events},
    }
    return json.dumps(document).encode()


def events_of_the_serial(lot: str = LOT) -> list[dict[str, Any]]:
    """The serial inspected at a place, then packed on a pallet."""
    serial = f"{ID}{lot}/21/S-0001"
    when = {"eventTime": "2026-09-10T09:00:00Z", "eventTimeZoneOffset": "+00:00"}
    return [
        {"eventID": INSPECTED, "type": "ObjectEvent", "action": "OBSERVE", **when,
         "epcList": [serial], "bizStep": "inspecting", "bizLocation": {"id": f"{ID}{PLACE}"}},
        {"eventID": PACKED, "type": "AggregationEvent", "action": "ADD", **when,
         "parentID": f"{ID}{PALLET}", "childEPCs": [serial], "bizStep": "packing"},
    ]  # fmt: skip


@dataclass
class PageStandIn:
    """Stands in for ``item_page``: records the links it is called with and answers a small page
    that already has a Link header of its own."""

    calls: list[DigitalLink] = field(default_factory=list)

    async def __call__(self, request: Request, link: DigitalLink) -> Response:
        self.calls.append(link)
        return HTMLResponse(
            f"<p>page of {link}</p>", headers={"Link": '</static/app.css>; rel="preload"'}
        )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The service with the demo supply chain, a lot whose name needs percent-encoding, and two
    EPCIS events naming a serial of a demo lot, a place and a pallet."""
    tmp = tmp_path_factory.mktemp("resolver")
    settings = Settings(
        database_url=f"sqlite:///{tmp}/x.db", keys_dir=tmp / "keys", demo=True,
        admin_token="resolver-admin", base_url=BASE,
    )  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        key = generate_private_key()
        party = {"id": "packer", "role": "supplier", "name": "Packer", "keys": [b64key(key)]}
        assert test_client.post("/api/v1/parties", json=party, headers=ADMIN).status_code == 201
        origin = {"type": "origin", "by": "packer", "items": [f"{ID}{ODD_LOT_PATH}"],
                  "place": {"country": "CO"}, "producer": "Packer", "date": "2026-07-14"}  # fmt: skip
        response = test_client.post("/api/v1/statements", content=sign_statement(origin, [key]))
        assert response.status_code == 201, response.text
        envelope = sign_envelope(
            "application/ld+json", epcis_document(events_of_the_serial()), [key]
        )
        response = test_client.post("/epcis/capture", content=envelope.to_json())
        assert response.status_code == 202, response.text
        yield test_client


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> PageStandIn:
    stand_in = PageStandIn()
    monkeypatch.setattr(pages, "item_page", stand_in)
    return stand_in


def get(client: TestClient, url: str, **kwargs: Any) -> Any:
    """GET without following redirects."""
    return client.get(url, follow_redirects=False, **kwargs)


def linkset_link(response: Any) -> str:
    """The URL of the rel="linkset" link in the response's Link header."""
    for link in response.headers["link"].split(", <"):
        if 'rel="linkset"' in link:
            url: str = link.lstrip("<").split(">", 1)[0]
            return url
    raise AssertionError(f"no linkset link in {response.headers['link']!r}")


def href(client: TestClient, path: str, link_type: str) -> str:
    """The href of ``link_type`` for the item at ``path``, from its linkset."""
    (context, *_) = get(client, path, params={"linkType": "all"}).json()["linkset"]
    (link,) = context[GS1_VOCABULARY + link_type.removeprefix("gs1:")]
    target: str = link["href"]
    return target


def local(url: str) -> str:
    """The path and query of an absolute URL on the service (the test client serves any host)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def event_ids(client: TestClient, url: str) -> list[str]:
    response = get(client, local(url))
    assert response.status_code == 200, response.text
    events = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return [e["eventID"] for e in events]


# --- Conformance statements -----------------------------------------------------------------------


def test_shall_support_http_get_head_and_options_requests(client: TestClient) -> None:
    for url in (f"{LOT}?linkType=all", f"{LOT}?linkType=gs1:traceability"):
        got = get(client, url)
        head = client.head(url, follow_redirects=False)
        assert got.status_code in (200, 307)
        assert head.status_code == got.status_code
        assert head.content == b""
        for name in ("content-type", "content-length", "link", "location"):
            assert head.headers.get(name) == got.headers.get(name), name
    options = client.options(LOT)
    assert options.status_code == 204
    assert set(options.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert options.headers["link"] == get(client, LOT, params={"linkType": "all"}).headers["link"]


def test_shall_support_cors(client: TestClient) -> None:
    origin = {"Origin": "https://scanner.example"}
    for url in (f"{LOT}?linkType=all", f"{LOT}?linkType=gs1:traceability"):
        response = get(client, url, headers=origin)
        assert response.headers["access-control-allow-origin"] == "*"
        exposed = response.headers["access-control-expose-headers"].lower()
        assert "link" in exposed
        assert "location" in exposed
    preflight = client.options(
        LOT,
        headers={**origin, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "Accept"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-methods"]
    assert {"GET", "HEAD", "OPTIONS"} <= {m.strip() for m in allowed.split(",")}
    # A client that checks without an Origin (GS1's conformance suite) is told the same.
    plain = get(client, LOT, params={"linkType": "all"})
    assert plain.headers["access-control-allow-origin"] == "*"
    assert "OPTIONS" in plain.headers["access-control-allow-methods"]


MALFORMED = [
    pytest.param("/01/09506000134377", "check-digit", id="GTIN check digit"),
    pytest.param(f"{GTIN}/21/S-1/10/L-1", "key-qualifier-order", id="serial before lot"),
    pytest.param(f"{GTIN}/10/%C3%A9t%C3%A9", "character-set", id="not CSET 82"),
    pytest.param(f"{GTIN}/10/A%00B", "nul-character", id="NUL"),
    pytest.param(f"{GTIN}/10/{'L' * 21}", "value-length", id="lot of 21 characters"),
    pytest.param("/01/123", "value-length", id="GTIN of 3 digits"),
    pytest.param(f"{LOT}/foo", "no-primary-key", id="a segment after the path"),
    pytest.param(f"{LOT}?17=261399", "date", id="month 13 in an AI attribute"),
    pytest.param(f"{LOT}?10=R-2026-112", "duplicate-ai", id="lot in path and query"),
    pytest.param(f"{GTIN}{PALLET}", "uri-stem", id="path not starting with its key"),
    pytest.param("/00/095060001343500001", "check-digit", id="SSCC check digit"),
    pytest.param("/414/9506000134377", "check-digit", id="GLN check digit"),
]


@pytest.mark.parametrize(("url", "rule"), MALFORMED)
def test_shall_extract_and_syntactically_validate_the_uri_and_report_errors_with_400(
    client: TestClient, page: PageStandIn, url: str, rule: str
) -> None:
    response = get(client, url)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith("/malformed-digital-link")
    assert problem["detail"].startswith(f"{rule}:")
    assert page.calls == []


ERRORS = [
    pytest.param("/01/09506000134377", {}, id="malformed"),
    pytest.param(f"/01/{UNKNOWN_GTIN}", {}, id="unknown GTIN"),
    pytest.param(f"/01/{UNKNOWN_GTIN}/10/L-1/21/S-1", {}, id="serial of an unknown GTIN"),
    pytest.param(f"/00/{UNKNOWN_SSCC}", {}, id="unknown SSCC"),
    pytest.param(f"/414/{UNKNOWN_GLN}", {}, id="unknown GLN"),
    pytest.param(LOT, {"linkType": "gs1:noSuchLink"}, id="unknown link type"),
    pytest.param(LOT, {"linkType": "gs1:pip "}, id="link type with a space"),
    pytest.param(PLACE, {"linkType": "gs1:pip"}, id="link type a place does not offer"),
]


@pytest.mark.parametrize(("url", "params"), ERRORS)
@pytest.mark.parametrize("accept", ["text/html", "*/*", LINKSET_MEDIA_TYPE, "application/json"])
def test_shall_not_use_a_200_ok_response_code_for_an_error_condition(
    client: TestClient, page: PageStandIn, url: str, params: dict[str, str], accept: str
) -> None:
    for method in ("GET", "HEAD"):
        response = client.request(
            method, url, params=params, headers={"Accept": accept}, follow_redirects=False
        )
        assert response.status_code in (400, 404), (method, response.status_code)
        # A browser may be shown the error as a page (web/errors.py), with the same status.
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type == PROBLEM or (accept == "text/html" and media_type == "text/html")
    assert page.calls == []


def test_unknown_items_and_link_types_are_404(client: TestClient) -> None:
    unknown = get(client, f"/01/{UNKNOWN_GTIN}/10/L-1")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"nothing is recorded about /01/{UNKNOWN_GTIN}/10/L-1"
    no_link = get(client, LOT, params={"linkType": "gs1:noSuchLink"})
    assert no_link.status_code == 404
    assert "gs1:noSuchLink" in no_link.json()["detail"]
    assert "link" not in no_link.headers


@pytest.mark.parametrize("path", [GTIN, LOT, SERIAL, PALLET, PLACE])
def test_shall_respond_to_link_type_all_with_the_list_of_links_as_a_linkset(
    client: TestClient, path: str
) -> None:
    response = get(client, path, params={"linkType": "all"})
    assert response.status_code == 200
    assert response.headers["content-type"] == LINKSET_MEDIA_TYPE
    linkset = response.json()["linkset"]
    assert linkset[0]["anchor"] == BASE + path
    assert get(client, path, headers={"Accept": LINKSET_MEDIA_TYPE}).json()["linkset"] == linkset


def test_should_expose_link_to_the_linkset_in_a_link_header_even_when_redirecting(
    client: TestClient, page: PageStandIn
) -> None:
    answers = {
        "page": get(client, LOT),
        "linkset": get(client, LOT, params={"linkType": "all"}),
        "redirect": get(client, LOT, params={"linkType": "gs1:epcis"}),
        "default redirect": get(client, PALLET),
        "options": client.options(LOT),
        "head": client.head(LOT),
    }
    for name, response in answers.items():
        assert response.status_code < 400, name
        link = linkset_link(response)
        assert 'type="application/linkset+json"' in response.headers["link"], name
        linkset = get(client, local(link))
        assert linkset.status_code == 200, name
        assert linkset.headers["content-type"] == LINKSET_MEDIA_TYPE
    assert linkset_link(answers["page"]) == f"{BASE}{LOT}?linkType=linkset"
    # The page's own Link header is kept alongside.
    assert 'rel="preload"' in answers["page"].headers["link"]


@pytest.mark.parametrize(
    "accept", [None, "text/html,application/xhtml+xml,*/*;q=0.8", "*/*", "application/json"]
)
def test_shall_redirect_to_the_default_link_unless_the_request_matches_a_better_response(
    client: TestClient, page: PageStandIn, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    # A trade item's default link is its page, and the page is served at its Digital Link URI:
    # the resolver answers with it where another resolver would redirect to it.
    assert href(client, LOT, "gs1:defaultLink") == BASE + LOT
    response = get(client, f"{LOT}?17=270101", headers=headers)
    assert response.status_code == 200
    assert response.text.startswith("<p>page of")
    (link,) = page.calls
    assert (link.gtin, link.lot, link.serial) == (GTIN_BAG, "R-2026-112", None)
    assert link.attributes == (("17", "270101"),)
    # A pallet and a place default to their EPCIS events.
    for path in (PALLET, PLACE):
        response = get(client, path, headers=headers)
        assert response.status_code == 307
        assert response.headers["location"] == href(client, path, "gs1:defaultLink")
        assert response.headers["location"] == href(client, path, "gs1:epcis")
        assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize("path", [GTIN, LOT, SERIAL])
@pytest.mark.parametrize("link_type", [t.curie for t in LINK_TYPES if "01" in t.offered_for])
def test_shall_redirect_to_the_requested_link_type_if_available(
    client: TestClient, page: PageStandIn, path: str, link_type: str
) -> None:
    response = get(client, path, params={"linkType": link_type})
    assert response.status_code == 307
    assert response.headers["location"] == href(client, path, link_type)
    assert page.calls == []


@pytest.mark.parametrize(
    ("link_type", "location"),
    [
        ("gs1:pip", f"{BASE}{LOT}?foo=bar&x=1%202&17=270101"),
        ("gs1:traceability", f"{BASE}/api/v1/items{LOT}/lineage?foo=bar&x=1%202&17=270101"),
        ("gs1:certificationInfo", f"{BASE}{LOT}?foo=bar&x=1%202&17=270101#certifications"),
        ("gs1:sustainabilityInfo", f"{BASE}{LOT}?foo=bar&x=1%202&17=270101#footprint"),
        ("gs1:recallStatus", f"{BASE}{LOT}?foo=bar&x=1%202&17=270101#recall"),
        (
            "gs1:epcis",
            f"{BASE}/epcis/events?MATCH_anyEPC={LOT},{GTIN}&foo=bar&x=1%202&17=270101",
        ),
    ],
)
def test_by_default_shall_pass_on_all_key_value_pairs_in_the_query_string_when_redirecting(
    client: TestClient, link_type: str, location: str
) -> None:
    response = get(client, f"{LOT}?foo=bar&linkType={link_type}&x=1%202&17=270101")
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert "linkType" not in response.headers["location"]
    simple = get(client, LOT, params={"linkType": link_type, "foo": "bar"})
    assert "foo=bar" in simple.headers["location"]


def test_shall_provide_a_resolver_description_file_at_well_known_gs1resolver(
    client: TestClient,
) -> None:
    response = client.get("/.well-known/gs1resolver")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    description = response.json()
    assert description["resolverRoot"] == BASE
    # The values GS1's resolver description file schema permits for supportedPrimaryKeys.
    permitted = {"all", "01", "8006", "8013", "8010", "410", "411", "412", "413", "414", "415",
                 "416", "8017", "8018", "255", "00", "253", "401", "402", "8003", "8004"}  # fmt: skip
    assert description["supportedPrimaryKeys"] == ["01", "00", "414"]
    assert set(description["supportedPrimaryKeys"]) <= permitted
    assert description["supportedLinkType"] == [{"namespace": GS1_VOCABULARY, "prefix": "gs1:"}]
    assert description["linkTypeDefaultCanBeAll"] is False
    assert description["validatesAIcombinations"] is True
    active = description["activeLinkTypes"]["en"]
    assert set(active) == {t.curie for t in LINK_TYPES} | {"gs1:defaultLink"}
    assert all(entry["url"].startswith(GS1_VOCABULARY) for entry in active.values())
    assert all(entry["title"] for entry in active.values())
    head = client.head("/.well-known/gs1resolver")
    assert (head.status_code, head.content) == (200, b"")


def test_shall_recognise_the_gs1_web_vocabulary_namespace(client: TestClient) -> None:
    as_curie = get(client, LOT, params={"linkType": "gs1:traceability"})
    as_uri = get(client, LOT, params={"linkType": GS1_VOCABULARY + "traceability"})
    assert as_curie.status_code == as_uri.status_code == 307
    assert as_uri.headers["location"] == as_curie.headers["location"]
    (context, _gtin) = get(client, LOT, params={"linkType": "all"}).json()["linkset"]
    relations = [key for key in context if key not in ("anchor", "itemDescription")]
    assert all(relation.startswith(GS1_VOCABULARY) for relation in relations)
    # Only GS1's terms: another namespace's name for a GS1 link type is not one.
    assert get(client, LOT, params={"linkType": "schema:traceability"}).status_code == 404


@pytest.mark.parametrize(
    "params", [{}, {"linkType": "all"}, {"linkType": "gs1:epcis", "foo": "bar"}]
)
def test_should_tolerate_trailing_slashes(
    client: TestClient, page: PageStandIn, params: dict[str, str]
) -> None:
    for path in (GTIN, LOT, SERIAL, PALLET):
        without, with_slash = (
            get(client, path, params=params),
            get(client, path + "/", params=params),
        )
        assert without.status_code == with_slash.status_code
        assert without.status_code < 400
        assert without.headers.get("location") == with_slash.headers.get("location")
        assert without.headers["link"] == with_slash.headers["link"]
        assert without.content == with_slash.content
    assert get(client, LOT + "//").status_code == 400


# --- What the links lead to -----------------------------------------------------------------------


def test_percent_encoded_lots_round_trip(client: TestClient, page: PageStandIn) -> None:
    response = get(client, ODD_LOT_PATH, params={"linkType": "all"})
    assert response.status_code == 200, response.text
    (context, _gtin) = response.json()["linkset"]
    assert context["anchor"] == BASE + ODD_LOT_PATH
    assert context["itemDescription"] == f"GTIN {GTIN_BAG}, lot {ODD_LOT}"
    lower_case = get(client, f"{GTIN}/10/A%2fB%25C%26D%2bE", params={"linkType": "all"})
    assert lower_case.json()["linkset"][0]["anchor"] == BASE + ODD_LOT_PATH
    redirect = get(client, ODD_LOT_PATH, params={"linkType": "gs1:recallStatus"})
    assert redirect.headers["location"] == f"{BASE}{ODD_LOT_PATH}#recall"
    assert get(client, ODD_LOT_PATH).status_code == 200
    (link,) = page.calls
    assert link.lot == ODD_LOT
    # The same characters unencoded are a different path: "/" splits the lot.
    assert get(client, f"{GTIN}/10/{ODD_LOT}").status_code == 400


@pytest.mark.parametrize(
    ("path", "expected"),
    [(SERIAL, [INSPECTED, PACKED]), (PALLET, [PACKED]), (PLACE, [INSPECTED])],
)
def test_the_epcis_link_finds_the_items_events(
    client: TestClient, path: str, expected: list[str]
) -> None:
    assert event_ids(client, href(client, path, "gs1:epcis")) == expected


def test_a_lots_epcis_link_leaves_out_events_naming_only_its_serials(client: TestClient) -> None:
    assert event_ids(client, href(client, LOT, "gs1:epcis")) == []


def test_the_traceability_link_answers_the_items_lineage(client: TestClient) -> None:
    response = get(client, local(href(client, SERIAL, "gs1:traceability")))
    assert response.status_code == 200, response.text
    lineage = response.json()
    assert lineage["item"] == LOT  # a serial's lineage is recorded at its lot
    assert f"/01/{GTIN_GREEN}/10/W-2026-031" in lineage["nodes"]


# --- What the resolver knows, on both databases ---------------------------------------------------


@pytest.fixture
def known(ledger: Ledger, operator_keys: OperatorKeys) -> Callable[[str], bool]:
    """A ledger where a supplier recorded lots and serials of one product (nothing about the
    product itself) and EPCIS events naming a serial, a place and a pallet; yields
    ``known(path) -> bool``."""
    key: Ed25519PrivateKey = register(ledger, operator_keys, "packer")
    items = [f"{ID}{GTIN}/10/{lot}" for lot in ("R-1", "AxB/21/1", "ABC/21/1", "A%25B")]
    submit(ledger, sign_statement(
        {"type": "origin", "by": "packer", "items": items, "place": {"country": "CO"},
         "producer": "Packer", "date": "2026-07-14"}, [key]))  # fmt: skip
    events = epcis_document(events_of_the_serial(f"{GTIN}/10/R-1"))
    submit(ledger, sign_envelope("application/ld+json", events, [key]).to_json())

    def is_known(path: str) -> bool:
        with ledger.log.store.read() as reader:
            return queries.item_known(reader, queries.item_keys(path))

    return is_known


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(f"{GTIN}/10/R-1", True, id="a lot named by a statement"),
        pytest.param(f"{GTIN}/10/R-1/21/S-0001", True, id="a serial named by an event"),
        pytest.param(f"{GTIN}/10/R-1/21/S-0002", True, id="a serial of a known lot"),
        pytest.param(GTIN, True, id="a product whose lots are known"),
        pytest.param(f"{GTIN}/10/R-2", False, id="another lot of the product"),
        pytest.param(f"{GTIN}/10/R", False, id="a lot whose key is a prefix of a known one"),
        pytest.param(f"{GTIN}/10/AxB", True, id="a lot with a known serial"),
        pytest.param(f"{GTIN}/10/A_B", False, id="a LIKE wildcard in the lot"),
        pytest.param(f"{GTIN}/10/abc", False, id="a lot in another case"),
        pytest.param(f"{GTIN}/10/A%2525B", False, id="an escaped percent sign"),
        pytest.param(f"{GTIN}/10/A%25B", True, id="a lot holding a percent sign"),
        pytest.param(f"/01/{GTIN_GREEN}", False, id="another product"),
        pytest.param(PLACE, True, id="a place events happened at"),
        pytest.param(f"/414/{UNKNOWN_GLN}", False, id="another place"),
        pytest.param(PALLET, True, id="a pallet an event named"),
        pytest.param(f"/00/{UNKNOWN_SSCC}", False, id="another pallet"),
    ],
)
def test_an_item_is_known_when_it_or_a_level_that_speaks_for_it_is_recorded(
    known: Callable[[str], bool], path: str, expected: bool
) -> None:
    assert known(path) is expected


def test_a_product_level_statement_does_not_make_every_lot_number_known(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    key = register(ledger, operator_keys, "farm")
    product = {"type": "origin", "by": "farm", "items": [f"{ID}{GTIN}"],
               "place": {"country": "CO"}, "producer": "Farm", "date": "2026-07-14"}  # fmt: skip
    submit(ledger, sign_statement(product, [key]))
    with ledger.log.store.read() as reader:
        assert queries.item_known(reader, queries.item_keys(GTIN))
        for path in (f"{GTIN}/10/ANY", f"{GTIN}/10/ANY/21/1"):  # a mistyped lot is not a product
            assert not queries.item_known(reader, queries.item_keys(path)), path
