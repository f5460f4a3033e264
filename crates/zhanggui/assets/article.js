// The article page's share button: opens the phone's share sheet where there is one (or
// copies the address), then tells the server once. Our own code, no library.
(function () {
  "use strict";
  var btn = document.querySelector("[data-share]");
  if (!btn) { return; }
  var note = document.querySelector("[data-share-note]");
  var url = btn.getAttribute("data-url");
  var title = btn.getAttribute("data-title");
  var count = function () {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", btn.getAttribute("data-share"));
    xhr.send();
  };
  var say = function (text) { if (note) { note.textContent = text; } };
  btn.addEventListener("click", function () {
    if (navigator.share) {
      navigator.share({ title: title, url: url }).then(count, function () {});
      return;
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () {
        say(btn.getAttribute("data-copied"));
        count();
      }, function () { say(url); });
      return;
    }
    say(url);
    count();
  });
})();
