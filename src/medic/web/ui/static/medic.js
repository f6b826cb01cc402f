// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Live refresh pauses while the tab is hidden or rows are selected (so a selection is never lost).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var live = event.detail.elt && event.detail.elt.hasAttribute && event.detail.elt.hasAttribute("data-live");
    if (!live) return;
    if (document.hidden || document.querySelector("input.pick:checked") ||
        (document.activeElement && event.detail.elt.contains(document.activeElement) && document.activeElement.tagName !== "BODY")) {
      event.preventDefault();
    }
  });
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.classList && box.classList.contains("pick-all")) {
      document.querySelectorAll("input.pick").forEach(function (b) { b.checked = box.checked; });
    }
  });
})();
