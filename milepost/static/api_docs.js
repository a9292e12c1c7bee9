// The API reference's search box: shows only the operations whose method, path, summary (as shown or in English)
// or tag contain every typed word, hides the tag sections left empty, and says when nothing matches. Without JavaScript all show.
(function () {
  "use strict";
  var box = document.getElementById("api-search");
  if (!box) { return; }
  var sections = Array.prototype.slice.call(document.querySelectorAll("[data-tag-section]"));
  var empty = document.getElementById("api-search-empty");
  box.closest("form").hidden = false;
  box.closest("form").addEventListener("submit", function (event) { event.preventDefault(); });

  function filter() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    sections.forEach(function (section) {
      var tag = section.getAttribute("data-tag-section").toLowerCase();
      var visible = 0;
      section.querySelectorAll("details.endpoint").forEach(function (operation) {
        var summary = operation.querySelector("summary");
        var english = summary.querySelector("[data-en]");
        // The summary as shown (in the page's language) and in English, so either words find it.
        var text = (tag + " " + summary.textContent + " " + (english ? english.getAttribute("data-en") : "")).toLowerCase();
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        operation.hidden = !match;
        if (match) { visible += 1; }
      });
      section.hidden = visible === 0;
      shown += visible;
    });
    empty.hidden = shown !== 0;
  }

  box.addEventListener("input", filter);
  filter();
}());
