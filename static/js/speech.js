/* 读给我听 — "Read it to me" (issue 22.3). The page carries the text to say ([data-speak-text], built on the
   server in the page's language: the appeal's status, the reply, the next step); this script only speaks it
   with the browser's own speech synthesis (window.speechSynthesis): no server, nothing downloaded. The
   button is hidden in the page and shown here only where the browser can speak; pressing it again while it
   speaks stops. After an htmx step the text is swapped in anew (out of band) and the button shown again. */
(function () {
  "use strict";

  var synth = window.speechSynthesis;
  if (!synth || typeof window.SpeechSynthesisUtterance !== "function") return;

  var active = null; // the button whose text is being spoken

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function show(button, speaking) {
    var label = button.querySelector("[data-speak-label]") || button;
    if (!button.dataset.labelRead) button.dataset.labelRead = label.textContent;
    label.textContent = speaking ? (button.dataset.labelStop || button.dataset.labelRead) : button.dataset.labelRead;
    button.setAttribute("aria-pressed", speaking ? "true" : "false");
  }

  function stop() {
    var button = active;
    active = null;
    synth.cancel();
    if (button) show(button, false);
  }

  // Sentence by sentence: some engines (Chrome's online voices) stop a long utterance after ~15 seconds.
  function sentences(text) {
    var parts = text.match(/[^。！？；.!?;]+[。！？；.!?;]*/g) || [text];
    return parts.map(function (p) { return p.trim(); }).filter(function (p) { return p.length > 0; });
  }

  // A voice of the page's language when the browser lists one (zh-CN, else any zh); else the default,
  // told the language.
  function voiceFor(lang) {
    var want = lang.toLowerCase();
    var base = want.split("-")[0];
    var voices = synth.getVoices() || [];
    var near = null;
    for (var i = 0; i < voices.length; i++) {
      var have = (voices[i].lang || "").toLowerCase().replace("_", "-");
      if (have === want) return voices[i];
      if (!near && have.split("-")[0] === base) near = voices[i];
    }
    return near;
  }

  function speak(button) {
    var block = button.closest("[data-speak]");
    var source = block && block.querySelector("[data-speak-text]");
    var text = source ? source.textContent.trim() : "";
    if (!text) return;
    if (synth.speaking || synth.pending) stop();
    var lang = button.dataset.lang || "zh-CN";
    var voice = voiceFor(lang);
    var parts = sentences(text);
    active = button;
    show(button, true);
    parts.forEach(function (part, i) {
      var u = new window.SpeechSynthesisUtterance(part);
      u.lang = lang;
      if (voice) u.voice = voice;
      u.rate = 0.9; // a little slower than the default: many who press it are elderly
      function done() {
        if (active === button) { active = null; show(button, false); }
      }
      if (i === parts.length - 1) u.onend = done;
      u.onerror = done;
      synth.speak(u);
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-speak-button]");
    if (!button) return;
    if (active === button) stop(); else speak(button);
  });

  function reveal() {
    document.querySelectorAll("[data-speak-button]").forEach(function (button) { button.hidden = false; });
  }

  ready(reveal);
  // An htmx step swapped the text (and its button) anew: speaking the old one stops, the new button shows.
  document.addEventListener("htmx:afterSettle", function () {
    if (active && !document.body.contains(active)) stop();
    reveal();
  });
  window.addEventListener("pagehide", function () { synth.cancel(); });
})();
