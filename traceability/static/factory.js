// The commissioning progress page asks for its job's status every two seconds until the job is done.
(function () {
  "use strict";
  var section = document.querySelector("[data-job-status]");
  if (!section) { return; }
  var bar = section.querySelector("progress");
  var format = function (value) { return Number(value).toLocaleString(); };

  function show(status) {
    section.setAttribute("data-state", status.state);
    bar.max = status.total || 1;
    bar.value = status.done;
    section.querySelector("[data-job-state]").textContent = status.state_label;
    section.querySelector("[data-job-done]").textContent = format(status.done);
    section.querySelector("[data-job-total]").textContent = format(status.total);
    var error = section.querySelector("[data-job-error]");
    error.hidden = !status.error;
    error.textContent = status.error || "";
    var link = section.querySelector("[data-job-done-link]");
    if (status.batch_url) {
      link.querySelector("a").href = status.batch_url;
      link.hidden = false;
    }
    return status.state === "queued" || status.state === "running";
  }

  function poll() {
    fetch(section.getAttribute("data-job-status"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (status) { if (show(status)) { window.setTimeout(poll, 2000); } })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  var state = section.getAttribute("data-state");
  if (state === "queued" || state === "running") { window.setTimeout(poll, 1000); }
}());
