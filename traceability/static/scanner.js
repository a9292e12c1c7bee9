// Camera scanning for the counter and the scan page: the browser's BarcodeDetector where it exists, otherwise
// the vendored jsQR decoder (static/traceability/vendor/jsqr, Apache-2.0). Without a camera, a secure context
// or JavaScript, the typed list in the form still works: this only adds scanned codes to it.
(function () {
  "use strict";

  function words(root) {
    var found = {};
    var template = root.querySelector("template[data-scanner-words]");
    if (!template) { return found; }
    template.content.querySelectorAll("[data-word]").forEach(function (node) {
      found[node.getAttribute("data-word")] = node.textContent;
    });
    return found;
  }

  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) { resolve(window.jsQR); return; }
      var script = document.createElement("script");
      script.src = url;
      script.onload = function () { resolve(window.jsQR); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function makeDecoder(root) {
    if ("BarcodeDetector" in window) {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return Promise.resolve(function (video) {
        return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      });
    }
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return loadScript(root.getAttribute("data-jsqr")).then(function (jsQR) {
      return function (video) {
        var width = video.videoWidth, height = video.videoHeight;
        if (!width || !height) { return Promise.resolve(null); }
        canvas.width = width; canvas.height = height;
        context.drawImage(video, 0, 0, width, height);
        var image = context.getImageData(0, 0, width, height);
        var code = jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
        return Promise.resolve(code ? code.data : null);
      };
    });
  }

  function addToList(field, code, mode) {
    var lines = field.value.split(/\r?\n/).map(function (line) { return line.trim(); }).filter(Boolean);
    var known = lines.some(function (line) { return line.split(/\s+/)[0] === code; });
    if (known) { return false; }
    lines.push(mode === "install" ? code + " " : code);
    field.value = lines.join("\n") + (mode === "install" ? "" : "\n");
    if (mode === "install") {
      // The activation code is typed right after the scanned code, on the same line.
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
    }
    return true;
  }

  function setUp(root) {
    var field = document.getElementById(root.getAttribute("data-target"));
    var mode = root.getAttribute("data-mode");
    var video = root.querySelector("[data-scanner-video]");
    var start = root.querySelector("[data-scanner-start]");
    var stop = root.querySelector("[data-scanner-stop]");
    var status = root.querySelector("[data-scanner-status]");
    var text = words(root);
    var stream = null, last = "", lastAt = 0;

    if (!field || !window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      var insecure = root.parentNode.querySelector("[data-scanner-insecure]");
      if (insecure && !window.isSecureContext) { insecure.hidden = false; }
      return;
    }
    root.hidden = false;

    function halt() {
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
      stream = null;
      video.hidden = true; stop.hidden = true; start.hidden = false;
    }

    function found(code) {
      var now = Date.now();
      if (code === last && now - lastAt < 2000) { return; }
      last = code; lastAt = now;
      if (mode === "open") {
        halt();
        field.value = code;
        field.form.submit();
        return;
      }
      var added = addToList(field, code, mode);
      status.textContent = (added ? text.scanned : text.repeat) + " " + code;
      if (navigator.vibrate) { navigator.vibrate(80); }
      if (mode === "install") { halt(); }
    }

    start.addEventListener("click", function () {
      makeDecoder(root).then(function (decode) {
        return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
          .then(function (media) {
            stream = media;
            video.srcObject = media;
            video.hidden = false; stop.hidden = false; start.hidden = true;
            status.textContent = text.looking || "";
            return video.play().then(function () {
              function tick() {
                if (!stream) { return; }
                decode(video).then(function (code) {
                  if (code) { found(code); }
                  window.setTimeout(tick, 200);
                }, function () { window.setTimeout(tick, 500); });
              }
              tick();
            });
          });
      }).catch(function () {
        halt();
        status.textContent = text.denied || "";
      });
    });
    stop.addEventListener("click", halt);
  }

  document.querySelectorAll("[data-scanner]").forEach(setUp);
}());
