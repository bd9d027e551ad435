// Plays a range of recorded footage in a <video>. The MP4 is fetched with the case headers and
// fed to Media Source Extensions, which lets the console read X-Vigil-Start (the wall-clock
// time of the first frame) from the very answer it plays, and keeps the reason out of URLs.

import { ApiError, errorDetail } from "./api.js";

const AHEAD_S = 120; // buffer at most this far ahead of the playhead...
const BEHIND_S = 30; // ...and keep this much behind it, so an hour never fills the memory
const FALLBACK_CODEC = "avc1.640028";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const once = (target, name) =>
  new Promise((resolve) => target.addEventListener(name, resolve, { once: true }));

function concat(a, b) {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function boxType(bytes, at) {
  return String.fromCharCode(...bytes.subarray(at + 4, at + 8));
}

// The end of the initialisation segment (ftyp + moov), once all of it has arrived.
function initEnd(bytes) {
  let at = 0;
  while (at + 8 <= bytes.length) {
    const size = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
    if (size < 8) return null;
    if (boxType(bytes, at) === "moov") return at + size <= bytes.length ? at + size : null;
    at += size;
  }
  return null;
}

function indexOf(bytes, text) {
  const codes = [...text].map((c) => c.charCodeAt(0));
  outer: for (let i = 0; i + codes.length <= bytes.length; i += 1) {
    for (let j = 0; j < codes.length; j += 1) if (bytes[i + j] !== codes[j]) continue outer;
    return i;
  }
  return -1;
}

// The codecs string MediaSource needs, read from the avcC box: avc1.PPCCLL.
function codecsOf(init) {
  const codecs = [];
  const avcc = indexOf(init, "avcC");
  if (avcc >= 0 && avcc + 8 <= init.length) {
    const hex = (b) => b.toString(16).padStart(2, "0");
    codecs.push(`avc1.${hex(init[avcc + 5])}${hex(init[avcc + 6])}${hex(init[avcc + 7])}`);
  } else {
    codecs.push(FALLBACK_CODEC);
  }
  if (indexOf(init, "mp4a") >= 0) codecs.push("mp4a.40.2");
  return codecs.join(",");
}

export class RangePlayer {
  constructor(video, onProblem) {
    this.video = video;
    this.onProblem = onProblem;
    this.abort = null;
    this.origin = 0; // media time of the first frame
    this.positioned = false;
  }

  // Starts playing `url`; resolves with the wall-clock time (ms) of its first frame.
  async open(url, headers) {
    this.close();
    if (!window.MediaSource) {
      throw new Error("This browser cannot play MP4 fragments; use the HLS playlist instead.");
    }
    const abort = new AbortController();
    this.abort = abort;
    const response = await fetch(url, {
      headers,
      credentials: "same-origin",
      signal: abort.signal,
    });
    if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
    const start = Date.parse(response.headers.get("X-Vigil-Start") || "");
    const source = new MediaSource();
    this.video.src = URL.createObjectURL(source);
    await once(source, "sourceopen");
    URL.revokeObjectURL(this.video.src);
    this.origin = 0;
    this.positioned = false;
    this.pump(response.body.getReader(), source, abort.signal).catch((error) => {
      if (!abort.signal.aborted) this.onProblem(error);
    });
    return Number.isNaN(start) ? null : start;
  }

  async pump(reader, source, signal) {
    let head = new Uint8Array(0);
    let buffer = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (signal.aborted) return;
      if (done) break;
      if (buffer) {
        await this.append(buffer, value, signal);
        continue;
      }
      head = concat(head, value);
      const end = initEnd(head);
      if (end === null) continue;
      buffer = source.addSourceBuffer(`video/mp4; codecs="${codecsOf(head.subarray(0, end))}"`);
      await this.append(buffer, head, signal);
    }
    if (buffer && source.readyState === "open") {
      if (buffer.updating) await once(buffer, "updateend");
      source.endOfStream();
    }
  }

  // Recorded timestamps need not start at zero: begin where the first picture is.
  startAtFirstFrame(buffer) {
    if (buffer.buffered.length) {
      this.positioned = true;
      this.origin = buffer.buffered.start(0);
      if (this.video.currentTime < this.origin) this.video.currentTime = this.origin;
    }
  }

  async append(buffer, chunk, signal) {
    for (;;) {
      if (signal.aborted) return;
      const ranges = buffer.buffered;
      const end = ranges.length ? ranges.end(ranges.length - 1) : 0;
      if (end - this.video.currentTime > AHEAD_S) {
        await sleep(500);
        continue;
      }
      if (ranges.length && this.video.currentTime - ranges.start(0) > 2 * BEHIND_S) {
        buffer.remove(0, this.video.currentTime - BEHIND_S);
        await once(buffer, "updateend");
        continue;
      }
      try {
        buffer.appendBuffer(chunk);
      } catch (error) {
        if (error.name !== "QuotaExceededError") throw error;
        await sleep(1000); // full: wait for the playhead to move on, then trim and retry
        continue;
      }
      await once(buffer, "updateend");
      if (!this.positioned) this.startAtFirstFrame(buffer);
      return;
    }
  }

  close() {
    if (this.abort) this.abort.abort();
    this.abort = null;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
  }
}
