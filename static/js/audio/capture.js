// MedCallAudio.startCapture(): stream one audio source (the doctor's microphone, the patient's remote
// WebRTC/LiveKit track, or the one microphone of an in-person consultation) to
// /ws/consultations/<id>/audio/?speaker=doctor|patient|unknown as 16 kHz s16le frames.
//
//   const capture = await MedCallAudio.startCapture({
//     consultationId: 12, speaker: "doctor",            // or "patient" / "unknown"
//     stream: mediaStream,                               // optional; default: getUserMedia({audio})
//     workletUrl: "/static/js/audio/pcm16k-worklet.js",
//     onState: (s) => {}, onError: (e) => {},            // s: {state: "on"|"paused"|"stopped"|"connecting", ...}
//   });
//   capture.pause(); capture.resume(); capture.setSpeaker("patient"); await capture.stop();
//
// Frames produced while the socket is (re)connecting are queued and sent in order: audio is never
// dropped silently. A close with a 44xx code is final (no consent, not your consultation, …): the
// server's error message is passed to onError.
(function () {
  "use strict";

  function wsUrl(consultationId, speaker) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/consultations/${consultationId}/audio/?speaker=${encodeURIComponent(speaker)}`;
  }

  async function startCapture(opts) {
    const onState = opts.onState || function () {};
    const onError = opts.onError || function () {};
    let speaker = opts.speaker || "doctor";
    const ownStream = !opts.stream;
    const stream = opts.stream || (await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    }));
    let ctx;
    try {
      ctx = new AudioContext({ sampleRate: 16000 });
    } catch (e) {
      ctx = new AudioContext(); // the worklet resamples whatever rate we get
    }
    await ctx.audioWorklet.addModule(opts.workletUrl || "/static/js/audio/pcm16k-worklet.js");
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, "pcm16k", { numberOfInputs: 1, numberOfOutputs: 0 });
    source.connect(node);
    if (ctx.state === "suspended") await ctx.resume();

    const queue = [];
    let ws = null;
    let paused = false;
    let stopped = false;
    let finalError = null;
    let retries = 0;

    function drain() {
      while (ws && ws.readyState === WebSocket.OPEN && queue.length) ws.send(queue.shift());
    }

    function connect() {
      onState({ state: "connecting", speaker });
      ws = new WebSocket(wsUrl(opts.consultationId, speaker));
      ws.binaryType = "arraybuffer";
      ws.onopen = () => {
        retries = 0;
        if (speaker) ws.send(JSON.stringify({ type: "speaker", speaker }));
        if (paused) ws.send(JSON.stringify({ type: "pause" }));
        drain();
      };
      ws.onmessage = (e) => {
        let msg;
        try { msg = JSON.parse(e.data); } catch (err) { return; }
        if (msg.type === "ready") onState({ state: paused ? "paused" : "on", speaker });
        else if (msg.type === "state") onState({ state: msg.paused ? "paused" : "on", speaker: msg.speaker });
        else if (msg.type === "transcript.lag") onState({ state: paused ? "paused" : "on", speaker, lagging: msg.lagging });
        else if (msg.type === "error") { finalError = msg; onError(msg); }
      };
      ws.onclose = (e) => {
        if (stopped || (e.code >= 4400 && e.code < 4500) || e.code === 1009) {
          teardown();
          onState({ state: "stopped", speaker, code: e.code, error: finalError });
          return;
        }
        // Network hiccup: reconnect and send what was queued meanwhile.
        retries += 1;
        setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retries, 5)));
      };
    }

    node.port.onmessage = (e) => {
      if (paused || stopped) return;
      queue.push(e.data);
      drain();
    };

    function teardown() {
      stopped = true;
      try { source.disconnect(); node.disconnect(); } catch (e) { /* already gone */ }
      if (ownStream) stream.getTracks().forEach((t) => t.stop());
      ctx.close();
    }

    connect();

    return {
      pause() {
        paused = true;
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "pause" }));
        onState({ state: "paused", speaker });
      },
      resume() {
        paused = false;
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resume" }));
        onState({ state: "on", speaker });
      },
      setSpeaker(value) {
        speaker = value;
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "speaker", speaker: value }));
      },
      stop() {
        return new Promise((resolve) => {
          node.port.postMessage("flush");
          setTimeout(() => {
            drain();
            stopped = true;
            if (ws && ws.readyState === WebSocket.OPEN) {
              ws.addEventListener("close", () => resolve());
              ws.send(JSON.stringify({ type: "stop" }));
            } else {
              teardown();
              resolve();
            }
          }, 60);
        });
      },
      get paused() { return paused; },
    };
  }

  window.MedCallAudio = Object.assign(window.MedCallAudio || {}, { startCapture });
})();
