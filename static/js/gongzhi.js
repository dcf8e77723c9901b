/* Gongzhi's own small script. Every page works without it; it only adds conveniences:
   - "use my location" on the submit page (navigator.geolocation fills the hidden lat/lng);
   - "/" focuses the search box of a list, "tick all" for bulk dispatch;
   - a form marked data-once sends once (the idempotency key makes a second send harmless anyway);
   - after htmx swaps in an error, focus moves to it so that screen readers and keyboards follow. */
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

  function focusError(root) {
    var err = root.querySelector("[data-autofocus]");
    if (err) err.focus();
  }

  ready(function () { setupLocate(document); });
  document.addEventListener("htmx:afterSwap", function (e) {
    setupLocate(e.detail.target);
    focusError(e.detail.target);
  });
})();
