// Live view: one camera, or a 2x2 or 3x3 grid. Each picture is the camera's own H.264 remuxed
// to MP4 by Vigil; a stream that ends or stalls is reopened every few seconds.

import { get } from "../api.js";
import { clear, errorText, h, notice } from "../dom.js";

const RETRY_MS = 3000;
const STALL_MS = 10000;
const REFRESH_MS = 5000;

class LiveTile {
  constructor(name, onOpen) {
    this.name = name;
    this.video = h("video", { muted: true, autoplay: true, playsinline: true });
    this.video.muted = true; // the attribute alone does not satisfy autoplay rules everywhere
    this.state = h("span", { class: "state" });
    this.status = h("span", { class: "status" }, "connecting…");
    this.element = h(
      "figure",
      { class: "live-tile", "data-camera": name },
      this.video,
      h(
        "figcaption",
        {},
        onOpen
          ? h("a", { href: "#", onclick: (e) => (e.preventDefault(), onOpen(name)) }, name)
          : h("strong", {}, name),
        this.state,
        this.status,
      ),
    );
    this.retry = null;
    this.watchdog = null;
    this.lastTime = -1;
    this.lastProgress = 0;
    for (const event of ["error", "ended"]) {
      this.video.addEventListener(event, () => this.reconnect(event));
    }
    this.video.addEventListener("playing", () => {
      this.status.textContent = "live";
    });
  }

  get url() {
    return `/api/v1/cameras/${encodeURIComponent(this.name)}/live.mp4`;
  }

  start() {
    this.lastProgress = Date.now();
    this.video.src = this.url;
    this.video.play().catch(() => {}); // autoplay also starts it; a refusal shows as a stall
    // A picture that stops moving (camera gone, stream stuck) is reopened too.
    this.watchdog = setInterval(() => {
      if (this.video.currentTime !== this.lastTime) {
        this.lastTime = this.video.currentTime;
        this.lastProgress = Date.now();
      } else if (Date.now() - this.lastProgress > STALL_MS) {
        this.reconnect("stalled");
      }
    }, 1000);
  }

  reconnect(why) {
    if (this.retry) return;
    this.halt();
    this.status.textContent = `stream ${why}; retrying in ${RETRY_MS / 1000} s`;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.start();
    }, RETRY_MS);
  }

  setState(camera) {
    this.state.className = `state state-${camera ? camera.state : "unknown"}`;
    this.state.textContent = camera ? camera.state : "unknown";
  }

  halt() {
    clearInterval(this.watchdog);
    this.watchdog = null;
    // Dropping the source ends the HTTP stream, which Vigil audits as the end of watching.
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
  }

  stop() {
    clearTimeout(this.retry);
    this.retry = null;
    this.halt();
  }
}

export async function render(root, { params, navigate }) {
  const answer = await get("/api/v1/cameras");
  const names = answer.cameras.map((c) => c.name);
  const size = Number(params.get("grid")) || 1;
  root.append(h("h1", {}, "Live"));
  if (!names.length) {
    root.append(notice("No camera is visible to this account."));
    return null;
  }
  const chosen = names.includes(params.get("camera")) ? params.get("camera") : names[0];
  const picker = h(
    "select",
    {
      "aria-label": "Camera",
      onchange: () => navigate("live", { camera: picker.value }),
      disabled: size > 1,
    },
    ...names.map((n) => h("option", { value: n, selected: n === chosen }, n)),
  );
  const layout = (label, grid) =>
    h(
      "button",
      {
        type: "button",
        class: size === grid ? "toggle on" : "toggle",
        onclick: () => navigate("live", grid > 1 ? { grid } : { camera: chosen }),
      },
      label,
    );
  root.append(
    h(
      "div",
      { class: "toolbar" },
      picker,
      layout("Single", 1),
      layout("2×2", 2),
      layout("3×3", 3),
    ),
  );

  const shown = size > 1 ? names.slice(0, size * size) : [chosen];
  const open = size > 1 ? (name) => navigate("live", { camera: name }) : null;
  const tiles = shown.map((name) => new LiveTile(name, open));
  const empty = Array.from({ length: size * size - tiles.length }, () =>
    h("div", { class: "live-tile empty" }, "no camera"),
  );
  root.append(
    h("div", { class: `live-grid grid-${size}` }, ...tiles.map((t) => t.element), ...empty),
  );
  if (size > 1 && names.length > shown.length) {
    root.append(h("p", { class: "hint" }, `Showing the first ${shown.length} of ${names.length}.`));
  }
  const problem = h("div");
  root.append(problem);
  const showStates = (cameras) => {
    const byName = Object.fromEntries(cameras.map((c) => [c.name, c]));
    for (const tile of tiles) tile.setState(byName[tile.name]);
  };
  showStates(answer.cameras);
  for (const tile of tiles) tile.start();

  let stopped = false;
  let timer = null;
  const refresh = async () => {
    try {
      showStates((await get("/api/v1/cameras")).cameras);
      clear(problem);
    } catch (error) {
      clear(problem).append(notice(errorText(error), "error"));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  };
  timer = setTimeout(refresh, REFRESH_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const tile of tiles) tile.stop();
  };
}
