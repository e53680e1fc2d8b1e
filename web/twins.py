"""The JSON twins of the pages: the same facts as the HTML, for machines.

A twin is built from the same objects the template renders, so a page and its twin cannot say
different things. Statements appear as signed (``statement``) with their log index, time and status.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from provenance.queries import StatementView
from provenance.reviews import ReviewView
from provenance.story import Story


def view_twin(view: StatementView) -> dict[str, Any]:
    """A statement as the twins show it."""
    return {
        "index": view.index,
        "time": view.time_ms,
        "type": view.type,
        "by": view.by,
        "statement": view.body,
        "status": view.status,
        "corrected_by": view.corrected_by,
        "retracted_by": view.retracted_by,
    }


def story_twin(story: Story, base: str) -> dict[str, Any]:
    """An item page's twin: its sections, each pointing at claims by log index."""
    return {
        "item": story.item.own,
        "url": base + story.item.own,
        "level": story.level,
        "covered_by": list(story.item.covered_by),
        "product": story.product.index if story.product else None,
        "parties": {k: asdict(v) for k, v in story.parties.items()},
        "suspended": [p.id for p in story.suspended],
        "origins": [v.index for v in story.origins],
        "timeline": [
            {"date": s.date, "kind": s.kind, "claim": s.claim.index} for s in story.timeline
        ],
        "transformations": [v.index for v in story.transformations],
        "certifications": [
            {"claim": c.claim.index, "state": c.state, "covers": c.covers}
            for c in story.certifications
        ],
        "risks": [{"text": d.text, "claim": d.claim.index} for d in story.risks],
        "benefits": [{"text": d.text, "claim": d.claim.index} for d in story.benefits],
        "footprint": {
            "unit": story.footprint.unit,
            "per": story.footprint.per,
            "total": story.footprint.total,
            "parts": [
                {"item": p.item, "share": p.share, "figures": p.figures, "claim": p.claim.index}
                for p in story.footprint.parts
            ],
            "apart": [v.index for v in story.footprint.apart],
        },
        "recalls": [
            {"claim": r.claim.index, "item": r.item, "direct": r.direct} for r in story.recalls
        ],
        "amended": [v.index for v in story.amended],
        "upstream": story.upstream,
        "lots": story.lots,
        "claims": {str(i): view_twin(v) for i, v in story.claims.items()},
    }


def review_twin(view: ReviewView) -> dict[str, Any]:
    """A review as the twins show it: content only while neither hidden nor erased."""
    shown = view.content if view.hidden is None else None
    return {
        "index": view.index,
        "item": view.item,
        "kind": view.kind,
        "time": view.time_ms,
        "holder": view.holder,
        "rating": shown.rating if shown else None,
        "title": shown.title if shown else None,
        "text": shown.text if shown else None,
        "name": shown.name if shown else None,
        "hidden": view.hidden,
        "hidden_by": view.hidden_by,
        "erased": view.erased,
        "status": view.status,
        "first_answer_ms": view.first_answer_ms,
        "answers": [
            {"index": a.index, "time": a.time_ms, "by": a.by, "text": a.text} for a in view.answers
        ],
    }
