// The inzage of an art. 10 request: the beheerder draws rectangles over the picture to blur
// (others in view). Each rectangle goes into the form's "regions" field as x,y,b,h fractions of
// the frame; "Toepassen" sends them, and the server blurs them in the player path.
(function () {
  "use strict";
  const button = document.getElementById("draw-region");
  const frame = document.getElementById("player-frame");
  const field = document.querySelector("input[name=regions]");
  if (!button || !frame || !field) return;
  let layer = null;

  function fraction(v) { return Math.max(0, Math.min(1, v)).toFixed(3).replace(/0+$/, "").replace(/\.$/, ""); }

  function stop() {
    if (layer) layer.remove();
    layer = null;
    button.textContent = "Gebied tekenen";
  }

  function start() {
    layer = document.createElement("div");
    layer.id = "draw-layer";
    layer.style.cssText = "position:absolute;left:0;top:0;right:0;bottom:0;cursor:crosshair;" +
                          "background:rgba(245,166,35,.08)";
    frame.appendChild(layer);
    button.textContent = "Tekenen stoppen";
    let from = null, box = null;
    layer.addEventListener("mousedown", function (e) {
      const r = layer.getBoundingClientRect();
      from = [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
      box = document.createElement("div");
      box.className = "region";
      box.style.cssText = "position:absolute;border:2px dashed #f5a623;box-sizing:border-box";
      layer.appendChild(box);
      e.preventDefault();
    });
    layer.addEventListener("mousemove", function (e) {
      if (!from) return;
      const r = layer.getBoundingClientRect();
      const x = (e.clientX - r.left) / r.width, y = (e.clientY - r.top) / r.height;
      box.style.left = Math.min(x, from[0]) * 100 + "%";
      box.style.top = Math.min(y, from[1]) * 100 + "%";
      box.style.width = Math.abs(x - from[0]) * 100 + "%";
      box.style.height = Math.abs(y - from[1]) * 100 + "%";
    });
    layer.addEventListener("mouseup", function (e) {
      if (!from) return;
      const r = layer.getBoundingClientRect();
      const x = Math.max(0, Math.min(1, (e.clientX - r.left) / r.width));
      const y = Math.max(0, Math.min(1, (e.clientY - r.top) / r.height));
      const x0 = Math.max(0, Math.min(x, from[0])), y0 = Math.max(0, Math.min(y, from[1]));
      const w = Math.min(1 - x0, Math.abs(x - from[0])), h = Math.min(1 - y0, Math.abs(y - from[1]));
      from = null;
      if (w < 0.01 || h < 0.01) { box.remove(); return; }
      const text = [x0, y0, w, h].map(fraction).join(",");
      field.value = field.value.trim() ? field.value.trim() + ";" + text : text;
    });
  }

  button.addEventListener("click", function () { if (layer) stop(); else start(); });
})();
