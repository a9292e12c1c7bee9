/* Shared by every page's forms (no inline script: CSP). A form with data-confirm asks before it is sent
   (destructive actions); after a failed submission the error and its field are scrolled into view. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  function showError() {
    var field = document.querySelector("main [aria-invalid='true']");
    var message = document.querySelector("main .alert[role='alert']");
    var target = message || field;
    if (!target) return;
    target.scrollIntoView({ block: "center" });
    if (field) field.focus({ preventScroll: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showError);
  else showError();
})();
