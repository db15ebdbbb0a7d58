// Fold the solution cells of the rendered analyses (cells tagged "solution", which nbconvert
// marks with the class celltag_solution) into one collapsible block per run of such cells.
function foldSolutions() {
  const found = Array.from(document.querySelectorAll(".celltag_solution"))
    .map((el) => el.closest(".jp-Cell") || el)
    .filter((el, i, all) => all.indexOf(el) === i && !el.closest("details.solution"));
  // A code cell is rendered as a tagged cell inside a tagged wrapper: keep the outermost.
  const cells = found.filter((el) => !found.some((other) => other !== el && other.contains(el)));
  let group = null;
  for (const cell of cells) {
    const starts = cell.classList.contains("jp-MarkdownCell");  // each solution opens with text
    if (group === null || starts || group.nextElementSibling !== cell) {
      group = document.createElement("details");
      group.className = "solution";
      const summary = document.createElement("summary");
      summary.textContent = "Solution";
      group.appendChild(summary);
      cell.parentNode.insertBefore(group, cell);
    }
    group.appendChild(cell);
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(foldSolutions);
} else {
  document.addEventListener("DOMContentLoaded", foldSolutions);
}
