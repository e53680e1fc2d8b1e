/*
 * Live updates for a page, from the public feed (/api/v1/feed, Server-Sent Events).
 *
 * A page opts in with an element [data-live-item="<item key>"]; optional attributes on it:
 * data-live-kind (space-separated entry kinds, default "review") and data-live-since (the last log
 * index the page already shows, so that nothing appended while it loaded is missed). Each new
 * entry is announced as a `provenance:entry` CustomEvent on `document` whose `detail` is the entry
 * ({index, time, kind, items}); the page decides what to fetch and show. [data-live-status] gets
 * data-state="connecting" | "live" | "offline" and, as its text, its data-text-<state> attribute.
 *
 * EventSource reconnects by itself and resumes after the last event id it was given, so a dropped
 * connection misses nothing and repeats nothing. Only if the browser gives up (an error answer) is
 * a new one opened, later, from the last entry seen.
 */
(function () {
  "use strict";

  var REOPEN_MS = 30000;
  var INDEX = /^(0|[1-9][0-9]{0,15})$/;

  var root = document.querySelector("[data-live-item]");
  if (!root || typeof window.EventSource !== "function") return;
  var status = document.querySelector("[data-live-status]");
  var kinds = (root.dataset.liveKind || "review").split(/\s+/).filter(Boolean);
  var since = INDEX.test(root.dataset.liveSince || "") ? root.dataset.liveSince : null;
  var source = null;

  function show(state) {
    if (!status) return;
    status.dataset.state = state;
    var label = status.getAttribute("data-text-" + state);
    status.textContent = label === null ? state : label;
  }

  function url() {
    var params = new URLSearchParams();
    params.set("item", root.dataset.liveItem);
    kinds.forEach(function (kind) { params.append("kind", kind); });
    if (since !== null) params.set("since", since);
    return "/api/v1/feed?" + params.toString();
  }

  function open() {
    show("connecting");
    source = new EventSource(url());
    source.onopen = function () { show("live"); };
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) { show("connecting"); return; }
      show("offline");
      setTimeout(open, REOPEN_MS);
    };
    source.addEventListener("entry", function (message) {
      var entry;
      try { entry = JSON.parse(message.data); } catch (e) { return; }
      if (INDEX.test(String(entry.index))) since = String(entry.index);
      document.dispatchEvent(new CustomEvent("provenance:entry", { detail: entry }));
    });
  }

  // A page kept in the back-forward cache must not hold a connection; it reopens when shown.
  window.addEventListener("pagehide", function () { if (source) source.close(); });
  window.addEventListener("pageshow", function (event) { if (event.persisted) open(); });
  open();
})();
