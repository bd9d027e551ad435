// The cameras on a map drawn here, with no outside service: an equirectangular plot fitted to
// the cameras' bounding box, with a grid. When the operator configures a tile server
// (api.tile_url) the plot switches to Web Mercator so the markers sit on the tiles.

import { clear, h, svg } from "./dom.js";

const WIDTH = 800;
const HEIGHT = 420;
const MARGIN = 0.15; // of the cameras' extent, on each side
const MIN_SPAN_DEGREES = 0.002; // about 200 m: one camera alone still gets a sensible view
const TILE = 256;
const MAX_ZOOM = 19;

function equirectangular(centreLat) {
  const k = Math.cos((centreLat * Math.PI) / 180);
  return {
    forward: (lat, lon) => [lon * k, -lat],
    inverse: (x, y) => [-y, x / k],
  };
}

function mercator(zoom) {
  const size = TILE * 2 ** zoom;
  return {
    forward: (lat, lon) => {
      const phi = (Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180;
      return [
        ((lon + 180) / 360) * size,
        ((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * size,
      ];
    },
    inverse: (x, y) => [
      (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / size))) * 180) / Math.PI,
      (x / size) * 360 - 180,
    ],
  };
}

function extent(points) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) };
}

// The view: a projection, and the scale and offset from its units to the SVG's pixels.
function fitView(located, tileUrl) {
  const lats = located.map((c) => c.location[0]);
  const lons = located.map((c) => c.location[1]);
  const pad = (lo, hi) => {
    const span = Math.max(hi - lo, MIN_SPAN_DEGREES);
    const middle = (lo + hi) / 2;
    return [middle - span * (0.5 + MARGIN), middle + span * (0.5 + MARGIN)];
  };
  const [lat0, lat1] = pad(Math.min(...lats), Math.max(...lats));
  const [lon0, lon1] = pad(Math.min(...lons), Math.max(...lons));
  let projection = equirectangular((lat0 + lat1) / 2);
  let scale = null;
  if (tileUrl) {
    // The deepest zoom at which the padded box still fits: tiles are then drawn 1:1.
    let zoom = MAX_ZOOM;
    while (zoom > 0) {
      const box = extent([mercator(zoom).forward(lat0, lon0), mercator(zoom).forward(lat1, lon1)]);
      if (box.x1 - box.x0 <= WIDTH && box.y1 - box.y0 <= HEIGHT) break;
      zoom -= 1;
    }
    projection = { ...mercator(zoom), zoom };
    scale = 1;
  }
  const box = extent([projection.forward(lat0, lon0), projection.forward(lat1, lon1)]);
  if (scale === null) scale = Math.min(WIDTH / (box.x1 - box.x0), HEIGHT / (box.y1 - box.y0));
  const originX = (box.x0 + box.x1) / 2 - WIDTH / 2 / scale;
  const originY = (box.y0 + box.y1) / 2 - HEIGHT / 2 / scale;
  return {
    projection,
    toScreen: (lat, lon) => {
      const [x, y] = projection.forward(lat, lon);
      return [(x - originX) * scale, (y - originY) * scale];
    },
    fromScreen: (x, y) => projection.inverse(x / scale + originX, y / scale + originY),
    origin: [originX, originY],
  };
}

function niceStep(span) {
  const raw = span / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * power >= raw) * power;
  return { step, digits: Math.max(0, -Math.floor(Math.log10(step))) };
}

function grid(view) {
  const [latTop, lonLeft] = view.fromScreen(0, 0);
  const [latBottom, lonRight] = view.fromScreen(WIDTH, HEIGHT);
  const lines = svg("g", { class: "grid" });
  const lon = niceStep(lonRight - lonLeft);
  for (let v = Math.ceil(lonLeft / lon.step) * lon.step; v <= lonRight; v += lon.step) {
    const [x] = view.toScreen(latTop, v);
    lines.append(
      svg("line", { x1: x, x2: x, y1: 0, y2: HEIGHT }),
      svg("text", { x: x + 3, y: HEIGHT - 4 }, `${v.toFixed(lon.digits)}°`),
    );
  }
  const lat = niceStep(latTop - latBottom);
  for (let v = Math.ceil(latBottom / lat.step) * lat.step; v <= latTop; v += lat.step) {
    const [, y] = view.toScreen(v, lonLeft);
    lines.append(
      svg("line", { x1: 0, x2: WIDTH, y1: y, y2: y }),
      svg("text", { x: 3, y: y - 3 }, `${v.toFixed(lat.digits)}°`),
    );
  }
  return lines;
}

function tiles(view, tileUrl) {
  const layer = h("div", { class: "tiles" });
  const { zoom } = view.projection;
  const [x0, y0] = view.origin;
  const count = 2 ** zoom;
  for (let ty = Math.floor(y0 / TILE); ty * TILE < y0 + HEIGHT; ty += 1) {
    if (ty < 0 || ty >= count) continue;
    for (let tx = Math.floor(x0 / TILE); tx * TILE < x0 + WIDTH; tx += 1) {
      const wrapped = ((tx % count) + count) % count;
      const url = tileUrl
        .replace("{z}", zoom)
        .replace("{x}", wrapped)
        .replace("{y}", ty);
      const img = h("img", { src: url, alt: "", draggable: "false" });
      // Percentages keep the tiles under the markers however wide the map is drawn.
      img.style.left = `${((tx * TILE - x0) / WIDTH) * 100}%`;
      img.style.top = `${((ty * TILE - y0) / HEIGHT) * 100}%`;
      img.style.width = `${(TILE / WIDTH) * 100}%`;
      img.style.height = `${(TILE / HEIGHT) * 100}%`;
      layer.append(img);
    }
  }
  return layer;
}

// A map that redraws only when the cameras' places change; states update in place.
export function createMap(container, { sites, colour, onPick }) {
  let drawnKey = null;
  const markers = new Map();

  function draw(located, tileUrl) {
    clear(container);
    markers.clear();
    const view = fitView(located, tileUrl);
    const plot = svg("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      class: "map-plot",
      role: "img",
      "aria-label": "Map of the cameras",
    });
    if (tileUrl) container.append(tiles(view, tileUrl));
    else plot.append(svg("rect", { class: "land", width: WIDTH, height: HEIGHT }), grid(view));
    for (const camera of located) {
      const [x, y] = view.toScreen(camera.location[0], camera.location[1]);
      const title = svg("title", {});
      const marker = svg(
        "g",
        {
          class: "marker",
          transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
          "data-camera": camera.name,
          tabindex: 0,
          onclick: () => onPick(camera.name),
          onkeydown: (event) => event.key === "Enter" && onPick(camera.name),
        },
        title,
        svg("circle", { r: 8, fill: colour(camera.site, sites()) }),
        svg("text", { x: 12, y: 4 }, camera.name),
      );
      markers.set(camera.name, { marker, title });
      plot.append(marker);
    }
    container.append(plot);
    if (tileUrl) {
      container.append(h("span", { class: "attribution" }, `Tiles: ${new URL(tileUrl).host}`));
    }
  }

  return {
    update(cameras, tileUrl) {
      const located = cameras.filter((c) => Array.isArray(c.location));
      const key = JSON.stringify([tileUrl, located.map((c) => [c.name, c.site, c.location])]);
      if (key !== drawnKey) {
        drawnKey = key;
        if (located.length) draw(located, tileUrl);
        else clear(container);
      }
      for (const camera of located) {
        const found = markers.get(camera.name);
        if (!found) continue;
        found.marker.setAttribute("class", `marker state-${camera.state}`);
        found.title.textContent = `${camera.name} (${camera.site || "no site"}): ${camera.state}`;
      }
      return located.length;
    },
  };
}
