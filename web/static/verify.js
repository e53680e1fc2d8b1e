/*
 * Checks the page's claims against the log's public key with WebCrypto alone, so that a reader
 * need not trust the server that sent the page. provenance/evidence.py documents the evidence
 * (script#evidence) and its rules, with the same rule codes; docs/verification.md the DOM. All
 * results are computed before any is written: a failing script never leaves a claim verified.
 */
(function () {
  "use strict";

  var KIND = /^[a-z0-9][a-z0-9.-]{0,63}$/;
  var LEAF = new Uint8Array([0]), NODE = new Uint8Array([1]);
  var PROBE_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";  // RFC 8032 test 1
  var encoder = new TextEncoder();
  var subtle = window.crypto && window.crypto.subtle;  // absent outside a secure context

  class Failure extends Error {
    constructor(rule, detail) {
      super(rule + ": " + detail);
      this.rule = rule;
      this.detail = detail;
    }
  }

  function fail(rule, detail) { throw new Failure(rule, detail); }

  function concat(...parts) {
    var out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)), offset = 0;
    for (var p of parts) { out.set(p, offset); offset += p.length; }
    return out;
  }
  function equal(a, b) { return !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]); }
  function hex(bytes) { return Array.from(bytes, b => b.toString(16).padStart(2, "0")).join(""); }
  function bytesOf(binary) { return Uint8Array.from(binary, c => c.charCodeAt(0)); }
  function utf8(bytes) { return new TextDecoder("utf-8", { fatal: true }).decode(bytes); }
  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }
  function isCount(v) { return Number.isSafeInteger(v) && v >= 0; }

  // Canonical padded base64, as notes and the bundle use: one spelling per value.
  function fromBase64(text, rule, what) {
    if (typeof text !== "string" || text.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) fail(rule, what + " is not base64");
    var binary = atob(text);
    if (btoa(binary) !== text) fail(rule, what + " is not canonical base64");
    return bytesOf(binary);
  }

  // DSSE allows either alphabet, padded or not.
  function fromAnyBase64(text) {
    if (typeof text !== "string") return null;
    var s = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
    try { return fromBase64(s + "==".slice(0, (4 - s.length % 4) % 4), "", ""); } catch (e) { return null; }
  }

  async function sha256(...parts) { return new Uint8Array(await subtle.digest("SHA-256", concat(...parts))); }

  async function verifyEd25519(publicKey, signature, message) {
    if (!publicKey || publicKey.length !== 32 || signature.length !== 64) return false;
    var key;
    try {
      key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      if (e && e.name === "NotSupportedError") fail("unsupported", "no Ed25519 in this browser");
      return false;  // not a key: nothing verifies under it
    }
    return subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  async function parseVerifierKey(vkey) {  // <name>+<hex key ID>+<base64(0x01 || public key)>
    var parts = /^([^+\s]+)\+([0-9a-fA-F]{8})\+(.*)$/.exec(typeof vkey === "string" ? vkey : "");
    if (!parts) fail("log-key", "not a verifier key");
    var material = fromBase64(parts[3], "log-key", "the key");
    if (material.length !== 33 || material[0] !== 1) fail("log-key", "not an Ed25519 key");
    var keyId = (await sha256(encoder.encode(parts[1] + "\n"), material)).slice(0, 4);
    if (hex(keyId) !== parts[2].toLowerCase()) fail("log-key", "wrong key ID");
    return { name: parts[1], keyId: keyId, key: material.slice(1) };
  }

  // C2SP signed note: text, blank line, lines "— <name> <base64(key ID || signature)>".
  async function openNote(note, log) {
    var split = note.lastIndexOf("\n\n"), signed = 0;
    if (split < 0 || note.slice(-1) !== "\n") fail("checkpoint-signature", "not a signed note");
    var body = note.slice(0, split + 1);
    for (var line of note.slice(split + 2, -1).split("\n")) {
      var match = /^— (\S+) (\S+)$/.exec(line) || fail("checkpoint-signature", "bad signature line");
      var raw = fromBase64(match[2], "checkpoint-signature", "a signature");
      if (match[1] !== log.name || !equal(raw.slice(0, 4), log.keyId)) continue;  // another key's
      if (!(await verifyEd25519(log.key, raw.slice(4), encoder.encode(body)))) fail("checkpoint-signature", "bad signature");
      signed++;
    }
    if (!signed) fail("checkpoint-signature", "no signature by the log key " + log.name);
    return body;
  }

  function parseCheckpoint(body, origin) {
    var lines = body.split("\n");
    if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) fail("checkpoint", "no size line");
    var root = fromBase64(lines[2], "checkpoint", "the root");
    if (root.length !== 32) fail("checkpoint", "the root is not 32 bytes");
    if (lines[0] !== origin) fail("checkpoint", "the checkpoint is for " + lines[0]);
    return { size: BigInt(lines[1]), root: root };
  }

  // RFC 9162 2.1.3.2 as in transparency-dev/merkle: an inner part, below where the paths to the
  // leaf and to the last leaf part, then left siblings up the right border. BigInt because sizes
  // may pass 2^31, where JavaScript's bit operators stop.
  async function rootFromInclusionProof(index, size, leafHash, proof) {
    if (index >= size) fail("proof-size", "index " + index + " >= tree size " + size);
    var diverge = index ^ (size - 1n), inner = diverge ? diverge.toString(2).length : 0;
    var border = (index >> BigInt(inner)).toString(2).split("1").length - 1;
    if (proof.length !== inner + border) fail("proof-size", proof.length + " hashes, want " + (inner + border));
    var hash = leafHash;
    for (var i = 0; i < proof.length; i++) {
      var right = i < inner && ((index >> BigInt(i)) & 1n) === 0n;  // the sibling is on the right
      hash = right ? await sha256(NODE, hash, proof[i]) : await sha256(NODE, proof[i], hash);
    }
    return hash;
  }

  // Rules entry, proof-size, proof-root; returns the payload bytes.
  async function included(entry, checkpoint) {
    if (!isObject(entry) || "unreadable" in entry || !isCount(entry.index) || !isCount(entry.time) || !KIND.test(entry.kind)) {
      fail("entry", (entry && entry.unreadable) || "bad index, time or kind");
    }
    if (fromBase64(entry.prev, "entry", "prev").length !== 32) fail("entry", "prev is not 32 bytes");
    var payload = typeof entry.payload === "string" ? encoder.encode(entry.payload)
      : fromBase64(entry.payload_base64, "entry", "the payload");
    var header = ["prov-entry/v1", entry.index, entry.time, entry.kind, entry.prev].join(" ") + "\n";
    if (!Array.isArray(entry.proof)) fail("proof-size", "no proof");
    var proof = entry.proof.map(h => fromBase64(h, "proof-size", "a proof hash"));
    if (proof.some(h => h.length !== 32)) fail("proof-size", "a hash is not 32 bytes");
    var leafHash = await sha256(LEAF, encoder.encode(header), payload);
    var root = await rootFromInclusionProof(BigInt(entry.index), checkpoint.size, leafHash, proof);
    if (!equal(root, checkpoint.root)) fail("proof-root", "the proof leads to another root");
    return payload;
  }

  // Rule statement: the DSSE envelope's parts, and its statement (null for an EPCIS capture).
  function statementOf(entry, payload) {
    var envelope, statement = null;
    try { envelope = JSON.parse(utf8(payload)); } catch (e) { fail("statement", "not JSON"); }
    if (!isObject(envelope) || typeof envelope.payloadType !== "string" || !Array.isArray(envelope.signatures) ||
        !envelope.signatures.length) fail("statement", "not a DSSE envelope");
    var body = fromAnyBase64(envelope.payload) || fail("statement", "the payload is not base64");
    var signatures = envelope.signatures.map(s => ({
      keyid: isObject(s) && typeof s.keyid === "string" ? s.keyid : "",
      sig: (isObject(s) && fromAnyBase64(s.sig)) || fail("statement", "a signature is not base64"),
    }));
    if (envelope.payloadType !== "application/ld+json" || entry.kind !== "epcis.capture") {
      if (envelope.payloadType !== "application/vnd.provenance.statement+json") fail("statement", "payloadType " + envelope.payloadType);
      try { statement = JSON.parse(utf8(body)); } catch (e) { fail("statement", "the statement is not JSON"); }
      if (!isObject(statement) || statement.type !== entry.kind) fail("statement", "not a " + entry.kind + " statement");
      if (typeof statement.by !== "string" || !statement.by) fail("statement", "no party in 'by'");
    }
    return { type: envelope.payloadType, body: body, signatures: signatures, statement: statement };
  }

  function keyBytes(key) { return fromAnyBase64(key.key); }

  // Registration entries: index -> their statement, or the failure that stops them counting.
  async function readRegistrations(items, checkpoint) {
    var found = new Map();
    for (var item of items.filter(i => isObject(i) && isCount(i.index))) {
      try {
        found.set(item.index, { statement: statementOf(item, await included(item, checkpoint)).statement || {} });
      } catch (e) {
        if (!(e instanceof Failure)) throw e;
        found.set(item.index, { failure: e });
      }
    }
    return found;
  }

  function checkRegistration(registrations, index, keyid, key) {
    var found = registrations.get(index) || fail("key-registration", "no registration entry " + index);
    if (found.failure) fail("key-registration", "entry " + index + ": " + found.failure.message);
    var body = found.statement, publicKey = keyBytes(key);
    var named = body.type === "party.register"
      ? isObject(body.party) && body.party.id === key.party && Array.isArray(body.keys) && body.keys.some(k => equal(fromAnyBase64(k), publicKey))
      : body.type === "key.add" && body.party === key.party && equal(fromAnyBase64(body.public_key), publicKey);
    if (!named) fail("key-registration", "entry " + index + " does not register key " + keyid + " to " + key.party);
  }

  // Rules signature, party, key-registration, key-revoked; returns the party that signed.
  async function checkSigners(claim, index, keys, registrations) {
    var pae = "DSSEv1 " + encoder.encode(claim.type).length + " " + claim.type + " " + claim.body.length + " ";
    var message = concat(encoder.encode(pae), claim.body), verified = [], failure;
    for (var s of claim.signatures) {
      // Only keys registered before the entry count, as when the ledger admitted it. (A keyid such
      // as "__proto__" finds no registered_at on a prototype, so it counts for nothing either.)
      var key = keys[s.keyid];
      if (!isObject(key) || !isCount(key.registered_at) || key.registered_at >= index) continue;
      if (!(await verifyEd25519(keyBytes(key), s.sig, message))) fail("signature", "the signature by key " + s.keyid + " fails");
      verified.push({ keyid: s.keyid, key: key });
    }
    if (!verified.length) fail("signature", "no signature by a key registered before entry " + index);
    var party = claim.statement ? claim.statement.by : verified[0].key.party;  // a capture: its signer's
    var mine = verified.filter(v => v.key.party === party);
    if (!mine.length) fail("party", "no signature by a key of " + party);
    for (var v of mine) {
      try {
        checkRegistration(registrations, v.key.registered_at, v.keyid, v.key);
        var revoked = v.key.revoked_at;
        if (revoked != null && !(isCount(revoked) && revoked > index)) fail("key-revoked", "key " + v.keyid + " was revoked at " + revoked);
        return party;
      } catch (e) {
        if (!(e instanceof Failure)) throw e;
        failure = e;
      }
    }
    throw failure;
  }

  // A review's leaf commits to SHA-256(salt || content); the content shown beside it must match.
  // Erased or hidden content is not in the bundle: the review is then proven to be in the log only.
  async function checkCommitment(claim, index, reviews) {
    var shown = isObject(reviews) ? reviews[String(index)] : null;
    if (claim.statement === null || claim.statement.type !== "review" || !shown) return;
    if (!isObject(shown) || typeof shown.content !== "string") fail("commitment", "no content");
    var digest = await sha256(fromBase64(shown.salt, "commitment", "salt"), encoder.encode(shown.content));
    if (btoa(String.fromCharCode(...digest)) !== claim.statement.commitment) {
      fail("commitment", "the content shown is not the content the log committed to");
    }
  }

  async function verifyEvidence(evidence) {
    if (!isObject(evidence) || evidence.version !== 1 || !isObject(evidence.log) || typeof evidence.checkpoint !== "string" ||
        !Array.isArray(evidence.claims) || !Array.isArray(evidence.registrations) || !isObject(evidence.keys)) {
      fail("evidence", "not a version 1 evidence bundle");
    }
    var log = await parseVerifierKey(evidence.log.verifier_key);
    var checkpoint = parseCheckpoint(await openNote(evidence.checkpoint, log), evidence.log.origin);
    var registrations = await readRegistrations(evidence.registrations, checkpoint), results = [];
    for (var entry of evidence.claims) {
      var result = { index: isObject(entry) && isCount(entry.index) ? entry.index : -1, verified: false };
      try {
        var claim = statementOf(entry, await included(entry, checkpoint));
        result.party = await checkSigners(claim, result.index, evidence.keys, registrations);
        await checkCommitment(claim, result.index, evidence.reviews);
        result.verified = true;
      } catch (e) {
        if (!(e instanceof Failure) || e.rule === "unsupported") throw e;
        result.rule = e.rule;
        result.message = e.detail;
      }
      results.push(result);
    }
    return { results: results };
  }

  // Writes a claim's status, keeping the proof links a .claim-check may hold for readers without
  // scripts: they stay useful to anyone who wants to check further.
  function setCheck(check, status, reason) {
    if (!check) return;
    var links = Array.from(check.querySelectorAll("a"));
    check.textContent = status;
    if (reason) {
      var hidden = check.appendChild(document.createElement("span"));
      hidden.className = "visually-hidden";  // for screen readers, which may not read a title
      hidden.textContent = " (" + reason + ")";
      check.setAttribute("title", reason);
    }
    for (var link of links) check.append(" ", link);
  }

  function mark(element, result, text) {
    element.setAttribute("data-verified", result.verified ? "yes" : "no");
    element.setAttribute(result.verified ? "data-signer" : "data-rule", result.verified ? result.party : result.rule);
    setCheck(element.querySelector(".claim-check"), text(result.verified ? "verified" : "failed"),
      !result.verified && result.rule + ": " + result.message);
  }

  function render(panel, elements, outcome) {
    var text = name => panel.getAttribute("data-text-" + name) || "";
    var summary = panel.querySelector(".verification-summary") || document.createElement("p");
    if (outcome.state === "unsupported") {  // claims keep their "not checked" text and proof links
      panel.setAttribute("data-state", "unsupported");
      summary.textContent = text("unsupported");
      return outcome;
    }
    var shown = new Set(), good = new Set();
    for (var element of elements) {
      var index = element.getAttribute("data-claim");
      // A claim listed twice is verified only if both verify.
      var listed = outcome.rule ? [outcome] : outcome.results.filter(r => String(r.index) === index);
      var result = listed.find(r => !r.verified) || listed[0] || { rule: "no-evidence", message: "not in the evidence" };
      mark(element, result, text);
      shown.add(index);
      if (result.verified) good.add(index);
    }
    outcome.state = outcome.rule === "evidence" || outcome.rule === "internal" ? "error"
      : outcome.rule || good.size < shown.size ? "failed" : "verified";
    panel.setAttribute("data-state", outcome.state);
    if (outcome.rule) panel.setAttribute("data-rule", outcome.rule);
    var template = outcome.state === "verified" ? text("summary-ok")
      : (outcome.state === "error" && text("summary-error")) || text("summary-failed");
    summary.textContent = template.replace(/\{n\}/g, good.size).replace(/\{total\}/g, shown.size)
      .replace(/\{failed\}/g, shown.size - good.size);
    return outcome;
  }

  async function run(panel, elements) {
    if (!subtle) fail("unsupported", "no WebCrypto: not a secure context");
    await verifyEd25519(fromBase64(PROBE_KEY, "internal", "probe"), new Uint8Array(64), LEAF);
    var checking = panel.getAttribute("data-text-checking") || "";
    panel.setAttribute("data-state", "checking");
    elements.forEach(element => setCheck(element.querySelector(".claim-check"), checking));
    var summary = panel.querySelector(".verification-summary");
    if (summary) summary.textContent = checking;
    var source = document.getElementById("evidence"), evidence;
    try { evidence = JSON.parse(source.textContent); } catch (e) { fail("evidence", "the page has no readable evidence"); }
    return verifyEvidence(evidence);
  }

  function start() {
    var panel = document.getElementById("verification");
    if (!panel) return Promise.resolve(null);
    var elements = Array.from(document.querySelectorAll("[data-claim]"));
    return run(panel, elements).catch(e => !(e instanceof Failure) ? { rule: "internal", message: String(e) }
      : e.rule === "unsupported" ? { state: "unsupported" } : { rule: e.rule, message: e.detail }
    ).then(outcome => {
      try {
        return render(panel, elements, outcome);
      } catch (e) {  // rendering failed midway: mark everything "no" rather than leave a "yes"
        return render(panel, elements, { rule: "internal", message: String(e) });
      }
    });
  }

  // For content that arrives after the page loaded (a new review from the live feed): verify its
  // own bundle and mark its elements, leaving the rest of the page as it is.
  function check(evidence, elements) {
    var text = name => (document.getElementById("verification") || document.body).getAttribute("data-text-" + name) || "";
    return verifyEvidence(evidence).then(outcome => outcome, e => ({ rule: e.rule || "internal", message: String(e.detail || e) }))
      .then(outcome => {
        for (var element of elements) {
          var index = element.getAttribute("data-claim");
          var listed = outcome.rule ? [outcome] : outcome.results.filter(r => String(r.index) === index);
          mark(element, listed.find(r => !r.verified) || listed[0] || { rule: "no-evidence", message: "not in the evidence" }, text);
        }
        return outcome;
      });
  }

  window.provenanceVerifier = { done: start(), check: check };
})();
