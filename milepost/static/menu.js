// The top bar's menu folds behind a button on narrow screens; without JavaScript every link simply shows.
(function () {
  "use strict";
  var bar = document.querySelector("[data-topbar]");
  if (!bar) { return; }
  var button = bar.querySelector(".menu-toggle");
  if (!button) { return; }  // signed out: the few links all show
  var menu = document.getElementById(button.getAttribute("aria-controls"));
  bar.classList.add("foldable");
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = bar.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && bar.classList.contains("open")) {
      bar.classList.remove("open");
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
  menu.addEventListener("click", function (event) {
    if (event.target.closest("a")) { bar.classList.remove("open"); button.setAttribute("aria-expanded", "false"); }
  });
}());
