// The search box's suggestions, as an ARIA 1.2 combobox: htmx fills the listbox (#suggestions) as
// the shopper types, and the focus stays in the box (role=combobox). ArrowDown highlights the next
// suggestion, ArrowUp the previous one (from the first, none: back to the text), both by
// aria-activedescendant; Enter opens the highlighted one (nothing highlighted: the search);
// Escape closes the list. A click opens a suggestion as before.
(() => {
  const box = document.getElementById("q");
  const list = document.getElementById("suggestions");
  if (!box || !list) return;
  const options = () => [...list.querySelectorAll("[role=option]")];

  function highlight(option) {
    for (const each of options()) each.setAttribute("aria-selected", String(each === option));
    if (option) box.setAttribute("aria-activedescendant", option.id);
    else box.removeAttribute("aria-activedescendant");
  }

  function show(open) {
    list.hidden = !open || !options().length;
    box.setAttribute("aria-expanded", String(!list.hidden));
    if (list.hidden) highlight(null);
  }

  // new suggestions (or none): shown while the box has the focus, none highlighted
  new MutationObserver(() => {
    highlight(null);
    show(document.activeElement === box);
  }).observe(list, { childList: true });
  box.addEventListener("focus", () => show(true));
  // closed when the focus leaves the box (but not for a suggestion: a click on one lands there first)
  box.form.addEventListener("focusout", (event) => {
    if (event.relatedTarget !== box && !list.contains(event.relatedTarget)) show(false);
  });
  box.addEventListener("input", () => highlight(null));
  box.addEventListener("keydown", (event) => {
    const all = options();
    const at = all.indexOf(document.getElementById(box.getAttribute("aria-activedescendant") || ""));
    if (event.key === "ArrowDown" && all.length) {
      show(true);
      highlight(all[Math.min(at + 1, all.length - 1)]);
    } else if (event.key === "ArrowUp" && at >= 0) {
      highlight(all[at - 1] || null);
    } else if (event.key === "Enter" && at >= 0) {
      all[at].click();
    } else if (event.key === "Escape" && box.getAttribute("aria-expanded") === "true") {
      list.replaceChildren();
    } else {
      return;
    }
    event.preventDefault();
  });
})();
