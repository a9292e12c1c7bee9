/* Maps (vendored Leaflet) and "use my location" for the network pages. No external requests unless
   MAP_TILE_URL names a tile server; without it the expressways themselves are the base map. */
(function () {
  "use strict";

  function popup(text, href) {
    var node = document.createElement(href ? "a" : "span");
    node.textContent = text;
    if (href) node.href = href;
    return node;
  }

  function drawMap(element) {
    var config = JSON.parse(element.getAttribute("data-map"));
    var map = L.map(element, { preferCanvas: true, attributionControl: Boolean(config.tiles) });
    if (config.tiles) {
      L.tileLayer(config.tiles, { maxZoom: 18, attribution: config.attribution || "" }).addTo(map);
    }
    var bounds = [];
    (config.markers || []).forEach(function (marker) {
      var dot = L.circleMarker([marker.lat, marker.lon], {
        radius: marker.radius || 7, color: marker.color || "#0b5cad", weight: 2, fillOpacity: 0.8
      }).addTo(map);
      if (marker.label) dot.bindPopup(popup(marker.label, marker.href));
      if (!marker.radius || marker.radius > 3) bounds.push([marker.lat, marker.lon]);
    });
    if (config.routes) {
      fetch(config.routes).then(function (response) { return response.json(); }).then(function (routes) {
        var layer = L.geoJSON(routes, { style: { color: "#2e7d32", weight: 3, opacity: 0.8 } }).addTo(map);
        layer.bringToBack();
        (config.lines || []).forEach(function (line) {
          L.geoJSON(line.geojson, { style: { color: line.color, weight: line.weight || 5 } }).addTo(map);
        });
        // No routes recorded yet (a new installation) leaves the layer without bounds: keep the default view.
        if (!bounds.length && !config.center && layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
      });
    }
    if (config.center) map.setView([config.center.lat, config.center.lon], config.zoom || 9);
    else if (bounds.length) map.fitBounds(bounds, { padding: [24, 24], maxZoom: config.zoom || 12 });
    else map.setView([35.0, 105.0], 4);
  }

  function locate(button) {
    var form = button.form;
    var status = form.querySelector(".locate-status");
    if (!navigator.geolocation) {
      if (status) status.textContent = button.getAttribute("data-unavailable") || "Location is not available.";
      return;
    }
    navigator.geolocation.getCurrentPosition(function (position) {
      form.elements.lat.value = position.coords.latitude.toFixed(5);
      form.elements.lon.value = position.coords.longitude.toFixed(5);
      if (form.elements.place) form.elements.place.value = "";
      if (form.elements.heading && position.coords.heading !== null && !isNaN(position.coords.heading)) {
        form.elements.heading.value = Math.round(position.coords.heading);
      }
      if (button.hasAttribute("data-no-submit")) {
        if (form.elements.place) form.elements.place.placeholder = form.elements.lat.value + ", " + form.elements.lon.value;
        if (status) status.textContent = button.getAttribute("data-located") || "";
      } else {
        form.submit();
      }
    }, function (error) {
      if (status) status.textContent = button.getAttribute("data-unavailable") || error.message;
    }, { enableHighAccuracy: true, timeout: 10000 });
  }

  document.querySelectorAll("[data-map]").forEach(drawMap);
  document.querySelectorAll("[data-locate]").forEach(function (button) {
    button.addEventListener("click", function () { locate(button); });
  });
})();
