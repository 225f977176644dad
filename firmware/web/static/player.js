// Plays a window of recorded segments as one: one seek bar over the whole window, the segments
// one after the other. Where the page gives a second <video class="player-next">, the next
// segment is loaded into it while the current one plays, and the two swap when a segment ends,
// so the step from one segment to the next shows no gap beyond a frame. Each segment is
// decrypted by the server into its response (and logged there when fetched).
// The player's position (epoch seconds) is in #player's data-position, the segment shown in
// data-current. Buttons or links with data-jump="<epoch>" play from that time; the timeline
// (timeline.js) asks for an event with an "nvr:event" event and hears "nvr:playing".
(function () {
  "use strict";
  const box = document.getElementById("player");
  if (!box) return;
  const segs = JSON.parse(box.dataset.segments);
  if (!segs.length) return;
  segs.forEach(function (s) {          // a day page gives one url pattern, not 1,500 urls
    if (!s.url) s.url = box.dataset.video.replace("{id}", s.id);
  });
  const seek = document.getElementById("player-seek");
  const clock = document.getElementById("player-clock");
  const fmt = new Intl.DateTimeFormat("nl-NL", {timeZone: box.dataset.tz, hour: "2-digit",
                                                minute: "2-digit", second: "2-digit"});
  let video = document.getElementById("player-video");   // the one shown
  let spare = box.querySelector("video.player-next");     // the next segment, loading
  let spareIndex = -1;
  let cur = -1;

  function show(t) {
    seek.value = t;
    box.dataset.position = t;
    clock.textContent = fmt.format(new Date(t * 1000));
  }

  function announce() {
    box.dataset.current = segs[cur].id;
    if (segs[cur].event) {
      document.dispatchEvent(new CustomEvent("nvr:playing", {detail: {id: segs[cur].event}}));
    }
  }

  function preload() {
    if (!spare || cur + 1 >= segs.length || spareIndex === cur + 1) return;
    spareIndex = cur + 1;
    spare.src = segs[spareIndex].url;
    spare.load();
  }

  function load(i, offset, play) {
    cur = i;
    announce();
    video.src = segs[i].url;
    video.addEventListener("loadedmetadata", function () {
      video.currentTime = offset;
      if (play) video.play();
      preload();
    }, {once: true});
    show(segs[i].start + offset);
  }

  function swap() {                      // the preloaded segment takes the current one's place
    const done = video;
    spare.currentTime = 0;
    spare.controls = true;
    spare.hidden = false;
    const playing = spare.play();
    done.hidden = true;
    done.controls = false;
    done.removeAttribute("id");
    spare.id = "player-video";
    video = spare;
    spare = done;
    spareIndex = -1;
    cur += 1;
    announce();
    show(segs[cur].start);
    (playing && playing.then ? playing : Promise.resolve()).then(preload, preload);
  }

  function locate(t) {
    for (let i = 0; i < segs.length; i++) {
      if (t < segs[i].end) return [i, Math.max(0, t - segs[i].start)];
    }
    return [segs.length - 1, 0];
  }

  function jump(t, play) {
    const [i, offset] = locate(t);
    if (i === cur) {
      video.currentTime = offset;
      show(segs[i].start + offset);
      if (play) video.play();
    } else {
      load(i, offset, play || !video.paused || video.ended);
    }
  }

  function ended(e) {
    if (e.target !== video || cur + 1 >= segs.length) return;
    if (spare && spareIndex === cur + 1) swap();
    else load(cur + 1, 0, true);
  }

  function progress(e) {
    if (e.target === video && cur >= 0) show(segs[cur].start + video.currentTime);
  }

  seek.min = segs[0].start;
  seek.max = segs[segs.length - 1].end;
  [video, spare].forEach(function (v) {
    if (!v) return;
    v.addEventListener("ended", ended);
    v.addEventListener("timeupdate", progress);
  });
  seek.addEventListener("change", function () { jump(Number(seek.value), false); });
  document.querySelectorAll("[data-jump]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      jump(Number(a.dataset.jump), true);
    });
  });
  document.addEventListener("nvr:event", function (e) { jump(Number(e.detail.start), true); });
  load(0, 0, false);
})();
