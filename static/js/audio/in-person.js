// In-person page: one microphone in the room, labelled by the doctor's toggle.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("capture");
    if (!box) return;
    const t = JSON.parse(document.getElementById("capture-texts").textContent);
    const status = document.getElementById("capture-status");
    const start = document.getElementById("capture-start");
    const pause = document.getElementById("capture-pause");
    const stop = document.getElementById("capture-stop");
    const error = document.getElementById("capture-error");
    let capture = null;

    const speaker = () => box.querySelector("input[name=speaker]:checked").value;
    function setState(s) {
      status.dataset.state = s.state;
      status.textContent = { on: t.on, paused: t.paused, connecting: t.connecting, stopped: t.off }[s.state] || t.off;
      const running = s.state === "on" || s.state === "paused" || s.state === "connecting";
      start.hidden = running;
      pause.hidden = stop.hidden = !running;
      pause.textContent = s.state === "paused" ? t.resume : t.pause;
      if (s.state === "stopped") capture = null;
    }
    box.querySelectorAll("input[name=speaker]").forEach((r) =>
      r.addEventListener("change", () => capture && capture.setSpeaker(speaker())));
    start.addEventListener("click", async () => {
      error.hidden = true;
      try {
        capture = await MedCallAudio.startCapture({
          consultationId: box.dataset.consultation, speaker: speaker(), workletUrl: box.dataset.worklet,
          onState: setState,
          onError: (e) => { error.textContent = e.message; error.hidden = false; },
        });
      } catch (e) {
        error.textContent = t.mic_error;
        error.hidden = false;
      }
    });
    pause.addEventListener("click", () => capture && (capture.paused ? capture.resume() : capture.pause()));
    stop.addEventListener("click", async () => { if (capture) await capture.stop(); setState({ state: "stopped" }); });
  });
})();
