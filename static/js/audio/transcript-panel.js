// Live transcript panel: listens on /ws/consultations/<id>/transcript/ and renders
// transcript.partial (grey, replaced in place) / transcript.final / transcript.lag. Auto-scroll
// follows new lines until the doctor scrolls up; a search box filters lines. Works on any page that
// includes templates/transcription/_panel.html (room page, in-person page, consultation detail).
(function () {
  "use strict";

  function initPanel(panel) {
    if (panel.dataset.ready) return;
    panel.dataset.ready = "1";
    const list = panel.querySelector("[data-transcript-lines]");
    const search = panel.querySelector("[data-transcript-search]");
    const lag = panel.querySelector("[data-transcript-lag]");
    const empty = panel.querySelector("[data-transcript-empty]");
    const labels = JSON.parse(panel.dataset.labels || "{}");
    const pendingLabel = panel.dataset.pendingLabel || "…";
    const finals = new Set();
    let follow = true;

    list.addEventListener("scroll", () => {
      follow = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
    });

    function applyFilter(line) {
      const q = (search && search.value || "").trim().toLowerCase();
      line.hidden = q !== "" && !line.textContent.toLowerCase().includes(q);
    }
    if (search) search.addEventListener("input", () => list.querySelectorAll(".transcript-line").forEach(applyFilter));

    function clock(ms) {
      const s = Math.floor(ms / 1000);
      return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
    }

    function lineFor(ev) {
      let line = list.querySelector(`[data-utterance="${ev.utterance}"]`);
      if (!line) {
        line = document.createElement("li");
        line.dataset.utterance = ev.utterance;
        line.dataset.start = ev.start_ms;
        line.innerHTML = '<span class="t-time"></span> <span class="t-speaker"></span> <span class="t-text"></span>';
        // Keep spoken order: insert before the first line that starts later.
        const later = Array.from(list.children).find((li) => Number(li.dataset.start) > ev.start_ms);
        list.insertBefore(line, later || null);
      }
      line.className = `transcript-line speaker-${ev.speaker}`;
      line.querySelector(".t-time").textContent = clock(ev.start_ms);
      line.querySelector(".t-speaker").textContent = (labels[ev.speaker] || ev.speaker) + ":";
      return line;
    }

    function show(ev) {
      if (ev.type === "transcript.lag") {
        if (lag) lag.hidden = !ev.lagging;
        return;
      }
      if (ev.type === "transcript.partial" && finals.has(ev.utterance)) return;
      if (ev.type === "transcript.final") {
        finals.add(ev.utterance);
        if (!ev.id) {
          const stale = list.querySelector(`[data-utterance="${ev.utterance}"]`);
          if (stale) stale.remove();
          return;
        }
      }
      const line = lineFor(ev);
      const text = line.querySelector(".t-text");
      if (ev.type === "transcript.final") {
        text.textContent = ev.text;
        line.classList.remove("partial", "pending");
        line.dataset.segment = ev.id;
      } else {
        text.textContent = ev.pending ? pendingLabel : ev.text;
        line.classList.add(ev.pending ? "pending" : "partial");
      }
      if (empty) empty.hidden = true;
      applyFilter(line);
      if (follow) list.scrollTop = list.scrollHeight;
    }

    if (panel.dataset.live !== "true") return;
    let retries = 0;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${scheme}//${location.host}/ws/consultations/${panel.dataset.consultation}/transcript/`);
      ws.onopen = () => { retries = 0; panel.classList.add("connected"); };
      ws.onmessage = (e) => { try { show(JSON.parse(e.data)); } catch (err) { /* not ours */ } };
      ws.onclose = (e) => {
        panel.classList.remove("connected");
        if (e.code === 4403) return;
        retries += 1;
        setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retries, 5)));
      };
    }
    connect();
    list.scrollTop = list.scrollHeight;
  }

  function initAll(root) {
    (root || document).querySelectorAll("[data-transcript-panel]").forEach(initPanel);
  }
  document.addEventListener("DOMContentLoaded", () => initAll());
  document.addEventListener("htmx:load", (e) => initAll(e.target));
  window.MedCallTranscript = { initAll };
})();
