/*
 * Reviews that arrive while the page is open. live.js announces each new entry about this item
 * (a `provenance:entry` event); for a review, or an answer, hiding, erasure or status change of
 * one, this script fetches the review's public JSON (/api/v1/reviews/<index>, with its evidence),
 * draws it with textContent only (whatever a reviewer wrote stays text), and asks the verifier to
 * check it against the log like every other claim on the page. No third-party code.
 */
(function () {
  "use strict";

  var section = document.getElementById("reviews");
  if (!section) return;
  var list = section.querySelector("ol.reviews");
  var text = name => section.getAttribute("data-text-" + name) || "";

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined && content !== null) node.textContent = String(content);
    return node;
  }

  function proofLink(index) {
    var link = el("a", null, "#" + index);
    link.href = "/api/v1/log/entries/" + index;
    return link;
  }

  function signed(index, time) {
    var line = el("p", "signed");
    line.setAttribute("data-claim", String(index));
    var when = el("time", null, new Date(time).toISOString().slice(0, 16).replace("T", " ") + " UTC");
    when.setAttribute("datetime", new Date(time).toISOString());
    var check = el("span", "claim-check");
    check.appendChild(proofLink(index));
    line.append(text("recorded") + " ", when, " · ", check);
    return line;
  }

  function draw(review) {
    var item = el("li", "review review-" + review.kind + " new");
    item.id = "review-" + review.index;
    var article = item.appendChild(el("article"));
    if (review.hidden || review.erased) {
      article.appendChild(el("p", "moderated", review.hidden ? text("hidden") + " " + review.hidden : text("erased")));
    } else {
      var title = article.appendChild(el("h3"));
      if (review.rating) title.appendChild(el("span", "stars", "★".repeat(review.rating) + "☆".repeat(5 - review.rating)));
      title.append(" " + review.title);
      article.appendChild(el("p", "review-text", review.text));
      var meta = article.appendChild(el("p", "review-meta", (review.name || text("anonymous"))));
      if (review.holder) meta.append(" · ", el("span", "badge ok", text("holder")));
      meta.append(" · ", el("span", "badge ok", text("new")));
    }
    if (review.status) article.appendChild(el("p", "status status-" + review.status, text("status-" + review.status) || review.status));
    article.appendChild(signed(review.index, review.time));
    for (var answer of review.answers) {
      var box = article.appendChild(el("div", "answer"));
      var said = box.appendChild(el("p"));
      said.append(el("strong", null, answer.by + ":"), " " + answer.text);
      box.appendChild(signed(answer.index, answer.time));
    }
    return item;
  }

  function show(review) {
    var drawn = draw(review), existing = document.getElementById(drawn.id);
    if (existing) existing.replaceWith(drawn);
    else {
      var empty = list.querySelector(".no-reviews");
      if (empty) empty.remove();
      list.prepend(drawn);
    }
    var verifier = window.provenanceVerifier;
    if (verifier && verifier.check) verifier.check(review.evidence, Array.from(drawn.querySelectorAll("[data-claim]")));
  }

  function reviewOf(entry) {
    if (entry.kind === "review") return Promise.resolve(entry.index);
    // An answer, hiding, erasure or status change: the review it is about is in its statement.
    return fetch("/api/v1/statements/" + entry.index).then(r => r.ok ? r.json() : null)
      .then(s => s && s.statement && Number.isSafeInteger(s.statement.review) ? s.statement.review : null);
  }

  document.addEventListener("provenance:entry", function (event) {
    var entry = event.detail;
    if (!entry || typeof entry.kind !== "string" || !entry.kind.startsWith("review")) return;
    reviewOf(entry).then(index => index === null ? null : fetch("/api/v1/reviews/" + index))
      .then(r => r && r.ok ? r.json() : null)
      .then(review => { if (review) show(review); })
      .catch(() => {});  // the next event, or a reload, shows it; the feed never blocks the page
  });
})();
