// Plays a window of recorded segments as one: one <video>, a slider over the whole window,
// the next segment when one ends. Each segment is decrypted by the server into its response.
(function () {
  "use strict";
  const box = document.getElementById("player");
  if (!box) return;
  const segs = JSON.parse(box.dataset.segments);
  if (!segs.length) return;
  const video = document.getElementById("player-video");
  const seek = document.getElementById("player-seek");
  const clock = document.getElementById("player-clock");
  const fmt = new Intl.DateTimeFormat("nl-NL", {timeZone: box.dataset.tz, hour: "2-digit",
                                                minute: "2-digit", second: "2-digit"});
  let cur = -1;

  function show(t) {
    seek.value = t;
    clock.textContent = fmt.format(new Date(t * 1000));
  }

  function load(i, offset, play) {
    cur = i;
    box.dataset.current = segs[i].id;
    video.src = segs[i].url;
    video.addEventListener("loadedmetadata", function () {
      video.currentTime = offset;
      if (play) video.play();
    }, {once: true});
    show(segs[i].start + offset);
  }

  function locate(t) {
    for (let i = 0; i < segs.length; i++) {
      if (t < segs[i].end) return [i, Math.max(0, t - segs[i].start)];
    }
    return [segs.length - 1, 0];
  }

  function jump(t) {
    const [i, offset] = locate(t);
    if (i === cur) { video.currentTime = offset; show(segs[i].start + offset); }
    else load(i, offset, !video.paused || video.ended);
  }

  seek.min = segs[0].start;
  seek.max = segs[segs.length - 1].end;
  video.addEventListener("ended", function () {
    if (cur + 1 < segs.length) load(cur + 1, 0, true);
  });
  video.addEventListener("timeupdate", function () {
    if (cur >= 0) show(segs[cur].start + video.currentTime);
  });
  seek.addEventListener("change", function () { jump(Number(seek.value)); });
  document.querySelectorAll("[data-jump]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      jump(Number(a.dataset.jump));
      video.play();
    });
  });
  load(0, 0, false);
})();
