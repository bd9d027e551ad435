// Every camera's health and storage, and where the cameras are. Refreshed every 5 s.

import { get } from "../api.js";
import {
  ago,
  bitrate,
  bytes,
  clear,
  errorText,
  h,
  localTime,
  notice,
  number,
  parseTime,
  siteColour,
  svg,
  table,
} from "../dom.js";
import { createMap } from "../map.js";

const REFRESH_MS = 5000;

function swatch(colour) {
  const dot = svg("circle", { cx: 5, cy: 5, r: 5, fill: colour });
  return svg("svg", { class: "swatch", viewBox: "0 0 10 10" }, dot);
}

function retention(camera) {
  const horizon = camera.horizon_days;
  const wanted = camera.retention_days;
  if (horizon === null || horizon === undefined) return "no footage";
  const reach = horizon >= 1 ? `${number(horizon, 1)} d` : `${number(horizon * 24, 1)} h`;
  return wanted ? `${reach} of ${wanted} d` : reach;
}

function row(camera, canWatch) {
  const name = canWatch
    ? h("a", { href: `#/live?camera=${encodeURIComponent(camera.name)}` }, camera.name)
    : camera.name;
  const packet = parseTime(camera.last_packet);
  const meter =
    camera.retention_days && camera.horizon_days !== null
      ? h("meter", {
          min: 0,
          max: camera.retention_days,
          value: Math.min(camera.horizon_days, camera.retention_days),
        })
      : null;
  return h(
    "tr",
    { "data-camera": camera.name },
    h("td", { class: "name" }, name),
    h("td", {}, camera.site || "–"),
    h(
      "td",
      { class: `state state-${camera.state}`, title: camera.error || "" },
      h("span", { class: "dot" }),
      camera.state,
    ),
    h("td", { class: "num" }, number(camera.fps, 1)),
    h("td", { class: "num" }, bitrate(camera.bitrate)),
    h("td", { title: localTime(packet) }, ago(packet)),
    h("td", { class: "num" }, bytes(camera.bytes)),
    h("td", { class: "retention" }, meter, " ", retention(camera)),
  );
}

export function render(root, { account, navigate }) {
  const canWatch = ["viewer", "investigator"].some((r) => account.roles.includes(r));
  let sites = [];
  const summary = h("p", { class: "summary" });
  const status = h("div", { class: "refresh-status" });
  const body = h("tbody");
  const headings = ["Camera", "Site", "State", "FPS", "Bitrate", "Last packet", "Stored"];
  const cameraTable = table([...headings, "Retention"], body, { class: "cameras" });
  const mapBox = h("div", { class: "map" });
  const legend = h("ul", { class: "legend" });
  const map = createMap(mapBox, {
    sites: () => sites,
    colour: siteColour,
    onPick: (name) => canWatch && navigate("live", { camera: name }),
  });
  const unplaced = h("p", { class: "hint" });
  root.append(
    h("h1", {}, "Cameras"),
    summary,
    status,
    h("div", { class: "table-wrap" }, cameraTable),
    h("h2", {}, "Map"),
    mapBox,
    legend,
    unplaced,
  );

  let timer = null;
  let stopped = false;

  async function refresh() {
    try {
      const answer = await get("/api/v1/cameras");
      if (stopped) return;
      const cameras = answer.cameras;
      sites = [...new Set(cameras.map((c) => c.site || ""))].sort();
      clear(body).append(...cameras.map((c) => row(c, canWatch)));
      const online = cameras.filter((c) => c.state === "online").length;
      summary.textContent = `${online} of ${cameras.length} cameras online`;
      const placed = map.update(cameras, answer.map && answer.map.tile_url);
      clear(legend).append(
        ...sites.map((site) =>
          h("li", {}, swatch(siteColour(site, sites)), site || "no site"),
        ),
      );
      mapBox.hidden = placed === 0;
      legend.hidden = placed === 0;
      unplaced.textContent =
        placed < cameras.length
          ? `${cameras.length - placed} camera(s) have no location in the configuration.`
          : "";
      clear(status).append(h("span", { class: "hint" }, `Updated ${localTime(Date.now(), false)}`));
    } catch (error) {
      if (!stopped) clear(status).append(notice(errorText(error), "error"));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }

  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
