// AudioWorklet processor: any input rate → 16 kHz mono signed 16-bit little-endian PCM, posted to the
// main thread in ~40 ms chunks (transferable ArrayBuffers). Channels are averaged to mono; the
// resampler is linear interpolation with a running position, so chunk edges add no clicks.
const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 640; // 40 ms at 16 kHz

class Pcm16kProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / TARGET_RATE; // `sampleRate` is the context's rate (worklet global)
    this.pos = 0; // fractional read position into the current input block
    this.prev = 0; // last input sample of the previous block (for interpolation across blocks)
    this.out = new Int16Array(CHUNK_SAMPLES);
    this.fill = 0;
    this.port.onmessage = (e) => { if (e.data === "flush") this.flush(); };
  }

  flush() {
    if (this.fill === 0) return;
    const chunk = this.out.slice(0, this.fill);
    this.port.postMessage(chunk.buffer, [chunk.buffer]);
    this.fill = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    const n = input[0].length;
    const mono = new Float32Array(n);
    for (const channel of input) for (let i = 0; i < n; i++) mono[i] += channel[i] / input.length;
    while (this.pos < n) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i === 0 ? this.prev : mono[i - 1];
      const b = mono[i];
      let s = a + (b - a) * frac;
      s = Math.max(-1, Math.min(1, s));
      this.out[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.fill === CHUNK_SAMPLES) {
        this.port.postMessage(this.out.buffer, [this.out.buffer]);
        this.out = new Int16Array(CHUNK_SAMPLES);
        this.fill = 0;
      }
      this.pos += this.ratio;
    }
    this.pos -= n;
    this.prev = mono[n - 1];
    return true;
  }
}

registerProcessor("pcm16k", Pcm16kProcessor);
