// Sundial's operator page: live rows by server-sent events, polling
// when the event stream fails, and a button that pauses both.
(function () {
  "use strict";
  var toggle = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  if (!toggle) { return; } // the sign-in page
  var paused = false, source = null, timer = null, failures = 0;

  function say(text) { if (status) { status.textContent = text; } }

  function replace(selector, html) {
    var old = document.querySelector(selector);
    if (!old) { return; }
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    var row = t.content.firstElementChild;
    if (!row) { return; }
    // Keep a ticked box ticked across updates.
    var box = old.querySelector("input[type=checkbox]");
    var nbox = row.querySelector("input[type=checkbox]");
    if (box && nbox) { nbox.checked = box.checked; }
    // Keep the focus on the same control.
    var focused = old.contains(document.activeElement) ? document.activeElement.getAttribute("data-action") : null;
    old.replaceWith(row);
    if (focused) {
      var again = row.querySelector('[data-action="' + focused + '"]');
      if (again) { again.focus(); }
    }
  }

  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&"); }
  function scheduleRow(html) {
    var m = /data-schedule="([^"]*)"/.exec(html);
    if (!m) { return; }
    var t = document.createElement("textarea");
    t.innerHTML = m[1];
    replace('tr[data-schedule="' + cssEscape(t.value) + '"]', html);
  }
  // runRow replaces the row of a run (a task scan, a reconciliation), or
  // puts a new run's row at the top of its table.
  function runRow(attr, table, html) {
    var m = new RegExp(attr + '="([^"]*)"').exec(html);
    if (!m) { return; }
    var t = document.createElement("textarea");
    t.innerHTML = m[1];
    var sel = "tr[" + attr + '="' + cssEscape(t.value) + '"]';
    if (document.querySelector(sel)) { replace(sel, html); return; }
    var body = document.querySelector(table + " tbody");
    if (body) {
      var tpl = document.createElement("template");
      tpl.innerHTML = html.trim();
      if (tpl.content.firstElementChild) { body.prepend(tpl.content.firstElementChild); }
    }
  }
  function scanRow(html) { runRow("data-scan-run", "#scans", html); }
  function reconRow(html) { runRow("data-recon-run", "#recons", html); }
  // A configuration change reloads the configuration page, and says so
  // on the others (new schedules need a reload of the list).
  function configChanged() {
    var page = document.body.getAttribute("data-page");
    if (page === "config") { location.reload(); return; }
    say("configuration changed: reload the page to see new schedules");
  }
  var version = document.body.getAttribute("data-config") || null;
  function configVersion(v) {
    if (version !== null && v !== version) { configChanged(); }
    version = v;
  }

  function startEvents() {
    if (!window.EventSource) { startPolling(); return; }
    source = new EventSource("/ui/events" + (version ? "?config=" + encodeURIComponent(version) : ""));
    // The stream's schedule rows start from when it opened: one poll of
    // the rows on the page catches what changed since it was rendered.
    source.addEventListener("hello", function () {
      failures = 0; say("live");
      if (document.querySelector("tr[data-schedule]")) { pollOnce(); }
    });
    source.addEventListener("schedule", function (e) { scheduleRow(e.data); });
    source.addEventListener("scan", function (e) { scanRow(e.data); });
    source.addEventListener("recon", function (e) { reconRow(e.data); });
    source.addEventListener("config", configChanged);
    source.addEventListener("expired", function () { stop(); say("session expired: sign in again"); });
    source.onerror = function () {
      failures++;
      if (source.readyState === EventSource.CLOSED || failures > 2) {
        source.close(); source = null;
        startPolling();
      }
    };
  }

  function pollOnce() {
    var ids = Array.prototype.map.call(document.querySelectorAll("tr[data-schedule]"), function (tr) {
      return "id=" + encodeURIComponent(tr.getAttribute("data-schedule"));
    });
    fetch("/ui/poll?" + ids.slice(0, 500).join("&"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (d) {
        Object.keys(d.rows || {}).forEach(function (k) { scheduleRow(d.rows[k]); });
        Object.keys(d.scans || {}).forEach(function (k) { scanRow(d.scans[k]); });
        Object.keys(d.recons || {}).forEach(function (k) { reconRow(d.recons[k]); });
        configVersion(d.config);
        say(timer ? "live (polling)" : "live");
      })
      .catch(function () { say("updates failed; retrying"); });
  }
  function startPolling() {
    if (timer) { return; }
    say("live (polling)");
    pollOnce();
    timer = setInterval(pollOnce, 3000);
  }
  function stop() {
    if (source) { source.close(); source = null; }
    if (timer) { clearInterval(timer); timer = null; }
  }

  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.setAttribute("aria-pressed", String(paused));
    toggle.textContent = paused ? "Resume live updates" : "Pause live updates";
    if (paused) { stop(); say("paused"); } else { startEvents(); }
  });
  startEvents();
})();
