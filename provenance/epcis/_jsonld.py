"""The slice of the EPCIS 2.0 JSON-LD context that the CBV 2.0 event hash depends on.

In JSON-LD, EPCIS writes standard vocabulary in bare form (``"bizStep": "shipping"``) and the context
(``https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld``) expands it to a web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``). The event hash hashes the expanded form (rule 16 of the
algorithm). The reference implementation gets there by running a JSON-LD expansion of the event and
then replacing every string value ``v`` of the event for which exactly one expanded CBV or GS1
vocabulary URI ends in ``-v`` or ``/v``. :func:`vocabulary_expansions` computes that set of expanded
URIs without a JSON-LD processor and without fetching the context: the term tables below are copied
from the context file, and only the typing rules that can produce a CBV or GS1 vocabulary URI are
modelled (vocabulary-typed fields with their scoped terms, IRI-typed fields with compact IRIs, and
literal values that already are such URIs). This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

CBV = "https://ref.gs1.org/cbv/"
GS1_VOCABULARY = "https://gs1.org/voc/"
# Only expansions under these roots take part in the bare-string replacement.
VOCABULARY_ROOTS = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")

# Prefixes of the EPCIS 2.0 context. It is @protected: a document cannot redefine them.
STANDARD_PREFIXES: Mapping[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1_VOCABULARY,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_BIZ_STEPS = _words(
    "accepting arriving assembling collecting commissioning consigning "
    "creating_class_instance cycle_counting decommissioning departing destroying "
    "disassembling dispensing encoding entering_exiting holding inspecting installing "
    "killing loading other packing picking receiving removing repackaging repairing "
    "replacing reserving retail_selling sampling sensor_reporting shipping staging_outbound "
    "stock_taking stocking storing transporting unloading unpacking void_shipping"
)
_DISPOSITIONS = _words(
    "active available completeness_verified completeness_inferred conformant "
    "container_closed container_open damaged destroyed dispensed disposed encoded expired "
    "in_progress in_transit inactive mismatch_instance mismatch_class mismatch_quantity "
    "needs_replacement no_pedigree_match non_conformant non_sellable_other "
    "partially_dispensed recalled reserved retail_sold returned sellable_accessible "
    "sellable_not_accessible stolen unavailable unknown"
)
_BIZ_TRANSACTION_TYPES = _words(
    "bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"
)
_SOURCE_DESTINATION_TYPES = ("owning_party", "possessing_party", "location")
_MEASUREMENT_TYPES = _words(
    "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude "
    "AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration "
    "AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count Density "
    "Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge "
    "ElectricCurrent ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force "
    "Frequency Illuminance Inductance Irradiance KinematicViscosity Length LinearMomentum "
    "Luminance LuminousFlux LuminousIntensity MagneticFlux MagneticFluxDensity "
    "MagneticVectorPotential Mass MassConcentration MassFlowRate MassPerAreaTime "
    "MemoryCapacity MolalityOfSolute MolarEnergy MolarMass MolarVolume Power Pressure "
    "RadiantFlux RadiantIntensity RelativeHumidity Resistance Resistivity SolidAngle "
    "SpecificVolume Speed SurfaceDensity SurfaceTension Temperature Time Torque Voltage "
    "Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber"
)
_SENSOR_EXCEPTIONS = ("ALARM_CONDITION", "ERROR_CONDITION")
_COMPONENTS = _words(
    "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle "
    "easting northing latitude longitude altitude"
)
_ERROR_REASONS = ("did_not_occur", "incorrect_data")


def _terms(names: tuple[str, ...], iri_prefix: str) -> dict[str, str]:
    return {name: iri_prefix + name for name in names}


BIZ_STEP_TERMS = _terms(_BIZ_STEPS, CBV + "BizStep-")
DISPOSITION_TERMS = _terms(_DISPOSITIONS, CBV + "Disp-")
BIZ_TRANSACTION_TYPE_TERMS = _terms(_BIZ_TRANSACTION_TYPES, CBV + "BTT-")
SOURCE_DESTINATION_TYPE_TERMS = _terms(_SOURCE_DESTINATION_TYPES, CBV + "SDT-")
ERROR_REASON_TERMS = _terms(_ERROR_REASONS, CBV + "ER-")
_MEASUREMENT_TYPE_TERMS = _terms(_MEASUREMENT_TYPES, GS1_VOCABULARY)
_SENSOR_EXCEPTION_TERMS = _terms(_SENSOR_EXCEPTIONS, GS1_VOCABULARY)
_COMPONENT_TERMS = _terms(_COMPONENTS, CBV + "Comp-")

# Every other term the context defines: a key that is none of these and has no ":" is dropped by
# JSON-LD expansion, and so are the values under it.
_OTHER_TERMS = frozenset(
    _words(
        "id type baseURL ObjectEvent AggregationEvent TransformationEvent AssociationEvent "
        "TransactionEvent Collection member eventTime recordTime eventTimeZoneOffset action "
        "certificationInfo bizStep disposition bizLocation readPoint transformationID epcList "
        "sourceList destinationList persistentDisposition quantity epcClass uom quantityList "
        "bizTransactionList parentID childEPCs childQuantityList inputEPCList outputEPCList "
        "inputQuantityList outputQuantityList sensorElementList errorDeclaration eventID "
        "creationDate sender receiver instanceIdentifier schemaVersion ilmd EPCISDocument "
        "EPCISQueryDocument epcisHeader masterData vocabularyList epcisBody queryResults "
        "subscriptionID queryName resultsBody eventList children source destination set unset "
        "bizTransaction deviceID deviceMetadata rawData dataProcessingMethod time sensorMetadata "
        "sensorReport startTime endTime bizRules exception coordinateReferenceSystem "
        "microorganism chemicalSubstance value component stringValue booleanValue hexBinaryValue "
        "uriValue minValue maxValue meanValue sDev percRank percValue reason correctiveEventIDs "
        "declarationTime"
    )
) | frozenset(STANDARD_PREFIXES)

Kind = Literal["vocab", "iri", "type", "literal"]


@dataclass(frozen=True)
class _Field:
    """How JSON-LD expands a key's string values, and the scope that applies to its object values."""

    kind: Kind
    terms: Mapping[str, str] = field(default_factory=dict)
    scope: str | None = None


_IRI = _Field("iri")
_LITERAL = _Field("literal")

# Scopes mirror the context's property-scoped contexts; each inherits its parent's fields.
_SCOPES: dict[str, tuple[str | None, dict[str, _Field]]] = {
    "event": (
        None,
        {
            "bizStep": _Field("vocab", BIZ_STEP_TERMS),
            "disposition": _Field("vocab", DISPOSITION_TERMS),
            "type": _Field("type"),
            **dict.fromkeys(
                _words(
                    "id eventID epcList parentID childEPCs inputEPCList outputEPCList epcClass "
                    "certificationInfo bizLocation readPoint transformationID member children"
                ),
                _IRI,
            ),
            "sourceList": _Field("literal", scope="sourceDestination"),
            "destinationList": _Field("literal", scope="sourceDestination"),
            "bizTransactionList": _Field("literal", scope="bizTransaction"),
            "persistentDisposition": _Field("literal", scope="persistentDisposition"),
            "sensorElementList": _Field("literal", scope="sensorElement"),
            "errorDeclaration": _Field("literal", scope="errorDeclaration"),
        },
    ),
    "sourceDestination": (
        "event",
        {
            "type": _Field("vocab", SOURCE_DESTINATION_TYPE_TERMS),
            "source": _IRI,
            "destination": _IRI,
        },
    ),
    "bizTransaction": (
        "event",
        {"type": _Field("vocab", BIZ_TRANSACTION_TYPE_TERMS), "bizTransaction": _IRI},
    ),
    "persistentDisposition": (
        "event",
        {"set": _Field("vocab", DISPOSITION_TERMS), "unset": _Field("vocab", DISPOSITION_TERMS)},
    ),
    "sensorElement": (
        "event",
        {
            **dict.fromkeys(
                ("deviceID", "deviceMetadata", "rawData", "dataProcessingMethod"), _IRI
            ),
            "time": _LITERAL,
            "sensorMetadata": _Field("literal", scope="sensorMetadata"),
            "sensorReport": _Field("literal", scope="sensorReport"),
        },
    ),
    "sensorMetadata": ("sensorElement", {"bizRules": _IRI}),
    "sensorReport": (
        "sensorElement",
        {
            "type": _Field("vocab", _MEASUREMENT_TYPE_TERMS),
            "exception": _Field("vocab", _SENSOR_EXCEPTION_TERMS),
            "component": _Field("vocab", _COMPONENT_TERMS),
            **dict.fromkeys(
                ("coordinateReferenceSystem", "microorganism", "chemicalSubstance", "uriValue"),
                _IRI,
            ),
        },
    ),
    "errorDeclaration": (
        "event",
        {"reason": _Field("vocab", ERROR_REASON_TERMS), "correctiveEventIDs": _IRI},
    ),
}


def _field(scope: str | None, key: str) -> _Field | None:
    while scope is not None:
        parent, fields = _SCOPES[scope]
        if key in fields:
            return fields[key]
        scope = parent
    return None


@dataclass(frozen=True)
class ActiveContext:
    """The prefixes and terms in force: the EPCIS context's plus those a document's own context adds."""

    prefixes: Mapping[str, str]
    terms: Mapping[str, str]

    def compact_iri(self, value: str) -> str:
        """Expand ``prefix:suffix`` when ``prefix`` is a known prefix; return anything else unchanged."""
        prefix, colon, suffix = value.partition(":")
        if colon and not suffix.startswith("//") and prefix in self.prefixes:
            return self.prefixes[prefix] + suffix
        return value

    def vocabulary_value(self, value: str, terms: Mapping[str, str]) -> str:
        """Expand a value of a vocabulary-typed field: a scoped term, a term, a compact IRI."""
        if value in terms:
            return self.compact_iri(terms[value])
        if value in self.terms:
            return self.terms[value]
        return self.compact_iri(value)


def active_context(contexts: Iterator[Mapping[str, Any]]) -> ActiveContext:
    """Return the active context made from the EPCIS context and the given inline context objects."""
    prefixes: dict[str, str] = {}
    terms: dict[str, str] = dict(STANDARD_PREFIXES)
    for context in contexts:
        for key, value in context.items():
            if isinstance(value, str) and not key.startswith("@") and key not in STANDARD_PREFIXES:
                terms[key] = value
                # JSON-LD 1.1: a simple term is usable as a prefix when its IRI ends in a gen-delim.
                if value.endswith((":", "/", "?", "#", "[", "]", "@")):
                    prefixes[key] = value
    return ActiveContext({**prefixes, **STANDARD_PREFIXES}, terms)


def vocabulary_expansions(event: Mapping[str, Any], context: ActiveContext) -> set[str]:
    """Return the strings JSON-LD expansion of ``event`` yields under the CBV or GS1 vocabulary roots."""
    found: set[str] = set()
    _walk_object(event, "event", context, found)
    return {value for value in found if value.startswith(VOCABULARY_ROOTS)}


def _walk_object(
    node: Mapping[str, Any], scope: str, context: ActiveContext, found: set[str]
) -> None:
    for key, value in node.items():
        if key == "@context":
            continue
        spec = _field(scope, key)
        if spec is None:
            if (
                ":" not in key
                and not key.startswith("@")
                and key not in _OTHER_TERMS
                and key not in context.terms
            ):
                continue  # dropped by expansion
            spec = _LITERAL
        _walk_value(value, spec, spec.scope or scope, context, found)


def _walk_value(
    value: Any, spec: _Field, scope: str, context: ActiveContext, found: set[str]
) -> None:
    if isinstance(value, list):
        for item in value:
            _walk_value(item, spec, scope, context, found)
    elif isinstance(value, dict):
        _walk_object(value, scope, context, found)
    elif isinstance(value, str):
        if spec.kind == "vocab":
            found.add(context.vocabulary_value(value, spec.terms))
        elif spec.kind == "type":
            found.add(context.vocabulary_value(value, {}))
        elif spec.kind == "iri":
            found.add(context.compact_iri(value))
        else:
            found.add(value)
