// The timeline of one camera: recorded spans, the gaps between them, events and a playhead.
// Clicking it asks the page to play from that moment.

import { clear, localTime, parseTime, svg } from "./dom.js";

const HEIGHT = 84;
const BAR_TOP = 24;
const BAR_HEIGHT = 30;
const MINUTE = 60000;
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

export function createTimeline(container, { onSeek }) {
  let since = 0;
  let until = 1;
  let width = 1000; // the drawing's own pixels, so text is never stretched
  let shown = null;
  let playheadAt = null;
  const x = (ms) => ((ms - since) / (until - since)) * width;
  const playhead = svg("line", { class: "playhead", y1: 4, y2: BAR_TOP + BAR_HEIGHT + 4 });
  const hover = svg("g", { class: "hover" });
  const plot = svg("svg", {
    class: "timeline",
    role: "slider",
    "aria-label": "Timeline: click to play from that moment",
  });
  const moment = (event) => {
    const box = plot.getBoundingClientRect();
    return since + ((event.clientX - box.left) / box.width) * (until - since);
  };
  plot.addEventListener("click", (event) => onSeek(moment(event)));
  plot.addEventListener("mousemove", (event) => {
    const at = moment(event);
    clear(hover).append(
      svg("line", { x1: x(at), x2: x(at), y1: BAR_TOP, y2: BAR_TOP + BAR_HEIGHT }),
      svg("text", { x: Math.min(x(at) + 4, width - 60), y: 14 }, localTime(at, false)),
    );
  });
  plot.addEventListener("mouseleave", () => clear(hover));
  container.append(plot);
  const resized = new ResizeObserver(() => shown && api.draw(...shown));
  resized.observe(container);

  function ticks() {
    const step = STEPS.find((s) => (until - since) / s <= 8) || STEPS[STEPS.length - 1];
    const offset = new Date(since).getTimezoneOffset() * MINUTE; // ticks on local round times
    const group = svg("g", { class: "ticks" });
    for (let t = Math.ceil((since - offset) / step) * step + offset; t <= until; t += step) {
      const tx = x(t);
      group.append(
        svg("line", { x1: tx, x2: tx, y1: BAR_TOP + BAR_HEIGHT, y2: BAR_TOP + BAR_HEIGHT + 6 }),
        svg(
          "text",
          { x: tx, y: HEIGHT - 6, "text-anchor": "middle" },
          localTime(t, false).slice(0, step < MINUTE * 1.5 ? 8 : 5),
        ),
      );
    }
    return group;
  }

  const api = {
    draw(timeline, sinceMs, untilMs) {
      shown = [timeline, sinceMs, untilMs];
      since = sinceMs;
      until = untilMs;
      width = Math.max(300, Math.round(container.clientWidth) || 1000);
      plot.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
      const bar = svg("g", { class: "bar" });
      bar.append(
        svg("rect", { class: "gap", x: 0, y: BAR_TOP, width, height: BAR_HEIGHT }),
      );
      // Recorded spans fill the bar; held ones (kept for a case) underline it.
      const band = (spans, kind, y, height, what) => {
        for (const span of spans) {
          const start = parseTime(span.start);
          const end = parseTime(span.end);
          const a = x(Math.max(start, since));
          const b = x(Math.min(end, until));
          bar.append(
            svg(
              "rect",
              { class: kind, x: a, y, width: Math.max(b - a, 1), height },
              svg("title", {}, `${what} ${localTime(start)} – ${localTime(end)}`),
            ),
          );
        }
      };
      band(timeline.spans, "span", BAR_TOP, BAR_HEIGHT, "recorded");
      band(timeline.held || [], "held", BAR_TOP + BAR_HEIGHT, 4, "held for a case");
      const marks = svg("g", { class: "events" });
      for (const event of timeline.events) {
        const start = parseTime(event.start);
        const ex = x(Math.max(start, since));
        const what = [event.type, event.label, event.zone].filter(Boolean).join(" · ");
        marks.append(
          svg(
            "path",
            {
              class: `event type-${event.type}`,
              d: `M${ex - 5} 6 L${ex + 5} 6 L${ex} ${BAR_TOP - 2} Z`,
              "data-event": event.id,
              onclick: (e) => {
                e.stopPropagation();
                onSeek(start - 10000); // a little before, to see what led to it
              },
            },
            svg("title", {}, `${what} at ${localTime(start)}`),
          ),
        );
      }
      clear(plot).append(bar, ticks(), marks, playhead, hover);
      api.setPlayhead(playheadAt);
    },

    setPlayhead(ms) {
      playheadAt = ms;
      const visible = ms !== null && ms >= since && ms <= until;
      playhead.setAttribute("visibility", visible ? "visible" : "hidden");
      if (visible) {
        playhead.setAttribute("x1", x(ms));
        playhead.setAttribute("x2", x(ms));
      }
    },

    stop() {
      resized.disconnect();
    },
  };
  return api;
}

// Where the picture is in wall-clock time: the MP4 skips gaps, so walk the recorded spans from
// the time of its first frame.
export function wallClock(spans, startMs, mediaSeconds) {
  let left = mediaSeconds * 1000;
  for (const span of spans) {
    const from = Math.max(parseTime(span.start), startMs);
    const to = parseTime(span.end);
    if (to <= from) continue;
    if (left <= to - from) return from + left;
    left -= to - from;
  }
  return startMs + mediaSeconds * 1000;
}
