// Live suggestion list: listens on /ws/consultations/<id>/events/ for suggestions.updated and
// re-renders the server's fragment (templates/assist/_suggestions.html) with htmx, so the HTML has
// one author. Reconnects with a back-off; the fragment itself works without this script.
(function () {
  "use strict";
  const script = document.currentScript || document.querySelector("script[data-assist-live]");
  const id = script && script.dataset.consultation;
  if (!id) return;
  let delay = 1000;

  function refresh() {
    const panel = document.getElementById(`assist-suggestions-${id}`);
    if (!panel || !window.htmx) return;
    window.htmx.ajax("GET", panel.dataset.url, { target: panel, swap: "outerHTML" }).then(() => {
      const fresh = document.getElementById(`assist-suggestions-${id}`);
      if (fresh) fresh.dispatchEvent(new CustomEvent("assist:updated", { bubbles: true }));
    });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/consultations/${id}/events/`);
    ws.onopen = () => { delay = 1000; refresh(); };  // catch up on anything missed while closed
    ws.onmessage = (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (ev.type === "suggestions.updated" && String(ev.consultation_id) === String(id)) refresh();
    };
    ws.onclose = (e) => {
      if (e.code === 4403 || e.code === 4400) return;  // not allowed: do not hammer the server
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();
