// Small enhancements for the console; every page works without them.
(function () {
  "use strict";

  // The phone navigation drawer.
  var toggle = document.querySelector(".nav-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = document.body.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Switchers submit as soon as a choice is made.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) { return; }
      var label = button.textContent;
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "✓";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });

  // Forms that ask before doing something that cannot be undone.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Buttons that take a moment say so, and cannot be pressed twice.
  document.querySelectorAll("button[data-busy]").forEach(function (button) {
    button.form && button.form.addEventListener("submit", function () {
      button.textContent = button.getAttribute("data-busy");
      setTimeout(function () { button.disabled = true; }, 0);
    });
  });

  // Close the user menu and the phone drawer when clicking elsewhere.
  document.addEventListener("click", function (event) {
    if (document.body.classList.contains("nav-open") && toggle &&
        !toggle.contains(event.target) && !event.target.closest(".sidenav")) {
      document.body.classList.remove("nav-open");
      toggle.setAttribute("aria-expanded", "false");
    }
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
  });
})();
