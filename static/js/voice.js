/* 语音留言 — a voice message with an appeal (issue 22.3). Where the browser can record (MediaRecorder, a
   microphone, and DataTransfer to hand a file to the form), the block records in the page: one button to
   record and stop, a timer, the recording to listen to before sending, a button to discard it; recording
   stops by itself at the limit (data-max-seconds). The recording is put into the form's own file input
   (name "voice"), so the same multipart POST that makes the appeal carries it, with the length measured
   here (voice_duration; the server reads it from the file where it can). Elsewhere — no recorder, the
   microphone refused, a page not served over HTTPS — the plain file input stays (a phone offers its own
   recorder there). With a voice message the words may be left out: the description stops being required. */
(function () {
  "use strict";

  var TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm", "audio/ogg"];
  var BITS = 32000; // speech at 32 kbit/s: a minute is ~240 KB

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function canRecord() {
    if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return false;
    try { new window.DataTransfer(); } catch (e) { return false; }
    return typeof window.File === "function";
  }

  function pickType() {
    if (typeof window.MediaRecorder.isTypeSupported !== "function") return "";
    for (var i = 0; i < TYPES.length; i++) if (window.MediaRecorder.isTypeSupported(TYPES[i])) return TYPES[i];
    return "";
  }

  function extension(type) {
    if (type.indexOf("ogg") >= 0) return "ogg";
    if (type.indexOf("mp4") >= 0 || type.indexOf("aac") >= 0) return "m4a";
    return "webm";
  }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var m = Math.floor(s / 60);
    var r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  function setup(box) {
    if (box.dataset.bound) return;
    box.dataset.bound = "1";
    var form = box.closest("form");
    var input = box.querySelector("input[type=file][name=voice]");
    var text = form && form.querySelector("textarea[name=text]");
    var textRequired = !!(text && text.required);

    // A voice message, chosen or recorded, is enough: the description is then optional.
    function syncRequired() {
      if (!text) return;
      var has = input.files && input.files.length > 0;
      text.required = textRequired && !has;
    }
    input.addEventListener("change", syncRequired);
    if (!canRecord()) return;

    var recorderBox = box.querySelector("[data-voice-recorder]");
    var fileBox = box.querySelector("[data-voice-file]");
    var record = box.querySelector("[data-voice-record]");
    var timer = box.querySelector("[data-voice-timer]");
    var discard = box.querySelector("[data-voice-discard]");
    var playback = box.querySelector("[data-voice-playback]");
    var status = box.querySelector("[data-voice-status]");
    var duration = box.querySelector("[data-voice-duration]");
    var max = parseInt(box.dataset.maxSeconds, 10) || 60;

    var rec = null;
    var stream = null;
    var chunks = [];
    var started = 0;
    var elapsed = 0;
    var ticking = null;
    var url = null;
    var sendAfter = false; // "Send" pressed while recording: send once the recording is in the form

    recorderBox.hidden = false;
    fileBox.hidden = true;
    timer.textContent = clock(0) + " / " + clock(max);

    function say(key) { status.textContent = key ? (status.dataset[key] || "") : ""; }

    function tick() {
      var s = (Date.now() - started) / 1000;
      timer.textContent = clock(Math.min(s, max)) + " / " + clock(max);
      if (s >= max) stop();
    }

    function clear() {
      input.value = "";
      try { input.files = new window.DataTransfer().files; } catch (e) { /* value = "" did it */ }
      duration.value = "";
      if (url) { URL.revokeObjectURL(url); url = null; }
      playback.pause();
      playback.removeAttribute("src");
      playback.hidden = true;
      discard.hidden = true;
      syncRequired();
    }

    function start() {
      record.disabled = true;
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (s) {
        stream = s;
        chunks = [];
        var type = pickType();
        try {
          rec = new window.MediaRecorder(s, type ? { mimeType: type, audioBitsPerSecond: BITS } : { audioBitsPerSecond: BITS });
        } catch (e) {
          rec = new window.MediaRecorder(s);
        }
        rec.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
        rec.onstop = finish;
        clear();
        rec.start(1000);
        started = Date.now();
        ticking = window.setInterval(tick, 250);
        tick();
        record.textContent = record.dataset.labelStop;
        record.setAttribute("aria-pressed", "true");
        record.disabled = false;
        say("recording");
        if (text) text.required = false; // a message is on its way: the form may be sent (it waits for it)
      }, function () {
        // Refused, or no microphone: the file input is the way (the message moves out to beside it).
        record.disabled = false;
        recorderBox.hidden = true;
        fileBox.hidden = false;
        fileBox.insertAdjacentElement("beforebegin", status);
        say("denied");
      });
    }

    function stop() {
      if (ticking) { window.clearInterval(ticking); ticking = null; }
      if (!rec || rec.state === "inactive") return;
      elapsed = Math.min((Date.now() - started) / 1000, max);
      rec.stop();
    }

    function finish() {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      var type = ((rec && rec.mimeType) || (chunks[0] && chunks[0].type) || "audio/webm").split(";")[0];
      var blob = new Blob(chunks, { type: type });
      rec = null;
      chunks = [];
      record.setAttribute("aria-pressed", "false");
      record.textContent = record.dataset.labelAgain;
      if (!blob.size) { say(""); syncRequired(); sendAfter = false; return; }
      var dt = new window.DataTransfer();
      dt.items.add(new window.File([blob], "voice." + extension(type), { type: type }));
      input.files = dt.files;
      duration.value = elapsed.toFixed(1);
      url = URL.createObjectURL(blob);
      playback.src = url;
      playback.hidden = false;
      discard.hidden = false;
      timer.textContent = clock(elapsed) + " / " + clock(max);
      syncRequired();
      say("recorded");
      if (sendAfter) {
        sendAfter = false;
        if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
      }
    }

    record.addEventListener("click", function () {
      if (rec && rec.state !== "inactive") stop(); else start();
    });
    discard.addEventListener("click", function () {
      clear();
      record.textContent = record.dataset.labelRecord;
      timer.textContent = clock(0) + " / " + clock(max);
      say("discarded");
      record.focus();
    });
    // Sent while recording: stop first, and send with the recording (not without it).
    form.addEventListener("submit", function (e) {
      if (!rec || rec.state === "inactive") return;
      e.preventDefault();
      e.stopPropagation(); // the page's send-once guard has not seen this send: the real one follows
      sendAfter = true;
      stop();
    });
    window.addEventListener("pagehide", function () {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    });
  }

  ready(function () { document.querySelectorAll("[data-voice]").forEach(setup); });
})();
