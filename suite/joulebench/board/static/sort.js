// Optional: click a column heading of a table marked "sortable" to sort by it.
// The tables are already sorted by rank in the HTML; without JavaScript they read the same.
(function () {
  "use strict";
  function key(cell) {
    if (!cell) return { num: null, text: "" };
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    var num = parseFloat(raw.replace(/,/g, "").replace(/^=/, ""));
    return { num: isNaN(num) ? null : num, text: raw.toLowerCase() };
  }
  function compare(a, b) {
    if (a.num !== null && b.num !== null) return a.num - b.num;
    if (a.num !== null) return -1; // numbers before blanks and dashes
    if (b.num !== null) return 1;
    return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  }
  function sortBy(table, column, head) {
    var body = table.tBodies[0];
    if (!body) return;
    var ascending = head.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
      return { row: row, key: key(row.cells[column]), index: index };
    });
    rows.sort(function (x, y) {
      var c = compare(x.key, y.key);
      if (c === 0) return x.index - y.index;
      // blanks and dashes stay last in both directions
      if ((x.key.num === null) !== (y.key.num === null)) return c;
      return ascending ? c : -c;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(head.parentNode.cells, function (cell) { cell.removeAttribute("aria-sort"); });
    head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  function init() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tHead || !table.tHead.rows.length) return;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (head, column) {
        head.setAttribute("data-sortable", "");
        head.setAttribute("tabindex", "0");
        head.title = "sort by this column";
        head.addEventListener("click", function () { sortBy(table, column, head); });
        head.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, column, head); }
        });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
