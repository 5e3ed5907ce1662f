// Latchkey console: small enhancements over pages that work without
// script. Copy buttons, confirmation dialogs, the saved-secret checkbox
// and live search. Loaded as a file (the CSP allows no inline script).
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("announce");
    if (!live) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  }

  // Copy buttons: <button class="copy" data-copy="#id" hidden>. They are
  // hidden until script can make them work.
  function copyText(target) {
    var el = document.querySelector(target);
    if (!el) return Promise.reject(new Error("nothing to copy"));
    var text = "value" in el && el.tagName !== "BUTTON" ? el.value : el.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text.trim());
    }
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = document.execCommand && document.execCommand("copy");
    sel.removeAllRanges();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function initCopy(root) {
    root.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
      b.hidden = false;
      if (b.dataset.bound) return;
      b.dataset.bound = "1";
      b.addEventListener("click", function () {
        var label = b.dataset.label || b.textContent;
        b.dataset.label = label;
        copyText(b.dataset.copy).then(function () {
          b.textContent = "Copied";
          announce("Copied to the clipboard");
          window.setTimeout(function () { b.textContent = label; }, 2000);
        }, function () {
          announce("Copying failed: select the text and copy it yourself");
        });
      });
    });
  }

  // Dialogs: <a|button data-dialog="id"> opens <dialog id> as a modal
  // (the browser traps focus inside it and returns it on close). A link
  // keeps its href as the way without script: a confirmation page.
  function initDialogs(root) {
    root.querySelectorAll("[data-dialog]").forEach(function (opener) {
      if (opener.dataset.bound) return;
      opener.dataset.bound = "1";
      opener.addEventListener("click", function (e) {
        var d = document.getElementById(opener.dataset.dialog);
        if (!d || typeof d.showModal !== "function") return;
        e.preventDefault();
        d.showModal();
        var first = d.querySelector("[autofocus], input:not([type=hidden]), button, select, textarea, a[href]");
        if (first) first.focus();
      });
    });
    root.querySelectorAll("dialog [data-close]").forEach(function (b) {
      if (b.dataset.bound) return;
      b.dataset.bound = "1";
      b.addEventListener("click", function (e) {
        e.preventDefault();
        b.closest("dialog").close();
      });
    });
  }

  // A checkbox that must be ticked before a button works:
  // <input type="checkbox" data-enables="button-id">.
  function initGates(root) {
    root.querySelectorAll("input[type=checkbox][data-enables]").forEach(function (box) {
      var target = document.getElementById(box.dataset.enables);
      if (!target) return;
      var sync = function () { target.disabled = !box.checked; };
      sync();
      if (box.dataset.bound) return;
      box.dataset.bound = "1";
      box.addEventListener("change", sync);
    });
  }

  // Typing into a gate's text box enables its button when the text
  // matches: <input data-must-match="expected" data-enables-text="id">.
  function initTyped(root) {
    root.querySelectorAll("input[data-must-match][data-enables-text]").forEach(function (input) {
      var target = document.getElementById(input.dataset.enablesText);
      if (!target) return;
      var sync = function () { target.disabled = input.value !== input.dataset.mustMatch; };
      sync();
      if (input.dataset.bound) return;
      input.dataset.bound = "1";
      input.addEventListener("input", sync);
    });
  }

  // Live search: <form data-live="results-id"> fetches the page its
  // fields make as they change and swaps in the results, keeping the
  // address bar in step. Without script the form submits as usual.
  function initLive(root) {
    root.querySelectorAll("form[data-live]").forEach(function (form) {
      if (form.dataset.bound) return;
      form.dataset.bound = "1";
      var timer = 0, seq = 0;
      var run = function () {
        var params = new URLSearchParams(new FormData(form));
        params.forEach(function (v, k) { if (v === "") params.delete(k); });
        var url = form.action.split("?")[0] + (params.toString() ? "?" + params.toString() : "");
        var mine = ++seq;
        fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (res) {
          return res.ok ? res.text() : Promise.reject(new Error(String(res.status)));
        }).then(function (html) {
          if (mine !== seq) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var id = form.dataset.live;
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (!fresh || !old) return;
          old.replaceWith(fresh);
          window.history.replaceState(null, "", url);
          init(fresh);
          var count = fresh.querySelector("[data-count]");
          if (count) announce(count.textContent);
        }).catch(function () {});
      };
      form.addEventListener("input", function (e) {
        if (!e.target.matches("input[type=search], input[type=text]")) return;
        window.clearTimeout(timer);
        timer = window.setTimeout(run, 250);
      });
      form.addEventListener("change", function (e) {
        if (e.target.matches("select, input[type=checkbox], input[type=date]")) run();
      });
    });
  }

  function init(root) {
    initCopy(root);
    initDialogs(root);
    initGates(root);
    initTyped(root);
    initLive(root);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
