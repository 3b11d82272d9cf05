/* Live transcription on the doctor's room page: the bridge between the call (static/js/room/call.js)
 * and the audio capture (static/js/audio/capture.js). Two streams per call, each on its own audio
 * socket: the doctor's microphone (speaker=doctor, the call's own local track: the microphone is
 * never opened twice) and the patient's remote track (speaker=patient, from the call in p2p or
 * LiveKit mode). The transcript panel (templates/transcription/_panel.html) shows the result.
 *
 *   const transcription = MedCallRoomTranscription.fromPage();   // null when the page has no config
 *   transcription.setConsent(bool);       // from every signalling snapshot: the patient may consent
 *                                         //   (or withdraw) after this page was loaded
 *   transcription.callConnected({ localStream, remoteAudioTrack });
 *   transcription.remoteTrack(track);     // the call got a new remote track (patient page reloaded)
 *   transcription.stop();                 // the call ended: flush and close both streams
 *
 * Nothing starts without consent: no audio socket is opened (the server refuses one anyway).
 */
(function () {
  "use strict";

  const SPEAKERS = ["doctor", "patient"];
  const STOP_TIMEOUT_MS = 10000;

  // Browsers keep an AudioContext suspended until the person has interacted with the page (after a
  // reload mid-call the call reconnects by itself, without a click); capture.js would then wait
  // forever. Probe with a throwaway context instead of starting captures that cannot run.
  function audioAllowed() {
    try {
      const probe = new AudioContext();
      const ok = probe.state !== "suspended";
      probe.close();
      return ok;
    } catch (err) {
      return true;
    }
  }

  function create({ config, status, toggle, problem }) {
    const T = config.texts;
    const captures = { doctor: null, patient: null };
    let consented = !!config.consented;
    let connected = false;
    let ended = !config.open;
    let flushed = ended; // "ended" is shown once both streams have been flushed and closed
    let paused = false;
    let lagging = false;
    let localStream = null;
    let remoteAudio = null;
    let failure = "";
    let needsGesture = false;

    function showProblem(text) {
      failure = text || "";
      problem.textContent = failure;
      problem.hidden = !failure;
    }

    function overallState() {
      if (ended) return flushed ? "ended" : "stopping";
      if (!consented) return "no_consent";
      const running = SPEAKERS.map((s) => captures[s]).filter(Boolean);
      if (!running.length) return needsGesture ? "needs_click" : connected ? "connecting" : "waiting";
      if (paused) return "paused";
      if (running.some((c) => c.state === "connecting")) return "connecting";
      if (running.every((c) => c.state === "stopped")) return "stopped";
      return "on";
    }

    function render() {
      const state = overallState();
      status.dataset.state = state;
      status.dataset.lagging = lagging && (state === "on" || state === "paused") ? "true" : "false";
      status.textContent = T[state] || state;
      const active = state === "on" || state === "paused" || state === "connecting";
      toggle.hidden = !active;
      toggle.textContent = paused ? T.resume : T.pause;
      toggle.setAttribute("aria-pressed", paused ? "true" : "false");
      document.body.dataset.transcription = state;
    }

    function startOne(speaker, track) {
      const entry = { speaker, trackId: track.id, state: "connecting", capture: null, stopping: false };
      captures[speaker] = entry;
      entry.ready = window.MedCallAudio.startCapture({
        consultationId: config.consultation_id,
        speaker,
        // The call's own track in a stream of its own: capture.js then never stops it (it only stops
        // streams it opened itself), and the worklet hears audio only, not the camera.
        stream: new MediaStream([track]),
        workletUrl: config.worklet_url,
        onState: (s) => {
          entry.state = s.state;
          if (typeof s.lagging === "boolean") lagging = s.lagging;
          if (s.state === "stopped" && captures[speaker] === entry && !entry.stopping) {
            // Closed by the server (e.g. consent withdrawn, consultation closed): do not reopen.
            entry.closedByServer = true;
          }
          render();
        },
        onError: (err) => showProblem(err && err.message ? err.message : T.capture_error),
      }).then(
        (capture) => {
          entry.capture = capture;
          if (entry.stopping) capture.stop();
          else if (paused) capture.pause();
          return capture;
        },
        (err) => {
          console.warn("transcription capture failed", speaker, err);
          entry.state = "stopped";
          showProblem(T.capture_error);
          render();
          return null;
        },
      );
      render();
    }

    function stopOne(speaker) {
      const entry = captures[speaker];
      if (!entry) return Promise.resolve();
      captures[speaker] = null;
      entry.stopping = true;
      // stop() sends {"type": "stop"}: the server transcribes what was said up to here.
      return entry.ready.then((capture) => (capture && !entry.closedByServer ? capture.stop() : null));
    }

    function follow(speaker, track) {
      const entry = captures[speaker];
      if (!track || track.readyState !== "live") return;
      if (entry && (entry.trackId === track.id || entry.closedByServer)) return;
      if (entry) stopOne(speaker); // a new remote track (the patient's page reloaded): follow it
      startOne(speaker, track);
    }

    function sync() {
      if (ended || !consented) {
        SPEAKERS.forEach(stopOne);
      } else if (connected && window.MedCallAudio) {
        const missing = SPEAKERS.some((s) => !captures[s]);
        if (missing && !audioAllowed()) {
          if (!needsGesture) {
            needsGesture = true;
            const go = () => {
              document.removeEventListener("pointerdown", go, true);
              document.removeEventListener("keydown", go, true);
              needsGesture = false;
              sync();
            };
            document.addEventListener("pointerdown", go, true);
            document.addEventListener("keydown", go, true);
          }
          render();
          return;
        }
        follow("doctor", localStream && localStream.getAudioTracks()[0]);
        follow("patient", remoteAudio);
      }
      render();
    }

    toggle.addEventListener("click", () => {
      paused = !paused;
      SPEAKERS.forEach((speaker) => {
        const entry = captures[speaker];
        if (entry && entry.capture && !entry.closedByServer) {
          if (paused) entry.capture.pause();
          else entry.capture.resume();
        }
      });
      render();
    });

    // No unload handler: the server flushes a stream whose socket drops, so what was said just
    // before the doctor closes the tab is still transcribed.
    render();

    return {
      setConsent(value) {
        if (consented === !!value) return;
        consented = !!value;
        if (!consented) showProblem("");
        sync();
      },
      callConnected({ localStream: stream, remoteAudioTrack }) {
        connected = true;
        localStream = stream || localStream;
        remoteAudio = remoteAudioTrack || remoteAudio;
        sync();
      },
      remoteTrack(track) {
        remoteAudio = track;
        if (connected) sync();
      },
      stop() {
        ended = true;
        render();
        // The server answers "stop" once the last utterance is queued; never leave the page in
        // "stopping" if it does not (a dead connection is flushed server-side anyway).
        const giveUp = new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS));
        return Promise.race([Promise.all(SPEAKERS.map(stopOne)), giveUp]).then(() => { flushed = true; render(); });
      },
      get state() { return overallState(); },
    };
  }

  function fromPage() {
    const script = document.getElementById("transcription-config");
    if (!script) return null;
    return create({
      config: JSON.parse(script.textContent),
      status: document.getElementById("transcription-status"),
      toggle: document.getElementById("transcription-toggle"),
      problem: document.getElementById("transcription-problem"),
    });
  }

  window.MedCallRoomTranscription = { create, fromPage };
})();
