// The export's progress: asks the status (JSON) every second and moves the bar; when the
// export is done or failed the page is loaded again, which shows the result (the package, its
// hashes, a generated password once) or the form with the message. Without JavaScript the page
// refreshes itself (<noscript> meta refresh). The words come from the page, never from here.
(function () {
  "use strict";
  const box = document.getElementById("export-progress");
  if (!box) return;
  const bar = document.getElementById("export-bar");
  const words = document.getElementById("export-bytes");
  function mb(n) { return (n / 1e6).toFixed(1).replace(".", ",") + " MB"; }
  function poll() {
    fetch(box.dataset.status, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        box.dataset.state = s.state;
        if (s.total_bytes > 0) { bar.max = s.total_bytes; }
        bar.value = s.done_bytes;
        box.dataset.done = String(s.done_bytes);
        words.textContent = words.textContent.replace(/^[0-9.,]+ MB/, mb(s.done_bytes))
          .replace(/[0-9.,]+ MB$/, mb(s.total_bytes));
        if (s.state !== "running") { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
