/* Patient room page: pre-call check → waiting room → call → end page.
 * The page's state comes from the server (socket "welcome"/"presence"), so a reload or a short
 * network drop brings the patient back to the same step with the same link. */
(function () {
  "use strict";
  const R = window.MedCallRoom;
  const config = JSON.parse(document.getElementById("room-config").textContent);
  const T = config.messages;
  const $ = (id) => document.getElementById(id);
  const JOINED_KEY = "medcall-joined-" + config.consultation_id;
  // Timestamps for bench/call_setup.py (performance.now(), ms); nothing leaves the page.
  const marks = (window.__medcallMarks = {});

  let stream = null;
  let facing = "user";
  let stopMeter = () => {};
  let call = null;
  let snapshot = null;
  let joined = false;
  let welcome = null;
  let media = null; // the pending/finished startMedia() promise, so reload + auto-join open it once

  function ensureMedia() {
    if (!media) media = startMedia();
    return media;
  }

  function show(step) {
    for (const el of document.querySelectorAll("[data-step]")) el.hidden = el.dataset.step !== step;
    document.body.dataset.step = step;
  }

  function problem(text) {
    const box = $("room-problem");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function currentPresence() {
    if (!call) return "waiting";
    return document.body.dataset.call === "connected" ? "connected" : "reconnecting";
  }

  const online = (s) => ["waiting", "connected", "reconnecting"].includes(s);

  async function startMedia() {
    stopMeter();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    try {
      stream = await R.openMedia(facing);
    } catch (err) {
      stream = null;
      problem(T[err.reason] || T.device_error);
      $("join").disabled = true;
      return false;
    }
    problem("");
    $("preview").srcObject = stream;
    $("self-view").srcObject = stream;
    $("join").disabled = false;
    const meter = $("mic-level");
    stopMeter = R.micMeter(stream, (level) => {
      meter.value = level;
      if (level > 0.02) $("mic-status").textContent = T.mic_ok;
    });
    const devices = await navigator.mediaDevices.enumerateDevices();
    $("switch-camera").hidden = devices.filter((d) => d.kind === "videoinput").length < 2;
    return true;
  }

  function setCallState(state, detail) {
    const status = $("call-status");
    if (state === "connected") {
      marks.connected = marks.connected || performance.now();
      status.textContent = T.connected;
      problem("");
      signaling.send({ type: "presence", state: "connected" });
    } else if (state === "reconnecting") {
      status.textContent = T.reconnecting;
      signaling.send({ type: "presence", state: "reconnecting" });
    } else if (state === "connecting") {
      status.textContent = T.connecting;
    } else if (state === "failed") {
      const needsTurn = welcome && welcome.mode === "p2p" && !welcome.turn_configured && welcome.remote;
      problem(needsTurn ? T.failed_turn : T.failed);
    }
    document.body.dataset.call = state;
  }

  function ensureCall() {
    if (call || !stream) return call;
    call = R.createCall({
      mode: welcome.mode,
      localStream: stream,
      remoteVideo: $("remote-video"),
      send: (msg) => signaling.send(msg),
      iceServers: welcome.ice_servers,
      polite: welcome.polite,
      fetchToken: R.livekitTokenFetcher(config.livekit_token_url),
      onState: setCallState,
    });
    return call;
  }

  function follow() {
    if (!snapshot || !joined) return;
    if (!snapshot.admitted) { show("waiting"); return; }
    marks.admitted = marks.admitted || performance.now();
    show("call");
    stopMeter();
    if (ensureCall() && online(snapshot.doctor)) call.start();
  }

  function onMessage(msg) {
    if (msg.type === "error") console.debug("[socket] error", msg.code, msg.message);
    if (msg.type === "welcome") {
      welcome = msg;
      snapshot = msg;
      if (sessionStorage.getItem(JOINED_KEY) === "1") join();
      else follow();
    } else if (msg.type === "presence") {
      snapshot = msg;
      follow();
    } else if (msg.type === "admitted") {
      if (snapshot) snapshot.admitted = true;
      follow();
    } else if (msg.type === "hello" || msg.type === "signal") {
      if (call) call.handle(msg);
    } else if (msg.type === "ended") {
      finish();
    } else if (msg.type === "replaced") {
      problem(T.replaced);
    }
  }

  let finished = false;
  function finish() {
    // Called by the "ended" event and again by the socket's close that follows it.
    if (finished) return;
    finished = true;
    sessionStorage.removeItem(JOINED_KEY);
    if (call) call.close();
    location.href = config.end_url;
  }

  async function join() {
    if (!(await ensureMedia())) { media = null; return; }
    joined = true;
    sessionStorage.setItem(JOINED_KEY, "1");
    // Also runs after a socket reconnect (welcome again): report where the media really is.
    signaling.send({ type: "presence", state: currentPresence() });
    follow();
  }

  const signaling = R.createSignaling({
    path: config.ws_path,
    token: config.token,
    onMessage,
    onClose: (code, final) => {
      if (code === 4410) finish();
      else if (code === 4409) problem(T.replaced);
      else if (code === 4403) location.reload(); // the link changed state: the server shows why
      else if (!final) problem(T.server_lost);
    },
  });

  $("join").addEventListener("click", () => {
    marks.joinClick = performance.now();
    join();
  });
  $("switch-camera").addEventListener("click", async () => {
    facing = facing === "user" ? "environment" : "user";
    media = startMedia();
    await media;
  });
  $("toggle-mic").addEventListener("click", (e) => {
    const on = e.currentTarget.getAttribute("aria-pressed") === "true";
    e.currentTarget.setAttribute("aria-pressed", on ? "false" : "true");
    if (call) call.setMicEnabled(on);
  });
  $("toggle-camera").addEventListener("click", (e) => {
    const on = e.currentTarget.getAttribute("aria-pressed") === "true";
    e.currentTarget.setAttribute("aria-pressed", on ? "false" : "true");
    if (call) call.setCameraEnabled(on);
  });

  show("precheck");
  if (!window.isSecureContext) { problem(T.insecure); $("join").disabled = true; }
  else ensureMedia();
})();
