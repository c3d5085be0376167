// Polls the import's status while it runs, then reloads so the page shows the outcome.
(function () {
  var box = document.getElementById("era-progress");
  if (!box) return;
  var status = box.dataset.status;
  var stages = {validating: "Checking the file", matching: "Matching claims", posting: "Posting", done: "Finishing"};
  if (status !== "queued" && status !== "running") return;
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.status !== "queued" && s.status !== "running") { window.location.reload(); return; }
        var bar = box.querySelector("[data-role=bar]");
        var count = box.querySelector("[data-role=count]");
        var label = box.querySelector("[data-role=label]");
        label.textContent = s.status === "queued" ? "Waiting to start" : (stages[s.stage] || "Working");
        if (s.total) {
          bar.max = s.total; bar.value = s.done;
          count.textContent = s.done + " of " + s.total;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
