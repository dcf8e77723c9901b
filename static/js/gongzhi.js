/* Gongzhi's own small script. Every page works without it; it only adds conveniences:
   - "use my location" on the submit page (navigator.geolocation fills the hidden lat/lng);
   - "/" focuses the search box of a list, "tick all" for bulk dispatch;
   - a form marked data-once sends once (the idempotency key makes a second send harmless anyway);
   - when a form comes back refused (a new page or an htmx swap), focus moves to its error summary so that
     screen readers and keyboards follow; Enter on a choice never submits another choice (data-implicit);
   - Escape closes the phone's header menu;
   - an appeal being written by a resident (not by staff for a caller) is kept in this browser (localStorage,
     per user, for a week) until it is sent:
     a login that ran out meanwhile loses nothing (the submit page offers to continue it after logging in). */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function setupLocate(root) {
    root.querySelectorAll("[data-locate]").forEach(function (button) {
      if (!("geolocation" in navigator) || button.dataset.bound) return;
      button.dataset.bound = "1";
      button.hidden = false;
      var form = button.closest("form");
      var status = form.querySelector("[data-locate-status]");
      button.addEventListener("click", function () {
        button.disabled = true;
        navigator.geolocation.getCurrentPosition(function (pos) {
          form.querySelector("input[name=lat]").value = pos.coords.latitude.toFixed(6);
          form.querySelector("input[name=lng]").value = pos.coords.longitude.toFixed(6);
          if (status) status.textContent = status.dataset.ok;
          button.disabled = false;
        }, function () {
          if (status) status.textContent = status.dataset.fail;
          button.disabled = false;
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    });
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var box = document.querySelector("[data-search]");
    if (box) { e.preventDefault(); box.focus(); box.select(); }
  });

  document.addEventListener("change", function (e) {
    var all = e.target.closest && e.target.closest("[data-select-all]");
    if (!all) return;
    var form = all.closest("form");
    form.querySelectorAll("input[type=checkbox][name=ids]").forEach(function (box) { box.checked = all.checked; });
  });

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-once")) return;
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = "1";
    // Only unnamed buttons: a named one (e.g. "find") must still reach the server with its value.
    setTimeout(function () {
      form.querySelectorAll("button[type=submit]:not([name])").forEach(function (b) { b.disabled = true; });
    }, 0);
  });

  // Back to a sent form from the browser's page cache: let it be used again (its key still guards it).
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
    });
  });

  // The phone's header menu (a <details> toggle that shows the menu beside it): Escape closes it and
  // gives the focus back to its button.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var toggle = document.querySelector(".menu-toggle[open]");
    if (!toggle) return;
    toggle.open = false;
    toggle.querySelector("summary").focus();
  });

  // Drafts of an appeal: the words typed (not the photos, not the hidden fields) and the step's address
  // (its kind and category), saved as they are typed under the user's id, dropped once the receipt shows.
  var DRAFT_DAYS = 7;
  function draftKey(user) { return "gongzhi-draft-" + user; }
  function readDraft(user) {
    try {
      var d = JSON.parse(window.localStorage.getItem(draftKey(user)) || "null");
      if (d && Date.now() - d.at < DRAFT_DAYS * 86400000) return d;
      window.localStorage.removeItem(draftKey(user));
    } catch (e) { /* storage refused (private mode): no drafts */ }
    return null;
  }
  function draftFields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !el.disabled && (el.tagName === "TEXTAREA" ||
        (el.tagName === "INPUT" && /^(text|tel|search|email|number|checkbox)$/.test(el.type)));
    });
  }
  function setupDrafts(root) {
    root.querySelectorAll("form[data-draft]").forEach(function (form) {
      var user = form.dataset.draft;
      if (!user || form.dataset.draftBound) return;
      form.dataset.draftBound = "1";
      var d = readDraft(user);
      if (d && d.url === form.dataset.draftUrl) {
        draftFields(form).forEach(function (el) {
          if (!(el.name in d.fields)) return;
          if (el.type === "checkbox") { el.checked = d.fields[el.name] === true; }
          else if (!el.value) { el.value = d.fields[el.name]; }
        });
      }
      function save() {
        var fields = {};
        var any = false;
        draftFields(form).forEach(function (el) {
          fields[el.name] = el.type === "checkbox" ? el.checked : el.value;
          if (el.type !== "checkbox" && el.value.trim()) any = true;
        });
        try {
          if (any) {
            window.localStorage.setItem(draftKey(user), JSON.stringify({ url: form.dataset.draftUrl, at: Date.now(), fields: fields }));
          }
        } catch (e) { /* full or refused: the form still works */ }
      }
      form.addEventListener("input", save);
      form.addEventListener("change", save);
    });
    root.querySelectorAll("[data-draft-resume]").forEach(function (box) {
      var user = box.dataset.draftResume;
      var d = user && readDraft(user);
      if (!d || typeof d.url !== "string" || d.url.indexOf("/workorders/new/?") !== 0) return;
      box.querySelector("a").setAttribute("href", d.url);
      box.hidden = false;
      box.querySelector("[data-draft-drop]").addEventListener("click", function () {
        window.localStorage.removeItem(draftKey(user));
        box.hidden = true;
      });
    });
    root.querySelectorAll("[data-draft-clear]").forEach(function (el) {
      try { window.localStorage.removeItem(draftKey(el.dataset.draftClear)); } catch (e) { /* nothing kept */ }
    });
  }

  // A refused form comes back with its summary first (templates/workorders/_errors.html): the focus goes
  // there, on a new page as after an htmx swap, so that a screen reader reads what is wrong and a keyboard
  // user follows its links to the fields. A page that redirected after a refusal says it in the header's
  // messages instead: the first error there takes the focus.
  function focusError(root) {
    var err = root.querySelector("[data-autofocus]");
    if (!err && root === document) {
      err = document.querySelector(".messages .msg.error");
      if (err) err.setAttribute("tabindex", "-1");
    }
    if (err) err.focus();
  }

  // Enter in a form submits it with its first submit button (the HTML "implicit submission"); Chromium
  // does so even from a radio button or a tick box. Where the buttons are choices (the category tiles,
  // the two ways of bulk dispatch) the form starts with a hidden submit button marked data-implicit,
  // which takes that Enter: here it submits nothing and moves the focus to what data-implicit names (or
  // leaves it where it is). Without this script the hidden button's own submission harms nothing.
  document.addEventListener("submit", function (e) {
    var by = e.submitter;
    if (!by || !by.hasAttribute("data-implicit")) return;
    e.preventDefault();
    e.stopImmediatePropagation();  // before htmx, whose listener is on the form
    var sel = by.getAttribute("data-implicit");
    var next = sel && e.target.querySelector(sel);
    if (next) next.focus();
  }, true);

  ready(function () { setupLocate(document); setupDrafts(document); focusError(document); });
  document.addEventListener("htmx:afterSwap", function (e) {
    setupLocate(e.detail.target);
    setupDrafts(e.detail.target);
    focusError(e.detail.target);
  });
})();

// One-key call screens: follow the live stream (Server-Sent Events from /sos/stream/). On every event the
// list part of the page is fetched again; an alert addressed to this user beeps and vibrates where the
// browser allows; "waiting" cells count up; the take-back button counts down and then goes.
(function () {
  function beep() {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.6);
    } catch (e) { /* no sound without a user gesture on some browsers */ }
    if (navigator.vibrate) { navigator.vibrate([300, 100, 300]); }
  }
  function ticking() {
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var s = Math.max(0, Math.round((Date.now() - Date.parse(el.dataset.since)) / 1000));
      el.textContent = s < 3600 ? Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") : Math.floor(s / 3600) + "h";
    });
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = parseInt(el.dataset.countdown, 10) - 1;
      el.dataset.countdown = left;
      if (left <= 0) { el.closest("form").remove(); } else { el.querySelector("span").textContent = left; }
    });
  }
  function follow(box) {
    if (!window.EventSource) { return; }
    var me = parseInt(box.dataset.me || "0", 10);
    // Events come in id order; the id of the last one acted on is kept, and one that is not newer (sent
    // again after a reconnect, or twice by a server) is passed over: no second fetch, no second beep.
    var last = 0;
    var source = new EventSource(box.dataset.sosStream);
    source.addEventListener("call", function (msg) {
      var id = parseInt(msg.lastEventId, 10);
      if (id <= last) { return; }
      if (id > 0) { last = id; }
      var data = JSON.parse(msg.data);
      box.dataset.lastEvent = msg.lastEventId;
      if (data.event.action === "alert" && data.event.to_users.indexOf(me) >= 0) { beep(); }
      if (box.dataset.sosReload) { window.location.reload(); return; }
      fetch(box.dataset.sosPart, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        box.innerHTML = html;
        box.dataset.updated = String(Date.now());
        ticking();
      });
    });
    // The viewer may no longer watch (logged out, token revoked, roles taken away): the page again, under
    // the rights they have now (the login page, or a board without those calls).
    source.addEventListener("revoked", function () { source.close(); window.location.reload(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    // A page to print (the mediation agreement): its button prints; without scripts it stays hidden.
    document.querySelectorAll("[data-print-page]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("[data-sos-stream]").forEach(follow);
    if (document.querySelector("[data-since], [data-countdown]")) { ticking(); setInterval(ticking, 1000); }
  });
})();
