// The live grid: asks /live/status every few seconds and shows on each tile why it has no
// picture (access expired, recorder not reachable, camera gives no picture, or its stream did
// not open here, e.g. too many streams open) instead of a
// frozen frame or a broken image; one tile on the full screen (button or double click,
// Escape returns). The words come from the page (#live-states), never from this file.
(function () {
  "use strict";
  const grid = document.getElementById("livegrid");
  if (!grid) return;
  const tiles = Array.from(grid.querySelectorAll(".tile"));
  const texts = document.getElementById("live-states");
  const poll = Math.max(1, Number(grid.dataset.poll) || 2) * 1000;
  const query = tiles.map(function (t) {
    return "camera=" + encodeURIComponent(t.dataset.camera);
  }).join("&");
  let timer = null;

  function stopStream(tile) {
    const img = tile.querySelector("img.live");
    img.removeAttribute("src");            // closes the stream: no frozen frame stays
  }

  function startStream(tile) {
    const img = tile.querySelector("img.live");
    img.src = tile.dataset.stream + "?t=" + Date.now();
  }

  function show(tile, state) {
    if (tile.dataset.state === state) return;
    const before = tile.dataset.state;
    tile.dataset.state = state;
    const box = tile.querySelector(".tile-state");
    box.textContent = "";
    if (state === "live") {
      if (before !== "live") startStream(tile);
      return;
    }
    stopStream(tile);
    const text = texts.querySelector('[data-state="' + state + '"]') ||
                 texts.querySelector('[data-state="unknown"]');
    box.appendChild(text.cloneNode(true));
  }

  function showAll(state) {
    tiles.forEach(function (t) { show(t, state); });
  }

  function check() {
    clearTimeout(timer);
    fetch(grid.dataset.status + "?" + query,
          {credentials: "same-origin", redirect: "manual", cache: "no-store"})
      .then(function (r) {
        if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) {
          showAll("session-ended");        // the login redirect: the session is over
          return null;
        }
        if (!r.ok) throw new Error("status " + r.status);
        return r.json();
      })
      .then(function (data) {
        if (!data) return;
        tiles.forEach(function (t) {
          const found = data.cameras[t.dataset.camera];
          let state = found ? found.state : "expired";
          if (state === "live" && t.dataset.failed) {
            delete t.dataset.failed;       // live, but this browser's stream did not open:
            state = "stream-failed";       // say so, and try again at the next poll
          }
          show(t, state);
        });
        timer = setTimeout(check, poll);
      })
      .catch(function () {
        showAll("unknown");                // the web process itself does not answer
        timer = setTimeout(check, poll);
      });
  }

  // --- full screen -----------------------------------------------------------------------
  function current() {
    return document.fullscreenElement || grid.querySelector(".tile.expanded");
  }

  function label(tile) {
    const button = tile.querySelector("button.fullscreen");
    button.textContent = current() === tile ? button.dataset.leave : button.dataset.enter;
  }

  function leave() {
    const tile = current();
    if (!tile) return;
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else {
      tile.classList.remove("expanded");
      label(tile);
      tile.querySelector("button.fullscreen").focus();
    }
  }

  function enter(tile) {
    if (current() === tile) { leave(); return; }
    if (tile.requestFullscreen) {
      tile.requestFullscreen().catch(function () { tile.classList.add("expanded"); label(tile); });
    } else {                                // no Fullscreen API (a phone): fill the window
      tile.classList.add("expanded");
      label(tile);
    }
  }

  tiles.forEach(function (tile) {
    const button = tile.querySelector("button.fullscreen");
    button.hidden = false;
    button.addEventListener("click", function () { enter(tile); });
    tile.querySelector(".frame").addEventListener("dblclick", function () { enter(tile); });
    const img = tile.querySelector("img.live");
    img.addEventListener("error", function () {
      if (tile.dataset.state === "live" && img.hasAttribute("src")) {
        tile.dataset.failed = "1";
        check();                            // the stream failed: ask why at once
      }
    });
    // The page's own src may have been refused before this script ran (its error event
    // came and went): a finished image without a picture failed, and is tried again too.
    if (img.hasAttribute("src") && img.complete && img.naturalWidth === 0) {
      tile.dataset.failed = "1";
    }
  });
  document.addEventListener("fullscreenchange", function () {
    tiles.forEach(label);
    if (!document.fullscreenElement) {
      const last = grid.querySelector(".tile:focus-within button.fullscreen");
      if (last) last.focus();
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && current()) leave();
  });

  check();
})();
