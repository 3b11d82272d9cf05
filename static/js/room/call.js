/* MedCall call module: one interface for both media modes.
 *
 *   const call = MedCallRoom.createCall({
 *     mode: "p2p" | "livekit",
 *     localStream,                  // MediaStream from getUserMedia (camera + mic)
 *     remoteVideo,                  // <video> that shows the other side
 *     send,                         // (message) => void: our signalling socket (p2p only)
 *     iceServers, polite,           // p2p: RTCIceServer[]; polite = yields on offer collisions
 *     fetchToken,                   // livekit: async () => ({url, token})
 *     onState,                      // (state, detail) with state in
 *                                   //   "connecting" | "connected" | "reconnecting" | "failed" | "closed"
 *     onRemoteTrack,                // optional (track: MediaStreamTrack) => void, for each new remote
 *                                   //   track in either mode (the room's live transcription taps audio)
 *   });
 *   call.start();                   // (again) announce readiness / connect; safe to call repeatedly
 *   call.handle(message);           // feed "hello" / "signal" messages from the socket (p2p)
 *   call.setMicEnabled(bool); call.setCameraEnabled(bool); call.close();
 *   call.remoteAudioTrack();        // the other side's live audio MediaStreamTrack, or null
 *
 * p2p follows the W3C "perfect negotiation" pattern (the polite page, the patient's, rolls back and
 * answers on a collision); the first offer always comes from the doctor's page, and the patient's
 * tracks ride in its answer, so the first negotiation never collides.
 * Each page load has its own peer id, exchanged in "hello" messages, so a reloaded page on either
 * side gets a fresh RTCPeerConnection and stale messages are ignored. A network change (online
 * event, connection type change) or ICE failure triggers an ICE restart.
 */
(function () {
  "use strict";

  const CONNECT_TIMEOUT_MS = 20000;

  function randomId() {
    const bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function liveAudio(track) {
    return track && track.kind === "audio" && track.readyState === "live" ? track : null;
  }

  function setTracksEnabled(stream, kind, enabled) {
    if (!stream) return;
    stream.getTracks().filter((t) => t.kind === kind).forEach((t) => { t.enabled = enabled; });
  }

  function createP2PCall(opts) {
    const peerId = randomId();
    const onState = opts.onState || (() => {});
    let pc = null;
    let remotePeer = null;
    let makingOffer = false;
    let pendingCandidates = [];
    let tracksAdded = false;
    let ignoreOffer = false;
    let state = "idle";
    let timer = null;
    let restartTimer = null;
    let restarts = 0;
    let closed = false;
    let remoteAudio = null;

    // console.debug: hidden by default, read by bench/call_setup.py when a run fails.
    const trace = (...args) => console.debug("[call]", peerId, ...args);

    function setState(next, detail) {
      trace("state", next, pc && pc.signalingState, pc && pc.iceConnectionState, pc && pc.connectionState);
      if (state === next) return;
      state = next;
      onState(next, detail || {});
    }

    function signal(body) {
      opts.send(Object.assign({ type: "signal", from: peerId, to: remotePeer }, body));
    }

    function newPeerConnection() {
      if (pc) { pc.ontrack = pc.onicecandidate = pc.onnegotiationneeded = pc.onconnectionstatechange = null; pc.close(); }
      makingOffer = false; ignoreOffer = false; restarts = 0; pendingCandidates = []; remoteAudio = null;
      pc = new RTCPeerConnection({ iceServers: opts.iceServers || [] });
      const current = pc;
      setState("connecting");
      clearTimeout(timer);
      timer = setTimeout(() => { if (current === pc && state !== "connected") setState("failed", { reason: "timeout" }); }, CONNECT_TIMEOUT_MS);

      current.ontrack = ({ track, streams }) => {
        const stream = streams && streams[0] ? streams[0] : new MediaStream([track]);
        if (opts.remoteVideo.srcObject !== stream) opts.remoteVideo.srcObject = stream;
        opts.remoteVideo.play().catch(() => {});
        if (track.kind === "audio") {
          remoteAudio = track;
          if (opts.onRemoteTrack) opts.onRemoteTrack(track);
        }
      };
      current.onicecandidate = ({ candidate }) => {
        trace("local candidate", candidate ? candidate.candidate.split(" ").slice(4, 8).join(" ") : "end");
        signal({ candidate: candidate ? candidate.toJSON() : null });
      };
      current.onnegotiationneeded = async () => {
        trace("negotiationneeded", current.signalingState);
        try {
          makingOffer = true;
          await current.setLocalDescription();
          if (current === pc) signal({ description: current.localDescription.toJSON() });
        } catch (err) {
          console.warn("negotiation failed", err);
        } finally {
          makingOffer = false;
        }
      };
      current.onconnectionstatechange = () => {
        if (current !== pc) return;
        const s = current.connectionState;
        trace("connectionState", s, current.iceConnectionState, current.signalingState);
        if (s === "connected") { clearTimeout(timer); clearTimeout(restartTimer); restarts = 0; setState("connected"); }
        else if (s === "disconnected") {
          setState("reconnecting");
          // Often recovers by itself; if not within a few seconds, renegotiate ICE.
          clearTimeout(restartTimer);
          restartTimer = setTimeout(() => { if (current === pc && current.connectionState !== "connected") restartIce(); }, 3000);
        } else if (s === "failed") {
          if (restarts < 2) { setState("reconnecting"); restartIce(); }
          else setState("failed", { reason: "ice" });
        }
      };
      tracksAdded = false;
      // Only the impolite page (the doctor's) offers first. Perfect negotiation does resolve glare,
      // but Chrome sometimes ended a rolled-back first negotiation with ICE stuck in "new" on both
      // sides (seen in bench/call_setup.py, about 1 run in 10). The polite page adds its tracks when
      // the first offer arrives, so they ride in its answer; later renegotiations (ICE restarts,
      // either side) still go through the perfect-negotiation path.
      if (!opts.polite) addTracks();
    }

    function addTracks() {
      if (tracksAdded || !pc) return;
      tracksAdded = true;
      opts.localStream.getTracks().forEach((track) => pc.addTrack(track, opts.localStream));
    }

    function restartIce() {
      if (!pc || closed) return;
      restarts += 1;
      pc.restartIce(); // fires negotiationneeded → a new offer with fresh ICE credentials
    }

    async function flushCandidates() {
      const queued = pendingCandidates.splice(0);
      for (const candidate of queued) {
        try { await pc.addIceCandidate(candidate); } catch (err) { trace("stale candidate dropped"); }
      }
    }

    async function onSignal(msg) {
      if (!pc || msg.to !== peerId || msg.from !== remotePeer) { trace("drop", msg.from, msg.to, remotePeer); return; } // stale or not for this page
      if (msg.description) trace("recv", msg.description.type, pc.signalingState, "makingOffer", makingOffer);
      try {
        if (msg.description) {
          const description = msg.description;
          const collision = description.type === "offer" && (makingOffer || pc.signalingState !== "stable");
          ignoreOffer = !opts.polite && collision;
          if (ignoreOffer) return;
          await pc.setRemoteDescription(description); // an offer in have-local-offer rolls back implicitly
          await flushCandidates();
          if (description.type === "offer") {
            addTracks(); // first offer on the polite page: our tracks go into the answer
            await pc.setLocalDescription();
            signal({ description: pc.localDescription.toJSON() });
          }
        } else if (msg.candidate) {
          trace("remote candidate", pc.remoteDescription ? "add" : "queue", pc.signalingState);
          if (!pc.remoteDescription) {
            // Seen on glare: the polite page rolls its offer back and answers, but Chrome keeps the
            // ICE transport and does not re-emit the candidates it gathered for that offer. They
            // reach us before the answer, so keep them and add them once it is applied.
            if (pendingCandidates.length < 200) pendingCandidates.push(msg.candidate);
            return;
          }
          try { await pc.addIceCandidate(msg.candidate); } catch (err) { if (!ignoreOffer) throw err; }
        }
      } catch (err) {
        console.warn("signalling message failed", err);
      }
    }

    function onNetworkChange() { if (pc && remotePeer) restartIce(); }
    window.addEventListener("online", onNetworkChange);
    if (navigator.connection && navigator.connection.addEventListener) navigator.connection.addEventListener("change", onNetworkChange);

    return {
      peerId,
      start() { if (!closed) opts.send({ type: "hello", peer: peerId }); },
      handle(msg) {
        if (closed || !msg) return;
        if (msg.type === "hello") {
          trace("hello from", msg.peer, "remote was", remotePeer);
          if (msg.peer && msg.peer !== remotePeer) {
            remotePeer = msg.peer;
            newPeerConnection();
            opts.send({ type: "hello", peer: peerId }); // tell the (new) other page who we are
          }
        } else if (msg.type === "signal") {
          onSignal(msg);
        }
      },
      setMicEnabled(on) { setTracksEnabled(opts.localStream, "audio", on); },
      setCameraEnabled(on) { setTracksEnabled(opts.localStream, "video", on); },
      remoteAudioTrack() { return liveAudio(remoteAudio); },
      restartIce,
      close() {
        closed = true;
        clearTimeout(timer); clearTimeout(restartTimer);
        window.removeEventListener("online", onNetworkChange);
        if (pc) pc.close();
        pc = null;
        setState("closed");
      },
    };
  }

  function createLiveKitCall(opts) {
    const onState = opts.onState || (() => {});
    const LK = window.LivekitClient;
    let room = null;
    let starting = false;
    let closed = false;
    let remoteAudio = null;

    function attach(track) {
      if (track.kind === "video") track.attach(opts.remoteVideo);
      else if (track.kind === "audio") {
        const el = track.attach();
        el.hidden = true;
        document.body.appendChild(el);
        // LiveKit wraps the browser track; the capture needs the MediaStreamTrack itself.
        remoteAudio = track.mediaStreamTrack;
        if (opts.onRemoteTrack && remoteAudio) opts.onRemoteTrack(remoteAudio);
      }
    }

    return {
      async start() {
        if (room || starting || closed) return;
        starting = true;
        onState("connecting", {});
        try {
          const { url, token } = await opts.fetchToken();
          room = new LK.Room({ adaptiveStream: true, dynacast: true });
          room.on(LK.RoomEvent.TrackSubscribed, (track) => attach(track));
          room.on(LK.RoomEvent.Reconnecting, () => onState("reconnecting", {}));
          room.on(LK.RoomEvent.Reconnected, () => onState("connected", {}));
          room.on(LK.RoomEvent.Disconnected, () => { if (!closed) onState("failed", { reason: "livekit" }); });
          await room.connect(url, token);
          for (const track of opts.localStream.getTracks()) {
            await room.localParticipant.publishTrack(track);
          }
          onState("connected", {});
        } catch (err) {
          console.warn("LiveKit connection failed", err);
          room = null;
          onState("failed", { reason: "livekit" });
        } finally {
          starting = false;
        }
      },
      handle() {}, // media and its signalling go through LiveKit
      setMicEnabled(on) { setTracksEnabled(opts.localStream, "audio", on); },
      setCameraEnabled(on) { setTracksEnabled(opts.localStream, "video", on); },
      remoteAudioTrack() { return liveAudio(remoteAudio); },
      restartIce() {},
      close() {
        closed = true;
        if (room) room.disconnect();
        room = null;
        onState("closed", {});
      },
    };
  }

  function createCall(opts) {
    if (opts.mode === "livekit") {
      if (!window.LivekitClient) throw new Error("livekit-client is not loaded");
      return createLiveKitCall(opts);
    }
    return createP2PCall(opts);
  }

  /* A reconnecting JSON WebSocket to the room's signalling endpoint. Closes with 4403 (not
   * allowed), 4409 (opened elsewhere) and 4410 (call over) are final; anything else retries
   * with backoff, so a short network drop heals with the same link. */
  function createSignaling({ path, token, onMessage, onOpen, onClose }) {
    let socket = null;
    let attempt = 0;
    let stopped = false;
    const queue = [];

    function url() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      return scheme + location.host + path + (token ? "?token=" + encodeURIComponent(token) : "");
    }

    function connect() {
      socket = new WebSocket(url());
      socket.onopen = () => {
        attempt = 0;
        while (queue.length) socket.send(queue.shift());
        if (onOpen) onOpen();
      };
      socket.onmessage = (event) => {
        let msg;
        try { msg = JSON.parse(event.data); } catch (err) { return; }
        onMessage(msg);
      };
      socket.onclose = (event) => {
        const final = [4403, 4409, 4410, 4400].includes(event.code);
        if (onClose) onClose(event.code, final || stopped);
        if (final || stopped) return;
        attempt += 1;
        setTimeout(connect, Math.min(8000, 400 * 2 ** Math.min(attempt, 5)));
      };
    }
    connect();
    return {
      send(msg) {
        const text = JSON.stringify(msg);
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
        else if (queue.length < 200) queue.push(text);
      },
      close() { stopped = true; if (socket) socket.close(); },
    };
  }

  /* Camera + microphone with a readable failure reason for the page to translate. */
  async function openMedia(facingMode) {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const err = new Error("insecure"); err.reason = "insecure"; throw err;
    }
    try {
      return await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true },
        video: { facingMode: facingMode || "user", width: { ideal: 640 }, height: { ideal: 480 } },
      });
    } catch (err) {
      const reasons = { NotAllowedError: "denied", SecurityError: "denied", NotFoundError: "no_device",
        OverconstrainedError: "no_device", NotReadableError: "in_use", AbortError: "in_use" };
      err.reason = reasons[err.name] || "device_error";
      throw err;
    }
  }

  /* Calls onLevel(0..1) with the microphone level ~10 times a second; returns a stop function. */
  function micMeter(stream, onLevel) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx || !stream.getAudioTracks().length) return () => {};
    const ctx = new Ctx();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128) / 128);
      onLevel(peak);
    }, 100);
    return () => { clearInterval(timer); ctx.close(); };
  }

  // LiveKit mode: ask our server for this participant's access token (POST, CSRF-protected).
  function livekitTokenFetcher(url) {
    return async () => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value },
      });
      if (!response.ok) throw new Error("token " + response.status);
      return response.json();
    };
  }

  window.MedCallRoom = { createCall, createSignaling, openMedia, micMeter, randomId, livekitTokenFetcher };
})();
