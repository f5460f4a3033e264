// The reply rule form (templates/replies/form.html): hides the text box of a reply that
// sends a library item or a module, and shows one empty reply slot at a time with an
// "add a reply" button. Without this script every slot simply shows.
(function () {
  "use strict";
  var list = document.querySelector(".reply-slots");
  if (!list) return;
  var slots = Array.prototype.slice.call(list.querySelectorAll(".reply-slot"));
  var lang = document.documentElement.lang || "zh-CN";
  var addLabel = lang.indexOf("zh") === 0 ? "+ 添加一条回复" : "+ Add a reply";

  function source(slot) { return slot.querySelector(".reply-source"); }
  function text(slot) { return slot.querySelector(".reply-text"); }
  function isUsed(slot) {
    return source(slot).value !== "text" || text(slot).value.trim() !== "" ||
      slot.classList.contains("has-error");
  }
  function sync(slot) { slot.classList.toggle("is-item", source(slot).value !== "text"); }

  var add = document.createElement("button");
  add.type = "button";
  add.className = "btn btn-small add-reply";
  add.textContent = addLabel;
  list.parentNode.insertBefore(add, list.nextSibling);

  function refresh() {
    var shown = 0;
    slots.forEach(function (slot, i) {
      var keep = i === 0 || isUsed(slot) || slot.dataset.opened === "1";
      slot.hidden = !keep;
      if (keep) shown++;
    });
    add.hidden = shown >= slots.length;
  }

  slots.forEach(function (slot) {
    sync(slot);
    source(slot).addEventListener("change", function () { sync(slot); refresh(); });
  });
  add.addEventListener("click", function () {
    var next = slots.filter(function (s) { return s.hidden; })[0];
    if (!next) return;
    next.dataset.opened = "1";
    refresh();
    text(next).focus();
  });
  refresh();
})();
