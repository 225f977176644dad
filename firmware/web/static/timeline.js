// The day's timeline: events as blocks (buttons: click or Enter plays them), holds and requests
// as bands, a time axis whose labels fit the zoom (hours over a day, 10 minutes over an hour,
// minutes over a few minutes). Zoom with the mouse wheel, a pinch (two fingers, or a trackpad's
// pinch, which arrives as a wheel with ctrlKey), the + and - buttons or keys; move by dragging or
// with the arrow keys. Opens at now on today's page, at the first event on another day.
// No framework; the data comes from the page (data-drawing), CSP 'self' only.
(function () {
  "use strict";
  const box = document.getElementById("timeline");
  if (!box) return;
  const d = JSON.parse(box.dataset.drawing);
  const track = document.getElementById("tl-track");
  const axis = document.getElementById("tl-axis");
  const range = document.getElementById("tl-range");
  const fmt = new Intl.DateTimeFormat("nl-NL", {timeZone: d.tz, hour: "2-digit", minute: "2-digit"});
  const STEPS = [60, 120, 600, 1800, 3600, 10800];     // seconds between labels
  const MIN_SPAN = 120, LABEL_PX = 38, ZOOM = 1.5;
  const full = d.end - d.start;
  let v0 = d.start, v1 = d.end;

  function clampView(a, b) {
    let span = Math.min(full, Math.max(MIN_SPAN, b - a));
    a = Math.max(d.start, Math.min(a, d.end - span));
    v0 = a; v1 = a + span;
  }

  function pct(t) { return ((t - v0) / (v1 - v0)) * 100; }

  function place(el, s, e, minPx) {
    const inView = e > v0 && s < v1;
    // The event that has the keyboard's focus moves out of view (arrow keys, a zoom): the
    // timeline takes the focus, so the keys keep working (hidden, it would drop to the page).
    if (!inView && el === document.activeElement) box.focus({preventScroll: true});
    el.hidden = !inView;
    if (!inView) return;
    const left = Math.max(0, pct(s)), right = Math.min(100, pct(e));
    el.style.left = left + "%";
    el.style.width = Math.max(right - left, 0) + "%";
    if (minPx) el.style.minWidth = minPx + "px";
  }

  function band(cls, s, e, title) {
    const el = document.createElement("div");
    el.className = "band " + cls;
    el.title = title;
    el.dataset.start = s; el.dataset.end = e;
    track.appendChild(el);
    return el;
  }

  const bands = d.holds.map(function (h) { return band("hold", h[0], h[1], h[2]); })
    .concat(d.requests.map(function (r) { return band("request", r[0], r[1], r[2]); }));
  const blocks = d.events.map(function (ev) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "event" + (ev[3] ? " held" : "");
    b.dataset.event = ev[0]; b.dataset.start = ev[1]; b.dataset.end = ev[2];
    b.setAttribute("aria-label", ev[4]);
    b.title = ev[4];
    b.addEventListener("click", function () { choose(ev[0], ev[1]); });
    track.appendChild(b);
    return b;
  });
  const nowLine = document.createElement("div");
  nowLine.className = "now";
  track.appendChild(nowLine);

  function choose(id, start) {
    document.dispatchEvent(new CustomEvent("nvr:event", {detail: {id: id, start: start}}));
    mark(id);
    const row = document.getElementById("event-" + id);
    if (row) row.scrollIntoView({block: "nearest"});
  }

  function mark(id) {
    blocks.forEach(function (b) { b.classList.toggle("current", b.dataset.event === id); });
    document.querySelectorAll("tr[data-event]").forEach(function (tr) {
      tr.classList.toggle("current", tr.dataset.event === id);
    });
  }

  function labels() {
    const width = track.clientWidth || 960;
    const most = Math.max(2, Math.floor(width / LABEL_PX));
    const span = v1 - v0;
    let step = STEPS[STEPS.length - 1];
    for (const s of STEPS) { if (span / s <= most) { step = s; break; } }
    axis.replaceChildren();
    const axisWidth = axis.clientWidth || width;
    for (let t = d.start + Math.ceil((v0 - d.start) / step) * step; t <= v1; t += step) {
      const span_ = document.createElement("span");
      const at = pct(t);
      span_.style.left = at + "%";
      // A label near an edge is aligned to it rather than centred, so it never reaches past
      // the track (on a phone a half label beyond the right edge made the page scroll sideways).
      span_.textContent = fmt.format(new Date(t * 1000));
      axis.appendChild(span_);
      // Only a label within LABEL_PX of an edge is measured (no layout per label on a redraw).
      const px = at * axisWidth / 100;
      if (px < LABEL_PX || axisWidth - px < LABEL_PX) {
        const half = span_.offsetWidth / 2;
        if (px < half) span_.className = "start";
        else if (axisWidth - px < half) span_.className = "end";
      }
    }
    box.dataset.step = step;
  }

  let pending = false;
  function draw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () {
      pending = false;
      bands.forEach(function (el) { place(el, +el.dataset.start, +el.dataset.end); });
      blocks.forEach(function (el) { place(el, +el.dataset.start, +el.dataset.end, 4); });
      const now = Date.now() / 1000;
      nowLine.hidden = !(now >= v0 && now <= v1);
      nowLine.style.left = pct(now) + "%";
      labels();
      box.dataset.viewStart = v0; box.dataset.viewEnd = v1;
      range.textContent = fmt.format(new Date(v0 * 1000)) + " – " + fmt.format(new Date(v1 * 1000));
    });
  }

  function zoomAt(factor, t) {
    const a = t - (t - v0) * factor, b = t + (v1 - t) * factor;
    clampView(a, b);
    draw();
  }

  function timeAt(clientX) {
    const r = track.getBoundingClientRect();
    return v0 + ((clientX - r.left) / r.width) * (v1 - v0);
  }

  function pan(seconds) { clampView(v0 + seconds, v1 + seconds); draw(); }

  function centre(t, span) { clampView(t - span / 2, t + span / 2); draw(); }

  document.getElementById("tl-zoom-in").addEventListener("click", function () {
    zoomAt(1 / ZOOM, (v0 + v1) / 2);
  });
  document.getElementById("tl-zoom-out").addEventListener("click", function () {
    zoomAt(ZOOM, (v0 + v1) / 2);
  });
  document.getElementById("tl-day").addEventListener("click", function () {
    clampView(d.start, d.end); draw();
  });
  document.getElementById("tl-now").addEventListener("click", function () {
    centre(Math.min(d.end, Math.max(d.start, Date.now() / 1000)), v1 - v0);
  });
  track.addEventListener("wheel", function (e) {
    e.preventDefault();
    const amount = e.deltaMode === 1 ? e.deltaY * 20 : e.deltaY;   // lines or pixels
    zoomAt(Math.pow(ZOOM, amount / 100), timeAt(e.clientX));
  }, {passive: false});
  box.addEventListener("keydown", function (e) {
    const span = v1 - v0;
    if (e.key === "ArrowLeft") pan(-span / 10);
    else if (e.key === "ArrowRight") pan(span / 10);
    else if (e.key === "+" || e.key === "=") zoomAt(1 / ZOOM, (v0 + v1) / 2);
    else if (e.key === "-") zoomAt(ZOOM, (v0 + v1) / 2);
    else return;
    e.preventDefault();
  });

  // Drag to move, two pointers to pinch.
  const pointers = new Map();
  let pinch = null, moved = false;
  track.addEventListener("pointerdown", function (e) {
    pointers.set(e.pointerId, e.clientX);
    moved = false;
    if (pointers.size === 2) {
      const xs = Array.from(pointers.values());
      pinch = {dist: Math.abs(xs[0] - xs[1]) || 1, v0: v0, v1: v1,
               t: timeAt((xs[0] + xs[1]) / 2)};
    }
  });
  track.addEventListener("pointermove", function (e) {
    if (!pointers.has(e.pointerId)) return;
    const last = pointers.get(e.pointerId);
    pointers.set(e.pointerId, e.clientX);
    if (pointers.size === 2 && pinch) {
      const xs = Array.from(pointers.values());
      const factor = pinch.dist / (Math.abs(xs[0] - xs[1]) || 1);
      clampView(pinch.t - (pinch.t - pinch.v0) * factor, pinch.t + (pinch.v1 - pinch.t) * factor);
      draw();
    } else if (pointers.size === 1 && Math.abs(e.clientX - last) > 0) {
      if (!moved && !track.hasPointerCapture(e.pointerId)) track.setPointerCapture(e.pointerId);
      moved = true;
      pan(-(e.clientX - last) / track.clientWidth * (v1 - v0));
    }
  });
  function lift(e) {
    pointers.delete(e.pointerId);
    if (pointers.size < 2) pinch = null;
  }
  track.addEventListener("pointerup", lift);
  track.addEventListener("pointercancel", lift);
  track.addEventListener("click", function (e) {      // a drag is not a click on an event
    if (moved) { e.stopPropagation(); e.preventDefault(); moved = false; }
  }, true);

  document.addEventListener("nvr:playing", function (e) { mark(e.detail.id); });

  // A thumbnail the server is still making answers 503 (recordings.MAKING): ask again, a few
  // times, a little later each time, so the pictures fill in without holding up the player.
  document.querySelectorAll("table.events img").forEach(function (img) {
    let tries = 0;
    const base = img.getAttribute("src");
    function again() {
      if (tries >= 15) return;
      tries += 1;
      setTimeout(function () {
        img.src = base + (base.indexOf("?") < 0 ? "?" : "&") + "try=" + tries;
      }, 1000 + 500 * tries);
    }
    img.addEventListener("error", again);
    if (img.complete && img.naturalWidth === 0) again();        // failed before this ran
  });

  // Open at now (today), else at the first event, three hours wide.
  const OPEN_SPAN = 3 * 3600;
  const now = Date.now() / 1000;
  if (now >= d.start && now < d.end) {
    centre(now, OPEN_SPAN);
  } else if (d.events.length) {
    clampView(d.events[0][1] - 600, d.events[0][1] - 600 + OPEN_SPAN);
    draw();
  } else {
    draw();
  }
})();
