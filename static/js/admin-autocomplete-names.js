// Names the search boxes of the admin's autocomplete fields (select2 4.0, which Django ships,
// leaves them unnamed for screen readers): "Search <the field's label>". select2 re-creates a
// multiple field's box after each choice, and a single field's opens in a dropdown at the end
// of the page, so boxes are named as they appear.
(function () {
  "use strict";

  function fieldOf(box) {
    const results = /^select2-(.+)-results$/.exec(box.getAttribute("aria-controls") || "");
    if (results) return document.getElementById(results[1]);
    const container = box.closest(".select2-container");
    return container && container.previousElementSibling;
  }

  function name(box) {
    if (box.hasAttribute("aria-label")) return;
    const field = fieldOf(box);
    const label = field && field.id && document.querySelector(`label[for="${field.id}"]`);
    if (label) box.setAttribute("aria-label", `Search ${label.textContent.replace(/:\s*$/, "").trim()}`);
  }

  function nameAll(root) {
    root.querySelectorAll(".select2-search__field").forEach(name);
  }

  document.addEventListener("DOMContentLoaded", () => {
    nameAll(document);
    new MutationObserver((changes) => {
      for (const change of changes) {
        if (change.type === "attributes" && change.target.matches(".select2-search__field")) name(change.target);
        change.addedNodes.forEach((node) => node.nodeType === 1 && (node.matches(".select2-search__field") ? name(node) : nameAll(node)));
      }
    }).observe(document.body, {childList: true, subtree: true, attributeFilter: ["aria-controls"]});
  });
})();
