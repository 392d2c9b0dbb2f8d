// Injected by `vfio-workbench serve` into every page it serves (never written into the site):
// reloads the page when a rebuild succeeds, and shows why when one fails.
(function () {
  "use strict";
  var source = new EventSource("/__vfio-workbench/events");
  function banner() {
    var el = document.getElementById("vfio-workbench-build-failed");
    if (!el) {
      el = document.createElement("section");
      el.id = "vfio-workbench-build-failed";
      el.setAttribute("role", "alert");
      el.style.cssText =
        "position:fixed;left:0;right:0;bottom:0;z-index:1000;max-height:40vh;overflow:auto;margin:0;padding:0.75rem 1rem;" +
        "background:#7f1d1d;color:#fff;font:14px/1.4 ui-monospace,monospace;white-space:pre-wrap";
      document.body.appendChild(el);
    }
    return el;
  }
  source.addEventListener("reload", function () {
    location.reload();
  });
  source.addEventListener("failed", function (event) {
    banner().textContent = "The rebuild failed; this page is the last good build.\n\n" + JSON.parse(event.data).problems.join("\n");
  });
  source.addEventListener("building", function () {
    var el = document.getElementById("vfio-workbench-build-failed");
    if (el) el.textContent = "Rebuilding…";
  });
})();
