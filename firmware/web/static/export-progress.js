// The export's progress: asks the status (JSON) every second and moves the bar; when the
// export is done, failed or interrupted (the web interface restarted meanwhile) the page is
// loaded again, which shows the result (the package, its hashes, a generated password once), the
// form with the message, or what became of the export. Without JavaScript the page
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
      .then(function (r) {
        // 404: this web process does not know the export; the page says what became of it.
        // 401, 403: the session ended (signed out elsewhere, idle): the page asks to log in
        // (polling forever with the bar frozen, before: redteam13c)
        if (r.status === 404 || r.status === 401 || r.status === 403) {
          window.location.reload();
          return null;
        }
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (s) {
        if (!s) return;
        box.dataset.state = s.state;
        // an export the restarted web process no longer knows has no byte counts
        if (typeof s.done_bytes === "number" && typeof s.total_bytes === "number") {
          if (s.total_bytes > 0) { bar.max = s.total_bytes; }
          bar.value = s.done_bytes;
          box.dataset.done = String(s.done_bytes);
          words.textContent = words.textContent.replace(/^[0-9.,]+ MB/, mb(s.done_bytes))
            .replace(/[0-9.,]+ MB$/, mb(s.total_bytes));
        }
        if (s.state !== "running") { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
