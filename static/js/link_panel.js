// "Gerar link" panel: live updates over the consultation's WebSocket, copy-to-clipboard.
// htmx polling (hx-trigger="every 2s") keeps working when the WebSocket cannot connect.
(function () {
  "use strict";
  var socket = null;

  function panel() { return document.getElementById("link-card"); }

  function refresh() {
    var card = panel();
    if (card && window.htmx) {
      window.htmx.ajax("GET", card.getAttribute("data-panel-url"), { target: "#link-panel", swap: "innerHTML" });
    }
  }

  function connect() {
    var card = panel();
    if (!card || socket) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + window.location.host + card.getAttribute("data-events-url"));
    } catch (e) { socket = null; return; }
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "link.status") refresh();
    };
    socket.onclose = function () { socket = null; setTimeout(connect, 5000); };
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied-label") || label;
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { input.select(); document.execCommand("copy"); done(); });
    } else {
      input.select(); document.execCommand("copy"); done();
    }
  });

  document.addEventListener("DOMContentLoaded", connect);
  document.addEventListener("htmx:afterSwap", connect);
})();
