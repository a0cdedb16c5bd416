// The search box's suggestions by keyboard: ArrowDown from the box (or a suggestion) moves to
// the next suggestion, ArrowUp to the previous one (and back to the box), Escape closes them.
document.addEventListener("keydown", (event) => {
  const box = document.getElementById("q");
  const panel = document.getElementById("suggestions");
  if (!box || !panel || !["ArrowDown", "ArrowUp", "Escape"].includes(event.key)) return;
  const links = [...panel.querySelectorAll("a")];
  const at = links.indexOf(document.activeElement);
  if (document.activeElement !== box && at < 0) return;
  if (event.key === "Escape") {
    panel.replaceChildren();
    box.focus();
  } else if (event.key === "ArrowDown" && links.length) {
    links[Math.min(at + 1, links.length - 1)].focus();
  } else if (event.key === "ArrowUp" && at >= 0) {
    (at === 0 ? box : links[at - 1]).focus();
  } else {
    return;
  }
  event.preventDefault();
});
