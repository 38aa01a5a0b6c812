// MaskOverlapWidget front end (anywidget ES module; see labkit/ui/widgets.py).
//
// Draws the K x K mean-Jaccard matrix as an SVG heatmap with the same viridis scale as the
// static twin labkit.views.overlap_heatmap. Clicking a cell writes the pair of mask names
// to the synced `selected` trait, so Python (a marimo cell, or an ipywidgets observer) can
// show that pair's per-layer overlap. The widget is built once and redrawn when the
// `matrix`, `names`, `selected` or `title` traits change.

const SVG = "http://www.w3.org/2000/svg";

// viridis at 9 evenly spaced stops (matplotlib's table), linearly interpolated.
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

function viridis(v) {
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
  const f = t - i;
  const c = VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
  return { fill: `rgb(${c[0]},${c[1]},${c[2]})`, dark: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 140 };
}

function node(tag, attrs, parent) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (parent) parent.appendChild(n);
  return n;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "labkit-overlap";
  root.style.fontFamily = "sans-serif";
  el.appendChild(root);

  function draw() {
    const matrix = model.get("matrix") || [];
    const names = model.get("names") || [];
    const selected = model.get("selected") || [];
    const k = names.length;
    root.replaceChildren();

    const heading = document.createElement("div");
    heading.textContent = model.get("title");
    heading.style.fontWeight = "bold";
    heading.style.margin = "0 0 4px 0";
    root.appendChild(heading);
    if (k === 0) {
      const empty = document.createElement("div");
      empty.textContent = "no masks to compare yet";
      root.appendChild(empty);
      return;
    }

    const cell = Math.max(24, Math.min(56, Math.floor(360 / k)));
    const label = 8 + 7 * Math.max(...names.map((n) => n.length));
    const size = label + k * cell;
    const svg = node("svg", { width: size + 4, height: size + 4, role: "grid" }, root);

    names.forEach((name, i) => {
      const y = label + i * cell + cell / 2;
      node("text", { x: label - 6, y, "text-anchor": "end", "dominant-baseline": "middle",
                     "font-size": 11 }, svg).textContent = name;
      const x = label + i * cell + cell / 2;
      node("text", { x, y: label - 6, "text-anchor": "start", "font-size": 11,
                     transform: `rotate(-45 ${x} ${label - 6})` }, svg).textContent = name;
    });

    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const v = matrix[i][j];
        const { fill, dark } = viridis(v);
        const isSel = selected.length === 2 && selected[0] === names[i] && selected[1] === names[j];
        const r = node("rect", {
          x: label + j * cell, y: label + i * cell, width: cell - 1, height: cell - 1, fill,
          stroke: isSel ? "#CC0000" : "white", "stroke-width": isSel ? 3 : 1,
          role: "gridcell", "aria-label": `${names[i]} vs ${names[j]}: ${v.toFixed(2)}`,
          "data-row": i, "data-col": j, cursor: "pointer",
        }, svg);
        r.addEventListener("click", () => {
          model.set("selected", [names[i], names[j]]);
          model.save_changes();
        });
        if (k <= 12) {
          const t = node("text", {
            x: label + j * cell + cell / 2, y: label + i * cell + cell / 2, "text-anchor": "middle",
            "dominant-baseline": "middle", "font-size": 10, fill: dark ? "white" : "black",
            "pointer-events": "none",
          }, svg);
          t.textContent = v.toFixed(2);
        }
      }
    }

    const readout = document.createElement("div");
    readout.className = "labkit-overlap-readout";
    readout.style.marginTop = "4px";
    if (selected.length === 2) {
      const i = names.indexOf(selected[0]);
      const j = names.indexOf(selected[1]);
      const v = i >= 0 && j >= 0 ? matrix[i][j].toFixed(3) : "?";
      readout.textContent = `selected: ${selected[0]} vs ${selected[1]} = ${v}`;
    } else {
      readout.textContent = "click a cell to select a pair of masks";
    }
    root.appendChild(readout);
  }

  const events = ["change:matrix", "change:names", "change:selected", "change:title"];
  events.forEach((e) => model.on(e, draw));
  draw();
  return () => events.forEach((e) => model.off(e, draw));
}

export default { render };
