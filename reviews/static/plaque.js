// The plaque page's "check that I am at this shop" button: reload the page with the phone's position.
(function () {
  var button = document.getElementById('share-location');
  if (!button || !navigator.geolocation) { return; }
  button.addEventListener('click', function () {
    navigator.geolocation.getCurrentPosition(function (position) {
      var url = new URL(window.location.href);
      url.searchParams.set('lat', position.coords.latitude.toFixed(5));
      url.searchParams.set('lon', position.coords.longitude.toFixed(5));
      window.location.replace(url.toString());
    });
  });
})();
