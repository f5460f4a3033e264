// The flow editor (templates/flows/form.html): shows the steps in use and one empty step,
// and in each step the options in use and one empty option; "add a step" shows the next.
// Without this script every slot simply shows.
(function () {
  "use strict";
  var form = document.querySelector(".flow-form");
  if (!form) return;
  var zh = (document.documentElement.lang || "zh-CN").indexOf("zh") === 0;
  function filled(inputs) {
    return inputs.some(function (i) { return i.value.trim() !== ""; });
  }
  function hasError(el) { return !!el.querySelector(".field-error"); }

  var steps = Array.prototype.slice.call(form.querySelectorAll(".flow-step"));
  steps.forEach(function (step) {
    var rows = Array.prototype.slice.call(step.querySelectorAll(".flow-option"));
    function refreshOptions() {
      var emptyShown = false;
      rows.forEach(function (row) {
        var used = filled([row.querySelector(".option-label")]) || hasError(row);
        var show = used || !emptyShown;
        if (!used) emptyShown = true;
        row.hidden = !show;
      });
    }
    rows.forEach(function (row) {
      row.querySelector(".option-label").addEventListener("input", refreshOptions);
    });
    refreshOptions();
  });

  function stepUsed(step) {
    return filled([step.querySelector(".flow-question")].concat(
      Array.prototype.slice.call(step.querySelectorAll(".option-label")))) || hasError(step);
  }
  var add = document.createElement("button");
  add.type = "button";
  add.className = "btn btn-small add-step";
  add.textContent = zh ? "+ 添加一步" : "+ Add a step";
  var last = steps[steps.length - 1];
  last.parentNode.insertBefore(add, last.nextSibling);
  function refreshSteps() {
    var shown = 0;
    steps.forEach(function (step, i) {
      var show = i === 0 || stepUsed(step) || step.dataset.opened === "1";
      step.hidden = !show;
      if (show) shown++;
    });
    add.hidden = shown >= steps.length;
  }
  add.addEventListener("click", function () {
    var next = steps.filter(function (s) { return s.hidden; })[0];
    if (!next) return;
    next.dataset.opened = "1";
    refreshSteps();
    next.querySelector(".flow-question").focus();
  });
  refreshSteps();
})();
