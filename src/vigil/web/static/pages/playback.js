// Playback: a camera's timeline for a chosen time, and the footage from wherever it is
// clicked. Deep link: #/playback?camera=NAME&at=ISO plays from that moment.

import { currentCase, evidenceHeaders, evidenceUrl, get, post, withQuery } from "../api.js";
import {
  clear,
  duration,
  errorText,
  fromLocalInput,
  h,
  iso,
  localTime,
  notice,
  parseTime,
  timeInput,
} from "../dom.js";
import { RangePlayer } from "../player.js";
import { createTimeline, wallClock } from "../timeline.js";

const MINUTE = 60000;
const HOUR = 60 * MINUTE;
// A deep link shows its moment with some time before it and more after (up to now).
const BEFORE_MS = 10 * MINUTE;
const AFTER_MS = 20 * MINUTE;

function recordedMs(spans) {
  return spans.reduce((sum, s) => sum + (parseTime(s.end) - parseTime(s.start)), 0);
}

export async function render(root, { params, navigate }) {
  const cameras = (await get("/api/v1/cameras")).cameras;
  const names = cameras.map((c) => c.name);
  root.append(h("h1", {}, "Playback"));
  if (!names.length) {
    root.append(notice("No camera is visible to this account."));
    return null;
  }
  const at = parseTime(params.get("at"));
  const now = Date.now();
  const camera = names.includes(params.get("camera")) ? params.get("camera") : names[0];
  // An explicit range (from the form) wins over the default around `at` or the last hour.
  let since = parseTime(params.get("since"));
  let until = parseTime(params.get("until"));
  if (!since || !until || until <= since) {
    until = at ? Math.min(at + AFTER_MS, now) : now;
    since = at ? Math.min(at, until) - BEFORE_MS : now - HOUR;
  }

  const picker = h(
    "select",
    { name: "camera", "aria-label": "Camera" },
    ...names.map((n) => h("option", { value: n, selected: n === camera }, n)),
  );
  const from = timeInput("since", since);
  const to = timeInput("until", until);
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (event) => {
        event.preventDefault();
        const a = fromLocalInput(from.value);
        const b = fromLocalInput(to.value);
        if (a === null || b === null || b <= a) {
          clear(status).append(notice("Choose a start before the end.", "error"));
          return;
        }
        navigate("playback", { camera: picker.value, since: iso(a), until: iso(b) });
      },
    },
    h("label", {}, "Camera ", picker),
    h("label", {}, "From ", from),
    h("label", {}, "To ", to),
    h("button", { type: "submit" }, "Show"),
    h(
      "button",
      { type: "button", onclick: () => navigate("playback", { camera: picker.value }) },
      "Last hour",
    ),
  );

  const summary = h("p", { class: "summary" });
  const timelineBox = h("div", { class: "timeline-box" });
  const video = h("video", { controls: true, muted: true, playsinline: true, class: "playback" });
  video.muted = true;
  const clock = h("output", { class: "wallclock", id: "wallclock" }, "–");
  const download = h("a", { class: "button", download: `${camera}.m3u8` }, "Download HLS playlist");
  const status = h("div", { class: "form-status" });
  root.append(
    form,
    summary,
    timelineBox,
    h("div", { class: "player" }, video),
    h("div", { class: "player-bar" }, h("span", {}, "Showing "), clock, download),
    status,
  );
  let lift = null; // an active lift of this account's, spent on the next play
  if (cameras.find((c) => c.name === camera)?.masked) root.append(liftPanel());

  // A masked camera is shown with its privacy masks; lifting them for one look needs the
  // mask.lift permission, the case bar's case and reason, and usually a supervisor's approval.
  function liftPanel() {
    const said = h("span", { class: "lift-state" }, "This camera has privacy masks.");
    const unmasked = h("button", { type: "button", class: "secondary", "data-action": "play-unmasked", disabled: true, onclick: () => play(since) }, "Play without the masks (once)");
    const check = async () => {
      // The newest lift of this camera that covers the range, whatever its state.
      const found = (await get("/api/v1/lifts")).lifts.find((l) => l.camera === camera && Date.parse(l.until) >= until && Date.parse(l.since) <= since);
      lift = found && found.state === "active" ? found.id : null;
      said.textContent = found ? `Mask lift #${found.id}: ${found.state}.` : "This camera has privacy masks.";
      unmasked.disabled = lift === null;
    };
    const ask = async () => {
      clear(status);
      try {
        const chosen = currentCase();
        await post("/api/v1/lifts", { case: chosen.reference, reason: chosen.reason, camera, since: iso(since), until: iso(until) });
        await check();
      } catch (error) {
        status.append(notice(errorText(error), "error"));
      }
    };
    check().catch(() => {});
    return h("div", { class: "card lift" }, said, " ",
      h("button", { type: "button", class: "secondary", "data-action": "ask-lift", onclick: ask }, "Ask to lift the masks"),
      h("button", { type: "button", class: "secondary", "data-action": "check-lift", onclick: () => check().catch((error) => status.append(notice(errorText(error), "error"))) }, "Check"),
      unmasked);
  }

  let timeline = { spans: [], events: [], segments: [] };
  let startMs = null;
  const player = new RangePlayer(video, (error) => {
    clear(status).append(notice(`Playback stopped: ${errorText(error)}`, "error"));
  });
  const bar = createTimeline(timelineBox, { onSeek: (ms) => play(ms) });

  async function play(ms) {
    const begin = Math.max(since, Math.min(ms, until - 1000));
    clear(status).append(notice(`Loading from ${localTime(begin)}…`));
    try {
      const url = withQuery(`/api/v1/playback/${encodeURIComponent(camera)}/video.mp4`, {
        since: iso(begin),
        until: iso(until),
        lift,
      });
      lift = null; // spent by this request
      startMs = (await player.open(url, evidenceHeaders())) ?? begin;
      showTime();
      await video.play().catch(() => {});
      clear(status);
    } catch (error) {
      startMs = null;
      clear(status).append(notice(errorText(error), "error"));
    }
  }

  function showTime() {
    if (startMs === null) return;
    const seconds = Math.max(0, video.currentTime - player.origin);
    const ms = wallClock(timeline.spans, startMs, seconds);
    clock.textContent = localTime(ms);
    clock.dataset.ms = String(Math.round(ms));
    bar.setPlayhead(ms);
  }
  video.addEventListener("timeupdate", showTime);

  try {
    timeline = await get(`/api/v1/recordings/${encodeURIComponent(camera)}`, {
      evidence: true,
      query: { since: iso(since), until: iso(until) },
    });
  } catch (error) {
    root.append(notice(errorText(error), "error"));
    return () => bar.stop();
  }
  bar.draw(timeline, since, until);
  const recorded = recordedMs(timeline.spans);
  summary.textContent =
    `${localTime(since)} – ${localTime(until)}: ` +
    `${duration(recorded)} recorded in ${timeline.spans.length} span(s), ` +
    `${timeline.segments.length} segment(s), ${timeline.events.length} event(s).`;
  download.href = evidenceUrl(`/api/v1/playback/${encodeURIComponent(camera)}/playlist.m3u8`, {
    since: iso(since),
    until: iso(until),
  });
  if (!timeline.spans.length) {
    status.append(notice("Nothing was recorded in this time."));
  } else if (at) {
    play(at);
  } else {
    status.append(notice("Click the timeline to play from that moment."));
  }

  return () => {
    player.close();
    bar.stop();
  };
}
