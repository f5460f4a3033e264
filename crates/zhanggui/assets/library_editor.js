// The article body editor: a formatting bar over an editable area, kept in step with the
// form's textarea (which alone is sent; the server sanitizes whatever arrives). Without
// JavaScript the textarea is the editor. Our own code, no library.
(function () {
  "use strict";
  var area = document.querySelector("textarea[data-rich]");
  if (!area || !document.execCommand) { return; }
  var labels = JSON.parse(area.getAttribute("data-rich") || "{}");
  var bar = document.createElement("div");
  bar.className = "rich-bar";
  bar.setAttribute("role", "toolbar");
  var editor = document.createElement("div");
  editor.className = "rich-editor";
  editor.contentEditable = "true";
  editor.setAttribute("role", "textbox");
  editor.setAttribute("aria-multiline", "true");
  editor.setAttribute("aria-label", area.labels && area.labels[0] ? area.labels[0].textContent : "");
  editor.innerHTML = area.value || "<p><br></p>";
  var source = false;

  var sync = function () { if (!source) { area.value = editor.innerHTML; } };
  var button = function (label, title, run) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-small";
    b.textContent = label;
    b.title = title || label;
    b.addEventListener("mousedown", function (e) { e.preventDefault(); });
    b.addEventListener("click", function () {
      if (source) { return; }
      editor.focus();
      run();
      sync();
    });
    bar.appendChild(b);
    return b;
  };
  var cmd = function (name, value) { return function () { document.execCommand(name, false, value); }; };

  button(labels.p || "P", labels.p, cmd("formatBlock", "p"));
  button(labels.h || "H", labels.h, cmd("formatBlock", "h3"));
  button(labels.b || "B", labels.b, cmd("bold")).style.fontWeight = "700";
  button(labels.i || "I", labels.i, cmd("italic")).style.fontStyle = "italic";
  button(labels.ul || "UL", labels.ul, cmd("insertUnorderedList"));
  button(labels.quote || "Quote", labels.quote, cmd("formatBlock", "blockquote"));
  button(labels.link || "Link", labels.link, function () {
    var url = window.prompt(labels.link_prompt || "https://", "https://");
    if (url && /^(https?:\/\/|mailto:|\/)/i.test(url)) { document.execCommand("createLink", false, url); }
  });

  // Pictures of the library: the cover picker lists them (value id, data-src its URL).
  var covers = document.querySelectorAll("#cover_item_id option[data-src]");
  if (covers.length) {
    var pick = document.createElement("select");
    pick.className = "rich-pick";
    pick.setAttribute("aria-label", labels.image || "");
    var first = document.createElement("option");
    first.value = "";
    first.textContent = labels.image || "";
    pick.appendChild(first);
    covers.forEach(function (o) {
      var c = document.createElement("option");
      c.value = o.getAttribute("data-src");
      c.textContent = o.textContent;
      pick.appendChild(c);
    });
    pick.addEventListener("change", function () {
      if (!pick.value || source) { return; }
      editor.focus();
      document.execCommand("insertImage", false, pick.value);
      pick.value = "";
      sync();
    });
    bar.appendChild(pick);
  }

  var toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "btn btn-small rich-source";
  toggle.textContent = labels.html || "HTML";
  toggle.setAttribute("aria-pressed", "false");
  toggle.addEventListener("click", function () {
    source = !source;
    if (source) {
      area.value = editor.innerHTML;
    } else {
      editor.innerHTML = area.value;
    }
    area.hidden = !source;
    editor.hidden = source;
    toggle.setAttribute("aria-pressed", source ? "true" : "false");
  });
  bar.appendChild(toggle);

  editor.addEventListener("input", sync);
  editor.addEventListener("blur", sync);
  // Pasted text arrives as plain text: foreign styles stay out.
  editor.addEventListener("paste", function (e) {
    var text = e.clipboardData && e.clipboardData.getData("text/plain");
    if (text === undefined || text === null) { return; }
    e.preventDefault();
    document.execCommand("insertText", false, text);
  });
  if (area.form) { area.form.addEventListener("submit", sync); }
  area.hidden = true;
  area.parentNode.insertBefore(bar, area);
  area.parentNode.insertBefore(editor, area);
})();
