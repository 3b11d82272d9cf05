/* Doctor room page: live presence, admit, mute/camera, end the call for both. */
(function () {
  "use strict";
  const R = window.MedCallRoom;
  const config = JSON.parse(document.getElementById("room-config").textContent);
  const T = config.messages;
  const $ = (id) => document.getElementById(id);
  const marks = (window.__medcallMarks = {});
  // Live transcription (static/js/room/transcription.js); absent when the page has no config for it.
  const transcription = window.MedCallRoomTranscription ? window.MedCallRoomTranscription.fromPage() : null;

  let stream = null;
  let call = null;
  let welcome = null;
  let snapshot = null;
  let ended = false;
  let patientRemote = false;

  const online = (s) => ["waiting", "connected", "reconnecting"].includes(s);

  function problem(text) {
    const box = $("room-problem");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function render() {
    if (!snapshot) return;
    const presence = $("patient-presence");
    presence.textContent = T.presence[snapshot.patient] || snapshot.patient;
    presence.dataset.state = snapshot.patient;
    const consent = snapshot.consent;
    $("consent-summary").textContent = !consent || !consent.teleconsultation
      ? T.no_consent
      : consent.transcription ? T.consent_yes : T.consent_no_transcription;
    $("consultation-status").dataset.status = snapshot.status;
    $("consultation-status").textContent = $("consultation-status").dataset["label_" + snapshot.status] || snapshot.status;
    const admit = $("admit");
    admit.hidden = snapshot.admitted || ended;
    admit.disabled = !online(snapshot.patient) || !(consent && consent.teleconsultation);
    $("end-call").disabled = ended;
    if (transcription) transcription.setConsent(!!(consent && consent.transcription));
  }

  function setCallState(state, detail) {
    const status = $("call-status");
    document.body.dataset.call = state;
    if (state === "connected") {
      marks.connected = marks.connected || performance.now();
      status.textContent = T.connected;
      problem("");
      signaling.send({ type: "presence", state: "connected" });
      if (transcription && call) transcription.callConnected({ localStream: stream, remoteAudioTrack: call.remoteAudioTrack() });
    } else if (state === "reconnecting") {
      status.textContent = T.reconnecting;
      signaling.send({ type: "presence", state: "reconnecting" });
    } else if (state === "connecting") {
      status.textContent = T.connecting;
    } else if (state === "failed") {
      const needsTurn = welcome && welcome.mode === "p2p" && !welcome.turn_configured && patientRemote;
      problem(needsTurn ? T.failed_turn : T.failed);
    }
  }

  function follow() {
    render();
    if (ended || !snapshot || !snapshot.admitted || !stream || !welcome) return;
    if (!call) {
      call = R.createCall({
        mode: welcome.mode,
        localStream: stream,
        remoteVideo: $("remote-video"),
        send: (msg) => signaling.send(msg),
        iceServers: welcome.ice_servers,
        polite: welcome.polite,
        fetchToken: R.livekitTokenFetcher(config.livekit_token_url),
        onState: setCallState,
        onRemoteTrack: (track) => { if (transcription && track.kind === "audio") transcription.remoteTrack(track); },
      });
    }
    if (online(snapshot.patient)) call.start();
  }

  function onMessage(msg) {
    if (msg.type === "error") console.debug("[socket] error", msg.code, msg.message);
    if (msg.type === "welcome") {
      welcome = msg;
      snapshot = msg;
      // Also after a socket reconnect: report where the media really is.
      const media = document.body.dataset.call;
      signaling.send({ type: "presence", state: !call ? "waiting" : media === "connected" ? "connected" : "reconnecting" });
      follow();
    } else if (msg.type === "presence") {
      snapshot = msg;
      follow();
    } else if (msg.type === "admitted") {
      if (snapshot) snapshot.admitted = true;
      follow();
    } else if (msg.type === "hello" || msg.type === "signal") {
      if (msg.type === "hello") patientRemote = !!msg.remote;
      if (call) call.handle(msg);
    } else if (msg.type === "ended") {
      ended = true;
      if (transcription) transcription.stop(); // flush both audio streams before the media stops
      if (call) call.close();
      if (stream) stream.getTracks().forEach((t) => t.stop());
      $("room-ended").hidden = false;
      render();
    } else if (msg.type === "error") {
      if (msg.code === "no_consent" || msg.code === "closed") problem(msg.message);
    } else if (msg.type === "replaced") {
      problem(T.replaced);
    }
  }

  const signaling = R.createSignaling({
    path: config.ws_path,
    onMessage,
    onClose: (code, final) => {
      if (code === 4409) problem(T.replaced);
      else if (!final) problem(T.server_lost);
    },
  });

  $("admit").addEventListener("click", () => signaling.send({ type: "admit" }));
  $("end-call").addEventListener("click", () => {
    if (window.confirm(T.end_confirm)) signaling.send({ type: "end" });
  });
  $("toggle-mic").addEventListener("click", (e) => {
    const muted = e.currentTarget.getAttribute("aria-pressed") !== "true";
    e.currentTarget.setAttribute("aria-pressed", muted ? "true" : "false");
    e.currentTarget.textContent = muted ? T.unmute : T.mute;
    if (stream) stream.getAudioTracks().forEach((t) => { t.enabled = !muted; });
  });
  $("toggle-camera").addEventListener("click", (e) => {
    const off = e.currentTarget.getAttribute("aria-pressed") !== "true";
    e.currentTarget.setAttribute("aria-pressed", off ? "true" : "false");
    e.currentTarget.textContent = off ? T.camera_on : T.camera_off;
    if (stream) stream.getVideoTracks().forEach((t) => { t.enabled = !off; });
  });

  R.openMedia("user").then(
    (s) => { stream = s; $("self-view").srcObject = s; follow(); },
    (err) => problem(T[err.reason] || T.device_error),
  );
})();
